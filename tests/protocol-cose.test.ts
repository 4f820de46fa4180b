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

// Rule (RFC 9052 §3 and §4.2, docs/protocol.md#codes): every structural defect of a COSE_Sign1 has
// its code and its detail; each case below differs from a valid Sign1 by that one defect, so a
// check loosened or removed in protocol/src/cose-sign1.ts changes its answer.
describe('verifySign1: each structural rule on its own, with its code and detail', () => {
  const seed = sha256(Uint8Array.of(8));
  const publicKey = getPublicKey(seed);
  const payload = Uint8Array.of(0x61, 0x62);
  const h = (hex: string) => fromHex(hex);
  /** A COSE_Sign1 from raw CBOR parts; the signature is real (over the protected bytes given) unless `sig` is given. */
  const sign1 = (o: { tag?: number | null; protectedBytes?: Uint8Array; protectedRaw?: Uint8Array; unprotected?: Uint8Array; payloadRaw?: Uint8Array; sig?: Uint8Array; count?: number }) => {
    const protectedBytes = o.protectedBytes ?? h('a10127');
    const w = new CborWriter();
    if (o.tag !== null) w.tag(o.tag ?? 18);
    w.array(o.count ?? 4);
    if (o.protectedRaw) w.raw(o.protectedRaw);
    else w.bytes(protectedBytes);
    w.raw(o.unprotected ?? h('a0'));
    if (o.payloadRaw) w.raw(o.payloadRaw);
    else w.bytes(payload);
    if (o.sig) w.raw(o.sig);
    else w.bytes(signEd25519(seed, sigStructure(protectedBytes, new Uint8Array(0), payload)));
    return w.finish();
  };

  it('a valid one verifies, tagged or not, with alg in either bucket or crit naming alg', () => {
    expect(verifySign1(sign1({}), publicKey)).toMatchObject({ ok: true, alg: -8 });
    expect(verifySign1(sign1({ tag: null }), publicKey)).toMatchObject({ ok: true, alg: -8 });
    expect(verifySign1(sign1({ protectedBytes: new Uint8Array(0), unprotected: h('a10127') }), publicKey)).toMatchObject({ ok: true, alg: -8 });
    expect(verifySign1(sign1({ protectedBytes: h('a201270281' + '01') }), publicKey)).toMatchObject({ ok: true, alg: -8 });
    expect(verifySign1(sign1({ protectedBytes: h('a10132') }), publicKey)).toMatchObject({ ok: true, alg: -19 });
    const r = verifySign1(sign1({}), publicKey);
    expect(r.ok && toHex(r.payload)).toBe('6162');
  });

  const cases: Array<[string, Parameters<typeof sign1>[0] | Uint8Array, string, string]> = [
    ['malformed CBOR', h('d284'), 'malformed-cbor', 'at offset 1: array length 4 exceeds the input'],
    ['a duplicate key anywhere', { unprotected: h('a2044101044101') }, 'not-sign1', 'duplicate map key 4'],
    ['tag 17', { tag: 17 }, 'not-sign1', 'tag 17, expected 18 (COSE_Sign1)'],
    ['an array of 3', { count: 3, sig: new Uint8Array(0) }, 'not-sign1', 'expected an array of 4 elements'],
    ['protected as text', { protectedRaw: h('6161') }, 'not-sign1', 'protected header is not a byte string'],
    ['unprotected as an array', { unprotected: h('80') }, 'not-sign1', 'unprotected header is not a map'],
    ['a detached payload (nil)', { payloadRaw: h('f6') }, 'not-sign1', 'detached payload (nil) is not supported'],
    ['payload true', { payloadRaw: h('f5') }, 'not-sign1', 'payload is not a byte string'],
    ['payload an integer', { payloadRaw: h('01') }, 'not-sign1', 'payload is not a byte string'],
    // 22 is the value of simple(22), nil: only the simple value is a detached payload, not the integer.
    ['payload the integer 22', { payloadRaw: h('16') }, 'not-sign1', 'payload is not a byte string'],
    ['signature as text', { sig: h('6161') }, 'not-sign1', 'signature is not a byte string'],
    ['an unprotected label that is bytes', { unprotected: h('a1410100') }, 'not-sign1', 'unprotected header has a label that is neither int nor text'],
    ['an unprotected label that is a float', { unprotected: h('a1f93c0000') }, 'not-sign1', 'unprotected header has a label that is neither int nor text'],
    ['protected bytes that are not CBOR', { protectedBytes: h('ff') }, 'bad-protected-header', 'protected header is not well-formed CBOR: break outside an indefinite-length item'],
    ['protected bytes that are not a map', { protectedBytes: h('80') }, 'bad-protected-header', 'protected header is not a map'],
    ['a protected label repeated', { protectedBytes: h('a2012701' + '27') }, 'bad-protected-header', 'protected header repeats label 1'],
    ['a protected text label repeated', { protectedBytes: h('a3012761780161' + '7802') }, 'bad-protected-header', 'protected header repeats label x'],
    ['a label in both buckets', { unprotected: h('a10127') }, 'bad-protected-header', 'label 1 is in both header buckets'],
    ['a text label in both buckets', { protectedBytes: h('a201276178' + '01'), unprotected: h('a1617802') }, 'bad-protected-header', 'label x is in both header buckets'],
    ['crit unprotected', { unprotected: h('a1028101') }, 'bad-protected-header', 'crit is in the unprotected header'],
    ['crit not an array', { protectedBytes: h('a201270201') }, 'bad-protected-header', 'crit is not a non-empty array'],
    ['crit empty', { protectedBytes: h('a201270280') }, 'bad-protected-header', 'crit is not a non-empty array'],
    ['crit naming a label not understood', { protectedBytes: h('a2012702811863') }, 'bad-protected-header', 'crit names label 99, which this verifier does not understand'],
    ['crit naming an understood label that is absent', { protectedBytes: h('a201270281' + '04') }, 'bad-protected-header', 'crit names label 4, which is absent'],
    ['no alg', { protectedBytes: new Uint8Array(0) }, 'unsupported-alg', 'no alg header'],
    ['alg ES256', { protectedBytes: h('a10126') }, 'unsupported-alg', 'alg -7; only EdDSA (-8) and Ed25519 (-19) are supported'],
    ['alg as text', { protectedBytes: h('a1016545644453' + '41') }, 'unsupported-alg', 'alg EdDSA; only EdDSA (-8) and Ed25519 (-19) are supported'],
    ['alg as bytes', { protectedBytes: h('a10141' + '27') }, 'bad-protected-header', 'alg is neither int nor text'],
    ['a bad signature', { sig: h('5840' + '00'.repeat(64)) }, 'bad-signature', 'Ed25519 signature does not verify'],
  ];
  it.each(cases)('%s: %s', (_, input, code, detail) => {
    const bytes = input instanceof Uint8Array ? input : sign1(input);
    expect(verifySign1(bytes, publicKey)).toEqual({ ok: false, code, detail });
  });

  // Rule (RFC 9052 §3): a label is an int or a text; negative integers are ints too.
  it('negative labels are labels, in either bucket', () => {
    const r = verifySign1(sign1({ protectedBytes: h('a2012720' + '00'), unprotected: h('a13818' + '01') }), publicKey);
    expect(r).toMatchObject({ ok: true, alg: -8 });
    if (!r.ok) return;
    expect(r.protectedHeader).toEqual(new Map([[1, -8], [-1, 0]]));
    expect(r.unprotectedHeader).toEqual(new Map([[-25, 1]]));
    // A negative label in both buckets is caught like any other.
    expect(verifySign1(sign1({ protectedBytes: h('a2012720' + '00'), unprotected: h('a12001') }), publicKey)).toEqual({
      ok: false, code: 'bad-protected-header', detail: 'label -1 is in both header buckets',
    });
  });

  it('a key that is not 32 bytes is an unsupported algorithm (Ed448 under EdDSA), not a bad signature', () => {
    expect(verifySign1(sign1({}), new Uint8Array(57))).toEqual({ ok: false, code: 'unsupported-alg', detail: 'EdDSA with a 57-byte key; only Ed25519 (32 bytes) is supported' });
    expect(verifySign1(sign1({}), publicKey.subarray(0, 31))).toMatchObject({ code: 'unsupported-alg' });
  });

  it('returns the headers as plain values of every CBOR kind, and a payload copy', () => {
    // Unprotected: {4: h'0102', 5: [1, "a"], 6: true, 7: false, 8: null, 9: undefined, 10: simple(16), 11: 1.5, 12: 1(0), 13: {1: -2}, "t": "u"}
    const unprotected = h('ab' + '04420102' + '05820161' + '61' + '06f5' + '07f4' + '08f6' + '09f7' + '0af0' + '0bf93e00' + '0cc100' + '0da10121' + '61746175');
    const bytes = sign1({ unprotected });
    const r = verifySign1(bytes, publicKey);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.unprotectedHeader).toEqual(new Map<unknown, unknown>([
      [4, Uint8Array.of(1, 2)], [5, [1, 'a']], [6, true], [7, false], [8, null], [9, undefined], [10, { simple: 16 }], [11, 1.5],
      [12, { tag: 1, value: 0 }], [13, new Map([[1, -2]])], ['t', 'u'],
    ]));
    expect(r.protectedHeader).toEqual(new Map([[1, -8]]));
    r.payload[0] = 0;
    (r.unprotectedHeader.get(4) as Uint8Array)[0] = 9;
    expect(verifySign1(bytes, publicKey)).toMatchObject({ ok: true }); // the input was not touched
    expect(toHex(bytes)).toContain('420102');
  });

  it('external AAD is covered by the signature and defaults to empty', () => {
    const aad = Uint8Array.of(1);
    const protectedBytes = h('a10127');
    const sig = signEd25519(seed, sigStructure(protectedBytes, aad, payload));
    const bytes = sign1({ sig: new CborWriter().bytes(sig).finish() });
    expect(verifySign1(bytes, publicKey, { externalAad: aad }).ok).toBe(true);
    expect(verifySign1(bytes, publicKey).ok).toBe(false);
    expect(verifySign1(sign1({}), publicKey, { externalAad: new Uint8Array(0) }).ok).toBe(true);
    // Programmer errors name the argument at fault.
    expect(() => verifySign1(sign1({}), publicKey, { externalAad: 'x' as never })).toThrow(/^externalAad: expected Uint8Array/);
    expect(() => verifySign1('x' as never, publicKey)).toThrow(/^bytes: expected Uint8Array/);
    expect(() => verifySign1(sign1({}), [1, 2] as never)).toThrow(/^publicKey: expected Uint8Array/);
    expect(() => verifySign1('x' as never, publicKey)).toThrow(TypeError);
  });
});
