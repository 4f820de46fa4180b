/**
 * The SQLite store (better-sqlite3, WAL): the device registry (which is also the gateway's
 * keyring), every frame received with its raw signed bytes and outcome, the readings of accepted
 * frames in real units, and the replay windows, written in the same transaction as the frames
 * they accepted. Its parts: schema `store-migrations.ts`, registry `device-registry.ts`, frames
 * and queries `store-frames.ts`, replay windows `store-replay-windows.ts`, the durable commit
 * `store-writer.ts`; this module opens the file and joins them (keyring cache, both interfaces).
 */
import Database from 'better-sqlite3';
import { fromHex, kidOf, toHex, type Bytes, type KeyQuery, type KeyringEntry, type ReplayWindow } from '@sceau/protocol';
import { DeviceRegistry, REGISTRY_READ_ONLY_VIEWS, type Device, type Registration, type RegisterOptions } from './device-registry.js';
import { StoreError } from './store-errors.js';
import { SqliteReplayWindows } from './store-replay-windows.js';

export { SqliteReplayWindows } from './store-replay-windows.js';
import { migrateSqlite, SCHEMA_VERSION, schemaVersionOf } from './store-migrations.js';
import { FrameBatch, type FrameColumns, type FrameToStore } from './frame-batch.js';

export type { FrameToStore } from './frame-batch.js';
import { devEuiOf } from './device-identity.js';
import { isLockError, StoreWriter } from './store-writer.js';
import { SqliteFrames, type BatchWritten } from './store-frames.js';
import { SqlitePrivacy } from './store-privacy.js';
import { SqliteConsoleQueries } from './console-queries.js';
import type { AcceptedFrame, CommitDone, FrameFilter, FrameRow, ReadingFilter, ReadingRow } from './store-interface.js';
import type { OpenedStore, RegistryTransaction } from './store-registry.js';

export type { AcceptedFrame, FrameFilter, FrameRow, ReadingFilter, ReadingRow, StoredReading } from './store-interface.js';

export { devEuiDeviceId } from './device-identity.js';

export type { Device } from './device-registry.js';
export { normalizeDevEui } from './device-registry.js';

export interface StoreOptions {
  readonly?: boolean;
  /**
   * SQLite `synchronous`: 'full' (default) makes a committed transaction survive a power cut,
   * not only a crash of the process; 'normal' survives process crashes only.
   */
  synchronous?: 'full' | 'normal';
}


/** The SQLite store: both sides of the store interface (store-interface.ts), the device registry, and `close`: an `OpenedStore` (store-registry.ts). */
export class Store implements OpenedStore {
  readonly db: Database.Database;
  readonly replay: SqliteReplayWindows;
  readonly file: string;
  /** The schema version of the file (below SCHEMA_VERSION only when opened read-only). */
  readonly schemaVersion: number;
  /** The device registry (devices, their keys, their states). */
  readonly registry: DeviceRegistry;
  /** Devices renamed when this open migrated the database to version 3 (duplicate or kid-like names). */
  readonly renamedByMigration: ReadonlyArray<{ kid: string; from: string; to: string }>;
  /** Frames, readings and their queries (store-frames.ts). */
  readonly frames: SqliteFrames;
  /** Wrapped content keys, erasure, retention (store-privacy.ts). */
  readonly privacy: SqlitePrivacy;
  private readonly stmt;

  private constructor(db: Database.Database, file: string, schemaVersion: number, renamed: Array<{ kid: string; from: string; to: string }> = []) {
    this.db = db;
    this.file = file;
    this.schemaVersion = schemaVersion;
    this.renamedByMigration = renamed;
    this.replay = new SqliteReplayWindows(db);
    this.frames = new SqliteFrames(db, schemaVersion);
    this.registry = new DeviceRegistry(db, (deleted) => {
      this.keyCache.clear();
      if (deleted.length > 0) this.replay.forget(deleted);
    });
    this.privacy = new SqlitePrivacy(db, this.registry, (erased) => {
      this.keyCache.clear();
      this.replay.forget(erased);
    }, schemaVersion);
    this.stmt = {
      keyByKid: db.prepare<[string], { public_key: Buffer; state: string }>('SELECT public_key, state FROM registry_keys WHERE kid = ?'),
      // A DevEUI names a device: its registered key, or after a revocation its latest key.
      keyByEui: db.prepare<[string], { public_key: Buffer; state: string }>(
        "SELECT k.public_key, k.state FROM registry_devices AS d JOIN registry_keys AS k ON k.device_id = d.id WHERE d.dev_eui = ? ORDER BY k.state = 'registered' DESC, k.id DESC LIMIT 1",
      ),
    };
  }

  /**
   * Opens (and creates, unless read-only) a store, applying the migrations it lacks
   * (store-migrations.ts). Problems are `StoreError`s (the CLI maps them to exit 3).
   */
  static open(file: string, options: StoreOptions = {}): Store {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (error) {
      throw new StoreError('store-unopenable', `cannot open database ${file}: ${(error as Error).message}`);
    }
    try {
      db.pragma('busy_timeout = 5000');
      if (options.readonly) {
        const version = schemaVersionOf(db, file);
        // Read as it is: the registry's tables as temporary views of the version-1/2 `devices` table.
        if (version !== undefined && version < 3) db.exec(REGISTRY_READ_ONLY_VIEWS);
        return new Store(db, file, version ?? SCHEMA_VERSION);
      }
      if (file !== ':memory:') {
        db.pragma('journal_mode = WAL');
        // Checkpoint when the WAL reaches 10,000 pages (40 MB) rather than SQLite's 1,000: each
        // commit rewrites the index pages it touched, and a checkpoint copies each page once,
        // however many commits rewrote it in between (measured on the store alone: a quarter to
        // a third less CPU per frame at 100-250 frames per commit).
        db.pragma('wal_autocheckpoint = 10000');
      }
      db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma('foreign_keys = ON');
      // Deleted rows (erasure, retention) are overwritten with zeros, not left in free pages.
      db.pragma('secure_delete = ON');
      const { renamed } = migrateSqlite(db, file);
      return new Store(db, file, SCHEMA_VERSION, renamed);
    } catch (error) {
      db.close();
      if (error instanceof StoreError) throw error;
      throw new StoreError('store-unusable', `cannot use database ${file}: ${(error as Error).message}`);
    }
  }

  /**
   * Registry changes with the caller's work between them, in one IMMEDIATE transaction (the
   * registry's own transactions become savepoints inside it): `sceau provision`. Only for a
   * connection nothing else uses meanwhile (a CLI command): the awaits between the changes
   * leave the transaction open.
   */
  async transaction<T>(fn: (tx: RegistryTransaction) => Promise<T>): Promise<T> {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw new StoreError('store-write-failed', `registry: ${(error as Error).message}`); // as any registry change when the file stays locked
    }
    try {
      const result = await fn({
        register: (publicKey, options) => this.registry.register(publicKey, options),
        rotate: (ref, publicKey) => this.registry.rotate(ref, publicKey),
        show: (ref) => this.registry.show(ref),
        putWrappedKey: (wrapped) => this.privacy.putWrappedKey(wrapped),
      });
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** The web console's queries against this file (console-queries.ts). */
  consoleQueries(): SqliteConsoleQueries {
    return new SqliteConsoleQueries(this);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** How long a write waits for another connection's lock, in ms (SQLite `busy_timeout`). */
  setBusyTimeout(ms: number): void {
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
  }

  // --- Keyring -----------------------------------------------------------------------------

  // Resolved keys are cached; the cache is dropped when this connection changes the registry,
  // and when another connection (a `sceau devices` command) commits, which SQLite's
  // data_version tells, checked at most every 250 ms: a revocation made elsewhere applies
  // within 250 ms.
  private readonly keyCache = new Map<string, KeyringEntry | null>();
  private dataVersion = -1;
  private dataVersionCheckedAt = 0;

  private checkExternalChanges(): void {
    const now = Date.now();
    if (now - this.dataVersionCheckedAt < 250) return;
    this.dataVersionCheckedAt = now;
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.keyCache.clear();
    }
  }

  resolve(query: KeyQuery): KeyringEntry | undefined {
    this.checkExternalChanges();
    const cacheKey = query.kid !== undefined ? toHex(query.kid) : query.deviceId !== undefined ? `id:${query.deviceId}` : undefined;
    if (cacheKey === undefined) return undefined;
    const cached = this.keyCache.get(cacheKey);
    if (cached !== undefined) return cached ?? undefined;
    let row: { public_key: Buffer; state: string } | undefined;
    if (query.kid !== undefined) row = this.stmt.keyByKid.get(cacheKey);
    else if (query.deviceId !== undefined && devEuiOf(query.deviceId) !== undefined) row = this.stmt.keyByEui.get(devEuiOf(query.deviceId)!);
    else if (query.deviceId?.startsWith('kid:')) row = this.stmt.keyByKid.get(query.deviceId.slice('kid:'.length).toLowerCase());
    const entry = row === undefined ? null : { publicKey: new Uint8Array(row.public_key), revoked: row.state !== 'registered' };
    if (this.keyCache.size >= 100_000) this.keyCache.clear();
    this.keyCache.set(cacheKey, entry);
    return entry ?? undefined;
  }

  // --- Registry (device-registry.ts) ----------------------------------------------------

  /**
   * Registers a public key as a new device, or again with the same name and DevEUI (unchanged).
   * A difference is refused with a `RegistryError` listing it unless `update` is set; see
   * `DeviceRegistry.register`.
   */
  addDevice(publicKey: Bytes, options: RegisterOptions = {}): Device {
    return this.registry.register(publicKey, options).device;
  }

  /** Registration with its result (created, unchanged, updated). */
  registerDevice(publicKey: Bytes, options: RegisterOptions = {}): Registration {
    return this.registry.register(publicKey, options);
  }

  /** A device by kid, DevEUI or name (the key a kid names, else the device's current key). */
  async getDevice(ref: string): Promise<Device | undefined> {
    return this.registry.find(ref)?.device;
  }

  /** Every key of every device, oldest first. */
  async listDevices(): Promise<Device[]> {
    return this.registry.list();
  }

  /** Revokes a key: its frames are refused with `key-revoked` from now on. */
  revokeDevice(ref: string): Device {
    return this.registry.revoke(ref);
  }

  // --- Frames ------------------------------------------------------------------------------

  /**
   * Stores frames and the replay windows they changed in one transaction; returns their ids.
   * Throws when the transaction fails (nothing of the batch is then stored).
   */
  writeFrames(frames: FrameToStore[], windows: Map<string, ReplayWindow> = new Map()): number[] {
    return this.writeBatch(FrameBatch.of(frames, [...windows].map(([kid, w]) => [kid, w.state()]))).ids;
  }

  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined {
    return this.frames.acceptedFrame(kid, counter);
  }

  /** When `kid` was erased (its tombstone), else undefined: its frames are refused unstored. */
  erasedAt(kid: string): number | undefined {
    return this.privacy.tombstoneTime(kid);
  }

  private writer: StoreWriter | undefined;

  /** `IngestStore.commitBatch`: the transaction on this thread, then the WAL's sync on libuv's pool (store-writer.ts). */
  commitBatch(batch: FrameColumns, done: CommitDone): void {
    (this.writer ??= new StoreWriter(this)).write(batch, done);
  }

  /** Another connection holds the write lock (SQLITE_BUSY, SQLITE_LOCKED). */
  isContention(error: unknown): boolean {
    return isLockError(error);
  }

  /** Takes and releases the write lock without waiting for it: undefined when it was free, else SQLite's message. */
  probeWrite(): string | undefined {
    const db = this.db;
    if (!db.open) return undefined;
    const timeout = db.pragma('busy_timeout', { simple: true }) as number;
    db.pragma('busy_timeout = 0');
    try {
      db.exec('BEGIN IMMEDIATE');
      db.exec('ROLLBACK');
      return undefined;
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      return (error as Error).message;
    } finally {
      db.pragma(`busy_timeout = ${timeout}`);
    }
  }

  health(): string | undefined {
    try {
      this.db.prepare('SELECT 1').get();
      return undefined;
    } catch (error) {
      return `database: ${(error as Error).message}`;
    }
  }

  /** `writeFrames` of a batch in columns (the ingest pipeline's form, see frame-batch.ts); the store writer calls it. */
  writeBatch(batch: FrameColumns): BatchWritten {
    return this.frames.writeBatch(batch);
  }

  // --- QueryStore: SQLite answers at once --------------------------------------------------

  async queryFrames(filter: FrameFilter = {}): Promise<FrameRow[]> {
    return this.frames.frames(filter);
  }

  async queryReadings(filter: ReadingFilter = {}): Promise<ReadingRow[]> {
    return [...this.frames.readings(filter)];
  }

  async *iterateReadings(filter: ReadingFilter = {}): AsyncIterableIterator<ReadingRow> {
    yield* this.frames.readings(filter);
  }

  async countFramesByOutcome(): Promise<Record<string, number>> {
    return this.frames.countByOutcome();
  }
}

/** The kid (hex) of a public key given as hex. */
export function kidOfHex(publicKeyHex: string): string {
  return toHex(kidOf(fromHex(publicKeyHex)));
}
