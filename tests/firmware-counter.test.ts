// Counter persistence in the DeviceScript VM: the firmware is power-cut (the VM stopped without
// warning) many times on the same persistent flash, after a number of frames drawn from a pinned
// PRNG (not after a wall-clock delay: how many frames a delay holds depends on the machine's
// load), so cuts fall in the middle of a reserved block; the test checks that some did. No counter
// may ever be used twice, every frame must verify, and each boot resumes at a block boundary.
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

/** Boots the firmware on `flash`, cuts power as soon as it has printed `afterFrames` frames (0: at its first line). */
function bootAndCut(binary: Uint8Array, flash: { data?: Uint8Array }, afterFrames: number) {
  return new Promise<string[]>((resolve, reject) => {
    const lines: string[] = [];
    let inst: any;
    let frames = 0;
    let armed = false;
    const stop = () => setImmediate(() => {
      inst?.devsStop();
      resolve(lines);
    });
    const guard = setTimeout(() => reject(new Error(`too few frames within 40 s; lines: ${lines.join('\n')}`)), 40_000);
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
            stop();
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
    const perBoot: number[][] = [];
    for (let boot = 0; boot < 6; boot++) {
      // cut after 1 to 12 frames, or before any frame at all every fourth boot
      const afterFrames = boot % 4 === 3 ? 0 : 1 + Math.floor(rnd() * 12);
      const lines = await bootAndCut(binary, flash, afterFrames);
      const these: number[] = [];
      perBoot.push(these);
      const keyLine = lines.find(l => l.startsWith('sceau-key v1 '));
      if (keyLine) {
        const pub = /pub=([0-9a-f]{64})/.exec(keyLine)![1]!;
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
        these.push(r.counter);
        const bootReading = r.readings.find(x => x.channel === 32);
        if (bootReading) bootValues.push(bootReading.value);
      }
    }
    expect(counters.length).toBeGreaterThan(10);
    // strictly increasing over the device's life: never reused, never reordered
    for (let i = 1; i < counters.length; i++) expect(counters[i]).toBeGreaterThan(counters[i - 1]!);
    expect(counters[0]).toBeGreaterThanOrEqual(1);
    // boot readings count up (a boot cut before its first frame is counted but not reported)
    for (let i = 1; i < bootValues.length; i++) expect(bootValues[i]).toBeGreaterThan(bootValues[i - 1]!);
    // Rule (firmware/src/state.ts): a boot resumes at the limit stored before the cut, the start of
    // a fresh block of COUNTER_BLOCK (8) counters: with counters from 1, a first counter of a boot is 1 mod 8.
    const withFrames = perBoot.filter((c) => c.length > 0);
    expect(withFrames.length).toBeGreaterThanOrEqual(4);
    for (const c of withFrames) expect(c[0]! % 8, JSON.stringify(perBoot)).toBe(1);
    // The cuts this test is about: some boot was cut with counters of its block reserved and unused
    // (its last counter is not the last of a block), and the next boot skipped them.
    const midBlock = withFrames.slice(0, -1).filter((c, i) => c[c.length - 1]! % 8 !== 0 && withFrames[i + 1]![0]! > c[c.length - 1]! + 1);
    expect(midBlock.length, JSON.stringify(perBoot)).toBeGreaterThan(0);
  }, 240_000);
});
