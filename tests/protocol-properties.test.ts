// Property-based tests of the protocol's four invariants (issue 19), each with a pinned seed so a
// failure replays. Each names the rule it guards (docs/protocol.md).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRecord, encodeRecord, getPublicKey, MemoryKeyring, readCanonicalRecord, REPLAY_WINDOW_SIZE, ReplayWindow, ReplayWindows,
  sealRecord, sha256, toHex, VERIFICATION_CODES, verifyFrame, verifyFrameAsync,
} from '@sceau/protocol';
import { recordArb } from './helpers/arbitraries.js';

const seed = sha256(Uint8Array.of(19));
const keyring = new MemoryKeyring();
const kid = keyring.add(getPublicKey(seed), { deviceIds: ['dev-19'] });
const codes = new Set<string>(VERIFICATION_CODES);

describe('protocol properties', () => {
  it('rule "a record has one encoding": decode(encode(x)) = x, by the strict decoder, the fast reader and seal/verify', () => {
    fc.assert(
      fc.property(recordArb, fc.boolean(), (record, withKid) => {
        const bytes = encodeRecord(record);
        expect(decodeRecord(bytes)).toEqual({ ok: true, record });
        expect(readCanonicalRecord(bytes)).toEqual(record);
        const r = verifyFrame(sealRecord(record, seed, { kid: withKid }), keyring, { deviceId: 'dev-19' });
        expect(r.ok && r.record).toEqual(record);
        expect(r.ok && r.kid).toBe(kid);
      }),
      { seed: 1901, numRuns: 300 },
    );
  });

  it('rule "verifyFrame never throws on untrusted bytes": arbitrary bytes, and bytes that start like a frame', () => {
    const frame = sealRecord({ version: 1, counter: 3, time: null, readings: [{ channel: 1, value: 7 }] }, seed);
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // A real frame's first n bytes followed by anything: reaches the deeper checks.
      fc.tuple(fc.nat(frame.length), fc.uint8Array({ maxLength: 120 })).map(([n, tail]) => Uint8Array.from([...frame.subarray(0, n), ...tail])),
    );
    fc.assert(
      fc.property(inputs, (bytes) => {
        const replay = new ReplayWindows();
        const r = verifyFrame(bytes, keyring, { replay, deviceId: 'dev-19', now: 1 });
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(codes.has(r.code), r.code).toBe(true);
      }),
      { seed: 1902, numRuns: 1000 },
    );
  });

  it('rule "verifyFrameAsync never throws nor rejects on untrusted bytes"', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        const r = await verifyFrameAsync(bytes, keyring);
        expect(typeof r.ok).toBe('boolean');
      }),
      { seed: 1903, numRuns: 200 },
    );
  });

  it('rule "the seal covers every byte": any single substitution, insertion or deletion in a sealed frame is rejected, and the window is untouched', () => {
    const record = { version: 1 as const, counter: 1000, time: 1764331200, readings: [{ channel: 1, value: 2150, age: 600 }, { channel: 2, value: -4500 }] };
    const frames = [sealRecord(record, seed), sealRecord(record, seed, { kid: false })];
    const change = fc.tuple(fc.constantFrom(0, 1), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom('substitute', 'insert', 'delete'));
    fc.assert(
      fc.property(change, ([which, at, value, how]) => {
        const frame = frames[which]!;
        const i = at % frame.length;
        let changed: Uint8Array;
        if (how === 'substitute') {
          changed = frame.slice();
          changed[i] = frame[i]! ^ value; // value != 0: a different byte
        } else if (how === 'insert') {
          changed = Uint8Array.from([...frame.subarray(0, i), value & 0xff, ...frame.subarray(i)]);
        } else {
          changed = Uint8Array.from([...frame.subarray(0, i), ...frame.subarray(i + 1)]);
        }
        const replay = new ReplayWindows();
        replay.set(kid, new ReplayWindow({ highest: 990, bitmap: '0000000000000001' }));
        const r = verifyFrame(changed, keyring, { replay, deviceId: 'dev-19' });
        expect(r.ok, `${how} at ${i}: ${toHex(changed)}`).toBe(false);
        expect(replay.get(kid).state()).toEqual({ highest: 990, bitmap: '0000000000000001' });
        // The unchanged frame is accepted by the same window.
        expect(verifyFrame(frame, keyring, { replay, deviceId: 'dev-19', commit: false }).ok).toBe(true);
      }),
      { seed: 1904, numRuns: 600 },
    );
  });

  it('rule "a counter is accepted at most once": any order of arrival, with repeats; all of them once when they fit one window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 32 - 200 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 150 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.nat(),
        (base, offsets, repeats, order) => {
          const counters = offsets.map((o) => base + o);
          const arrivals = [...counters, ...repeats.map((r) => counters[r % counters.length]!)];
          // A deterministic shuffle from `order`.
          let s = order;
          for (let i = arrivals.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) % 2 ** 31;
            const j = s % (i + 1);
            [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
          }
          const w = new ReplayWindow();
          const acceptedTimes = new Map<number, number>();
          for (const c of arrivals) if (w.accept(c)) acceptedTimes.set(c, (acceptedTimes.get(c) ?? 0) + 1);
          for (const times of acceptedTimes.values()) expect(times).toBe(1);
          const span = Math.max(...counters) - Math.min(...counters);
          if (span < REPLAY_WINDOW_SIZE) expect(acceptedTimes.size).toBe(counters.length); // none fell out of the window
          expect(w.highestAccepted).toBe(Math.max(...counters)); // the highest always gets in
        },
      ),
      { seed: 1905, numRuns: 500 },
    );
  });
});
