import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  frameSize, getPublicKey, MemoryKeyring, ReplayWindows, sealRecord, sha256, verifyFrame, encodeRecord, kidOf, toHex,
  type SceauRecord, CborWriter, checkReplayWindow, ReplayWindow, sigStructure, signEd25519, verifyFrameAsync, type VerifyFrameOptions,
} from '@sceau/protocol';
import { recordArb } from './helpers/arbitraries.js';

const seed = sha256(Uint8Array.of(42));
const publicKey = getPublicKey(seed);
const keyring = new MemoryKeyring();
const kid = keyring.add(publicKey, { deviceIds: ['deveui:70b3d57ed0000001'] });
const record: SceauRecord = { version: 1, counter: 77, time: 1764331200, readings: [{ channel: 1, value: 2150, age: 600 }, { channel: 2, value: 4500 }, { channel: 5, value: 3012 }] };

describe('verifyFrame', () => {
  it('accepts a sealed frame and dates readings by time - age', () => {
    const r = verifyFrame(sealRecord(record, seed), keyring);
    expect(r).toMatchObject({ ok: true, kid, kidInFrame: true, counter: 77, time: 1764331200 });
    expect(r.ok && r.readings).toEqual([
      { channel: 1, value: 2150, age: 600, at: 1764331200 - 600 },
      { channel: 2, value: 4500, at: 1764331200 },
      { channel: 5, value: 3012, at: 1764331200 },
    ]);
  });

  it('finds the key of a frame without kid through the transport identity, and dates by receive time', () => {
    const frame = sealRecord({ ...record, time: null }, seed, { kid: false });
    expect(verifyFrame(frame, keyring)).toMatchObject({ ok: false, code: 'unknown-kid' });
    const r = verifyFrame(frame, keyring, { deviceId: 'deveui:70b3d57ed0000001', now: 1000 });
    expect(r).toMatchObject({ ok: true, kid, kidInFrame: false });
    expect(r.ok && r.readings[0]!.at).toBe(400);
  });

  it('frame size is the record plus 85 bytes with kid (84 under 24 bytes), 10 fewer without', () => {
    const payload = encodeRecord(record);
    expect(payload.length).toBeGreaterThanOrEqual(24);
    expect(sealRecord(record, seed).length).toBe(payload.length + 85);
    expect(sealRecord(record, seed, { kid: false }).length).toBe(payload.length + 75);
    expect(frameSize(payload.length)).toBe(payload.length + 85);
    const small = { version: 1 as const, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] };
    expect(sealRecord(small, seed).length).toBe(encodeRecord(small).length + 84);
  });

  it('replay: a frame is accepted once; commit: false checks without recording', () => {
    const replay = new ReplayWindows();
    const frame = sealRecord(record, seed);
    expect(verifyFrame(frame, keyring, { replay, commit: false }).ok).toBe(true);
    expect(verifyFrame(frame, keyring, { replay }).ok).toBe(true);
    expect(verifyFrame(frame, keyring, { replay })).toMatchObject({ ok: false, code: 'replay', kid, counter: 77 });
  });

  it('revocation is checked before the signature', () => {
    const other = new MemoryKeyring();
    const k = other.add(publicKey);
    other.revoke(k);
    expect(verifyFrame(sealRecord(record, seed), other)).toMatchObject({ ok: false, code: 'key-revoked', kid: k });
    expect(other.revoke('0000000000000000')).toBe(false);
  });

  it('seal then verify holds for any record (property)', () => {
    fc.assert(
      fc.property(recordArb, fc.boolean(), (r, withKid) => {
        const frame = sealRecord(r, seed, { kid: withKid });
        const result = verifyFrame(frame, keyring, { deviceId: 'deveui:70b3d57ed0000001', maxFrameBytes: 1 << 16 });
        expect(result.ok).toBe(true);
        expect(result.ok && result.record).toEqual(r);
      }),
      { seed: 4, numRuns: 200 },
    );
  });

  it('any flipped bit or truncation gives ok: false without throwing (property)', () => {
    const frame = sealRecord(record, seed);
    fc.assert(
      fc.property(fc.nat(frame.length * 8 - 1), fc.nat(frame.length - 1), fc.boolean(), (bit, cut, truncate) => {
        const bad = truncate ? frame.subarray(0, cut) : frame.slice();
        if (!truncate) bad[bit >> 3]! ^= 1 << (bit & 7);
        const r = verifyFrame(bad, keyring);
        expect(r.ok).toBe(false);
      }),
      { seed: 5, numRuns: 1000 },
    );
    // Every single bit, exhaustively.
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const bad = frame.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifyFrame(bad, keyring).ok, `bit ${bit}`).toBe(false);
    }
  });

  it('random bytes never throw, and random CBOR-looking frames are refused (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(verifyFrame(bytes, keyring).ok).toBe(false);
        const tagged = new Uint8Array([0xd2, 0x84, ...bytes]);
        expect(verifyFrame(tagged, keyring).ok).toBe(false);
      }),
      { seed: 6, numRuns: 3000 },
    );
  });

  it('programmer errors throw TypeError', () => {
    expect(() => verifyFrame('d284' as never, keyring)).toThrow(/^bytes: expected Uint8Array/);
    expect(toHex(kidOf(publicKey))).toBe(kid);
  });
});

// Rule (docs/protocol.md#codes, "the first failure wins and has one stable code"): each frame
// below breaks one check of verifyFrame's order and must get that check's code and detail, and
// the kid / counter once they are known. A check removed or moved changes the answer.
describe('verifyFrame: each check on its own, its code, detail, kid and counter', () => {
  const other = sha256(Uint8Array.of(43));
  const otherKid = toHex(kidOf(getPublicKey(other)));
  const ring = new MemoryKeyring();
  const k = ring.add(publicKey, { deviceIds: ['dev-a'] });
  ring.add(getPublicKey(other), { revoked: true });
  const small = { version: 1 as const, counter: 5, time: null, readings: [{ channel: 1, value: 2 }] };
  const hex = (b: Uint8Array) => toHex(b);
  const un = (s: string) => Uint8Array.from(s.match(/../g)!.map((x) => parseInt(x, 16)));
  /** A tagged COSE_Sign1 with these raw parts, signed for real over them with `seed`. */
  const frame = (o: { protectedBytes?: string; unprotected?: string; payload?: Uint8Array; signer?: Uint8Array }) => {
    const protectedBytes = un(o.protectedBytes ?? 'a10127');
    const payload = o.payload ?? encodeRecord(small);
    const sig = signEd25519(o.signer ?? seed, sigStructure(protectedBytes, new Uint8Array(0), payload));
    return new CborWriter().tag(18).array(4).bytes(protectedBytes).raw(un(o.unprotected ?? `a10448${k}`)).bytes(payload).bytes(sig).finish();
  };
  const good = sealRecord(small, seed);

  const cases: Array<[string, () => Uint8Array, VerifyFrameOptions, Record<string, unknown>]> = [
    ['over the size limit', () => new Uint8Array(2049), {}, { code: 'too-large', detail: '2049 bytes, the limit is 2048' }],
    ['over a smaller limit', () => good, { maxFrameBytes: good.length - 1 }, { code: 'too-large', detail: `${good.length} bytes, the limit is ${good.length - 1}` }],
    ['not CBOR', () => un('d284'), {}, { code: 'malformed-cbor', detail: 'at offset 1: array length 4 exceeds the input' }],
    ['a longer head than needed', () => un(hex(good).replace('d28443', 'd2845803')), {}, { code: 'non-canonical', detail: 'at offset 2: argument not in shortest form' }],
    ['untagged', () => good.subarray(1), {}, { code: 'not-sign1', detail: 'expected tag 18 (COSE_Sign1)' }],
    ['protected not deterministic', () => frame({ protectedBytes: 'a1013807' }), {}, { code: 'bad-protected-header', detail: 'protected header is not deterministic CBOR: argument not in shortest form' }],
    ['protected holding more than alg', () => frame({ protectedBytes: 'a201270300' }), {}, { code: 'bad-protected-header', detail: 'protected header label 3: a sceau frame protects alg only' }],
    ['unprotected holding more than kid', () => frame({ unprotected: `a20448${k}0500` }), {}, { code: 'not-sign1', detail: 'unprotected header label 5: a sceau frame carries kid only' }],
    ['a 7-byte kid', () => frame({ unprotected: `a10447${k.slice(0, 14)}` }), {}, { code: 'not-sign1', detail: 'kid is not a 8-byte string' }],
    ['a text kid', () => frame({ unprotected: `a10468${'61'.repeat(8)}` }), {}, { code: 'not-sign1', detail: 'kid is not a 8-byte string' }],
    ['alg ES256', () => frame({ protectedBytes: 'a10126' }), {}, { code: 'unsupported-alg', detail: 'alg -7; only EdDSA (-8) and Ed25519 (-19) are supported' }],
    ['an unknown kid', () => frame({ unprotected: `a10448${'00'.repeat(8)}` }), {}, { code: 'unknown-kid', detail: `no key for kid ${'00'.repeat(8)}`, kid: '00'.repeat(8) }],
    ['no kid, no device', () => frame({ unprotected: 'a0' }), {}, { code: 'unknown-kid', detail: 'frame has no kid and the transport named no device' }],
    ['no kid, an unknown device', () => frame({ unprotected: 'a0' }), { deviceId: 'dev-z' }, { code: 'unknown-kid', detail: 'no key for device dev-z' }],
    ['a revoked key', () => frame({ unprotected: `a10448${otherKid}`, signer: other }), {}, { code: 'key-revoked', detail: `key ${otherKid} is revoked`, kid: otherKid }],
    ['a bad signature', () => frame({ signer: other }), {}, { code: 'bad-signature', detail: 'Ed25519 signature does not verify', kid: k }],
    ['a bad signature, no kid', () => frame({ unprotected: 'a0', signer: other }), { deviceId: 'dev-a' }, { code: 'bad-signature', detail: 'Ed25519 signature does not verify', kid: k }],
    ['a payload that is not CBOR', () => frame({ payload: un('ff') }), {}, { code: 'bad-record', detail: 'payload is not well-formed CBOR: break outside an indefinite-length item', kid: k }],
    ['a payload not deterministic', () => frame({ payload: un('8401' + '1805' + 'f681820102') }), {}, { code: 'bad-record', detail: 'payload is not deterministic CBOR: argument not in shortest form', kid: k }],
    ['a payload with a duplicate key', () => frame({ payload: un('a2010201' + '02') }), {}, { code: 'bad-record', detail: 'payload is not deterministic CBOR: map keys not in bytewise order', kid: k }],
    ['a payload that is not a record', () => frame({ payload: un('a0') }), {}, { code: 'bad-record', detail: 'record: expected an array', kid: k }],
    ['a record of version 2', () => frame({ payload: un('840205f681820102') }), {}, { code: 'unsupported-version', detail: 'record version 2, this verifier reads version 1', kid: k }],
  ];
  // toStrictEqual: a rejection has `kid` and `counter` only once they are known, not as undefined fields.
  it.each(cases)('%s', (_, make, options, expected) => {
    const r = verifyFrame(make(), ring, options);
    expect(r).toStrictEqual({ ok: false, ...expected });
  });

  it.each(cases)('%s: verifyFrameAsync gives the same answer', async (_, make, options, expected) => {
    expect(await verifyFrameAsync(make(), ring, options)).toStrictEqual({ ok: false, ...expected });
  });

  it('the size limit is inclusive: a frame of exactly maxFrameBytes is verified', () => {
    expect(verifyFrame(good, ring, { maxFrameBytes: good.length })).toMatchObject({ ok: true, counter: 5 });
    expect(verifyFrame(good, ring, { maxFrameBytes: good.length - 1 })).toMatchObject({ ok: false, code: 'too-large' });
  });

  // Frames outside sceau's byte layout that the profile still allows go through the generic parser
  // (readFrameGeneric) and must reach the same later checks with their parts.
  it('the generic path: a signature of another length is a bad signature of that kid; a payload over 64 KiB verifies', () => {
    const protectedBytes = un('a10127');
    const payload = encodeRecord(small);
    const sig = signEd25519(seed, sigStructure(protectedBytes, new Uint8Array(0), payload));
    const withSig = (s: Uint8Array) => new CborWriter().tag(18).array(4).bytes(protectedBytes).raw(un(`a10448${k}`)).bytes(payload).bytes(s).finish();
    for (const s of [sig.subarray(0, 63), Uint8Array.of(...sig, 0), new Uint8Array(0)]) {
      expect(verifyFrame(withSig(s), ring)).toStrictEqual({ ok: false, code: 'bad-signature', detail: 'Ed25519 signature does not verify', kid: k });
    }
    // 10,000 readings: a payload with a 4-byte length head, which the fast reader declines.
    const large = { version: 1 as const, counter: 9, time: null, readings: Array.from({ length: 10_000 }, (_, i) => ({ channel: 1, value: 100_000 + i })) };
    const frame = sealRecord(large, seed);
    expect(frame.length).toBeGreaterThan(65_536);
    expect(verifyFrame(frame, ring)).toMatchObject({ ok: false, code: 'too-large' });
    const r = verifyFrame(frame, ring, { maxFrameBytes: frame.length });
    expect(r).toMatchObject({ ok: true, kid: k, alg: -8, counter: 9 });
    expect(r.ok && r.readings.length).toBe(10_000);
  });

  it('a frame without kid from a transport that names no device is refused without asking the keyring', () => {
    const asked: unknown[] = [];
    const spy = { resolve: (q: unknown) => (asked.push(q), undefined) };
    expect(verifyFrame(frame({ unprotected: 'a0' }), spy)).toMatchObject({ code: 'unknown-kid', detail: 'frame has no kid and the transport named no device' });
    expect(asked).toEqual([]);
    verifyFrame(frame({ unprotected: 'a0' }), spy, { deviceId: 'dev-q' });
    expect(asked).toEqual([{ deviceId: 'dev-q' }]);
  });

  it('replay: the rejection names the counter and the highest; checkReplayWindow alone does the same', () => {
    const replay = new ReplayWindows();
    expect(verifyFrame(good, ring, { replay }).ok).toBe(true);
    expect(verifyFrame(good, ring, { replay })).toEqual({ ok: false, code: 'replay', detail: 'counter 5 already accepted or older than the window (highest 5)', kid: k, counter: 5 });
    const w = new ReplayWindow();
    expect(checkReplayWindow(w, 'ab', 3, false)).toBeUndefined();
    expect(w.highestAccepted).toBe(0); // not committed
    expect(checkReplayWindow(w, 'ab', 3)).toBeUndefined();
    expect(checkReplayWindow(w, 'ab', 3)).toEqual({ ok: false, code: 'replay', detail: 'counter 3 already accepted or older than the window (highest 3)', kid: 'ab', counter: 3 });
  });

  it('accepted frames: alg, kid found through the device, readings dated by time, by now, or not at all', async () => {
    const noKid = frame({ unprotected: 'a0', protectedBytes: 'a10132' });
    for (const r of [verifyFrame(noKid, ring, { deviceId: 'dev-a' }), await verifyFrameAsync(noKid, ring, { deviceId: 'dev-a' })]) {
      expect(r).toStrictEqual({ ok: true, kid: k, kidInFrame: false, alg: -19, counter: 5, time: null, record: small, readings: [{ channel: 1, value: 2 }] });
    }
    const aged = { version: 1 as const, counter: 6, time: null, readings: [{ channel: 1, value: 2, age: 10 }, { channel: 2, value: -3 }] };
    expect(verifyFrame(sealRecord(aged, seed), ring, { now: 100 })).toMatchObject({ ok: true, kidInFrame: true, alg: -8, readings: [{ channel: 1, value: 2, age: 10, at: 90 }, { channel: 2, value: -3, at: 100 }] });
    expect(verifyFrame(sealRecord({ ...aged, time: 50 }, seed), ring, { now: 100 })).toMatchObject({ ok: true, time: 50, readings: [{ at: 40 }, { at: 50 }] });
    const r = verifyFrame(sealRecord(aged, seed), ring);
    // No clock: no `at`, and no `age` field on a reading without one (toStrictEqual).
    expect(r.ok && r.readings).toStrictEqual([{ channel: 1, value: 2, age: 10 }, { channel: 2, value: -3 }]);
    // A record the fast reader declines (a counter in 8 bytes is refused; a large one in 4 is taken) goes the generic way with the same result.
    const big = { version: 1 as const, counter: 4294967295, time: 4294967295, readings: [{ channel: 4294967295, value: -4294967296, age: 4294967295 }] };
    expect(verifyFrame(sealRecord(big, seed), ring)).toMatchObject({ ok: true, record: big });
  });
});

// MemoryKeyring (protocol/src/keyring.ts), from the survivors of its mutation run (issue 19):
// the key kept is a copy, revoke answers whether it found the kid, the argument is named.
describe('MemoryKeyring rule by rule', () => {
  it('keeps a copy of the key: changing the caller\'s array afterwards changes nothing', () => {
    const ring = new MemoryKeyring();
    const mine = publicKey.slice();
    const k = ring.add(mine, { deviceIds: ['dev-x'] });
    mine.fill(0);
    expect(toHex(ring.resolve({ kid: kidOf(publicKey) })!.publicKey)).toBe(toHex(publicKey));
    expect(verifyFrame(sealRecord(record, seed), ring)).toMatchObject({ ok: true, kid: k });
  });

  it('revoke: true for a known kid, which is then revoked; false for an unknown one', () => {
    const ring = new MemoryKeyring();
    const k = ring.add(publicKey, { deviceIds: ['dev-y'] });
    expect(ring.resolve({ deviceId: 'dev-y' })).toEqual({ publicKey, revoked: false });
    expect(ring.revoke(k)).toBe(true);
    expect(ring.resolve({ deviceId: 'dev-y' })).toEqual({ publicKey, revoked: true });
    expect(ring.revoke('0000000000000000')).toBe(false);
  });

  it('add refuses what is not a 32-byte key, naming the argument', () => {
    const ring = new MemoryKeyring();
    expect(() => ring.add('key' as any)).toThrow(/^publicKey: expected Uint8Array of length 32/);
    expect(() => ring.add(publicKey.subarray(0, 31))).toThrow(/^publicKey: expected Uint8Array of length 32/);
    expect(ring.resolve({})).toBeUndefined();
    expect(ring.resolve({ deviceId: 'dev-unknown' })).toBeUndefined();
  });
});

// sealRecord / sealRecordV2 / frameSize (protocol/src/seal.ts), from the survivors of its mutation run.
describe('seal rule by rule', () => {
  it('frameSize is the sealed frame\'s length, with and without kid, at each payload head width', async () => {
    const { encodeRecord: encode } = await import('@sceau/protocol');
    for (const n of [1, 5, 30, 300]) {
      const r: SceauRecord = { version: 1, counter: 1, time: null, readings: Array.from({ length: n }, (_, i) => ({ channel: 1, value: i })) };
      const payload = encode(r).length;
      expect(frameSize(payload), `${n} readings`).toBe(sealRecord(r, seed).length);
      expect(frameSize(payload, { kid: true })).toBe(sealRecord(r, seed, { kid: true }).length);
      expect(frameSize(payload, { kid: false }), `${n} readings, no kid`).toBe(sealRecord(r, seed, { kid: false }).length);
    }
  });

  // Rule: the kid is the key's, even when the caller reuses its seed array for another key.
  it('a seed array changed in place seals under the new key, with its kid', () => {
    const mine = seed.slice();
    expect(verifyFrame(sealRecord(record, mine), keyring)).toMatchObject({ ok: true, kid });
    mine.set(sha256(Uint8Array.of(43)));
    const other = new MemoryKeyring();
    const otherKid = other.add(getPublicKey(mine));
    expect(verifyFrame(sealRecord(record, mine), other)).toMatchObject({ ok: true, kid: otherKid });
  });

  it('refuses a secret key that is not 32 bytes, naming it', async () => {
    const { sealRecordV2 } = await import('@sceau/protocol');
    expect(() => sealRecord(record, seed.subarray(0, 31))).toThrow(/^secretKey: expected Uint8Array of length 32/);
    expect(() => sealRecordV2({ counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, 'seed' as any, new Uint8Array(32))).toThrow(/^secretKey: expected Uint8Array/);
  });
});
