/**
 * The PostgreSQL backend of the store registry (store-registry.ts): `postgres://` and
 * `postgresql://` locations open a `PgStore`. Commands that only read (`readonly`) skip the
 * keyring and the registry listener; every other mode loads them (the gateway, `frame verify --db`).
 */
import { PgStore } from './store-pg.js';
import { defaultPasswordFile } from './store-pg-connect.js';
import type { StoreBackend } from './store-registry.js';

export const postgresBackend: StoreBackend = {
  name: 'postgresql',
  schemes: ['postgres', 'postgresql'],
  open: (location, options) => PgStore.open(location, { passwordFile: defaultPasswordFile(), ingest: options.mode !== 'readonly', create: options.mode === 'create' }),
  // A command changes the registry once and leaves: no keyring, no listener; `existing` refuses a database without the schema.
  openRegistry: (location, { mode }) => PgStore.open(location, { passwordFile: defaultPasswordFile(), ingest: false, create: mode === 'create' }),
};
