/**
 * `sceau db copy`: an SQLite store moved into an empty PostgreSQL one. The registry (devices and
 * keys, ids kept), every frame (ids kept: exports and links stay valid), every replay window, the
 * wrapped content keys and the erasure tombstones go over in one PostgreSQL transaction, so a failure leaves the target empty; the counts of
 * both sides are compared before the commit, and a difference rolls it back.
 */
import type pg from 'pg';
import { SceauError, EXIT } from './errors.js';
import type { PgStore } from './store-pg.js';
import type { Store } from './store.js';

/** Rows of each table, on either side. */
export interface StoreCounts {
  devices: number;
  keys: number;
  frames: number;
  windows: number;
  /** Wrapped content keys (docs/privacy.md). */
  contentKeys: number;
  /** Erasure tombstones: each refuses its key on the copy too. */
  tombstones: number;
}

export interface CopyProgress {
  table: 'devices' | 'keys' | 'frames' | 'windows' | 'contentKeys' | 'tombstones';
  done: number;
  total: number;
}

export interface CopyReport {
  source: StoreCounts;
  target: StoreCounts;
  ms: number;
}

const TABLES: ReadonlyArray<{ table: CopyProgress['table']; sqlite: string; pg: string }> = [
  { table: 'devices', sqlite: 'registry_devices', pg: 'registry_devices' },
  { table: 'keys', sqlite: 'registry_keys', pg: 'registry_keys' },
  { table: 'frames', sqlite: 'frames', pg: 'frames' },
  { table: 'windows', sqlite: 'replay_windows', pg: 'replay_windows' },
  { table: 'contentKeys', sqlite: 'content_keys', pg: 'content_keys' },
  { table: 'tombstones', sqlite: 'erased_keys', pg: 'erased_keys' },
];

/** Rows per INSERT (one array parameter per column). */
const CHUNK = 5000;

function sqliteCounts(source: Store): StoreCounts {
  const counts = {} as StoreCounts;
  for (const { table, sqlite } of TABLES) counts[table] = (source.db.prepare(`SELECT count(*) AS n FROM ${sqlite}`).get() as { n: number }).n;
  return counts;
}

async function pgCounts(db: pg.ClientBase): Promise<StoreCounts> {
  const counts = {} as StoreCounts;
  for (const { table, pg: name } of TABLES) counts[table] = (await db.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${name}`)).rows[0]!.n;
  return counts;
}

/** Inserts by chunks of rows read from SQLite, each chunk one statement of column arrays. */
async function copyTable(
  source: Store,
  db: pg.ClientBase,
  select: string,
  insert: string,
  columns: (row: Record<string, unknown>) => unknown[],
  progress: (done: number) => void,
): Promise<void> {
  let chunk: unknown[][] = [];
  let done = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const width = chunk[0]!.length;
    const arrays = Array.from({ length: width }, (_, c) => chunk.map((row) => row[c]));
    await db.query(insert, arrays);
    done += chunk.length;
    chunk = [];
    progress(done);
  };
  for (const row of source.db.prepare(select).iterate() as IterableIterator<Record<string, unknown>>) {
    chunk.push(columns(row));
    if (chunk.length >= CHUNK) await flush();
  }
  await flush();
}

/**
 * Copies an SQLite store into a PostgreSQL store that holds nothing yet (no device, no frame,
 * no window, no content key, no tombstone: `target-not-empty` otherwise, exit 3), verifying the
 * counts of each.
 */
export async function copyStore(source: Store, target: PgStore, onProgress: (p: CopyProgress) => void = () => undefined): Promise<CopyReport> {
  const started = Date.now();
  const counts = sqliteCounts(source);
  const client = await target.pool.connect();
  try {
    await client.query('BEGIN');
    const before = await pgCounts(client);
    if (Object.values(before).some((n) => n > 0)) {
      throw new SceauError(`${target.where} is not empty (${before.devices} devices, ${before.frames} frames, ${before.windows} windows): db copy fills a new database only`, EXIT.io, 'target-not-empty');
    }
    const report = (table: CopyProgress['table']) => (done: number) => onProgress({ table, done, total: counts[table] });
    await copyTable(source, client, 'SELECT id, name, dev_eui, created_at, retention_ms FROM registry_devices ORDER BY id',
      'INSERT INTO registry_devices (id, name, dev_eui, created_at, retention_ms) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])',
      (r) => [r.id, r.name, r.dev_eui, r.created_at, r.retention_ms], report('devices'));
    await copyTable(source, client, 'SELECT id, kid, device_id, public_key, state, created_at, revoked_at FROM registry_keys ORDER BY id',
      'INSERT INTO registry_keys (id, kid, device_id, public_key, state, created_at, revoked_at) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bytea[], $5::text[], $6::bigint[], $7::bigint[])',
      (r) => [r.id, r.kid, r.device_id, r.public_key, r.state, r.created_at, r.revoked_at], report('keys'));
    await copyTable(source, client, 'SELECT id, received_at, source, outcome, kid, counter, detail, raw, readings, encrypted, radio FROM frames ORDER BY id',
      'INSERT INTO frames (id, received_at, source, outcome, kid, counter, detail, raw, readings, encrypted, radio) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bytea[], $9::text[], $10::integer[], $11::text[])',
      (r) => [r.id, r.received_at, r.source, r.outcome, r.kid, r.counter, r.detail, r.raw, r.readings, r.encrypted, r.radio], report('frames'));
    // Privacy (schema 5): the content keys wrapped for their owner (without them the readings are
    // lost) and the erasure tombstones (without them an erased key would be accepted again).
    await copyTable(source, client, 'SELECT kid, owner_key_id, suite, enc, ciphertext, created_at FROM content_keys ORDER BY kid',
      'INSERT INTO content_keys (kid, owner_key_id, suite, enc, ciphertext, created_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])',
      (r) => [r.kid, r.owner_key_id, r.suite, r.enc, r.ciphertext, r.created_at], report('contentKeys'));
    await copyTable(source, client, 'SELECT kid, frames, readings, content_key, erased_at FROM erased_keys ORDER BY kid',
      'INSERT INTO erased_keys (kid, frames, readings, content_key, erased_at) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[])',
      (r) => [r.kid, r.frames, r.readings, r.content_key, r.erased_at], report('tombstones'));
    await copyTable(source, client, 'SELECT kid, highest, bitmap, updated_at FROM replay_windows ORDER BY kid',
      'INSERT INTO replay_windows (kid, highest, bitmap, updated_at) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[])',
      (r) => [r.kid, r.highest, r.bitmap, r.updated_at], report('windows'));
    // Identities continue after the ids copied.
    for (const table of ['registry_devices', 'registry_keys', 'frames']) {
      await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT max(id) FROM ${table}), 1), (SELECT max(id) FROM ${table}) IS NOT NULL)`);
    }
    const after = await pgCounts(client);
    const differ = TABLES.filter(({ table }) => after[table] !== counts[table]);
    if (differ.length > 0) {
      throw new SceauError(`db copy: counts differ (${differ.map(({ table }) => `${table}: ${counts[table]} in the file, ${after[table]} copied`).join('; ')}); nothing was committed`, EXIT.io, 'copy-mismatch');
    }
    await client.query('COMMIT');
    return { source: counts, target: after, ms: Date.now() - started };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
