import { describe, expect, it } from 'vitest';
import {
  fromHex, MemoryKeyring, ReplayWindow, ReplayWindows, sealRecord, toHex, verifyFrame, verifyFrameAsync, VERIFICATION_CODES, Reassembler, linkProfile, useCryptoBackend, cryptoBackend,
} from '@sceau/protocol';
import { buildVectors } from '../protocol/scripts/vectors.mjs';
import { readVector } from './helpers/vectors.js';

const frames = readVector('frames.json');
const keyring = new MemoryKeyring();
for (const k of frames.keys) keyring.add(fromHex(k.publicKey), { revoked: k.revoked, deviceIds: k.deviceIds });

const toRecord = ([version, counter, time, readings]: [1, number, number | null, number[][]]) => ({
  version,
  counter,
  time,
  readings: readings.map(([channel, value, age]) => (age === undefined ? { channel: channel!, value: value! } : { channel: channel!, value: value!, age })),
});

describe('golden vectors (protocol/vectors)', () => {
  it('are what the reference encoder builds today (regenerate with `npm run vectors` after a deliberate wire change)', () => {
    const built = buildVectors(readVector('third-party/appendix_a.json'), readVector('third-party/rfc8032.json'));
    for (const [name, content] of Object.entries(built)) expect(readVector(name), name).toEqual(JSON.parse(JSON.stringify(content)));
  });

  it.each(frames.positive as any[])('positive: $name seals byte for byte and verifies', (v) => {
    const frame = sealRecord(toRecord(v.record), fromHex(v.seed), { kid: v.kid });
    expect(toHex(frame)).toBe(v.frame);
    const deviceId = v.kid ? undefined : frames.keys.find((k: any) => k.seed === v.seed).deviceIds[0];
    const r = verifyFrame(frame, keyring, { replay: new ReplayWindows(), deviceId });
    expect(r.ok).toBe(true);
  });

  it.each(frames.negative as any[])('negative: $name gives $code', (v) => {
    const replay = new ReplayWindows();
    if (v.replay) replay.set(frames.keys[0].kid, new ReplayWindow(v.replay));
    const r = verifyFrame(fromHex(v.frame), keyring, { replay });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.code).toBe(v.code);
  });

  it.each(['node', 'noble'] as const)('verifyFrameAsync (%s backend) gives what verifyFrame gives on every vector, concurrently', async (backend) => {
    const before = cryptoBackend();
    useCryptoBackend(backend);
    try {
      const cases = [
        ...(frames.positive as any[]).map((v) => ({ frame: fromHex(v.frame), replay: undefined, deviceId: v.kid ? undefined : frames.keys.find((k: any) => k.seed === v.seed).deviceIds[0] })),
        ...(frames.negative as any[]).map((v) => ({ frame: fromHex(v.frame), replay: v.replay, deviceId: undefined })),
      ];
      const windows = (c: (typeof cases)[number]) => {
        const replay = new ReplayWindows();
        if (c.replay) replay.set(frames.keys[0].kid, new ReplayWindow(c.replay));
        return replay;
      };
      const expected = cases.map((c) => verifyFrame(c.frame, keyring, { replay: windows(c), deviceId: c.deviceId, now: 1_700_000_000 }));
      // All started before any finishes: the checks run at once on the thread pool.
      const actual = await Promise.all(cases.map((c) => verifyFrameAsync(c.frame, keyring, { replay: windows(c), deviceId: c.deviceId, now: 1_700_000_000 })));
      expect(actual).toEqual(expected);
      expect(expected.filter((r) => r.ok).length).toBe(frames.positive.length);
    } finally {
      useCryptoBackend(before);
    }
  });

  it('verifyFrameAsync rejects (never resolves a wrong answer) when the keyring throws', async () => {
    const broken = { resolve: () => { throw new Error('registry unavailable'); } };
    await expect(verifyFrameAsync(fromHex((frames.positive as any[])[0].frame), broken as never)).rejects.toThrow('registry unavailable');
  });

  it('every verification code has at least one negative vector', () => {
    const covered = new Set((frames.negative as any[]).map((v) => v.code));
    for (const code of VERIFICATION_CODES) expect(covered.has(code), code).toBe(true);
  });

  it.each(readVector('fragments.json').vectors as any[])('fragments on $profile reassemble to the frame', (v) => {
    const profile = linkProfile(v.profile);
    for (const d of v.datagrams) expect(d.length / 2).toBeLessThanOrEqual(profile.mtu);
    const r = Reassembler.forProfile(profile);
    const results = [...v.datagrams].reverse().map((d: string) => r.push(fromHex(d), 0, 'dev'));
    const last = results[results.length - 1]!;
    expect(last.kind).toBe('frame');
    expect(last.kind === 'frame' && toHex(last.frame)).toBe(v.frame);
  });
});
