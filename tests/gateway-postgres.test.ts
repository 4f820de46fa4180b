// Several `sceau gateway serve` processes on one PostgreSQL (issue 15), a real server started on a
// loopback port: every frame sent to two instances at once; one instance SIGKILLed under load.
// Every frame that got a 2xx is stored, no counter is accepted twice, and a resend after the
// crash gets `duplicate` for what is stored. Then the CLI's read commands against PostgreSQL.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';
import { PgStore } from '@sceau/host-tools';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';
import { jsonLines, sceau } from './helpers/cli.js';
import { postFrame, startGatewayProcess } from './helpers/gateway-process.js';

const DEVICES = 8;
const PER_DEVICE = 120;
const TOTAL = DEVICES * PER_DEVICE;
const seeds = Array.from({ length: DEVICES }, (_, d) => new Uint8Array(32).fill(0x20 + d));
const kids = seeds.map((seed) => toHex(kidOf(getPublicKey(seed))));

let server: Awaited<ReturnType<typeof startPostgres>>;
let url: string;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startPostgres();
  url = await freshDatabase(server.url);
  dir = mkdtempSync(join(tmpdir(), 'sceau-gw-pg-'));
  const store = await PgStore.open(url, { ingest: false });
  for (const [d, seed] of seeds.entries()) await store.registry.register(getPublicKey(seed), { name: `pg-${d}` });
  await store.close();
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('two instances given every frame at once, one SIGKILLed: acknowledged frames stored, no counter accepted twice', async () => {
  const frames = seeds.map((seed) => Array.from({ length: PER_DEVICE }, (_, i) => sealRecord({ version: 1, counter: i + 1, time: null, readings: [{ channel: 1, value: i }] }, seed)));
  const [a, b] = await Promise.all([startGatewayProcess(url, children), startGatewayProcess(url, children)]);
  const agentA = new Agent({ keepAlive: true, maxSockets: DEVICES });
  const agentB = new Agent({ keepAlive: true, maxSockets: DEVICES });
  const acked = new Set<string>();
  const deliveries = new Map<string, string[]>();
  let killed = false;
  const device = async (d: number): Promise<void> => {
    for (let i = 0; i < PER_DEVICE; i++) {
      // The same frame to both instances at the same moment (a retry through another instance, an MQTT redelivery).
      const rs = await Promise.all([killed ? Promise.resolve<Awaited<ReturnType<typeof postFrame>>>({ status: 0 }) : postFrame(agentA, a.port, frames[d]![i]!), postFrame(agentB, b.port, frames[d]![i]!)]);
      for (const r of rs) {
        if (r.status !== 200) continue;
        expect(r.code).toBe('ok');
        const key = `${kids[d]}:${i + 1}`;
        acked.add(key);
        deliveries.set(key, [...(deliveries.get(key) ?? []), r.delivery!]);
      }
      if (!killed && acked.size >= TOTAL / 3) {
        killed = true;
        a.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(seeds.map((_, d) => device(d)));
  agentA.destroy();
  agentB.destroy();
  expect(a.child.signalCode).toBe('SIGKILL');
  // Every counter was answered 2xx by at least one instance (B survived). Never two `new` answers
  // for one counter; a counter answered by both got one `new` and one `duplicate`, unless A
  // committed it and died before answering (then B's `duplicate` is the only answer).
  expect(acked.size).toBe(TOTAL);
  const answered = [...deliveries.values()];
  expect(answered.filter((ds) => ds.filter((x) => x === 'new').length > 1)).toEqual([]);
  expect(answered.filter((ds) => ds.length === 2).every((ds) => ds.includes('new') && ds.includes('duplicate'))).toBe(true);
  expect(answered.filter((ds) => ds.length === 2).length).toBeGreaterThan(TOTAL / 4);

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const twice = (await db.query("SELECT kid, counter FROM frames WHERE outcome = 'ok' GROUP BY kid, counter HAVING count(*) > 1")).rows;
  expect(twice).toEqual([]);
  const stored = new Set((await db.query<{ kid: string; counter: string }>("SELECT kid, counter FROM frames WHERE outcome = 'ok'")).rows.map((r) => `${r.kid}:${r.counter}`));
  expect([...acked].filter((c) => !stored.has(c))).toEqual([]);

  // Everything again to the survivor: all duplicates, nothing stored again.
  const agent2 = new Agent({ keepAlive: true, maxSockets: DEVICES });
  const again = await Promise.all(seeds.flatMap((_, d) => frames[d]!.map((f) => postFrame(agent2, b.port, f))));
  agent2.destroy();
  expect(again.every((r) => r.status === 200 && r.code === 'ok' && r.delivery === 'duplicate')).toBe(true);
  const counts = (await db.query<{ outcome: string; n: string }>('SELECT outcome, count(*) AS n FROM frames GROUP BY outcome')).rows;
  expect(counts).toEqual([{ outcome: 'ok', n: String(TOTAL) }]);
  const windows = (await db.query<{ highest: string }>('SELECT highest FROM replay_windows ORDER BY kid')).rows;
  expect(windows.map((w) => Number(w.highest))).toEqual(seeds.map(() => PER_DEVICE));
  await db.end();
  // The gateway's read routes on PostgreSQL.
  const get = async (path: string) => (await fetch(`http://127.0.0.1:${b.port}${path}`)).json() as Promise<any>;
  expect((await get('/v1/devices')).devices).toHaveLength(DEVICES);
  const readings = await get('/v1/devices/pg-2/readings?limit=5');
  expect(readings.kid).toBe(kids[2]);
  expect(readings.readings.map((r: { counter: number }) => r.counter)).toHaveLength(5);
  const page = await get(`/v1/frames?kid=pg-2&limit=200`);
  expect(page.frames.map((f: { counter: number }) => f.counter).sort((x: number, y: number) => x - y)).toEqual(Array.from({ length: PER_DEVICE }, (_, i) => i + 1));
  // Its console (loopback, no token): frame_hours counted every stored frame once, whichever
  // instance stored it, the killed one's rolled-back commits included in neither.
  expect(await get('/v1/console/summary')).toMatchObject({ devices: DEVICES, outcomes24h: { ok: TOTAL } });
  const fleet = await get('/v1/console/fleet?sort=name');
  expect(fleet.total).toBe(DEVICES);
  expect(fleet.devices.map((d: { accepted24h: number; highestCounter: number }) => [d.accepted24h, d.highestCounter])).toEqual(seeds.map(() => [PER_DEVICE, PER_DEVICE]));
  b.child.kill('SIGTERM');
  await new Promise<void>((resolve) => (b.child.exitCode !== null ? resolve() : b.child.once('exit', () => resolve())));
  expect(b.child.exitCode).toBe(0);
}, 120_000);

it('the CLI read commands against PostgreSQL: devices list and show, export, frame verify --db', () => {
  const list = sceau(['devices', 'list', '--db', url, '--json']);
  expect(list.status).toBe(0);
  expect(jsonLines(list.stdout).map((d) => d.name)).toEqual(seeds.map((_, d) => `pg-${d}`));
  expect(jsonLines(list.stdout)[0]).toMatchObject({ kid: kids[0], highestCounter: PER_DEVICE });
  const show = sceau(['devices', 'show', 'pg-3', '--db', url, '--json']);
  expect(show.status).toBe(0);
  expect(JSON.parse(show.stdout)).toMatchObject({ kid: kids[3], name: 'pg-3' });
  const exported = sceau(['export', '--db', url, '--kid', 'pg-1', '--format', 'csv']);
  expect(exported.status).toBe(0);
  expect(exported.stdout.trim().split('\n')).toHaveLength(1 + PER_DEVICE);
  // A frame verified against the PostgreSQL registry: counter 121 is new, stored there.
  const file = join(dir, 'f.cbor');
  writeFileSync(file, sealRecord({ version: 1, counter: PER_DEVICE + 1, time: null, readings: [{ channel: 1, value: 1 }] }, seeds[0]!));
  const verified = sceau(['frame', 'verify', file, '--db', url, '--json']);
  expect(verified.status).toBe(0);
  expect(jsonLines(verified.stdout)[0]).toMatchObject({ ok: true, counter: PER_DEVICE + 1 });
  const unknown = sceau(['devices', 'show', 'nobody', '--db', url]);
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toMatch(/unknown-device/);
});

it('the CLI registry commands against PostgreSQL: devices add, update, revoke, unrevoke, delete; an empty database refused', async () => {
  const key = toHex(getPublicKey(new Uint8Array(32).fill(0x7e)));
  const added = sceau(['devices', 'add', '--db', url, '--public-key', key, '--name', 'cli-added', '--json']);
  expect(added.status).toBe(0);
  expect(JSON.parse(added.stdout)).toMatchObject({ result: 'created', name: 'cli-added' });
  expect(sceau(['devices', 'add', '--db', url, '--public-key', key, '--name', 'pg-0']).status).toBe(3); // registration-conflict
  expect(JSON.parse(sceau(['devices', 'update', 'cli-added', '--db', url, '--dev-eui', '0004a30b001c0777', '--json']).stdout)).toMatchObject({ devEui: '0004a30b001c0777' });
  expect(JSON.parse(sceau(['devices', 'revoke', '0004a30b001c0777', '--db', url, '--json']).stdout)).toMatchObject({ state: 'revoked' });
  expect(JSON.parse(sceau(['devices', 'unrevoke', 'cli-added', '--db', url, '--json']).stdout)).toMatchObject({ state: 'registered' });
  const deleted = sceau(['devices', 'delete', 'cli-added', '--db', url, '--json']);
  expect(deleted.status).toBe(0);
  expect(jsonLines(sceau(['devices', 'list', '--db', url, '--json']).stdout).map((d) => d.name)).not.toContain('cli-added');
  // A database without the schema is refused by commands that must not create one.
  const empty = await freshDatabase(server.url);
  const refused = sceau(['devices', 'revoke', 'x', '--db', empty]);
  expect(refused.status).toBe(3);
  expect(refused.stderr).toMatch(/not a sceau database/);
  expect(sceau(['devices', 'list', '--db', empty]).status).toBe(3);
});
