/**
 * The SQLite backend of the store registry: a file path (or `:memory:`) opens a `Store`
 * (store.ts). Commands that read (or verify against) a registry must not create one: a
 * misspelled `--db` path would otherwise give an empty registry and every frame `unknown-kid`.
 * They refuse a path that does not exist, an empty file and a file that is not a sceau database,
 * each with its own `StoreError` code.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StoreError } from './store-errors.js';
import { Store } from './store.js';
import type { DbMode, StoreBackend } from './store-registry.js';

/** Refuses a database path that is missing, empty or not a sceau database. */
export function checkExistingDatabase(file: string): void {
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new StoreError('database-not-sceau', `database ${file} is a directory`);
    size = st.size;
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError('database-missing', `database ${file} does not exist (check the path; it is created by \`sceau devices add\`, \`sceau provision\` or \`sceau gateway serve\`)`);
  }
  if (size === 0) throw new StoreError('database-empty', `database ${file} is an empty file, not a sceau database: no devices are registered there (register one with \`sceau devices add --db ${file} ...\`)`);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    if (!hasMeta) throw new StoreError('database-not-sceau', `database ${file} is an SQLite database but not a sceau one (no meta table)`);
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError('database-not-sceau', `database ${file} is not a sceau database: ${(error as Error).message}`);
  } finally {
    db?.close();
  }
}

/** Opens a SQLite store in `mode` (synchronously: the CLI's registry commands use its `DeviceRegistry`). */
export function openSqliteStore(file: string, mode: DbMode, synchronous?: 'full' | 'normal'): Store {
  if (mode !== 'create' && file !== ':memory:') checkExistingDatabase(file);
  return Store.open(file, mode === 'readonly' ? { readonly: true } : synchronous === undefined ? {} : { synchronous });
}

export const sqliteBackend: StoreBackend = {
  name: 'sqlite',
  async open(location, { mode, synchronous }) {
    return openSqliteStore(location, mode, synchronous);
  },
  async openRegistry(location, { mode }) {
    return openSqliteStore(location, mode);
  },
};
