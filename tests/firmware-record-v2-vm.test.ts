// The firmware itself (src/main.ts, jacdac sensors, console link) provisioned with a content key
// seals record version 2 in the DeviceScript VM: @sceau/protocol verifies every frame and opens
// its readings with the content key; the boot reading stays in clear.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { MemoryKeyring, fromHex, getPublicKey, openRecordReadings, sha256, verifyFrame, type SceauRecordV2 } from '@sceau/protocol';

const require = createRequire(import.meta.url);
const simDevice = require.resolve('@sceau/firmware/sim-device');

describe('firmware with a content key (record version 2)', () => {
  it('seals v2 records that verify and open, byte-identical readings to what the sensors gave', async () => {
    const { buildSimFirmware, SimFirmwareDevice } = await import(simDevice);
    const { binary } = buildSimFirmware({ intervalMs: 60_000, batch: 1, withKid: true });
    const seed = sha256(new TextEncoder().encode('firmware v2 vm seed'));
    const contentKey = sha256(new TextEncoder().encode('firmware v2 vm content key'));
    let rnd = 1;
    const dev = await SimFirmwareDevice.start(binary, {
      deviceId: '0123456789abcdef',
      seed,
      contentKey,
      random: (n: number) => Uint8Array.from({ length: n }, () => (rnd = (rnd * 1103515245 + 12345) & 0xff)),
      read: (kind: string, tMs: number) => (kind === 'temperature' ? 2000 + Math.floor(tMs / 60_000) : 4500),
      t0: 0,
    });
    const frames: string[] = [];
    let t = 0;
    for (let i = 0; i < 20000 && frames.length < 3 && t < 10 * 60_000; i++) {
      t = Math.max(dev.step(t), t + 1000);
      for (const f of dev.takeFrames()) frames.push(f.hex);
    }
    dev.stop();
    expect(frames.length).toBeGreaterThanOrEqual(2);
    const keyring = new MemoryKeyring();
    const kid = keyring.add(getPublicKey(seed));
    const opened = frames.map((hex) => {
      const r = verifyFrame(fromHex(hex), keyring, { recordVersions: [1, 2] });
      if (!r.ok) throw new Error(`${r.code}: ${r.detail}`);
      expect(r.record.version).toBe(2);
      expect(r.kid).toBe(kid);
      const o = openRecordReadings(r.record as SceauRecordV2, contentKey, kid);
      if (!o.ok) throw new Error(o.detail);
      return { clear: r.readings.map((x) => x.channel), hidden: o.readings };
    });
    expect(opened[0]!.clear).toContain(32); // the boot reading, in clear
    for (const o of opened) {
      expect(o.hidden.map((x) => x.channel).sort()).toEqual([1, 2]);
      expect(o.hidden.find((x) => x.channel === 2)!.value).toBe(4500);
    }
    // without the content key nothing opens
    const r = verifyFrame(fromHex(frames[1]!), keyring, { recordVersions: [1, 2] });
    expect(r.ok && openRecordReadings(r.record as SceauRecordV2, sha256(contentKey), kid).ok).toBe(false);
  }, 180_000);
});
