/**
 * Store backends, registered in one place (stores.ts): a location (`gateway.db`, `:memory:`,
 * `postgres://host/sceau`) names a backend by its URL scheme; a location without one is a SQLite
 * file. Adding a backend is one module exporting a `StoreBackend` plus one `registerStoreBackend`
 * line (docs/architecture.md#where-to-add).
 */
import type { ConsoleQueries } from './console-queries.js';
import type { Bytes } from '@sceau/protocol';
import type { Device, DeviceRecord, Registration, RegisterOptions } from './device-registry.js';
import type { IngestStore, PrivacyStore, QueryStore } from './store-interface.js';
import type { WrappedContentKey } from './content-key-wrap.js';

/** What the gateway's registration and device routes need of a backend's registry; either sync (SQLite) or async. */
export interface RegistryAccess {
  /** One device and all its keys, by kid, DevEUI or name; a `RegistryError` when unknown or ambiguous. */
  show(ref: string): DeviceRecord | Promise<DeviceRecord>;
  /** The keys of the device `ref` names (its history across rotations). */
  kidsOf(ref: string): string[] | Promise<string[]>;
  register(publicKey: Bytes, options?: RegisterOptions): Registration | Promise<Registration>;
  /** Registers all in one transaction or none (a `RegistryError` listing the refused entries). */
  registerMany(entries: ReadonlyArray<{ where: string; publicKey: Bytes; name?: string | undefined; devEui?: string | undefined }>, options?: { update?: boolean | undefined }): Registration[] | Promise<Registration[]>;
}

/** A registry that commands change (`sceau devices add|revoke|unrevoke|update|delete`); either sync (SQLite) or async. */
export interface ChangeableRegistry extends RegistryAccess {
  update(ref: string, fields: { name?: string | undefined; devEui?: string | null | undefined }): Device | Promise<Device>;
  revoke(ref: string): Device | Promise<Device>;
  unrevoke(ref: string): Device | Promise<Device>;
  delete(ref: string): DeviceRecord | Promise<DeviceRecord>;
}

/**
 * Registry changes made in one transaction of a backend, with work of the caller's between them:
 * `sceau provision` registers (or rotates to) a key, stores its wrapped content key and writes
 * the board's settings file inside it, so a refusal or a failed commit leaves neither.
 */
export interface RegistryTransaction {
  register(publicKey: Bytes, options?: RegisterOptions): Registration | Promise<Registration>;
  rotate(ref: string, publicKey: Bytes): (Registration & { revoked: string[] }) | Promise<Registration & { revoked: string[] }>;
  show(ref: string): DeviceRecord | Promise<DeviceRecord>;
  /** `PrivacyStore.putWrappedKey` in this transaction. */
  putWrappedKey(wrapped: WrappedContentKey): void | Promise<void>;
}

/** A backend's registry opened to be changed once (no keyring, no ingest), and `close`. */
export interface RegistryStore {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws; absent: the backend cannot provision. */
  transaction?<T>(fn: (tx: RegistryTransaction) => Promise<T>): Promise<T>;
  readonly registry: ChangeableRegistry;
  /** Wrapped content keys, erasure, retention (docs/privacy.md); absent: the backend has none. */
  readonly privacy?: PrivacyStore;
  close(): void | Promise<void>;
  /** Device names an upgrade of the schema had to change while opening (the CLI warns about each). */
  readonly renamedByMigration?: ReadonlyArray<{ kid: string; from: string; to: string }>;
}

/** An open store of any backend: both interfaces, its registry, and `close`. */
export interface OpenedStore extends IngestStore, QueryStore {
  readonly registry: RegistryAccess;
  /** Wrapped content keys, erasure, retention (docs/privacy.md); absent: the backend has none yet. */
  readonly privacy?: PrivacyStore;
  close(): void | Promise<void>;
  /** How long a write waits for another writer's lock, in ms, where the backend has such a wait. */
  setBusyTimeout?(ms: number): void;
  /**
   * The web console's queries against this store (console-queries.ts), where the backend has
   * them: a backend without it serves no console. Each backend implements it in its own module.
   */
  consoleQueries?(): ConsoleQueries;
}

/** `create`: made when missing (registration, the gateway); `existing`: written, never created; `readonly`. */
export type DbMode = 'create' | 'existing' | 'readonly';

export interface StoreOpenOptions {
  mode: DbMode;
  /** Durability of a commit where the backend has a choice (SQLite `synchronous`; default full). */
  synchronous?: 'full' | 'normal' | undefined;
}

export interface StoreBackend {
  name: string;
  /** URL schemes it opens (`postgres`, `postgresql`); `undefined`: the backend of plain file paths. */
  schemes?: readonly string[];
  open(location: string, options: StoreOpenOptions): Promise<OpenedStore>;
  /** Opens only the registry, for a command that shows or changes it (`readonly`, `existing`: the database must be there); absent when commands cannot change this backend's registry. */
  openRegistry?(location: string, options: { mode: DbMode }): Promise<RegistryStore>;
}

const backends = new Map<string, StoreBackend>();

/** Registers a backend; a second one with the same name or scheme is a programmer error. */
export function registerStoreBackend(backend: StoreBackend): void {
  if (backends.has(backend.name)) throw new RangeError(`store backend ${JSON.stringify(backend.name)}: already registered`);
  for (const other of backends.values()) {
    const shared = (backend.schemes ?? []).filter((s) => other.schemes?.includes(s));
    if (shared.length > 0) throw new RangeError(`store backend ${JSON.stringify(backend.name)}: scheme ${shared[0]} is ${JSON.stringify(other.name)}'s`);
    if (backend.schemes === undefined && other.schemes === undefined) throw new RangeError(`store backend ${JSON.stringify(backend.name)}: ${JSON.stringify(other.name)} already opens file paths`);
  }
  backends.set(backend.name, backend);
}

/** Removes a backend (tests that register their own). */
export function unregisterStoreBackend(name: string): boolean {
  return backends.delete(name);
}

export function registeredStoreBackends(): StoreBackend[] {
  return [...backends.values()];
}

/** The URL scheme of a location (`postgres` of `postgres://...`), lower case; undefined for a file path. */
export function schemeOf(location: string): string | undefined {
  return /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(location)?.[1]!.toLowerCase();
}

/** The backend that opens `location`, or undefined when none does (an unknown scheme). */
export function storeBackendFor(location: string): StoreBackend | undefined {
  const scheme = schemeOf(location);
  for (const b of backends.values()) if (scheme === undefined ? b.schemes === undefined : b.schemes?.includes(scheme)) return b;
  return undefined;
}
