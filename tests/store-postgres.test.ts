// The PostgreSQL store (issue 15) against a real PostgreSQL (Debian's, started on a loopback port
// by tests/helpers/system-servers.ts): migration from an empty database (two instances at once),
// two instances ingesting the same frames concurrently (each counter accepted exactly once, the
// other answer `duplicate` or `replay`), windows never backwards, a revocation reaching the other
// instance, the read queries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { getPublicKey, kidOf, sealRecord, toHex, type SceauRecord } from '@sceau/protocol';
import { FrameBatch, Ingestor, PgStore, SCHEMA_VERSION, type IngestResult } from '@sceau/host-tools';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase as freshDatabase_ } from './helpers/pg-databases.js';

let server: Awaited<ReturnType<typeof startPostgres>>;

const freshDatabase = () => freshDatabase_(server.url);

const seed = new Uint8Array(32).fill(0x51);
const kid = toHex(kidOf(getPublicKey(seed)));
const record = (counter: number, value = 1000): SceauRecord => ({ version: 1, counter, time: null, readings: [{ channel: 1, value }] });

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

async function waitFor(check: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

describe('PostgreSQL store', () => {
  it('migrates an empty database once when two instances open it together', async () => {
    const url = await freshDatabase();
    // A command that must not create a store refuses an empty database (as a missing SQLite file).
    await expect(PgStore.open(url, { create: false })).rejects.toMatchObject({ code: 'store-unopenable', message: expect.stringMatching(/not a sceau database/) });
    const [a, b] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
    try {
      const meta = await a.pool.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
      expect(meta.rows.map((r) => r.value)).toEqual([String(SCHEMA_VERSION)]);
      const tables = await a.pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
      expect(tables.rows.map((r) => r.table_name)).toEqual(['content_keys', 'devices', 'erased_keys', 'frame_hours', 'frames', 'meta', 'readings', 'registry_devices', 'registry_keys', 'replay_windows']);
      expect(await b.listDevices()).toEqual([]);
      expect(await b.countFramesByOutcome()).toEqual({});
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    // Opened again: nothing to apply, same version.
    const again = await PgStore.open(url, { ingest: false });
    expect((await again.pool.query("SELECT value FROM meta WHERE key = 'schema_version'")).rows[0].value).toBe(String(SCHEMA_VERSION));
    await again.close();
  });

  it('refuses a password in the URL and a password file others can read', async () => {
    await expect(PgStore.open('postgres://u:secret@127.0.0.1:1/x')).rejects.toThrow(/password in the database URL is refused/);
    const { mkdtempSync, writeFileSync, chmodSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sceau-pw-'));
    const file = join(dir, 'pw');
    writeFileSync(file, 'secret\n');
    chmodSync(file, 0o644);
    try {
      await expect(PgStore.open(server.url, { passwordFile: file })).rejects.toThrow(/readable by others .*chmod 600/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two instances given the same frames at the same moment accept each counter exactly once', async () => {
    const url = await freshDatabase();
    const a = await PgStore.open(url, { registryPollMs: 200 });
    const b = await PgStore.open(url, { registryPollMs: 200 });
    try {
      await a.registry.register(getPublicKey(seed), { name: 'race' });
      await waitFor(() => b.resolve({ kid: kidOf(getPublicKey(seed)) }) !== undefined, 3000);
      const ia = new Ingestor(a);
      const ib = new Ingestor(b);
      const N = 300;
      const frames = Array.from({ length: N }, (_, i) => sealRecord(record(i + 1), seed));
      // Counters 1..N to both at once; counters N+1..N+50 with different bytes on each side.
      const others = Array.from({ length: 50 }, (_, i) => [sealRecord(record(N + i + 1, 1), seed), sealRecord(record(N + i + 1, 2), seed)] as const);
      const answers = await Promise.all([
        ...frames.map((f) => ia.ingest(f, { source: 'http:a' })),
        ...frames.map((f) => ib.ingest(f, { source: 'http:b' })),
        ...others.map(([x]) => ia.ingest(x, { source: 'http:a' })),
        ...others.map(([, y]) => ib.ingest(y, { source: 'http:b' })),
      ]);
      const byCounter = new Map<number, IngestResult[]>();
      for (const r of answers) byCounter.set(r.counter!, [...(byCounter.get(r.counter!) ?? []), r]);
      for (let c = 1; c <= N + 50; c++) {
        const rs = byCounter.get(c)!;
        expect(rs).toHaveLength(2);
        const accepted = rs.filter((r) => r.ok && r.delivery === 'new');
        expect(accepted, `counter ${c}`).toHaveLength(1);
        const other = rs.find((r) => r !== accepted[0])!;
        if (c <= N) {
          // Same bytes: a duplicate delivery of the stored frame, with its id.
          expect(other.delivery).toBe('duplicate');
          expect(other.ok).toBe(true);
          expect(other.id).toBe(accepted[0]!.id);
        } else {
          expect(other.code).toBe('replay');
          expect(other.delivery).toBe('new');
        }
      }
      const rows = await a.pool.query<{ counter: number; outcome: string; n: number }>('SELECT counter, outcome, count(*)::bigint AS n FROM frames GROUP BY counter, outcome');
      const okRows = rows.rows.filter((r) => r.outcome === 'ok');
      expect(okRows).toHaveLength(N + 50);
      expect(okRows.every((r) => r.n === 1)).toBe(true);
      // Duplicates are not stored; the losers with other bytes are, as replays.
      expect(rows.rows.filter((r) => r.outcome === 'replay').reduce((s, r) => s + r.n, 0)).toBe(50);
      const window = (await a.pool.query<{ highest: number }>('SELECT highest FROM replay_windows WHERE kid = $1', [kid])).rows[0]!;
      expect(window.highest).toBe(N + 50);
      // Each instance's duplicate answers were counted as such.
      expect(ia.metrics.duplicateDeliveries() + ib.metrics.duplicateDeliveries()).toBe(N);
      await Promise.all([ia.close(), ib.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);

  it('never moves a window backwards, whatever an instance believed', async () => {
    const url = await freshDatabase();
    const a = await PgStore.open(url);
    try {
      await a.registry.register(getPublicKey(seed));
      const commit = (batch: ReturnType<FrameBatch['finish']>) => new Promise<{ ids: number[]; conflicts: ReadonlyMap<number, unknown> | undefined }>((resolve, reject) => a.commitBatch(batch, (e, ids, conflicts) => (e ? reject(e) : resolve({ ids, conflicts }))));
      const batch = new FrameBatch();
      batch.add(sealRecord(record(100), seed), Date.now(), 'test', 'ok', kid, 100, undefined, []);
      await commit(batch.finish([[kid, { highest: 100, bitmap: '0000000000000001' }]]));
      // An instance that believes the window is at 5 and accepts 5: the database says too old.
      const stale = new FrameBatch();
      stale.add(sealRecord(record(5), seed), Date.now(), 'test', 'ok', kid, 5, undefined, []);
      const { conflicts } = await commit(stale.finish([[kid, { highest: 5, bitmap: '0000000000000001' }]]));
      expect(conflicts?.get(0)).toMatchObject({ kind: 'replay' });
      const rows = (await a.pool.query<{ highest: number }>('SELECT highest FROM replay_windows WHERE kid = $1', [kid])).rows;
      expect(rows[0]!.highest).toBe(100);
      expect((await a.queryFrames({ kid })).map((f) => [f.counter, f.outcome])).toEqual([[100, 'ok'], [5, 'replay']]);
      // The cache learned the database's window.
      expect(a.replay.get(kid).highestAccepted).toBe(100);
    } finally {
      await a.close();
    }
  });

  it('a revocation made through one instance reaches the other instances: by NOTIFY, from a change made in SQL (the trigger), and by the poll without LISTEN', async () => {
    const url = await freshDatabase();
    const a = await PgStore.open(url);
    const b = await PgStore.open(url, { registryPollMs: 500 });
    try {
      const publicKey = getPublicKey(seed);
      await a.registry.register(publicKey, { name: 'revoked-soon' });
      await waitFor(() => b.resolve({ kid: kidOf(publicKey) }) !== undefined, 2500);
      await a.registry.revoke('revoked-soon');
      const took = await waitFor(() => b.resolve({ kid: kidOf(publicKey) })?.revoked === true, 2500);
      expect(took).toBeLessThan(2500);
      // A change made in SQL, by hand: the trigger tells the instances too.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query("UPDATE registry_keys SET state = 'registered', revoked_at = NULL");
      await admin.end();
      await waitFor(() => b.resolve({ kid: kidOf(publicKey) })?.revoked === false, 2500);
      // Without LISTEN (behind a pooler that drops notifications): the poll of registry_version.
      const c = await PgStore.open(url, { listen: false, registryPollMs: 300 });
      try {
        expect(c.resolve({ kid: kidOf(publicKey) })?.revoked).toBe(false);
        await a.registry.revoke('revoked-soon');
        const polled = await waitFor(() => c.resolve({ kid: kidOf(publicKey) })?.revoked === true, 2500);
        expect(polled).toBeLessThan(1500);
      } finally {
        await c.close();
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('answers the read queries', async () => {
    const url = await freshDatabase();
    const a = await PgStore.open(url);
    try {
      await a.registry.register(getPublicKey(seed), { name: 'reader', devEui: '0004a30b001c0531' });
      const ing = new Ingestor(a);
      for (let c = 1; c <= 12; c++) await ing.ingest(sealRecord({ version: 1, counter: c, time: 1_700_000_000 + c, readings: [{ channel: 1, value: c }, { channel: 2, value: 10 * c }] }, seed), { source: 'http' });
      await ing.close();
      expect((await a.listDevices()).map((d) => [d.name, d.highestCounter])).toEqual([['reader', 12]]);
      expect((await a.getDevice('0004a30b001c0531'))?.kid).toBe(kid);
      expect(await a.countFramesByOutcome()).toEqual({ ok: 12 });
      const frames = await a.queryFrames({ kid, limit: 5, afterId: 2 });
      expect(frames.map((f) => f.counter)).toEqual([3, 4, 5, 6, 7]);
      const readings = await a.queryReadings({ kid, since: 1_700_000_005 });
      expect(readings.map((r) => [r.counter, r.channel])).toEqual(Array.from({ length: 8 }, (_, i) => [[i + 5, 1], [i + 5, 2]]).flat());
      const all: number[] = [];
      for await (const r of a.iterateReadings({ kids: [kid] })) all.push(r.counter);
      expect(all).toHaveLength(24);
    } finally {
      await a.close();
    }
  });

  it('registry: rotate, update, delete (windows kept as floors), registerMany all or none, with the refusal codes of SQLite', async () => {
    const url = await freshDatabase();
    const a = await PgStore.open(url);
    try {
      const k1 = getPublicKey(seed);
      const k2 = getPublicKey(new Uint8Array(32).fill(0x52));
      const k3 = getPublicKey(new Uint8Array(32).fill(0x53));
      await a.registry.register(k1, { name: 'm1' });
      await expect(a.registry.register(k2, { name: 'm1' })).rejects.toMatchObject({ code: 'name-taken' });
      const ing = new Ingestor(a);
      expect((await ing.ingest(sealRecord(record(7), seed), { source: 'http' })).ok).toBe(true);
      const rotated = await a.registry.rotate('m1', k2);
      expect(rotated).toMatchObject({ result: 'created', revoked: [kid] });
      expect(a.resolve({ kid: kidOf(k1) })?.revoked).toBe(true);
      expect((await a.registry.show('m1')).keys.map((k) => k.state)).toEqual(['revoked', 'registered']);
      expect((await a.registry.update('m1', { name: 'm1-renamed', devEui: '0004a30b001c0599' })).devEui).toBe('0004a30b001c0599');
      const deleted = await a.registry.delete('m1-renamed');
      expect(deleted.keys).toHaveLength(2);
      expect(await a.listDevices()).toEqual([]);
      // Added again: its old counters stay refused (the window became a floor), a new one is accepted.
      const again = await a.registry.register(k1, { name: 'back' });
      expect(again.counterFloor).toBe(7);
      expect((await ing.ingest(sealRecord(record(3), seed), { source: 'http' })).code).toBe('replay');
      expect((await ing.ingest(sealRecord(record(8), seed), { source: 'http' })).ok).toBe(true);
      await ing.close();
      await expect(a.registry.registerMany([{ where: 'line 1', publicKey: k3, name: 'new' }, { where: 'line 2', publicKey: k2, name: 'back' }])).rejects.toThrow(/1 of 2 refused, nothing registered: line 2: name-taken/);
      expect((await a.listDevices()).map((d) => d.name)).toEqual(['back']);
      expect((await a.registry.registerMany([{ where: 'line 1', publicKey: k3, name: 'new' }])).map((r) => r.result)).toEqual(['created']);
    } finally {
      await a.close();
    }
  });
});
