// Erasure and retention on PostgreSQL (issues 15 and 17, docs/privacy.md), against a real server
// (Debian's, started on a loopback port by tests/helpers/system-servers.ts): `sceau devices erase`
// leaves none of the device's rows and a tombstone, two running gateway instances refuse the key
// within the revocation bound (docs/architecture.md#several-instances), re-adding it is refused,
// frames of the key are refused unstored (key-erased), and an instance that still had the key
// when it committed stores nothing of it;
// `gateway serve --retention` with `sceau devices retention` deletes old frames only.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, sha256, toHex } from '@sceau/protocol';
import { FrameBatch, PgStore, startGateway, type Gateway } from '@sceau/host-tools';
import { RETENTION_BATCH } from '../host-tools/src/store-privacy.js';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';
import { jsonLines, sceau } from './helpers/cli.js';

let server: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;

beforeAll(async () => {
  server = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'sceau-privacy-pg-'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const seedOf = (name: string): Uint8Array => sha256(new TextEncoder().encode(name));
const kidOfSeed = (seed: Uint8Array): string => toHex(kidOf(getPublicKey(seed)));
const hidden = [{ channel: 1, value: 2137 }, { channel: 2, value: 4711, age: 30 }];

/** Rows holding `kid`, per table of the store (what erasure must leave empty). */
async function rowsOf(client: pg.Pool, kid: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['frames', 'readings', 'replay_windows', 'frame_hours', 'content_keys', 'registry_keys']) {
    out[table] = Number((await client.query(`SELECT count(*) AS n FROM ${table} WHERE kid = $1`, [kid])).rows[0].n);
  }
  return out;
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sceau devices erase on PostgreSQL', () => {
  const seed = seedOf('pg erase device');
  const kid = kidOfSeed(seed);
  const frame = (counter: number) => sealRecord({ version: 1, counter, time: 1764331200 + counter, readings: hidden }, seed);
  let url: string;
  let a: Gateway;
  let b: Gateway;
  let sql: pg.Pool;

  beforeAll(async () => {
    url = await freshDatabase(server.url);
    [a, b] = await Promise.all([startGateway({ db: url, log: () => undefined }), startGateway({ db: url, log: () => undefined })]);
    sql = new pg.Pool({ connectionString: url, max: 2 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), sql?.end()]);
  });

  it('deletes frames, readings, windows, hourly counts, wrapped key and registry entry in one go; the tombstone stays', async () => {
    const added = sceau(['devices', 'add', '--db', url, '--public-key', toHex(getPublicKey(seed)), '--name', 'flat-9', '--json']);
    expect(added.status, added.stderr).toBe(0);
    await a.store.privacy!.putWrappedKey({ kid, ownerKeyId: '00'.repeat(8), suite: 'x', enc: 'aa', ciphertext: 'bb' });
    await waitFor(async () => (b.store.resolve({ kid: kidOf(getPublicKey(seed)) }) === undefined ? undefined : true), 5000);
    for (const [gw, counter] of [[a, 1], [b, 2], [a, 3]] as const) expect((await gw.ingest(frame(counter), 'test')).code).toBe('ok');
    expect((await b.ingest(sealRecord({ version: 1, counter: 2, time: 1, readings: hidden }, seed), 'test')).code).toBe('replay');
    expect(await rowsOf(sql, kid)).toEqual({ frames: 4, readings: 6, replay_windows: 1, frame_hours: 2, content_keys: 1, registry_keys: 1 });

    // A third instance that hears no NOTIFY (as behind PgBouncer in transaction mode): the 2 s poll alone.
    const polling = await PgStore.open(url, { listen: false });
    expect(polling.resolve({ kid: kidOf(getPublicKey(seed)) })).toBeDefined();
    expect(sceau(['devices', 'erase', 'flat-9', '--db', url]).stderr).toMatch(/erase-unconfirmed/);
    const r = sceau(['devices', 'erase', 'flat-9', '--db', url, '--yes', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const erasedAt = Date.now();
    expect(JSON.parse(r.stdout)).toEqual({ erased: [{ kid, frames: 4, readings: 6, contentKey: true, erasedAt: expect.any(String) }], name: 'flat-9', walCheckpointed: true });
    expect(await rowsOf(sql, kid)).toEqual({ frames: 0, readings: 0, replay_windows: 0, frame_hours: 0, content_keys: 0, registry_keys: 0 });
    expect((await sql.query("SELECT count(*)::int AS n FROM registry_devices WHERE name = 'flat-9'")).rows[0].n).toBe(0);
    expect((await sql.query('SELECT kid, frames::int, readings::int, content_key FROM erased_keys')).rows).toEqual([{ kid, frames: 4, readings: 6, content_key: 1 }]);
    expect(await a.store.privacy!.tombstone(kid)).toMatchObject({ kid, frames: 4, readings: 6, contentKey: true });

    // Both running instances refuse the key within the documented bound (2 s + one reload; NOTIFY is faster).
    const forgotten = await Promise.all([a, b].map((gw) => waitFor(async () => (gw.store.resolve({ kid: kidOf(getPublicKey(seed)) }) === undefined ? Date.now() - erasedAt : undefined), 5000)));
    for (const { value } of forgotten) expect(value).toBeLessThan(2500);
    try {
      const { value: byPoll } = await waitFor(async () => (polling.resolve({ kid: kidOf(getPublicKey(seed)) }) === undefined ? Date.now() - erasedAt : undefined), 6000);
      expect(byPoll).toBeLessThan(4500); // the 2 s poll + one reload, with room for a loaded machine
      expect(polling.erasedAt(kid)).toBeGreaterThan(0);
    } finally {
      await polling.close();
    }
    // Refused unstored (data minimisation), and counted.
    expect(await a.ingestDatagram(frame(10), { source: 'test' })).toEqual({ kind: 'invalid', detail: expect.stringMatching(new RegExp(`^key-erased: key ${kid} was erased`)) });
    expect(a.renderMetrics()).toContain('sceau_ingest_errors_total{reason="key-erased",transport="test"} 1');
    await expect(b.ingest(frame(11), 'test')).rejects.toMatchObject({ reason: 'key-erased' });
    expect(await rowsOf(sql, kid)).toEqual({ frames: 0, readings: 0, replay_windows: 0, frame_hours: 0, content_keys: 0, registry_keys: 0 });
  });

  it('an erased key cannot be added, provisioned or rotated to again (key-erased, exit 3)', () => {
    const again = sceau(['devices', 'add', '--db', url, '--public-key', toHex(getPublicKey(seed)), '--json']);
    expect(again.status).toBe(3);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ error: 'key-erased' });
    expect(sceau(['devices', 'add', '--db', url, '--public-key', toHex(getPublicKey(seedOf('pg erase other'))), '--name', 'other']).status).toBe(0);
    const keyFile = join(dir, 'erased.key');
    writeFileSync(keyFile, `${toHex(seed)}\n`, { mode: 0o600 });
    const rotated = sceau(['provision', '--db', url, '--rotate', 'other', '--write-key', join(dir, '.env.rotate'), '--key', keyFile, '--json']);
    expect(rotated.status).toBe(3);
    expect(jsonLines(rotated.stdout)[0]).toMatchObject({ error: 'key-erased' });
  });

  it('an instance that still had the key when it committed stores nothing of it', async () => {
    // As an instance whose keyring has not reloaded yet: a batch accepting the erased key's counter 11.
    const stale = await PgStore.open(url, { ingest: false });
    try {
      const batch = new FrameBatch();
      batch.add(frame(11), Date.now(), 'test', 'ok', kid, 11, undefined, [{ channel: 1, name: 'temperature', value: 21.37, unit: 'Cel', raw: 2137, age: 0, at: null }]);
      const { conflicts } = await new Promise<{ conflicts: ReadonlyMap<number, unknown> | undefined }>((resolve, reject) =>
        stale.commitBatch(batch.finish([[kid, { highest: 11, bitmap: '0000000000000001' }]]), (e, _ids, c) => (e ? reject(e) : resolve({ conflicts: c }))),
      );
      expect(conflicts?.get(0)).toMatchObject({ kind: 'erased', detail: expect.stringContaining('not stored') });
      expect(await rowsOf(sql, kid)).toEqual({ frames: 0, readings: 0, replay_windows: 0, frame_hours: 0, content_keys: 0, registry_keys: 0 });
    } finally {
      await stale.close();
    }
  });
});

describe('retention on PostgreSQL (gateway serve --retention, sceau devices retention)', () => {
  const day = 86_400_000;
  const seeds = ['a', 'b', 'c'].map((n) => seedOf(`pg retention ${n}`));
  const kids = seeds.map(kidOfSeed);
  let url: string;
  let gw: Gateway;
  let sql: pg.Pool;

  beforeAll(async () => {
    url = await freshDatabase(server.url);
    gw = await startGateway({ db: url, retentionMs: 7 * day, retentionSweepMs: 3_600_000, log: () => undefined });
    sql = new pg.Pool({ connectionString: url, max: 2 });
    for (const [i, s] of seeds.entries()) await gw.store.registry.register(getPublicKey(s), { name: `r-${i}` });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([gw?.close(), sql?.end()]);
  });

  it('deletes frames past the gateway\'s retention or their device\'s own, in batches, while ingest goes on', async () => {
    expect(sceau(['devices', 'retention', 'r-1', '1d', '--db', url, '--json']).stdout).toBe(`${JSON.stringify({ kid: kids[1], name: 'r-1', retentionMs: day })}\n`);
    expect(sceau(['devices', 'retention', 'r-2', '30d', '--db', url]).status).toBe(0);
    expect(sceau(['devices', 'retention', 'r-2', '1x', '--db', url]).stderr).toMatch(/bad-duration/);
    const now = Date.now();
    const old = RETENTION_BATCH * 4;
    const insert = (kid: string | null, counter: number, ageMs: number, outcome = 'ok', n = 1) =>
      sql.query("INSERT INTO frames (received_at, source, outcome, kid, counter, raw, readings) SELECT $1, 'test', $2, $3, $4 + g, '\\x01', '[]' FROM generate_series(0, $5 - 1) AS g", [now - ageMs, outcome, kid, counter, n]);
    await insert(kids[0]!, 1, 10 * day, 'ok', old); // deleted: older than the gateway's 7 days
    await insert(kids[0]!, old + 1, 2 * day); // kept
    await insert(kids[1]!, 1, 2 * day); // deleted: its own 1 day
    await insert(kids[2]!, 1, 10 * day); // kept: its own 30 days
    await insert('0011223344556677', 1, 10 * day, 'unknown-kid'); // deleted: the gateway's
    await insert(null, 1, 10 * day, 'malformed-cbor'); // deleted: the gateway's
    const sweep = gw.retention!.sweep();
    const fresh = await gw.ingest(sealRecord({ version: 1, counter: 2, time: null, readings: [{ channel: 5, value: 3000 }] }, seeds[1]!), 'test');
    expect(fresh.code).toBe('ok');
    expect((await sweep).frames).toBe(old + 3);
    const left = (await sql.query<{ kid: string; counter: number }>('SELECT kid, counter FROM frames ORDER BY id')).rows.map((f) => [f.kid, Number(f.counter)]);
    expect(left).toEqual([[kids[0], old + 1], [kids[2], 1], [kids[1], 2]]);
    expect((await gw.retention!.sweep()).frames).toBe(0);
    expect(sceau(['devices', 'retention', 'r-1', 'default', '--db', url, '--json']).stdout).toContain('"retentionMs":null');
    expect((await sql.query('SELECT count(*)::int AS n FROM registry_devices WHERE retention_ms IS NOT NULL')).rows[0].n).toBe(1);
  });
});
