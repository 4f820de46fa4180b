/**
 * Typed errors of the stores: a stable code and a one-line message, no exit code and no HTTP
 * status. The edges map them: the CLI to exit 3 (I/O), the HTTP API to 503 (docs/architecture.md#errors).
 */
export const STORE_ERROR_CODES = [
  /** The database file cannot be opened (missing directory, permissions, not a database). */
  'store-unopenable',
  /** Opened, but its schema could not be read or migrated. */
  'store-unusable',
  /** Written by a newer sceau: a migration this one does not know. */
  'schema-too-new',
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
