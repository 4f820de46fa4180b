/**
 * Typed errors of the stores: a stable code and a one-line message, no exit code and no HTTP
 * status. The edges map them: the CLI to exit 3 (I/O; 2 for an unknown backend, a usage error),
 * the HTTP API to 503 (docs/architecture.md#errors).
 */
export const STORE_ERROR_CODES = [
  /** The database file cannot be opened (missing directory, permissions, not a database). */
  'store-unopenable',
  /** Opened, but its schema could not be read or migrated. */
  'store-unusable',
  /** Written by a newer sceau: a migration this one does not know. */
  'schema-too-new',
  /** A write failed in the database (locked past the busy timeout, disk full, I/O error); nothing of it was applied. */
  'store-write-failed',
  /** A command that reads or changes a registry was given a path where no database is. */
  'database-missing',
  /** ... an empty file: no devices are registered there. */
  'database-empty',
  /** ... a directory, or a file that is not a sceau database. */
  'database-not-sceau',
  /** A location whose URL scheme no registered backend opens (store-registry.ts). */
  'store-backend-unknown',
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
