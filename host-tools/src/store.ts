/**
 * The SQLite store (better-sqlite3, WAL): the device registry (which is also the gateway's
 * keyring), every frame received with its raw signed bytes and outcome, the readings of accepted
 * frames in real units, and the replay windows, written in the same transaction as the frames
 * they accepted.
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
import type { UnitReading } from './outcome.js';
import { devEuiOf } from './device-identity.js';
import { isLockError, StoreWriter } from './store-writer.js';
import type { AcceptedFrame, CommitDone, FrameFilter, FrameRow, IngestStore, QueryStore, ReadingFilter, ReadingRow, StoredReading } from './store-interface.js';

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


/** The SQLite store: both sides of the store interface (store-interface.ts), and the device registry. */
export class Store implements IngestStore, QueryStore {
  readonly db: Database.Database;
  readonly replay: SqliteReplayWindows;
  readonly file: string;
  /** The schema version of the file (below SCHEMA_VERSION only when opened read-only). */
  readonly schemaVersion: number;
  /** The device registry (devices, their keys, their states). */
  readonly registry: DeviceRegistry;
  /** Devices renamed when this open migrated the database to version 3 (duplicate or kid-like names). */
  readonly renamedByMigration: ReadonlyArray<{ kid: string; from: string; to: string }>;
  private readonly stmt;
  private acceptedFrameStmt: Database.Statement<[string, number], { id: number; received_at: number; source: string; raw: Buffer; readings: string | null }> | undefined;
  private readonly writeFramesTx: (batch: FrameColumns) => number[];

  private constructor(db: Database.Database, file: string, schemaVersion: number, renamed: Array<{ kid: string; from: string; to: string }> = []) {
    this.db = db;
    this.file = file;
    this.schemaVersion = schemaVersion;
    this.renamedByMigration = renamed;
    this.replay = new SqliteReplayWindows(db);
    this.registry = new DeviceRegistry(db, (deleted) => {
      this.keyCache.clear();
      if (deleted.length > 0) this.replay.forget(deleted);
    });
    this.stmt = {
      keyByKid: db.prepare<[string], { public_key: Buffer; state: string }>('SELECT public_key, state FROM registry_keys WHERE kid = ?'),
      // A DevEUI names a device: its registered key, or after a revocation its latest key.
      keyByEui: db.prepare<[string], { public_key: Buffer; state: string }>(
        "SELECT k.public_key, k.state FROM registry_devices AS d JOIN registry_keys AS k ON k.device_id = d.id WHERE d.dev_eui = ? ORDER BY k.state = 'registered' DESC, k.id DESC LIMIT 1",
      ),
      insertFrame: db.readonly ? undefined : db.prepare('INSERT INTO frames (received_at, source, outcome, kid, counter, detail, raw, readings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      upsertWindow: db.readonly ? undefined : db.prepare(
        'INSERT INTO replay_windows (kid, highest, bitmap, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (kid) DO UPDATE SET highest = excluded.highest, bitmap = excluded.bitmap, updated_at = excluded.updated_at',
      ),
    };
    this.writeFramesTx = db.transaction((batch: FrameColumns) => {
      const insertFrame = this.stmt.insertFrame!;
      const n = batch.receivedAt.length;
      const ids = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const info = insertFrame.run(batch.receivedAt[i], batch.source[i], batch.outcome[i], batch.kid[i], batch.counter[i], batch.detail[i], batch.raw[i], batch.readings[i]);
        ids[i] = Number(info.lastInsertRowid);
      }
      const now = Date.now();
      for (const [kid, s] of batch.windows) this.stmt.upsertWindow!.run(kid, s.highest, s.bitmap, now);
      return ids;
    });
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
      const { renamed } = migrateSqlite(db, file);
      return new Store(db, file, SCHEMA_VERSION, renamed);
    } catch (error) {
      db.close();
      if (error instanceof StoreError) throw error;
      throw new StoreError('store-unusable', `cannot use database ${file}: ${(error as Error).message}`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
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
  getDevice(ref: string): Device | undefined {
    return this.registry.find(ref)?.device;
  }

  /** Every key of every device, oldest first. */
  listDevices(): Device[] {
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
    return this.writeFramesTx(FrameBatch.of(frames, [...windows].map(([kid, w]) => [kid, w.state()])));
  }

  /**
   * The frame accepted for (kid, counter), if any (at most one: the `frames_by_kid` index), with
   * its readings as an ingest result gives them (age and at left out when 0 and unknown).
   */
  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined {
    // Prepared on first use: a version-1 file opened read-only has no `readings` column.
    this.acceptedFrameStmt ??= this.db.prepare<[string, number], { id: number; received_at: number; source: string; raw: Buffer; readings: string | null }>(
      "SELECT id, received_at, source, raw, readings FROM frames WHERE kid = ? AND counter = ? AND outcome = 'ok'",
    );
    const row = this.acceptedFrameStmt.get(kid, counter);
    if (row === undefined) return undefined;
    const frame: AcceptedFrame = { id: row.id, receivedAt: row.received_at, source: row.source, raw: new Uint8Array(row.raw) };
    if (row.readings !== null) {
      frame.readings = (JSON.parse(row.readings) as Array<[number, string, number, string, number, number, number | null]>).map(([channel, name, value, unit, raw, age, at]) => {
        const reading: UnitReading = { channel, name, value, unit, raw };
        if (age !== 0) reading.age = age;
        if (at !== null) reading.at = at;
        return reading;
      });
    }
    return frame;
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

  /** `writeFrames` of a batch in columns (the ingest pipeline's form, see frame-batch.ts). */
  writeBatch(batch: FrameColumns): number[] {
    return this.writeFramesTx(batch);
  }

  /** Frames in id order; `kids` (the keys of one device, `DeviceRegistry.kidsOf`) or `kid` selects a device. */
  queryFrames(filter: FrameFilter = {}): FrameRow[] {
    const { clause, args } = whereClause([
      ...kidConditions(filter),
      ['received_at >= ?', filter.since],
      ['outcome = ?', filter.outcome],
      ['id > ?', filter.afterId],
    ]);
    const sql = `SELECT id, received_at, source, outcome, kid, counter, detail, raw FROM frames ${clause} ORDER BY id LIMIT ?`;
    args.push(filter.limit ?? 1000);
    return this.db
      .prepare<unknown[], { id: number; received_at: number; source: string; outcome: string; kid: string | null; counter: number | null; detail: string | null; raw: Buffer }>(sql)
      .all(...args)
      .map((r) => ({
        id: r.id,
        receivedAt: new Date(r.received_at).toISOString(),
        source: r.source,
        outcome: r.outcome,
        kid: r.kid,
        counter: r.counter,
        detail: r.detail,
        frame: toHex(new Uint8Array(r.raw)),
      }));
  }

  /** Readings of accepted frames, oldest first; `since` in Unix seconds. */
  queryReadings(filter: ReadingFilter = {}): ReadingRow[] {
    return [...this.iterateReadings(filter)];
  }

  *iterateReadings(filter: ReadingFilter = {}): IterableIterator<ReadingRow> {
    const { clause, args } = whereClause([
      ...kidConditions(filter),
      ['at >= ?', filter.since],
      ['at < ?', filter.until],
    ]);
    // Version 1 (read-only, not migrated) numbered its reading rows; version 2 orders them by frame and position.
    const order = this.schemaVersion === 1 ? 'at, id' : 'at, frame_id, position';
    let sql = `SELECT kid, counter, frame_id, channel, name, value, unit, raw, age, at FROM readings ${clause} ORDER BY ${order}`;
    if (filter.limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(filter.limit);
    }
    const stmt = this.db.prepare<unknown[], { kid: string; counter: number; frame_id: number; channel: number; name: string; value: number; unit: string; raw: number; age: number; at: number | null }>(sql);
    for (const r of stmt.iterate(...args)) {
      yield { kid: r.kid, counter: r.counter, frameId: r.frame_id, channel: r.channel, name: r.name, value: r.value, unit: r.unit, raw: r.raw, age: r.age, at: r.at };
    }
  }

  /** Frame counts by outcome (for /metrics after a restart and for reports). */
  countFramesByOutcome(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const row of this.db.prepare<[], { outcome: string; n: number }>('SELECT outcome, COUNT(*) AS n FROM frames GROUP BY outcome').all()) out[row.outcome] = row.n;
    return out;
  }
}

/** `kid = ?` for one key, `kid IN (?, ...)` for the keys of a device (several after a rotation). */
function kidConditions(filter: { kid?: string | undefined; kids?: readonly string[] | undefined }): Condition[] {
  const kids = filter.kids ?? (filter.kid === undefined ? undefined : [filter.kid]);
  if (kids === undefined) return [];
  if (kids.length === 0) return [['0 = ?', 1]];
  if (kids.length === 1) return [['kid = ?', kids[0]!.toLowerCase()]];
  return [[`kid IN (${kids.map(() => '?').join(', ')})`, kids.map((k) => k.toLowerCase())]];
}

type Condition = [string, string | number | readonly string[] | undefined];

/** `WHERE a AND b ...` of the conditions whose value is given, with their arguments in order (an array: one per `?`). */
function whereClause(conditions: Condition[]): { clause: string; args: unknown[] } {
  const given = conditions.filter(([, value]) => value !== undefined);
  return { clause: given.length ? `WHERE ${given.map(([sql]) => sql).join(' AND ')}` : '', args: given.flatMap(([, value]) => (Array.isArray(value) ? value : [value])) };
}


/** The kid (hex) of a public key given as hex. */
export function kidOfHex(publicKeyHex: string): string {
  return toHex(kidOf(fromHex(publicKeyHex)));
}
