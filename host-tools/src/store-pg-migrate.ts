/**
 * The shared migrations (store-migrations.ts) applied to PostgreSQL: in one transaction, under
 * a transaction-level advisory lock, so that instances starting together on a new database run
 * them once (the second waits for the lock, then finds the version recorded and applies nothing).
 * The version is kept in `meta.schema_version`, as on SQLite.
 */
import type pg from 'pg';
import { MIGRATIONS, SCHEMA_VERSION } from './store-migrations.js';
import { StoreError } from './store-errors.js';

/** The advisory lock key of the migrations (any constant: it names the lock for every instance). */
const MIGRATION_LOCK = 0x5cea0015;

/** Applies the migrations a PostgreSQL database lacks; returns the versions applied. */
export async function migratePostgres(client: pg.ClientBase, where: string): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)');
    const row = (await client.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")).rows[0];
    const from = row === undefined ? 0 : Number(row.value);
    if (!Number.isInteger(from) || from < 0 || from > SCHEMA_VERSION) throw new StoreError('schema-too-new', `${where}: schema version ${row?.value}, this sceau reads versions 1 to ${SCHEMA_VERSION}`);
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await client.query(m.postgres);
      await client.query("INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [String(m.version)]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (error instanceof StoreError) throw error;
    throw new StoreError('store-unusable', `cannot migrate ${where}: ${(error as Error).message}`);
  }
}
