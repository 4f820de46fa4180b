/**
 * Connecting to PostgreSQL for the store: a `postgres://HOST[:PORT]/DB` URL (user in the URL is
 * fine, a password is not: command lines are visible to every user of the machine), the password
 * from `--db-password-file` (mode 0600, like ssh keys) or, as libpq does, from PGPASSFILE or
 * ~/.pgpass (the `pg` package reads those itself when no password is given).
 */
import { readFileSync, statSync } from 'node:fs';
import pg from 'pg';
import { StoreError } from './store-errors.js';

/** Whether a `--db` value names a PostgreSQL database rather than an SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

export interface PgConnectOptions {
  /** A file holding the password alone (trailing newline ignored); must not be readable by group or others. */
  passwordFile?: string | undefined;
  /** Connections in the pool (default 4: one commit at a time, queries and the registry refresh beside it). */
  poolSize?: number | undefined;
}

let passwordFileForAll: string | undefined;

/**
 * The password file of every PostgreSQL store this process opens without one of its own: the
 * CLI's `--db-password-file`, set once before a command runs (commands open stores by location).
 */
export function setDefaultPasswordFile(file: string | undefined): void {
  passwordFileForAll = file;
}

export function defaultPasswordFile(): string | undefined {
  return passwordFileForAll;
}

/** The password in a file of mode 0600 (or stricter); anything looser is refused, as ssh does. */
export function readPasswordFile(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    throw new StoreError('store-unopenable', `password file ${file}: ${(error as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw new StoreError('store-unopenable', `password file ${file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/** bigint columns (ids, counters, times in ms) as numbers: every one of them is below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** The pool's settings for a store URL; refuses a URL with a password in it. */
export function poolConfig(url: string, options: PgConnectOptions = {}): pg.PoolConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError('store-unopenable', `${url}: not a URL (expected postgres://HOST[:PORT]/DB)`);
  }
  if (parsed.password !== '') throw new StoreError('store-unopenable', 'a password in the database URL is refused (the command line is visible to every user): use --db-password-file or PGPASSFILE');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '') throw new StoreError('store-unopenable', `${url}: no database name (expected postgres://HOST[:PORT]/DB)`);
  const config: pg.PoolConfig = {
    host: parsed.hostname,
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    database,
    max: options.poolSize ?? 4,
    types,
    application_name: 'sceau',
  };
  if (parsed.username !== '') config.user = decodeURIComponent(parsed.username);
  const passwordFile = options.passwordFile ?? passwordFileForAll;
  if (passwordFile !== undefined) config.password = readPasswordFile(passwordFile);
  return config;
}

/** The URL without user (for messages and stored sources). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.host}${u.pathname}`;
  } catch {
    return url;
  }
}
