// Another process holds the database's write lock (a long `sceau devices add`, a backup tool, an
// operator's sqlite3 shell in a transaction). The gateway must not sit in SQLite's busy handler
// on its only thread: /healthz answers at once and says writes are failing, POSTs are refused
// fast with 503 and retry-after, and writes resume by themselves once the lock is released.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPublicKey, sealRecord } from '@sceau/protocol';
import { startGateway, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const seed = new Uint8Array(32).fill(0x31);
const frame = (counter: number): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: counter }] }, seed);

/** SQLite's busy timeout the gateway had before (and the CLI keeps). Each wait below must stay under half of it: a
 * gateway back in the busy handler waits all of it, and half leaves room for a loaded CI machine (a fifth of it was missed once, 1.2 s, on a loaded 2-core machine). */
const OLD_BUSY_TIMEOUT_MS = 5000;

let dir: string;
let gw: Gateway;
let base: string;
let locker: ChildProcess | undefined;

/** A separate process that takes the write lock (BEGIN IMMEDIATE) and holds it until told to release it. */
function holdWriteLock(file: string): Promise<{ release: () => Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO meta (key, value) VALUES ('lock-test', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value").run();
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('ROLLBACK'); db.close(); process.stdout.write('released\\n'); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script, file], { stdio: ['pipe', 'pipe', 'inherit'], cwd: process.cwd() });
  locker = child;
  const lines = createInterface({ input: child.stdout! });
  const next = (): Promise<string> => new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return next().then((line) => {
    expect(line).toBe('locked');
    return {
      release: async () => {
        const released = next();
        child.stdin!.write('release\n');
        expect(await released).toBe('released');
      },
    };
  });
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await run();
  return { ms: performance.now() - start, value };
}

const post = async (counter: number): Promise<{ status: number; retryAfter: string | null; body: any }> => {
  const res = await fetch(`${base}/v1/frames`, { method: 'POST', body: frame(counter), headers: { 'content-type': 'application/cose' } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
};
const health = async (): Promise<{ status: number; body: any }> => {
  const res = await fetch(`${base}/healthz`);
  return { status: res.status, body: await res.json() };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-lock-'));
  gw = await startGateway({ db: join(dir, 'g.db'), http: '127.0.0.1:0', udp: '127.0.0.1:0', log: () => undefined });
  base = gw.addresses.http!.url;
  sqliteStore(gw).addDevice(getPublicKey(seed));
});

afterAll(async () => {
  if (locker !== undefined && locker.exitCode === null && locker.signalCode === null) locker.kill('SIGKILL');
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('answers /healthz fast and says writes are failing while another process holds the write lock; POSTs get 503 at once', async () => {
  expect((await post(1)).body.code).toBe('ok');
  expect(await health()).toEqual({ status: 200, body: { ok: true } });

  const lock = await holdWriteLock(join(dir, 'g.db'));
  // The first write meets the lock: it waits the gateway's short busy timeout, not 5 s.
  const first = await timed(() => post(2));
  expect(first.value.status).toBe(503);
  expect(first.value.retryAfter).toBe('1');
  expect(first.ms).toBeLessThan(OLD_BUSY_TIMEOUT_MS / 2);

  // While the lock is still held: /healthz from memory, well under the busy timeout.
  const h = await timed(() => health());
  expect(h.value.status).toBe(503);
  expect(h.value.body).toMatchObject({ ok: false, degraded: 'store-unavailable' });
  expect(h.value.body.detail).toMatch(/writes are failing/);
  expect(h.ms).toBeLessThan(OLD_BUSY_TIMEOUT_MS / 2);

  // Twenty POSTs and a health check at once: all answered 503 quickly; the event loop is free.
  const burst = await timed(() => Promise.all([...Array.from({ length: 20 }, (_, i) => post(10 + i)), health()]));
  expect(burst.ms).toBeLessThan(OLD_BUSY_TIMEOUT_MS / 2);
  for (const r of burst.value.slice(0, 20) as Array<{ status: number; retryAfter: string | null; body: any }>) {
    expect(r.status).toBe(503);
    expect(r.retryAfter).toBe('1');
    expect(r.body.error).toBe('store-unavailable');
  }
  expect(gw.renderMetrics()).toMatch(/sceau_ingest_errors_total\{reason="store-unavailable",transport="http"\} 2\d/);

  // UDP senders get no answer and cannot retry: their frames are held (bounded), not lost.
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.send(frame(50), gw.addresses.udp!.port, '127.0.0.1', () => r()));
  const deadline = Date.now() + 3000;
  while (!/^sceau_ingest_held 1$/m.test(gw.renderMetrics()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  udp.close();
  expect(gw.renderMetrics()).toMatch(/^sceau_ingest_held 1$/m);
  expect((await health()).body).toMatchObject({ degraded: 'store-unavailable', held: 1 });

  // Released: a probe finds the lock free and writes resume without a restart.
  await lock.release();
  const start = Date.now();
  while ((await health()).status !== 200) {
    expect(Date.now() - start).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 50));
  }
  const after = await post(2); // refused before, so never stored: accepted now
  expect(after.status).toBe(200);
  expect(after.body.code).toBe('ok');
  await gw.drain();
  // The UDP frame held during the lock is stored too, with its receive time.
  expect((await gw.store.queryFrames({ outcome: 'ok', limit: 10 })).map((f) => f.counter).sort((a, b) => a! - b!)).toEqual([1, 2, 50]);
  expect(gw.renderMetrics()).toMatch(/^sceau_ingest_held 0$/m);
});

it('closes without waiting for the lock: frames still held are counted closed, not hung on', async () => {
  const file = join(dir, 'close.db');
  const g = await startGateway({ db: file, udp: '127.0.0.1:0', log: () => undefined });
  sqliteStore(g).addDevice(getPublicKey(seed));
  const lock = await holdWriteLock(file);
  try {
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.send(frame(7), g.addresses.udp!.port, '127.0.0.1', () => r()));
    udp.close();
    const deadline = Date.now() + 3000;
    while (!/^sceau_ingest_held 1$/m.test(g.renderMetrics()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(g.renderMetrics()).toMatch(/^sceau_ingest_held 1$/m);
    const closing = await timed(() => g.close());
    expect(closing.ms).toBeLessThan(OLD_BUSY_TIMEOUT_MS / 2);
    expect(g.renderMetrics()).toMatch(/sceau_ingest_errors_total\{reason="closed",transport="udp"\} 1/);
    expect(g.renderMetrics()).toMatch(/^sceau_ingest_held 0$/m);
  } finally {
    await lock.release();
  }
});
