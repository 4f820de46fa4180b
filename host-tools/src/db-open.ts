/**
 * Opening the store for a command. Commands that read (or verify against) a registry must not
 * create one: a misspelled `--db` path would otherwise give an empty registry and every frame
 * `unknown-kid`. They refuse a path that does not exist, an empty file and a file that is not a
 * sceau database, each with its own code (exit 3).
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ioError } from './errors.js';
import { Store } from './store.js';

/** `create`: made when missing (registration, the gateway); `existing`: written, never created; `readonly`. */
export type DbMode = 'create' | 'existing' | 'readonly';

/** Refuses a database path that is missing, empty or not a sceau database. */
export function checkExistingDatabase(file: string): void {
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw ioError(`database ${file} is a directory`, 'database-not-sceau');
    size = st.size;
  } catch (error) {
    if (error instanceof Error && error.name === 'SceauError') throw error;
    throw ioError(`database ${file} does not exist (check the path; it is created by \`sceau devices add\`, \`sceau provision\` or \`sceau gateway serve\`)`, 'database-missing');
  }
  if (size === 0) throw ioError(`database ${file} is an empty file, not a sceau database: no devices are registered there (register one with \`sceau devices add --db ${file} ...\`)`, 'database-empty');
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    if (!hasMeta) throw ioError(`database ${file} is an SQLite database but not a sceau one (no meta table)`, 'database-not-sceau');
  } catch (error) {
    if (error instanceof Error && error.name === 'SceauError') throw error;
    throw ioError(`database ${file} is not a sceau database: ${(error as Error).message}`, 'database-not-sceau');
  } finally {
    db?.close();
  }
}

export function openStore(file: string, mode: DbMode): Store {
  if (mode !== 'create' && file !== ':memory:') checkExistingDatabase(file);
  return Store.open(file, mode === 'readonly' ? { readonly: true } : {});
}
