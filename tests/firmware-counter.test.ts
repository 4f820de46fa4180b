// Counter persistence in the DeviceScript VM: the firmware is power-cut (the VM stopped without
// warning) at random moments, many times, on the same persistent flash, including in the middle
// of a reserved block; no counter may ever be used twice, and every frame must verify.
import { fromHex, MemoryKeyring, verifyFrame } from '@sceau/protocol';
import { describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { consoleDatagrams, startVm } from '../firmware/scripts/devs-vm.mjs';

const CONFIG = configSource({ SAMPLE_INTERVAL_MS: 1, BATCH_SIZE: 1, COUNTER_BLOCK: 8 });

// a small deterministic PRNG (pinned seed) for the cut times
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Boots the firmware on `flash`, cuts power `cutAfterMs` after its first frame (or key line). */
function bootAndCut(binary: Uint8Array, flash: { data?: Uint8Array }, cutAfterMs: number, afterFrames: number) {
  return new Promise<string[]>((resolve, reject) => {
    const lines: string[] = [];
    let inst: any;
    let frames = 0;
    let armed = false;
    const stop = () => setImmediate(() => {
      inst?.devsStop();
      resolve(lines);
    });
    const guard = setTimeout(() => reject(new Error(`no frame within 20 s; lines: ${lines.join('\n')}`)), 20_000);
    startVm(binary, {
      flash,
      onLine: (s: string) => {
        for (const line of String(s).split('\n')) {
          if (!line.startsWith('> ')) continue;
          const l = line.slice(2);
          lines.push(l);
          if (l.startsWith('sceau-error')) reject(new Error(l));
          if (l.startsWith('sceau-frame ')) frames++;
          if (!armed && (frames >= afterFrames)) {
            armed = true;
            clearTimeout(guard);
            setTimeout(stop, cutAfterMs);
          }
        }
      },
    }).then((i: any) => { inst = i; }, reject);
  });
}

describe('firmware counter across power cuts (DeviceScript VM, persistent flash)', () => {
  it('never reuses a counter over 6 random power cuts', async () => {
    const { binary } = buildEntry('src/main.ts', { 'src/config.ts': CONFIG });
    const flash: { data?: Uint8Array } = {};
    const rnd = prng(20251128);
    const counters: number[] = [];
    const bootValues: number[] = [];
    let publicKey = '';
    const keyring = new MemoryKeyring();
    for (let boot = 0; boot < 6; boot++) {
      // cut 0..400 ms after the first frame, or before any frame at all every fourth boot
      const lines = await bootAndCut(binary, flash, Math.floor(rnd() * 400), boot % 4 === 3 ? 0 : 1);
      const keyLine = lines.find(l => l.startsWith('sceau-key v1 '));
      if (keyLine) {
        const pub = /pub=([0-9a-f]{64})/.exec(keyLine)![1];
        if (!publicKey) {
          publicKey = pub;
          keyring.add(fromHex(pub));
        }
        expect(pub).toBe(publicKey); // the key survives reboots
      }
      for (const d of consoleDatagrams(lines) as { kind: string; hex: string }[]) {
        const r = verifyFrame(fromHex(d.hex), keyring);
        expect(r.ok, JSON.stringify(r)).toBe(true);
        if (!r.ok) continue;
        counters.push(r.counter);
        const bootReading = r.readings.find(x => x.channel === 32);
        if (bootReading) bootValues.push(bootReading.value);
      }
    }
    expect(counters.length).toBeGreaterThan(10);
    // strictly increasing over the device's life: never reused, never reordered
    for (let i = 1; i < counters.length; i++) expect(counters[i]).toBeGreaterThan(counters[i - 1]);
    expect(counters[0]).toBeGreaterThanOrEqual(1);
    // boot readings count up (a boot cut before its first frame is counted but not reported)
    for (let i = 1; i < bootValues.length; i++) expect(bootValues[i]).toBeGreaterThan(bootValues[i - 1]);
  }, 120_000);
});
