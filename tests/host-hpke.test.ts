// HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, from
// node:crypto primitives, against RFC 9180 Appendix A.1.1 (host-tools/test-fixtures/hpke).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AEAD_ID, deriveKeyPair, encap, decap, generateKeyPair, HpkeError, KDF_ID, KEM_ID, openBase, sealBase, setupBaseR, setupBaseS } from '../host-tools/src/hpke.js';

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'host-tools', 'test-fixtures', 'hpke', 'rfc9180-a1-1.json'), 'utf8'));
const v = fixture.vector;
const h = (s: string) => Buffer.from(s, 'hex');

describe('RFC 9180 A.1.1 (base mode, 0x0020/0x0001/0x0001)', () => {
  it('is this suite', () => expect([v.mode, v.kem_id, v.kdf_id, v.aead_id]).toEqual([0, KEM_ID, KDF_ID, AEAD_ID]));

  it('DeriveKeyPair gives skEm/pkEm and skRm/pkRm', () => {
    const e = deriveKeyPair(h(v.ikmE));
    const r = deriveKeyPair(h(v.ikmR));
    expect([e.privateKey.toString('hex'), e.publicKey.toString('hex')]).toEqual([v.skEm, v.pkEm]);
    expect([r.privateKey.toString('hex'), r.publicKey.toString('hex')]).toEqual([v.skRm, v.pkRm]);
  });

  it('Encap and Decap give enc and shared_secret', () => {
    const { sharedSecret, enc } = encap(h(v.pkRm), deriveKeyPair(h(v.ikmE)));
    expect(enc.toString('hex')).toBe(v.enc);
    expect(sharedSecret.toString('hex')).toBe(v.shared_secret);
    expect(decap(h(v.enc), h(v.skRm)).toString('hex')).toBe(v.shared_secret);
  });

  it('the key schedule gives key, base_nonce and exporter_secret', () => {
    const { context } = setupBaseS(h(v.pkRm), h(v.info), deriveKeyPair(h(v.ikmE)));
    expect([context.key.toString('hex'), context.baseNonce.toString('hex'), context.exporterSecret.toString('hex')]).toEqual([v.key, v.base_nonce, v.exporter_secret]);
  });

  it.each(v.encryptions as any[])('encryption with sequence number $seq seals and opens', (e) => {
    const { context: sender } = setupBaseS(h(v.pkRm), h(v.info), deriveKeyPair(h(v.ikmE)));
    sender.setSequence(e.seq);
    expect(sender.seal(h(e.aad), h(e.pt)).toString('hex')).toBe(e.ct);
    const receiver = setupBaseR(h(v.enc), h(v.skRm), h(v.info));
    receiver.setSequence(e.seq);
    expect(receiver.open(h(e.aad), h(e.ct)).toString('hex')).toBe(e.pt);
  });
});

describe('single-shot seal and open', () => {
  const owner = generateKeyPair();
  const info = Buffer.from('test info');
  it('round-trips with a fresh ephemeral key each time', () => {
    const a = sealBase(owner.publicKey, info, Buffer.from('aad'), Buffer.from('secret'));
    const b = sealBase(owner.publicKey, info, Buffer.from('aad'), Buffer.from('secret'));
    expect(a.enc.equals(b.enc)).toBe(false);
    expect(openBase(a.enc, owner.privateKey, info, Buffer.from('aad'), a.ciphertext).toString()).toBe('secret');
  });
  it('fails with HpkeError on a wrong key, aad, info or a flipped bit', () => {
    const s = sealBase(owner.publicKey, info, Buffer.from('aad'), Buffer.from('secret'));
    const other = generateKeyPair();
    expect(() => openBase(s.enc, other.privateKey, info, Buffer.from('aad'), s.ciphertext)).toThrow(HpkeError);
    expect(() => openBase(s.enc, owner.privateKey, info, Buffer.from('aaD'), s.ciphertext)).toThrow(HpkeError);
    expect(() => openBase(s.enc, owner.privateKey, Buffer.from('other'), Buffer.from('aad'), s.ciphertext)).toThrow(HpkeError);
    const bent = Buffer.from(s.ciphertext);
    bent[0]! ^= 1;
    expect(() => openBase(s.enc, owner.privateKey, info, Buffer.from('aad'), bent)).toThrow(HpkeError);
  });
  it('refuses a small-order public key (all-zero shared secret)', () => {
    expect(() => sealBase(Buffer.alloc(32), info, Buffer.alloc(0), Buffer.from('x'))).toThrow(HpkeError);
  });
});
