/**
 * Opening the store for a command or the gateway: the location names the backend (store-registry.ts;
 * a file path is SQLite, `postgres://...` PostgreSQL once registered). `readonly` and `existing`
 * refuse a database that is not there (`database-missing`, `database-empty`, `database-not-sceau`).
 */
import './stores.js';
import { usageError } from './errors.js';
import { StoreError } from './store-errors.js';
import type { PrivacyStore } from './store-interface.js';
import { registeredStoreBackends, schemeOf, storeBackendFor, type DbMode, type OpenedStore, type StoreBackend, type StoreOpenOptions } from './store-registry.js';

export type { DbMode } from './store-registry.js';
export { checkExistingDatabase, openSqliteStore } from './store-sqlite-backend.js';

/** Opens the store at `location` with the backend registered for it. */
export async function openStore(location: string, options: DbMode | StoreOpenOptions): Promise<OpenedStore> {
  return storeBackendOf(location).open(location, typeof options === 'string' ? { mode: options } : options);
}

/** The backend registered for `location`; a `StoreError` (`store-backend-unknown`) when none opens it. */
export function storeBackendOf(location: string): StoreBackend {
  const backend = storeBackendFor(location);
  if (backend === undefined) throw new StoreError('store-backend-unknown', `no store backend opens ${schemeOf(location)}:// locations (known: a file path${registeredSchemes()})`);
  return backend;
}

function registeredSchemes(): string {
  return registeredStoreBackends()
    .flatMap((b) => b.schemes ?? [])
    .map((s) => `, ${s}://`)
    .join('');
}

/** The privacy side of an opened store (erasure, retention, wrapped keys); a usage error `no-privacy` for a backend without one. */
export function privacyOf(store: { privacy?: PrivacyStore | undefined }, location: string): PrivacyStore {
  if (store.privacy === undefined) throw usageError(`--db ${location}: this store backend keeps no wrapped content keys, erasure or retention (docs/privacy.md)`, 'no-privacy');
  return store.privacy;
}
