/**
 * The store backends, registered in one place: one line each. A new backend is one module
 * exporting a `StoreBackend` and one line here (docs/architecture.md#where-to-add).
 */
import { registerStoreBackend } from './store-registry.js';
import { sqliteBackend } from './store-sqlite-backend.js';

registerStoreBackend(sqliteBackend);
