// The simulator's summary says only what it knows: over UDP against a real gateway it cannot see
// verdicts, so it neither claims losses nor verifications; and a run that leaves records unsent
// (never tested) does not pass. The docs' own scenario is one the link budgets carry.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '@sceau/host-tools';
import { chooseBatch, loadScenarioFile, resolveScenario, Simulation, simCli } from '@sceau/simulator';
import { sqliteStore } from './helpers/sqlite-store.js';

let dir: string;

async function sim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await simCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stderrIsTty: false });
  return { code, stdout, stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-sim-honest-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sceau sim run against a remote gateway', () => {
  it('over udp:// counts no loss it cannot see, says so, and the gateway stored every frame sent', async () => {
    const gw = await startGateway({ db: join(dir, 'udp.db'), udp: '127.0.0.1:0', log: () => {} });
    try {
      const args = ['--seed', 'udp-honest', '--devices', '5', '--duration', '1h', '--link', 'udp', '--interval', '5m'];
      const cfg = resolveScenario({ seed: 'udp-honest', devices: 5, duration: '1h', link: 'udp', interval: '5m' });
      for (const d of new Simulation(cfg).registrations()) sqliteStore(gw).addDevice(d.publicKey, { name: d.name });
      const gateway = `udp://127.0.0.1:${gw.addresses.udp!.port}`;
      const json = await sim(['run', ...args, '--gateway', gateway, '--json']);
      expect(json.code).toBe(0);
      const s = JSON.parse(json.stdout) as { recordsSealed: number; delivered: number; verified: number | null; lost: { total: number } };
      expect(s.verified).toBeNull();
      expect(s.lost.total).toBe(0); // the udp profile loses nothing by default: no loss is invented
      expect(s.delivered).toBe(s.recordsSealed);
      const deadline = Date.now() + 5000;
      while ((await gw.store.countFramesByOutcome()).ok !== s.delivered && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await gw.store.countFramesByOutcome()).ok).toBe(s.delivered);
      // The text summary says plainly that it cannot know what the gateway stored.
      const text = await sim(['run', ...args, '--gateway', gateway]);
      expect(text.stdout).toMatch(/delivered +\d+ sent whole to the gateway; whether it stored them is not observable over UDP/);
      expect(text.stdout).toMatch(/lost +0\n/);
    } finally {
      await gw.close();
    }
  });
});

describe('records left unsent', () => {
  it('fail the run, with the reason, in the text, JSON exit status and JUnit', async () => {
    const junit = join(dir, 'unsent.xml');
    const out = await sim(['run', '--seed', 'unsent', '--link', 'sigfox', '--devices', '2', '--duration', '6h', '--interval', '1m', '--drain', '0s', '--json', '--junit', junit]);
    expect(out.code).toBe(1);
    const s = JSON.parse(out.stdout) as { lost: { unsent: number } };
    expect(s.lost.unsent).toBeGreaterThan(0);
    expect(out.stderr).toMatch(/FAIL: \d+ records were never sent .*lengthen --drain/);
    expect(readFileSync(junit, 'utf8')).toMatch(/<testcase classname="sceau-sim" name="every record sent before the drain time ended" time="0">\s*<failure/);
  });

  it("the docs' scenario (docs/simulator.md) fits every group's link budget", () => {
    const docs = readFileSync(new URL('../docs/simulator.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(docs)![1]!;
    const file = join(dir, 'docs-scenario.yaml');
    writeFileSync(file, yaml);
    const cfg = resolveScenario(loadScenarioFile(file));
    expect(cfg.groups.length).toBe(3);
    for (const g of cfg.groups) expect({ group: g.name, sustainable: chooseBatch(g).sustainable }).toEqual({ group: g.name, sustainable: true });
  });
});
