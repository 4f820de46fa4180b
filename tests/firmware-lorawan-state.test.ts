// The firmware's persisted LoRaWAN counters (firmware/src/lorawan-state.ts) under power cuts in
// the DeviceScript VM, on persistent flash. Each cut is deterministic: the VM is stopped at the Nth
// flash write after its boot line, either before that write lands (the flash keeps its previous
// image) or just after, and every line the program printed after that moment is ignored (the CPU
// died there). Entry: firmware/src/lorawan-state-test-main.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { startVm } from '../firmware/scripts/devs-vm.mjs';

type Mode = 'drop' | 'keep';
interface Boot { lines: string[]; cutAfter: string | null }

/** One boot on `flash`; with `cut`, stopped at its Nth flash write after the boot line, else after `lines` lines. */
function boot(binary: Uint8Array, flash: { store?: Uint8Array }, deviceId: string, cut: { n: number; mode: Mode } | null, maxLines = 30) {
  return new Promise<Boot>((resolve, reject) => {
    const lines: string[] = [];
    let inst: any;
    let booted = false;
    let writes = 0;
    let dead = false;
    let cutAfter: string | null = null;
    const stop = () => {
      if (dead) return;
      dead = true;
      clearTimeout(guard);
      setImmediate(() => {
        inst?.devsStop();
        resolve({ lines, cutAfter });
      });
    };
    const guard = setTimeout(() => reject(new Error(`boot did not reach its cut; lines: ${lines.join(' | ')}`)), 20_000);
    const io = {
      get data() {
        return flash.store ?? new Uint8Array(0);
      },
      set data(v: Uint8Array) {
        if (dead) return; // nothing lands after the cut
        if (booted) writes++;
        if (cut && booted && writes === cut.n) {
          if (cut.mode === 'keep') flash.store = v;
          cutAfter = lines[lines.length - 1] ?? null;
          stop();
          return;
        }
        flash.store = v;
      },
    };
    startVm(binary, {
      flash: io,
      deviceId,
      onLine: (s: string) => {
        for (const line of String(s).split('\n')) {
          if (dead) return;
          if (line.startsWith('! ')) reject(new Error(line));
          if (!line.startsWith('> ')) continue;
          const l = line.slice(2);
          lines.push(l);
          if (l.startsWith('boot ')) booted = true;
          if (!cut && lines.length >= maxLines) stop();
        }
      },
      onPanic: (code: number) => reject(new Error(`panic ${code}; lines: ${lines.join(' | ')}`)),
    }).then((i: any) => { inst = i; }, reject);
  });
}

const values = (b: Boot[], tag: string) => b.flatMap(x => x.lines.filter(l => l.startsWith(`${tag} `)).map(l => Number(l.split(' ')[1])));

describe('firmware LoRaWAN counters across power cuts (DeviceScript VM, persistent flash)', () => {
  let binary: Uint8Array;
  beforeAll(() => {
    binary = buildEntry('src/lorawan-state-test-main.ts', { 'src/config.ts': configSource({ LORAWAN_FCNT_BLOCK: 4 }) }).binary;
  }, 120_000);

  it('OTAA: no DevNonce is ever reused, JoinNonce replays are refused after reboots, cuts hit every kind of write', async () => {
    const flash: { store?: Uint8Array } = {};
    // writes after boot, per join: 1 DevNonce, 2 JoinNonce + first FCnt block, 3 the next FCnt block
    const schedule: [number, Mode][] = [[1, 'drop'], [1, 'keep'], [2, 'drop'], [2, 'keep'], [3, 'drop'], [3, 'keep'], [5, 'keep'], [6, 'drop'], [4, 'keep']];
    const boots: Boot[] = [];
    for (const [n, mode] of schedule) boots.push(await boot(binary, flash, '0000000000000000', { n, mode }));
    boots.push(await boot(binary, flash, '0000000000000000', null, 40));

    // every cut happened, at the write it was aimed at, and they cover DevNonce, JoinNonce and FCnt writes
    const hit = boots.slice(0, -1).map((b, i) => `${b.cutAfter} ${schedule[i]![1]}`);
    expect(hit).toEqual(['w dn drop', 'w dn keep', 'w jn drop', 'w jn keep', 'w fcnt drop', 'w fcnt keep', 'w jn keep', 'w fcnt drop', 'w dn keep']);

    // DevNonce: strictly increasing over all boots (never reused), and each boot resumes above all used ones
    const dns = values(boots, 'dn');
    expect(dns.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < dns.length; i++) expect(dns[i], `${dns}`).toBeGreaterThan(dns[i - 1]!);
    let used: number[] = [];
    for (const b of boots) {
      const [, next] = b.lines[0]!.split(' ').map(Number);
      for (const d of used) expect(next).toBeGreaterThan(d);
      used = used.concat(values([b], 'dn'));
    }
    // a DevNonce whose write landed before the cut is skipped, not reused ('w dn keep' skips one)
    expect(dns).not.toEqual(Array.from({ length: dns.length }, (_, i) => i));

    // JoinNonce: accepted ones strictly increase; the last accepted one (stored) is refused at the next boot
    const accepted = boots.flatMap(b => b.lines.filter(l => / ok$/.test(l)).map(l => Number(l.split(' ')[1])));
    for (let i = 1; i < accepted.length; i++) expect(accepted[i]).toBeGreaterThan(accepted[i - 1]!);
    let replays = 0;
    for (const b of boots) {
      const lastJn = Number(b.lines[0]!.split(' ')[2]);
      if (lastJn < 0) continue;
      expect(b.lines[1]).toBe(`jn ${lastJn} refused`);
      replays++;
    }
    expect(replays).toBeGreaterThanOrEqual(6);
    // an older JoinNonce is refused after every join
    for (const b of boots)
      b.lines.forEach((l, i) => {
        const m = /^jn (\d+) ok$/.exec(l);
        if (m && i + 1 < b.lines.length) expect(b.lines[i + 1]).toBe(`jn ${Number(m[1]) - 1} refused`);
      });

    // FCnt up restarts at 0 with each accepted join and counts up within the session
    for (const b of boots) {
      let expectNext = -1;
      for (const l of b.lines) {
        if (/^jn \d+ ok$/.test(l)) expectNext = 0;
        if (l.startsWith('up ')) {
          expect(Number(l.slice(3))).toBe(expectNext);
          expectNext++;
        }
      }
    }
  }, 300_000);

  it('ABP: FCnt up is never reused over power cuts in the middle of reservations', async () => {
    const flash: { store?: Uint8Array } = {};
    const schedule: [number, Mode][] = [[1, 'drop'], [1, 'keep'], [2, 'drop'], [3, 'keep'], [2, 'keep'], [1, 'drop']];
    const boots: Boot[] = [];
    for (const [n, mode] of schedule) boots.push(await boot(binary, flash, '1000000000000000', { n, mode }));
    boots.push(await boot(binary, flash, '1000000000000000', null, 20));
    for (const b of boots.slice(0, -1)) expect(b.cutAfter).toBe('w fcnt'); // every write here is a reservation
    const ups = values(boots, 'up');
    expect(ups.length).toBeGreaterThanOrEqual(20);
    for (let i = 1; i < ups.length; i++) expect(ups[i], `${ups}`).toBeGreaterThan(ups[i - 1]!);
    // each boot resumes at its stored limit: above every FCnt used before
    let max = -1;
    for (const b of boots) {
      const limit = Number(b.lines[0]!.split(' ')[3]);
      expect(limit).toBeGreaterThan(max);
      for (const u of values([b], 'up')) max = Math.max(max, u);
    }
    // a cut that lands the reservation skips its block; one that loses it re-reserves the same block
    expect(new Set(boots.map(b => b.lines[0])).size).toBeLessThan(boots.length);
  }, 300_000);
});
