import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { airtimeMs, fromHex, linkProfiles } from '@sceau/protocol';
import { Store } from '@sceau/host-tools';
import { BOOT_CHANNEL, HostToolsGatewaySink, LinkAuditor, resolveScenario, runSimulation } from '@sceau/simulator';

const dir = mkdtempSync(join(tmpdir(), 'sceau-sim-links-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Line {
  t: number;
  kid: string;
  datagram: string;
  attack: string | null;
}

function readCapture(file: string): Line[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
}

describe('link model', () => {
  for (const name of Object.keys(linkProfiles)) {
    it(`never breaks the rules of ${name}, even when devices have more to send than the link carries`, async () => {
      const file = join(dir, `${name}.ndjson`);
      // A record every 3 minutes (batching held to 1): far more than a duty-cycled link carries, so
      // devices queue and the scheduler is what keeps them legal.
      const r = await runSimulation(resolveScenario({ seed: name, devices: 3, duration: '26h', drain: '0s', link: name, interval: name === 'sigfox' ? '20m' : '3m', batch: name === 'sigfox' ? 'auto' : 1, reboots: 0 }), {
        sink: await HostToolsGatewaySink.start(),
        capture: file,
      });
      expect(r.summary.dutyCycleViolations).toBe(0);
      expect(r.genuineRejected).toEqual({});
      expect(r.summary.verified).toBe(r.summary.delivered);
      // An independent check from the capture file: airtime per device in every hour-aligned
      // window stays within 1% per sub-band (two sub-bands) plus one uplink straddling the edge;
      // Sigfox: no more than 140 uplinks in any 24 hours; US915: every uplink within 400 ms.
      const profile = linkProfiles[name]!;
      const byDevice = new Map<string, Line[]>();
      for (const l of readCapture(file)) {
        if (!byDevice.has(l.kid)) byDevice.set(l.kid, []);
        byDevice.get(l.kid)!.push(l);
      }
      for (const lines of byDevice.values()) {
        const air = lines.map((l) => airtimeMs(profile, fromHex(l.datagram).length));
        if (profile.dutyCycle !== undefined) {
          const perHour = new Map<number, number>();
          lines.forEach((l, i) => perHour.set(Math.floor(l.t / 3_600_000), (perHour.get(Math.floor(l.t / 3_600_000)) ?? 0) + air[i]!));
          const limit = 2 * profile.dutyCycle * 3_600_000 + 2 * Math.max(...air);
          for (const used of perHour.values()) expect(used).toBeLessThanOrEqual(limit);
        }
        if (profile.maxDwellMs !== undefined) for (const a of air) expect(a).toBeLessThanOrEqual(profile.maxDwellMs);
        if (profile.dailyUplinks !== undefined) {
          for (let i = 0; i + profile.dailyUplinks < lines.length; i++) {
            expect(lines[i + profile.dailyUplinks]!.t - lines[i]!.t).toBeGreaterThanOrEqual(86_400_000);
          }
        }
      }
    });
  }

  it('reports a device that would break the duty cycle (the auditor is not a rubber stamp)', () => {
    const auditor = new LinkAuditor();
    const p = linkProfiles['lorawan-eu868-dr0']!;
    auditor.record(0, p, 1, 0, 1000);
    auditor.record(0, p, 1, 50_000, 1000); // closed until 100 s
    auditor.record(0, p, 0, 50_000, 1000); // the other sub-band is open
    const sigfox = linkProfiles.sigfox!;
    for (let i = 0; i < 141; i++) auditor.record(1, sigfox, 0, i * 1000, 6240);
    const us = linkProfiles['lorawan-us915-dr0']!;
    auditor.record(2, us, 0, 0, 500);
    expect(auditor.violations.map((v) => v.rule)).toEqual(['duty-cycle', 'daily-uplinks', 'dwell-time']);
  });

  for (const name of ['sigfox', 'lorawan-eu868-dr0', 'lorawan-eu868-dr1', 'lorawan-us915-dr0']) {
    it(`cuts frames into fragments on ${name} and the gateway rebuilds every one`, async () => {
      const file = join(dir, `frag-${name}.ndjson`);
      const r = await runSimulation(resolveScenario({ seed: `frag-${name}`, devices: 8, duration: '12h', link: name, interval: name === 'sigfox' ? '1h' : '15m', reboots: 0, reorder: 0.2, jitter: '20s', dup: 0.1 }), {
        sink: await HostToolsGatewaySink.start(),
        capture: file,
      });
      const s = r.summary;
      expect(s.recordsSealed).toBeGreaterThan(0);
      const lines = readCapture(file);
      const fragments = lines.filter((l) => (Number.parseInt(l.datagram.slice(0, 2), 16) & 0x80) === 0);
      expect(fragments.length).toBeGreaterThan(s.recordsSealed); // every frame in two or more pieces
      expect(fragments.every((l) => l.datagram.length / 2 <= linkProfiles[name]!.mtu)).toBe(true);
      expect(s.delivered).toBe(s.recordsSealed); // reordered and duplicated, never lost: all rebuilt
      expect(s.verified).toBe(s.recordsSealed);
      expect(s.lost.total).toBe(0);
      expect(r.failures).toEqual([]);
    });
  }

  it('keeps frames through an outage (store-and-forward) and loses only what the queue cannot hold', async () => {
    const base = { seed: 'outage', devices: 5, duration: '12h', link: 'lorawan-eu868-dr5', interval: '5m', reboots: 0, faults: 0 };
    const held = await runSimulation(resolveScenario({ ...base, outages: ['2h-5h'] }), { sink: await HostToolsGatewaySink.start() });
    expect(held.summary.lost.total).toBe(0);
    expect(held.summary.delivered).toBe(held.summary.recordsSealed);
    const small = await runSimulation(resolveScenario({ ...base, outages: ['2h-5h'], queueLimit: 10 }), { sink: await HostToolsGatewaySink.start() });
    expect(small.summary.lost.queueOverflow).toBe(5 * (36 - 10));
    expect(small.summary.lost.total).toBe(small.summary.lost.queueOverflow);
  });

  it('counts power cuts: counters skip ahead, never repeat, and the next record carries the boot count', async () => {
    // An outage from 2 h to 8 h keeps the devices' queues full while power cuts (6 a day) hit
    // them, so some cuts lose queued records (RAM), which the summary must count.
    const db = join(dir, 'reboots.db');
    const r = await runSimulation(resolveScenario({ seed: 'reboots', devices: 10, duration: '24h', reboots: 6, link: 'lorawan-eu868-dr5', outages: ['2h-8h'] }), { sink: await HostToolsGatewaySink.start({ db }) });
    expect(r.groups[0]!.reboots).toBeGreaterThan(20);
    expect(r.genuineRejected).toEqual({}); // a repeated counter would be refused as a replay
    expect(r.summary.lost.powerCut).toBeGreaterThan(0);
    expect(r.summary.delivered + r.summary.lost.total).toBe(r.summary.recordsSealed);

    // What the gateway stored: per device, counters strictly increasing, and the boot reading
    // (channel 32) in the first record sealed after each boot that got one delivered.
    const store = Store.open(db);
    const frames = await store.queryFrames({ outcome: 'ok', limit: 1_000_000 });
    const boots = (await store.queryReadings()).filter((x) => x.channel === BOOT_CHANNEL);
    store.close();
    expect(frames.length).toBe(r.summary.delivered);
    const countersByKid = new Map<string, number[]>();
    for (const f of frames) {
      const list = countersByKid.get(f.kid!) ?? [];
      list.push(f.counter!);
      countersByKid.set(f.kid!, list);
    }
    expect(countersByKid.size).toBe(10);
    for (const list of countersByKid.values()) {
      const sorted = [...list].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]!).toBeGreaterThan(sorted[i - 1]!); // never repeated
    }
    // Rule (simulator devices, as the firmware): a boot resumes above the block of 16 counters
    // (reserveAhead) reserved before the cut, so a boot's first record has counter 1 mod 16, and
    // carries the boot count: 1 at power-on, one more at each boot, never repeated.
    const bootsByKid = new Map<string, Array<{ counter: number; value: number }>>();
    for (const b of boots) {
      const list = bootsByKid.get(b.kid) ?? [];
      list.push({ counter: b.counter, value: b.value });
      bootsByKid.set(b.kid, list);
    }
    let rebootsSeen = 0;
    let maxBootsSum = 0;
    for (const [kid, list] of bootsByKid) {
      list.sort((a, b) => a.counter - b.counter);
      const counters = countersByKid.get(kid)!;
      for (let i = 0; i < list.length; i++) {
        const b = list[i]!;
        expect(b.counter % 16, kid).toBe(1);
        expect(b.value).toBeGreaterThanOrEqual(1);
        if (i > 0) expect(b.value).toBeGreaterThan(list[i - 1]!.value);
        if (b.value === 1) expect(b.counter).toBe(1);
        else rebootsSeen++;
      }
      expect(counters).toContain(list[0]!.counter);
      maxBootsSum += list[list.length - 1]!.value - 1;
    }
    // The boot count counts power cuts, no more: a device's latest value is 1 + its cuts so far.
    expect(rebootsSeen).toBeGreaterThan(10);
    expect(maxBootsSum).toBeGreaterThanOrEqual(rebootsSeen);
    expect(maxBootsSum).toBeLessThanOrEqual(r.groups[0]!.reboots);
  });
});
