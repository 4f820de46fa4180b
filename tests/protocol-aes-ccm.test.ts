// AES-CCM-16-64 (RFC 3610, COSE's AES-CCM-16-64-128/256) of protocol/src/aes-ccm.ts, rule by rule,
// written from the survivors of its mutation run (issue 19): each block names the rule it guards.
// The reference is node:crypto (OpenSSL's CCM), independent of the @noble/ciphers blocks ours
// is built from.
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aesCcmDecrypt, aesCcmEncrypt, CCM_NONCE_BYTES, CCM_TAG_BYTES, toHex } from '@sceau/protocol';

const key256 = Buffer.alloc(32, 7);
const key128 = Buffer.alloc(16, 5);
const nonce = Buffer.alloc(13, 9);
const empty = new Uint8Array(0);

/** node:crypto's CCM with a 13-byte nonce and an 8-byte tag: ciphertext ‖ tag. */
function openssl(key: Buffer, aad: Buffer, plaintext: Buffer): string {
  const c = createCipheriv(`aes-${key.length * 8}-ccm` as 'aes-256-ccm', key, nonce, { authTagLength: 8 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]).toString('hex');
}

describe('AES-CCM agrees with OpenSSL', () => {
  it('13-byte nonce and 8-byte tag, as the constants say', () => {
    expect([CCM_NONCE_BYTES, CCM_TAG_BYTES]).toEqual([13, 8]);
  });

  // Rule: B0's flags say "AAD present" only when there is AAD (RFC 3610 §2.2, Adata bit).
  it('without AAD, on messages of 1, 16 and 17 bytes', () => {
    for (const n of [1, 16, 17]) {
      const p = Buffer.alloc(n, n);
      expect(toHex(aesCcmEncrypt(key256, nonce, empty, p)), `length ${n}`).toBe(openssl(key256, Buffer.alloc(0), p));
    }
  });

  // Rule: a 16-byte key is AES-128 (COSE alg 10), as valid as a 32-byte one.
  it('with a 16-byte key (AES-128)', () => {
    const p = Buffer.alloc(20, 1);
    const aad = Buffer.alloc(3, 2);
    const sealed = aesCcmEncrypt(key128, nonce, aad, p);
    expect(toHex(sealed)).toBe(openssl(key128, aad, p));
    expect(toHex(aesCcmDecrypt(key128, nonce, aad, sealed)!)).toBe(p.toString('hex'));
  });

  // Rule: the AAD's length is encoded in 2 bytes below 0xff00, else as ff fe and 4 bytes (RFC 3610 §2.2).
  it('AAD of 0xfeff bytes (2-byte length) and 0xff00 bytes (6-byte length), with or without a message', () => {
    for (const [n, a] of [[5, 0xfeff], [5, 0xff00], [0, 0xff00], [3, 0x10203]] as const) {
      const p = Buffer.alloc(n, 1);
      const aad = Buffer.alloc(a);
      for (let i = 0; i < a; i++) aad[i] = i * 7;
      const sealed = aesCcmEncrypt(key256, nonce, aad, p);
      expect(toHex(sealed), `message ${n}, aad ${a}`).toBe(openssl(key256, aad, p));
      expect(toHex(aesCcmDecrypt(key256, nonce, aad, sealed)!)).toBe(p.toString('hex'));
    }
  });

  // Rule: the message length in B0 is 2 bytes (L = 2), up to 65,535, both bytes counted.
  it('messages of 300 and 65,535 bytes (the longest), which open again', () => {
    for (const n of [300, 0xffff]) {
      const p = Buffer.alloc(n);
      for (let i = 0; i < n; i++) p[i] = i;
      const sealed = aesCcmEncrypt(key256, nonce, Buffer.from('ad'), p);
      expect(toHex(sealed.subarray(sealed.length - 16)), `length ${n}`).toBe(openssl(key256, Buffer.from('ad'), p).slice(-32));
      expect(sealed.length).toBe(n + 8);
      expect(aesCcmDecrypt(key256, nonce, Buffer.from('ad'), sealed)?.length).toBe(n);
    }
  });
});

describe('AES-CCM refuses what it cannot seal or open', () => {
  const p = Buffer.alloc(4, 4);

  // Rule: arguments are checked, each error naming its argument.
  it('a key of another length than 16 or 32 bytes', () => {
    for (const n of [0, 15, 24, 33]) {
      expect(() => aesCcmEncrypt(Buffer.alloc(n), nonce, empty, p)).toThrow(new TypeError(`key: expected 16 or 32 bytes, got ${n}`));
      expect(() => aesCcmDecrypt(Buffer.alloc(n), nonce, empty, Buffer.alloc(12))).toThrow(new TypeError(`key: expected 16 or 32 bytes, got ${n}`));
    }
    expect(() => aesCcmEncrypt('k' as any, nonce, empty, p)).toThrow(/^key: expected Uint8Array/);
  });

  it('a nonce of other than 13 bytes, and arguments that are not bytes', () => {
    expect(() => aesCcmEncrypt(key256, Buffer.alloc(12), empty, p)).toThrow(/^nonce: expected Uint8Array of length 13/);
    expect(() => aesCcmEncrypt(key256, nonce, 'aad' as any, p)).toThrow(/^aad: expected Uint8Array/);
    expect(() => aesCcmEncrypt(key256, nonce, empty, 'text' as any)).toThrow(/^plaintext: expected Uint8Array/);
    expect(() => aesCcmDecrypt(key256, nonce, empty, 'text' as any)).toThrow(/^sealed: expected Uint8Array/);
  });

  // Rule: L = 2 bounds the message at 65,535 bytes; longer is a RangeError to seal, undefined to open.
  it('a message over 65,535 bytes', () => {
    expect(() => aesCcmEncrypt(key256, nonce, empty, new Uint8Array(0x10000))).toThrow(new RangeError('plaintext: at most 65535 bytes with a 13-byte nonce'));
    expect(aesCcmDecrypt(key256, nonce, empty, new Uint8Array(0x10000 + 8))).toBeUndefined();
  });

  // Rule: the bound holds when opening too. A message of 65,536 bytes has a length field that
  // wraps to 0 in B0: its tag, computed here with the key over that wrapped B0 (AES-CBC and
  // AES-CTR of OpenSSL), would check if only the tag were looked at.
  it('a 65,536-byte message whose tag checks over a wrapped length is refused', () => {
    const message = Buffer.alloc(0x10000, 0x5a);
    const b0 = Buffer.concat([Buffer.of(0x19), nonce, Buffer.of(0, 0)]); // flags: no AAD, M = 8, L = 2; length 65536 mod 2^16
    const chained = createCipheriv('aes-256-cbc', key256, Buffer.alloc(16)).setAutoPadding(false).update(Buffer.concat([b0, message]));
    const mac = chained.subarray(chained.length - 16);
    const a0 = Buffer.concat([Buffer.of(0x01), nonce, Buffer.of(0, 0)]);
    const stream = createCipheriv('aes-256-ctr', key256, a0).update(Buffer.concat([mac, message]));
    const sealed = Buffer.concat([stream.subarray(16), stream.subarray(0, 8)]);
    expect(sealed.length).toBe(0x10000 + 8);
    expect(aesCcmDecrypt(key256, nonce, empty, sealed)).toBeUndefined();
  });

  // Rule: a sealed message shorter than its tag opens to nothing (no throw); exactly the tag is the empty message.
  it('sealed bytes shorter than the 8-byte tag', () => {
    const tagOnly = aesCcmEncrypt(key256, nonce, empty, empty);
    expect(tagOnly.length).toBe(8);
    expect(aesCcmDecrypt(key256, nonce, empty, tagOnly)).toEqual(new Uint8Array(0));
    for (let n = 0; n < 8; n++) expect(aesCcmDecrypt(key256, nonce, empty, tagOnly.subarray(0, n)), `${n} bytes`).toBeUndefined();
  });
});

describe('AES-CCM authenticates every byte', () => {
  const aad = Buffer.from('external aad');
  const p = Buffer.from('twenty-one bytes here');
  const sealed = aesCcmEncrypt(key256, nonce, aad, p);

  // Rule: the tag check compares all 8 bytes and covers every ciphertext byte.
  it('one changed byte anywhere, ciphertext or tag, opens to nothing', () => {
    expect(toHex(aesCcmDecrypt(key256, nonce, aad, sealed)!)).toBe(p.toString('hex'));
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bent = sealed.slice();
        bent[i]! ^= bit;
        expect(aesCcmDecrypt(key256, nonce, aad, bent), `byte ${i} bit ${bit}`).toBeUndefined();
      }
    }
  });

  // Rule: key, nonce and AAD all enter the tag.
  it('another key, nonce or AAD opens to nothing', () => {
    const otherKey = Buffer.from(key256);
    otherKey[0]! ^= 1;
    const otherNonce = Buffer.from(nonce);
    otherNonce[12]! ^= 1;
    expect(aesCcmDecrypt(otherKey, nonce, aad, sealed)).toBeUndefined();
    expect(aesCcmDecrypt(key256, otherNonce, aad, sealed)).toBeUndefined();
    expect(aesCcmDecrypt(key256, nonce, Buffer.from('external aaD'), sealed)).toBeUndefined();
    expect(aesCcmDecrypt(key256, nonce, empty, sealed)).toBeUndefined();
    expect(aesCcmDecrypt(key256, nonce, aad, sealed.subarray(0, sealed.length - 1))).toBeUndefined();
  });
});
