// Crash safety: a gateway process is killed with SIGKILL while frames pour in over HTTP. After a
// restart on the same SQLite file, every frame that got a 2xx is stored as accepted, and no
// counter is ever accepted twice, even when every frame is sent again.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';
import { Store } from '@sceau/host-tools';
import { postFrame, startGatewayProcess } from './helpers/gateway-process.js';

// Each device sends its frames one after the other, as a real device does; devices send in parallel.
const DEVICES = 12;
const PER_DEVICE = 150;
const TOTAL = DEVICES * PER_DEVICE;
const seeds = Array.from({ length: DEVICES }, (_, d) => new Uint8Array(32).fill(0x40 + d));

let dir: string;
let dbFile: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-crash-'));
  dbFile = join(dir, 'crash.db');
  const store = Store.open(dbFile);
  seeds.forEach((seed, d) => store.addDevice(getPublicKey(seed), { name: `crash-${d}` }));
  store.close();
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('keeps every acknowledged frame across a SIGKILL and never accepts a counter twice', async () => {
  const kids = seeds.map((seed) => toHex(kidOf(getPublicKey(seed))));
  const frames = seeds.map((seed) => Array.from({ length: PER_DEVICE }, (_, i) => sealRecord({ version: 1, counter: i + 1, time: null, readings: [{ channel: 1, value: i }] }, seed)));
  const first = await startGatewayProcess(dbFile, children);
  const agent = new Agent({ keepAlive: true, maxSockets: DEVICES });
  const acked = new Set<string>();
  let killed = false;
  const device = async (d: number): Promise<void> => {
    for (let i = 0; i < PER_DEVICE; i++) {
      const r = await postFrame(agent, first.port, frames[d]![i]!);
      if (r.status === 200) {
        expect(r.code).toBe('ok');
        acked.add(`${kids[d]}:${i + 1}`);
      }
      if (!killed && acked.size >= TOTAL / 4) {
        // Kill while the other devices still have requests in flight.
        killed = true;
        first.child.kill('SIGKILL');
      }
      if (killed && r.status === 0) return;
    }
  };
  await Promise.all(seeds.map((_, d) => device(d)));
  agent.destroy();
  await new Promise<void>((resolve) => (first.child.exitCode !== null || first.child.signalCode !== null ? resolve() : first.child.once('exit', () => resolve())));
  expect(first.child.signalCode).toBe('SIGKILL');
  expect(acked.size).toBeGreaterThanOrEqual(TOTAL / 4);
  expect(acked.size).toBeLessThan(TOTAL); // it really died mid-stream

  // After the crash, before any restart: the file holds every acknowledged frame.
  const check = new Database(dbFile, { readonly: true });
  expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
  const stored = new Set((check.prepare("SELECT kid, counter FROM frames WHERE outcome = 'ok'").all() as Array<{ kid: string; counter: number }>).map((r) => `${r.kid}:${r.counter}`));
  check.close();
  expect([...acked].filter((c) => !stored.has(c))).toEqual([]);

  // Restart and send everything again, as a client retrying after the crash: stored frames are
  // duplicate deliveries (their original verdict, not stored again, not replays); nothing is accepted twice.
  const second = await startGatewayProcess(dbFile, children);
  const agent2 = new Agent({ keepAlive: true, maxSockets: DEVICES });
  const outcomes = new Map<string, string>();
  await Promise.all(
    seeds.map(async (_, d) => {
      for (let i = 0; i < PER_DEVICE; i++) {
        const r = await postFrame(agent2, second.port, frames[d]![i]!);
        expect(r.status).toBe(200);
        outcomes.set(`${kids[d]}:${i + 1}`, `${r.code} ${r.delivery}`);
      }
    }),
  );
  agent2.destroy();
  for (const key of stored) expect(outcomes.get(key)).toBe('ok duplicate');
  for (const [key, code] of outcomes) if (!stored.has(key)) expect(code).toBe('ok new');
  second.child.kill('SIGTERM');
  await new Promise<void>((resolve) => second.child.once('exit', () => resolve()));
  expect(second.child.exitCode).toBe(0);

  const db = new Database(dbFile, { readonly: true });
  const twice = db.prepare("SELECT kid, counter, COUNT(*) AS n FROM frames WHERE outcome = 'ok' GROUP BY kid, counter HAVING n > 1").all();
  const okTotal = (db.prepare("SELECT COUNT(*) AS n FROM frames WHERE outcome = 'ok'").get() as { n: number }).n;
  const windows = db.prepare('SELECT highest FROM replay_windows').all() as Array<{ highest: number }>;
  db.close();
  expect(twice).toEqual([]);
  expect(okTotal).toBe(TOTAL);
  expect(windows.map((w) => w.highest)).toEqual(seeds.map(() => PER_DEVICE));
}, 60_000);
