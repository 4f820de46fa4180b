import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  frameSize, getPublicKey, MemoryKeyring, ReplayWindows, sealRecord, sha256, verifyFrame, encodeRecord, kidOf, toHex,
  type SceauRecord,
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
    expect(() => verifyFrame('d284' as never, keyring)).toThrow(TypeError);
    expect(toHex(kidOf(publicKey))).toBe(kid);
  });
});
