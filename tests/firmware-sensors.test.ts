// Host-settable sensors: the firmware in the DeviceScript VM reads temperature and humidity roles
// served by a Jacdac device emulated in Node (firmware/scripts/jd-sensors.mjs); the values the
// host sets arrive, scaled to the channels' units, in verified frames.
import { fromHex, MemoryKeyring, verifyFrame } from '@sceau/protocol';
import { describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { consoleDatagrams, startVm } from '../firmware/scripts/devs-vm.mjs';
import { VmClimateSensors } from '../firmware/scripts/jd-sensors.mjs';

describe('host-set sensors in the DeviceScript VM', () => {
  it('frames carry the values the host sets', async () => {
    const { binary } = buildEntry('src/main.ts', {
      'src/config.ts': configSource({ VM_SENSORS: 'jacdac', SAMPLE_INTERVAL_MS: 300, BATCH_SIZE: 1 }),
    });
    const lines: string[] = [];
    const keyring = new MemoryKeyring();
    const seen: { counter: number; t?: number; h?: number }[] = [];
    let sensors: any;
    let inst: any;
    const done = new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`timeout; lines:\n${lines.join('\n')}`)), 30_000);
      const check = () => {
        for (const d of consoleDatagrams(lines.splice(0)) as { hex: string }[]) {
          const r = verifyFrame(fromHex(d.hex), keyring);
          if (!r.ok) return reject(new Error(JSON.stringify(r)));
          const t = r.readings.find(x => x.channel === 1)?.value;
          const h = r.readings.find(x => x.channel === 2)?.value;
          seen.push({ counter: r.counter, t, h });
          if (t === 2325 && h === 5150) sensors.set(-4.5, 99.01);
          if (t === -450 && h === 9901) {
            clearTimeout(guard);
            resolve();
          }
        }
      };
      startVm(binary, {
        onLine: (s: string) => {
          for (const line of String(s).split('\n')) {
            if (!line.startsWith('> ')) continue;
            const l = line.slice(2);
            const m = /^sceau-key v1 kid=[0-9a-f]{16} pub=([0-9a-f]{64})/.exec(l);
            if (m) keyring.add(fromHex(m[1]!));
            if (l.startsWith('sceau-error')) reject(new Error(l));
            lines.push(l);
            if (l.startsWith('sceau-frame ')) setImmediate(check);
          }
        },
      }).then((i: any) => {
        inst = i;
        sensors = new VmClimateSensors(i, { temperature: 23.25, humidity: 51.5 });
      }, reject);
    });
    try {
      await done;
    } finally {
      sensors?.stop();
      inst?.devsStop();
    }
    expect(seen.some(s => s.t === 2325 && s.h === 5150)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ t: -450, h: 9901 });
  }, 60_000);
});
