/**
 * The SQLite store (better-sqlite3, WAL): the device registry (which is also the gateway's
 * keyring), every frame received with its raw signed bytes and outcome, the readings of accepted
 * frames in real units, and the replay windows, written in the same transaction as the frames
 * they accepted.
 */
import Database from 'better-sqlite3';
import { fromHex, kidOf, ReplayWindow, toHex, type Bytes, type KeyQuery, type Keyring, type KeyringEntry, type ReplayWindowStore } from '@sceau/protocol';
import { ioError, usageError } from './errors.js';
import { FrameBatch, type FrameColumns } from './frame-batch.js';

/**
 * Version 2 keeps the readings of a frame in its row, as JSON, and shows them one per row through
 * the `readings` view, and indexes frames once: one row and one index entry per frame, where
 * version 1 wrote a row and two index entries per frame plus a row and an index entry per reading
 * (on the store alone: 16-22 µs of CPU per frame for version 1's writes, 6.4-10 for a frame with
 * its readings as JSON even before the second index went; bench/README.md). A database of version 1 is migrated when it is opened for writing, and read
 * as it is otherwise.
 */
const SCHEMA_VERSION = 2;

// json_extract rather than ->> (SQLite 3.38): an older SQLite client must still be able to parse
// the schema, or it cannot open the file at all.
const READINGS_VIEW = `
CREATE VIEW IF NOT EXISTS readings (frame_id, position, kid, counter, channel, name, value, unit, raw, age, at) AS
  SELECT f.id, r.key, f.kid, f.counter, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'),
    json_extract(r.value, '$[3]'), json_extract(r.value, '$[4]'), json_extract(r.value, '$[5]'), json_extract(r.value, '$[6]')
  FROM frames AS f, json_each(f.readings) AS r
  WHERE f.readings IS NOT NULL;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  kid TEXT PRIMARY KEY,
  public_key BLOB NOT NULL,
  name TEXT,
  dev_eui TEXT UNIQUE,
  revoked INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS frames (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  outcome TEXT NOT NULL,
  kid TEXT,
  counter INTEGER,
  detail TEXT,
  raw BLOB NOT NULL,
  -- Accepted frames: [[channel, name, value, unit, raw, age, at], ...] in real units.
  readings TEXT
);
-- One index for two jobs: a device's frames by kid, and a counter of a key accepted at most once
-- whatever happens above this layer (accepted frames share the third column, 0; any other frame
-- is told apart by its id). Each index costs the store about a third of its CPU per frame.
CREATE UNIQUE INDEX IF NOT EXISTS frames_by_kid ON frames (kid, counter, (CASE WHEN outcome = 'ok' THEN 0 ELSE id END));
CREATE TABLE IF NOT EXISTS replay_windows (
  kid TEXT PRIMARY KEY,
  highest INTEGER NOT NULL,
  bitmap TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
${READINGS_VIEW}`;

/** Version 1 to 2: each frame's readings move from the `readings` table into its row. */
const MIGRATE_1_TO_2 = `
ALTER TABLE frames ADD COLUMN readings TEXT;
UPDATE frames SET readings = (
  SELECT json_group_array(json_array(channel, name, value, unit, raw, age, at))
  FROM (SELECT * FROM readings AS r WHERE r.frame_id = frames.id ORDER BY r.id)
) WHERE outcome = 'ok';
DROP INDEX IF EXISTS readings_kid_at;
DROP TABLE readings;
DROP INDEX IF EXISTS frames_kid;
DROP INDEX IF EXISTS frames_accepted;
${READINGS_VIEW}
UPDATE meta SET value = '2' WHERE key = 'schema_version';
`;

export interface Device {
  kid: string;
  publicKey: string;
  name: string | null;
  devEui: string | null;
  revoked: boolean;
  createdAt: string;
  revokedAt: string | null;
  /** Highest accepted counter (0 before any frame). */
  highestCounter: number;
}

export interface StoredReading {
  channel: number;
  name: string;
  value: number;
  unit: string;
  raw: number;
  age: number;
  at: number | null;
}

/** One frame to store, accepted or not. */
export interface FrameToStore {
  raw: Bytes;
  receivedAt: number;
  source: string;
  /** 'ok' or a verification code. */
  outcome: string;
  kid?: string | undefined;
  counter?: number | undefined;
  detail?: string | undefined;
  readings?: StoredReading[];
}

export interface FrameRow {
  id: number;
  receivedAt: string;
  source: string;
  outcome: string;
  kid: string | null;
  counter: number | null;
  detail: string | null;
  frame: string;
}

/** A stored reading as queried: the reading with its frame. `at` is Unix seconds of the measurement. */
export interface ReadingRow extends StoredReading {
  kid: string;
  counter: number;
  frameId: number;
}

export interface StoreOptions {
  readonly?: boolean;
  /**
   * SQLite `synchronous`: 'full' (default) makes a committed transaction survive a power cut,
   * not only a crash of the process; 'normal' survives process crashes only.
   */
  synchronous?: 'full' | 'normal';
}

/** A DevEUI as 16 lower-case hex digits, or a usage error. */
export function normalizeDevEui(eui: string): string {
  const clean = eui.replace(/[-:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{16}$/.test(clean)) throw usageError(`DevEUI ${JSON.stringify(eui)}: expected 16 hex digits`);
  return clean;
}

/** The transport identity the protocol's keyring receives for a LoRaWAN device. */
export function devEuiDeviceId(eui: string): string {
  return `deveui:${eui.toLowerCase()}`;
}

/** Replay windows persisted in `replay_windows`; cached in memory between transactions. */
export class SqliteReplayWindows implements ReplayWindowStore {
  private readonly cache = new Map<string, ReplayWindow>();
  private readonly load: Database.Statement<[string], { highest: number; bitmap: string }>;

  constructor(db: Database.Database) {
    this.load = db.prepare('SELECT highest, bitmap FROM replay_windows WHERE kid = ?');
  }

  get(kid: string): ReplayWindow {
    let window = this.cache.get(kid);
    if (window === undefined) {
      const row = this.load.get(kid);
      window = row === undefined ? new ReplayWindow() : new ReplayWindow({ highest: row.highest, bitmap: row.bitmap });
      this.cache.set(kid, window);
    }
    return window;
  }

  /** Drops cached windows so they are read again from the database (after a failed transaction). */
  forget(kids?: Iterable<string>): void {
    if (kids === undefined) this.cache.clear();
    else for (const kid of kids) this.cache.delete(kid);
  }
}

export class Store implements Keyring {
  readonly db: Database.Database;
  readonly replay: SqliteReplayWindows;
  readonly file: string;
  /** The schema version of the file (below SCHEMA_VERSION only when opened read-only). */
  readonly schemaVersion: number;
  private readonly stmt;
  private readonly writeFramesTx: (batch: FrameColumns) => number[];

  private constructor(db: Database.Database, file: string, schemaVersion: number) {
    this.db = db;
    this.file = file;
    this.schemaVersion = schemaVersion;
    this.replay = new SqliteReplayWindows(db);
    this.stmt = {
      deviceByKid: db.prepare<[string], DeviceDbRow>('SELECT * FROM devices WHERE kid = ?'),
      deviceByEui: db.prepare<[string], DeviceDbRow>('SELECT * FROM devices WHERE dev_eui = ?'),
      deviceByName: db.prepare<[string], DeviceDbRow>('SELECT * FROM devices WHERE name = ?'),
      keyByKid: db.prepare<[string], { public_key: Buffer; revoked: number }>('SELECT public_key, revoked FROM devices WHERE kid = ?'),
      keyByEui: db.prepare<[string], { public_key: Buffer; revoked: number }>('SELECT public_key, revoked FROM devices WHERE dev_eui = ?'),
      highest: db.prepare<[string], { highest: number }>('SELECT highest FROM replay_windows WHERE kid = ?'),
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

  /** Opens (and creates, unless read-only) a store. I/O problems are `SceauError`s with exit code 3. */
  static open(file: string, options: StoreOptions = {}): Store {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (error) {
      throw ioError(`cannot open database ${file}: ${(error as Error).message}`);
    }
    try {
      db.pragma('busy_timeout = 5000');
      if (!options.readonly) {
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
        db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      }
      const version = schemaVersionOf(db, file);
      if (!options.readonly) {
        db.transaction(() => {
          if (version === undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
          else if (version === 1) db.exec(MIGRATE_1_TO_2);
          db.exec(SCHEMA);
        })();
      }
      return new Store(db, file, options.readonly ? (version ?? SCHEMA_VERSION) : SCHEMA_VERSION);
    } catch (error) {
      db.close();
      if (error instanceof Error && error.name === 'SceauError') throw error;
      throw ioError(`cannot use database ${file}: ${(error as Error).message}`);
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
    let row: { public_key: Buffer; revoked: number } | undefined;
    if (query.kid !== undefined) row = this.stmt.keyByKid.get(cacheKey);
    else if (query.deviceId?.startsWith('deveui:')) row = this.stmt.keyByEui.get(query.deviceId.slice('deveui:'.length).toLowerCase());
    else if (query.deviceId?.startsWith('kid:')) row = this.stmt.keyByKid.get(query.deviceId.slice('kid:'.length).toLowerCase());
    const entry = row === undefined ? null : { publicKey: new Uint8Array(row.public_key), revoked: row.revoked !== 0 };
    if (this.keyCache.size >= 100_000) this.keyCache.clear();
    this.keyCache.set(cacheKey, entry);
    return entry ?? undefined;
  }

  // --- Registry ----------------------------------------------------------------------------

  /**
   * Registers a public key. Adding a key already registered updates its name and DevEUI when
   * given (re-provisioning keeps the replay window, so old counters stay refused).
   */
  addDevice(publicKey: Bytes, options: { name?: string | undefined; devEui?: string | undefined } = {}): Device {
    const kid = toHex(kidOf(publicKey));
    const devEui = options.devEui === undefined ? undefined : normalizeDevEui(options.devEui);
    if (devEui !== undefined) {
      const other = this.stmt.deviceByEui.get(devEui);
      if (other !== undefined && other.kid !== kid) throw usageError(`DevEUI ${devEui} is already mapped to ${other.kid}`);
    }
    this.keyCache.clear();
    const existing = this.stmt.deviceByKid.get(kid);
    if (existing === undefined) {
      this.db
        .prepare('INSERT INTO devices (kid, public_key, name, dev_eui, revoked, created_at) VALUES (?, ?, ?, ?, 0, ?)')
        .run(kid, Buffer.from(publicKey), options.name ?? null, devEui ?? null, Date.now());
    } else {
      this.db
        .prepare('UPDATE devices SET name = COALESCE(?, name), dev_eui = COALESCE(?, dev_eui) WHERE kid = ?')
        .run(options.name ?? null, devEui ?? null, kid);
    }
    return this.getDevice(kid)!;
  }

  /** A device by kid, DevEUI or name. */
  getDevice(ref: string): Device | undefined {
    const key = ref.trim();
    let row = /^[0-9a-fA-F]{16}$/.test(key) ? this.stmt.deviceByKid.get(key.toLowerCase()) : undefined;
    if (row === undefined) {
      const eui = key.replace(/[-:]/g, '').toLowerCase();
      if (/^[0-9a-f]{16}$/.test(eui)) row = this.stmt.deviceByEui.get(eui);
    }
    row ??= this.stmt.deviceByName.get(key);
    return row === undefined ? undefined : this.toDevice(row);
  }

  listDevices(): Device[] {
    return this.db.prepare<[], DeviceDbRow>('SELECT * FROM devices ORDER BY created_at, kid').all().map((row) => this.toDevice(row));
  }

  /** Revokes a key: its frames are refused with `key-revoked` from now on. */
  revokeDevice(ref: string): Device {
    const device = this.getDevice(ref);
    if (device === undefined) throw usageError(`no device ${JSON.stringify(ref)} in the registry`);
    if (!device.revoked) this.db.prepare('UPDATE devices SET revoked = 1, revoked_at = ? WHERE kid = ?').run(Date.now(), device.kid);
    this.keyCache.clear();
    return this.getDevice(device.kid)!;
  }

  private toDevice(row: DeviceDbRow): Device {
    return {
      kid: row.kid,
      publicKey: toHex(new Uint8Array(row.public_key)),
      name: row.name,
      devEui: row.dev_eui,
      revoked: row.revoked !== 0,
      createdAt: new Date(row.created_at).toISOString(),
      revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at).toISOString(),
      highestCounter: this.stmt.highest.get(row.kid)?.highest ?? 0,
    };
  }

  // --- Frames ------------------------------------------------------------------------------

  /**
   * Stores frames and the replay windows they changed in one transaction; returns their ids.
   * Throws when the transaction fails (nothing of the batch is then stored).
   */
  writeFrames(frames: FrameToStore[], windows: Map<string, ReplayWindow> = new Map()): number[] {
    return this.writeFramesTx(FrameBatch.of(frames, [...windows].map(([kid, w]) => [kid, w.state()])));
  }

  /** `writeFrames` of a batch in columns (the ingest pipeline's form, see frame-batch.ts). */
  writeBatch(batch: FrameColumns): number[] {
    return this.writeFramesTx(batch);
  }

  queryFrames(filter: { kid?: string | undefined; since?: number | undefined; outcome?: string | undefined; limit?: number | undefined; afterId?: number | undefined } = {}): FrameRow[] {
    const { clause, args } = whereClause([
      ['kid = ?', filter.kid?.toLowerCase()],
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
  queryReadings(filter: { kid?: string | undefined; since?: number | undefined; until?: number | undefined; limit?: number | undefined } = {}): ReadingRow[] {
    return [...this.iterateReadings(filter)];
  }

  *iterateReadings(filter: { kid?: string | undefined; since?: number | undefined; until?: number | undefined; limit?: number | undefined } = {}): IterableIterator<ReadingRow> {
    const { clause, args } = whereClause([
      ['kid = ?', filter.kid?.toLowerCase()],
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

/** `WHERE a AND b ...` of the conditions whose value is given, with their arguments in order. */
function whereClause(conditions: Array<[string, string | number | undefined]>): { clause: string; args: unknown[] } {
  const given = conditions.filter(([, value]) => value !== undefined);
  return { clause: given.length ? `WHERE ${given.map(([sql]) => sql).join(' AND ')}` : '', args: given.map(([, value]) => value) };
}

interface DeviceDbRow {
  kid: string;
  public_key: Buffer;
  name: string | null;
  dev_eui: string | null;
  revoked: number;
  created_at: number;
  revoked_at: number | null;
}

/** The schema version recorded in a database (undefined for a new one); a newer one is refused. */
function schemaVersionOf(db: Database.Database, file: string): number | undefined {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get() !== undefined;
  const row = hasMeta ? db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get() : undefined;
  if (row === undefined) return undefined;
  const version = Number(row.value);
  if (version !== 1 && version !== SCHEMA_VERSION) throw ioError(`${file}: schema version ${row.value}, this sceau reads versions 1 and ${SCHEMA_VERSION}`);
  return version;
}

/** The kid (hex) of a public key given as hex. */
export function kidOfHex(publicKeyHex: string): string {
  return toHex(kidOf(fromHex(publicKeyHex)));
}
