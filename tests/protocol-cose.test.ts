import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex, getPublicKey, sealRecord, toHex, verifySign1, sha256, sigStructure, signEd25519, CborWriter } from '@sceau/protocol';
import { readVector } from './helpers/vectors.js';

const RFC8032_TEST1_PUBLIC = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const RFC8032_TEST1_SEED = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');

describe('verifySign1 on COSE examples of other implementations', () => {
  it('cose-wg eddsa-sig-01: a COSE_Sign1 with Ed25519 verifies, over the protected bytes as received', () => {
    const v = readVector('third-party/cose/eddsa-sig-01.json');
    const r = verifySign1(fromHex(v.output.cbor), RFC8032_TEST1_PUBLIC);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.alg).toBe(-8);
    expect(r.protectedHeader.get(3)).toBe(0); // content type kept
    expect(toHex(r.unprotectedHeader.get(4) as Uint8Array)).toBe('3131');
    expect(new TextDecoder().decode(r.payload)).toBe('This is the content.');
    // The To-Be-Signed bytes match the example's intermediate value.
    const protectedBytes = fromHex('a201270300');
    expect(toHex(sigStructure(protectedBytes, new Uint8Array(0), r.payload))).toBe(v.intermediates.ToBeSign_hex.toLowerCase());
  });

  it('cose-wg eddsa-sig-02 (Ed448 under alg EdDSA) is refused: only Ed25519 keys are supported', () => {
    const v = readVector('third-party/cose/eddsa-sig-02.json');
    const key = fromHex(v.input.sign0.key.x_hex);
    const r = verifySign1(fromHex(v.output.cbor), key);
    expect(r).toMatchObject({ ok: false, code: 'unsupported-alg' });
  });

  it('cose-wg eddsa-01 (COSE_Sign, tag 98) is not a COSE_Sign1', () => {
    const v = readVector('third-party/cose/eddsa-01.json');
    expect(verifySign1(fromHex(v.output.cbor), RFC8032_TEST1_PUBLIC)).toMatchObject({ ok: false, code: 'not-sign1' });
  });

  it('COSE_Sign1 with countersignature headers (7, 9) still verifies its own signature', () => {
    for (const name of ['countersign-signed1-01.json', 'countersign-signed1-02.json', 'countersign1-signed1-01.json']) {
      const v = readVector(`third-party/cose/countersign/${name}`);
      const r = verifySign1(fromHex(v.output.cbor), RFC8032_TEST1_PUBLIC);
      expect(r.ok, name).toBe(true);
    }
  });

  it('go-cose structural negatives are refused with the code of their defect', () => {
    const dir = join(import.meta.dirname, '..', 'protocol', 'vectors', 'third-party', 'cose', 'go-cose-negative');
    const expected: Record<string, string> = {
      'sign1-verify-negative-0000.json': 'not-sign1', // protected is not a bstr
      'sign1-verify-negative-0001.json': 'bad-protected-header', // protected does not hold a map
      'sign1-verify-negative-0002.json': 'bad-protected-header', // duplicate label in protected
      'sign1-verify-negative-0003.json': 'not-sign1', // duplicate label in unprotected
    };
    const files = readdirSync(dir);
    expect(files.sort()).toEqual(Object.keys(expected).sort());
    for (const file of files) {
      const v = readVector(`third-party/cose/go-cose-negative/${file}`);
      const r = verifySign1(fromHex(v['sign1::verify'].taggedCOSESign1.cborHex), RFC8032_TEST1_PUBLIC);
      expect(r.ok, file).toBe(false);
      expect(!r.ok && r.code, `${file}: ${v.title}`).toBe(expected[file]);
    }
  });
});

describe('verifySign1 on sceau frames and variants', () => {
  const seed = sha256(Uint8Array.of(7));
  const publicKey = getPublicKey(seed);
  const record = { version: 1 as const, counter: 3, time: null, readings: [{ channel: 1, value: 2000 }] };

  it('verifies sceau frames with and without kid', () => {
    for (const kid of [true, false]) expect(verifySign1(sealRecord(record, seed, { kid }), publicKey).ok).toBe(true);
  });

  it('accepts untagged COSE_Sign1, alg -19 (Ed25519, RFC 9864) and checks external AAD', () => {
    const payload = Uint8Array.of(1, 2, 3);
    const aad = Uint8Array.of(9, 9);
    const protectedBytes = Uint8Array.of(0xa1, 0x01, 0x32); // {1: -19}
    const sig = signEd25519(seed, sigStructure(protectedBytes, aad, payload));
    const untagged = new CborWriter().array(4).bytes(protectedBytes).map(0).bytes(payload).bytes(sig).finish();
    expect(verifySign1(untagged, publicKey, { externalAad: aad })).toMatchObject({ ok: true, alg: -19 });
    expect(verifySign1(untagged, publicKey)).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('refuses crit in the unprotected bucket, a label in both buckets and detached payloads', () => {
    const sig = new Uint8Array(64);
    const frame = (unprotected: Uint8Array, payloadNull = false) => {
      const w = new CborWriter().tag(18).array(4).bytes(Uint8Array.of(0xa1, 0x01, 0x27)).raw(unprotected);
      if (payloadNull) w.null();
      else w.bytes(Uint8Array.of(1));
      return w.bytes(sig).finish();
    };
    expect(verifySign1(frame(Uint8Array.of(0xa1, 0x02, 0x81, 0x01)), publicKey)).toMatchObject({ code: 'bad-protected-header' });
    expect(verifySign1(frame(Uint8Array.of(0xa1, 0x01, 0x27)), publicKey)).toMatchObject({ code: 'bad-protected-header' });
    expect(verifySign1(frame(Uint8Array.of(0xa0), true), publicKey)).toMatchObject({ code: 'not-sign1' });
  });

  it('signs RFC 8032 TEST 1 key frames that the cose-wg example key verifies', () => {
    const frame = sealRecord(record, RFC8032_TEST1_SEED);
    expect(verifySign1(frame, RFC8032_TEST1_PUBLIC).ok).toBe(true);
  });
});
