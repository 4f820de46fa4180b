// inspectFrame (protocol): a frame's kid and record without verifying, readings named and scaled
// by the registry it is given (the user's `--channels`), never a throw on untrusted bytes.
import { describe, expect, it } from 'vitest';
import { ChannelRegistry, channels, getPublicKey, inspectFrame, kidOf, sealRecord, toHex } from '@sceau/protocol';

const seed = new Uint8Array(32).fill(0x33);
const frame = sealRecord({ version: 1, counter: 7, time: null, readings: [{ channel: 1, value: 2150 }, { channel: 40, value: 125, age: 60 }] }, seed);

describe('inspectFrame', () => {
  it('names readings with the built-in registry, and unknown channels by number', () => {
    const out = inspectFrame(frame);
    expect(out.kid).toBe(toHex(kidOf(getPublicKey(seed))));
    expect(out.record).toMatchObject({ counter: 7 });
    expect(out.readings).toEqual([
      { name: 'temperature', value: 21.5, unit: 'Cel' },
      { name: 'channel-40', value: 125, unit: '', age: 60 },
    ]);
  });

  it("honours a user's channel registry", () => {
    const user = new ChannelRegistry([...[...Array(64).keys()].map((id) => channels.get(id)).filter((c) => c !== undefined), { id: 40, name: 'soil', senmlName: 'soil', unit: '%RH', scale: 0.1, description: 'soil moisture' }]);
    expect(inspectFrame(frame, user).readings?.[1]).toEqual({ name: 'soil', value: 12.5, unit: '%RH', age: 60 });
  });

  it('says what it cannot read instead of throwing', () => {
    expect(inspectFrame(new Uint8Array([0xff, 0x00]))).toEqual({ recordError: 'not a COSE_Sign1 frame' });
    const cut = frame.slice(0, frame.length - 70);
    expect(() => inspectFrame(cut)).not.toThrow();
  });
});
