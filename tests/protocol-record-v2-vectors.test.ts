// Golden vectors of record version 2 (protocol/vectors/frames-v2.json), decrypted a second time by
// an independent implementation written here from the specs: node:crypto's aes-256-ccm with
// setAAD, the Enc_structure of RFC 9052 §5.3 and the nonce of docs/protocol.md, built by hand.
// Plus the cose-wg AES-CCM examples (protocol/vectors/cose-aes-ccm.json).
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  aesCcmDecrypt, aesCcmEncrypt, encStructure, fromHex, MemoryKeyring, openRecordReadings, sealRecordV2, toHex, verifyFrame,
  type SceauRecordV2,
} from '@sceau/protocol';
import { readVector } from './helpers/vectors.js';

const frames = readVector('frames.json');
const v2 = readVector('frames-v2.json');
const coseCcm = readVector('cose-aes-ccm.json');
const keyring = new MemoryKeyring();
for (const k of frames.keys) keyring.add(fromHex(k.publicKey), { revoked: k.revoked, deviceIds: k.deviceIds });
const kidOfKey = (name: string): string => frames.keys.find((k: any) => k.name === name).kid;
const deviceIdOf = (name: string): string | undefined => frames.keys.find((k: any) => k.name === name).deviceIds[0];
const toPlain = ([, counter, time, readings]: [2, number, number | null, number[][]]) => ({
  counter,
  time,
  readings: readings.map(([channel, value, age]) => (age === undefined || age === 0 ? { channel: channel!, value: value! } : { channel: channel!, value: value!, age })),
});

// ---- a minimal CBOR encoder for the independent side (RFC 8949 §3; shortest heads) ----
function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
const cInt = (v: number) => (v >= 0 ? head(0, v) : head(1, -1 - v));
const cBytes = (b: Uint8Array) => Buffer.concat([head(2, b.length), b]);
const cText = (s: string) => Buffer.concat([head(3, Buffer.byteLength(s)), Buffer.from(s)]);
const cArray = (items: Buffer[]) => Buffer.concat([head(4, items.length), ...items]);
const cNull = Buffer.from([0xf6]);
// an age of 0 is never written (docs/protocol.md)
const cReadings = (readings: number[][]) => cArray(readings.map((r) => cArray((r[2] === 0 ? r.slice(0, 2) : r).map(cInt))));

/** Reads one CBOR head at `at`: [major, argument, next offset]. */
function readHead(b: Buffer, at: number): [number, number, number] {
  const major = b[at]! >> 5;
  const info = b[at]! & 31;
  if (info < 24) return [major, info, at + 1];
  if (info === 24) return [major, b[at + 1]!, at + 2];
  if (info === 25) return [major, b.readUInt16BE(at + 1), at + 3];
  return [major, b.readUInt32BE(at + 1), at + 5];
}
/** The ciphertext of the frame's COSE_Encrypt0: its last byte string, ending where the payload ends. */
function ciphertextOf(frame: Buffer): Buffer {
  const payloadEnd = frame.length - 66; // signature bstr: 58 40 + 64 bytes
  // find the COSE_Encrypt0 (d0 83 43 a1 01 0b a0) and read the ciphertext head after it
  const at = frame.indexOf(Buffer.from('d08343a1010ba0', 'hex'));
  const [major, length, start] = readHead(frame, at + 7);
  expect(major).toBe(2);
  expect(start + length).toBe(payloadEnd);
  return frame.subarray(start, payloadEnd);
}

function independentDecrypt(contentKey: Buffer, kid: Buffer, counter: number, time: number | null, ciphertext: Buffer): Buffer {
  const baseIv = Buffer.from(hkdfSync('sha256', contentKey, Buffer.alloc(0), Buffer.from('sceau base iv'), 13));
  const nonce = Buffer.from(baseIv);
  const c = Buffer.alloc(13);
  c.writeUInt32BE(counter, 9);
  for (let i = 0; i < 13; i++) nonce[i]! ^= c[i]!;
  const externalAad = cArray([cBytes(kid), cInt(counter), time === null ? cNull : cInt(time)]);
  const encStructureBytes = cArray([cText('Encrypt0'), cBytes(Buffer.from([0xa1, 0x01, 0x0b])), cBytes(externalAad)]);
  const tag = ciphertext.subarray(ciphertext.length - 8);
  const body = ciphertext.subarray(0, ciphertext.length - 8);
  const d = createDecipheriv('aes-256-ccm', contentKey, nonce, { authTagLength: 8 });
  d.setAuthTag(tag);
  d.setAAD(encStructureBytes, { plaintextLength: body.length });
  return Buffer.concat([d.update(body), d.final()]);
}

describe('record version 2 golden vectors (protocol/vectors/frames-v2.json)', () => {
  it.each(v2.positive as any[])('positive: $name seals byte for byte, verifies and opens', (v) => {
    const plain = toPlain(v.record);
    const frame = sealRecordV2(plain, fromHex(v.seed), fromHex(v.contentKey), { kid: v.kid });
    expect(toHex(frame)).toBe(v.frame);
    const r = verifyFrame(frame, keyring, { recordVersions: [1, 2], deviceId: deviceIdOf(v.key) });
    if (!r.ok) throw new Error(r.detail);
    const operational = [5, 32, 33];
    expect(r.readings.map(({ at: _at, ...x }) => x)).toEqual(plain.readings.filter((x) => operational.includes(x.channel)));
    expect(toHex(r.encrypted!)).toBe(v.encrypt0);
    const opened = openRecordReadings(r.record as SceauRecordV2, fromHex(v.contentKey), r.kid);
    expect(opened).toEqual({ ok: true, readings: plain.readings.filter((x) => !operational.includes(x.channel)) });
  });

  it.each(v2.positive as any[])('independent decrypt (node:crypto aes-256-ccm + setAAD, RFC 9052 Enc_structure): $name', (v) => {
    const frame = Buffer.from(v.frame, 'hex');
    const [, counter, time, readings] = v.record as [2, number, number | null, number[][]];
    const plaintext = independentDecrypt(Buffer.from(v.contentKey, 'hex'), Buffer.from(kidOfKey(v.key), 'hex'), counter, time, ciphertextOf(frame));
    const hidden = readings.filter((r) => ![5, 32, 33].includes(r[0]!));
    expect(plaintext.toString('hex')).toBe(cReadings(hidden).toString('hex'));
    expect(v.clearReadings).toBe(cReadings(readings.filter((r) => [5, 32, 33].includes(r[0]!))).toString('hex'));
  });

  it('the independent side fails on a wrong key (the tag does not check)', () => {
    const v = v2.positive[0];
    const wrong = Buffer.from(v.contentKey, 'hex');
    wrong[5]! ^= 1;
    const [, counter, time] = v.record;
    expect(() => independentDecrypt(wrong, Buffer.from(kidOfKey(v.key), 'hex'), counter, time, ciphertextOf(Buffer.from(v.frame, 'hex')))).toThrow();
  });

  it.each(v2.negative as any[])('negative: $name gives $code', (v) => {
    const r = verifyFrame(fromHex(v.frame), keyring, { recordVersions: [1, 2] });
    if (v.code !== 'decrypt-failed') {
      expect(r).toMatchObject({ ok: false, code: v.code });
      return;
    }
    if (!r.ok) throw new Error(r.detail);
    expect(openRecordReadings(r.record as SceauRecordV2, fromHex(v.contentKey), v.kid ?? r.kid)).toMatchObject({ ok: false, code: 'decrypt-failed' });
  });
});

describe('cose-wg AES-CCM examples (protocol/vectors/cose-aes-ccm.json)', () => {
  it.each(coseCcm.items as any[])('node:crypto opens $title with the Enc_structure built from RFC 9052', (v) => {
    const protectedBytes = Buffer.from(v.encrypt0.slice(6, 6 + 2 * readHead(Buffer.from(v.encrypt0, 'hex'), 2)[1]), 'hex');
    const aad = cArray([cText('Encrypt0'), cBytes(protectedBytes), cBytes(Buffer.alloc(0))]);
    expect(aad.toString('hex')).toBe(v.aad);
    const out = Buffer.from(v.encrypt0, 'hex');
    const ciphertext = out.subarray(out.length - (Buffer.byteLength(v.plaintext) + v.tagBytes));
    const key = Buffer.from(v.key, 'hex');
    const nonce = Buffer.from(v.nonce, 'hex');
    const d = createDecipheriv(`aes-${key.length * 8}-ccm` as 'aes-256-ccm', key, nonce, { authTagLength: v.tagBytes });
    d.setAuthTag(ciphertext.subarray(ciphertext.length - v.tagBytes));
    d.setAAD(aad, { plaintextLength: ciphertext.length - v.tagBytes });
    expect(Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - v.tagBytes)), d.final()]).toString()).toBe(v.plaintext);
  });

  const ours = (coseCcm.items as any[]).filter((v) => v.nonce.length === 26 && v.tagBytes === 8);
  it('two of them use a 13-byte nonce and an 8-byte tag, as sceau does', () => expect(ours.map((v) => v.alg)).toEqual([10, 11]));
  it.each(ours)('@sceau/protocol AES-CCM reproduces $title and opens it', (v) => {
    const aad = encStructure(fromHex(v.aad.slice(22, 28)), new Uint8Array(0));
    expect(toHex(aad)).toBe(v.aad);
    const sealed = aesCcmEncrypt(fromHex(v.key), fromHex(v.nonce), aad, new TextEncoder().encode(v.plaintext));
    expect(v.encrypt0.endsWith(toHex(sealed))).toBe(true);
    expect(new TextDecoder().decode(aesCcmDecrypt(fromHex(v.key), fromHex(v.nonce), aad, sealed))).toBe(v.plaintext);
    const bent = sealed.slice();
    bent[bent.length - 1]! ^= 1;
    expect(aesCcmDecrypt(fromHex(v.key), fromHex(v.nonce), aad, bent)).toBeUndefined();
  });

  it('@sceau/protocol AES-CCM agrees with node:crypto on messages of every length 0..70 and a long AAD', () => {
    const key = Buffer.alloc(32, 7);
    const nonce = Buffer.alloc(13, 9);
    for (let n = 1; n <= 70; n++) {
      const p = Buffer.alloc(n, n);
      const aad = Buffer.alloc(n * 5, 3);
      const c = createCipheriv('aes-256-ccm', key, nonce, { authTagLength: 8 });
      c.setAAD(aad, { plaintextLength: n });
      const expected = Buffer.concat([c.update(p), c.final(), c.getAuthTag()]);
      expect(toHex(aesCcmEncrypt(key, nonce, aad, p)), `length ${n}`).toBe(expected.toString('hex'));
    }
    // zero-length plaintext (OpenSSL's CCM cannot do it): the tag alone, and it opens
    expect(toHex(aesCcmDecrypt(key, nonce, new Uint8Array(0), aesCcmEncrypt(key, nonce, new Uint8Array(0), new Uint8Array(0)))!)).toBe('');
  });
});
