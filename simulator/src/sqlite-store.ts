import { createRequire } from 'node:module';
import type { Bytes, DatedReading } from '@sceau/protocol';

type Statement = { run(...args: unknown[]): unknown };
type Database = {
  pragma(s: string): unknown;
  exec(s: string): unknown;
  prepare(s: string): Statement;
  transaction<T extends (...a: never[]) => unknown>(fn: T): T;
  close(): void;
};

/**
 * The in-process gateway's store until @sceau/host-tools exports its own: SQLite (WAL) through
 * better-sqlite3, devices, frames (the signed bytes as received, outcome, source, time),
 * readings and replay windows. Rows are written in batched transactions; indexes are built at
 * close, which is faster than maintaining them during a bulk load.
 */
export class SqliteFrameStore {
  private readonly db: Database;
  private readonly insertFrame: Statement;
  private readonly insertReading: Statement;
  private readonly insertDevice: Statement;
  private readonly saveWindow: Statement;
  private pending: Array<() => void> = [];
  private nextFrameId = 1;
  private readonly flushAll: () => void;

  constructor(readonly path: string, private readonly batchSize = 2000) {
    const require = createRequire(import.meta.url);
    const BetterSqlite3 = require('better-sqlite3') as new (path: string) => Database;
    this.db = new BetterSqlite3(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS devices (kid TEXT PRIMARY KEY, public_key TEXT NOT NULL, name TEXT, device_id TEXT, revoked INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS frames (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, source TEXT, kid TEXT, counter INTEGER, outcome TEXT NOT NULL, detail TEXT, bytes BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS readings (frame_id INTEGER NOT NULL, kid TEXT NOT NULL, channel INTEGER NOT NULL, value INTEGER NOT NULL, at INTEGER);
      CREATE TABLE IF NOT EXISTS replay_windows (kid TEXT PRIMARY KEY, highest INTEGER NOT NULL, bitmap TEXT NOT NULL);
    `);
    const row = this.db.prepare('SELECT COALESCE(MAX(id), 0) + 1 AS next FROM frames') as unknown as { get(): { next: number } };
    this.nextFrameId = row.get().next;
    this.insertFrame = this.db.prepare('INSERT INTO frames (id, received_at, source, kid, counter, outcome, detail, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertReading = this.db.prepare('INSERT INTO readings (frame_id, kid, channel, value, at) VALUES (?, ?, ?, ?, ?)');
    this.insertDevice = this.db.prepare('INSERT OR REPLACE INTO devices (kid, public_key, name, device_id) VALUES (?, ?, ?, ?)');
    this.saveWindow = this.db.prepare('INSERT OR REPLACE INTO replay_windows (kid, highest, bitmap) VALUES (?, ?, ?)');
    this.flushAll = this.db.transaction(() => {
      for (const write of this.pending) write();
    });
  }

  addDevices(devices: Array<{ kid: string; publicKeyHex: string; name: string; deviceId: string | null }>): void {
    this.db.transaction(() => {
      for (const d of devices) this.insertDevice.run(d.kid, d.publicKeyHex, d.name, d.deviceId);
    })();
  }

  /** Queues a frame (and its readings when accepted); written with the next batch. */
  addFrame(receivedAtMs: number, source: string, kid: string | null, counter: number | null, outcome: string, detail: string | null, bytes: Bytes, readings: DatedReading[] | null): void {
    const id = this.nextFrameId++;
    const blob = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pending.push(() => {
      this.insertFrame.run(id, receivedAtMs, source, kid, counter, outcome, detail, blob);
      if (readings !== null && kid !== null) for (const r of readings) this.insertReading.run(id, kid, r.channel, r.value, r.at ?? null);
    });
    if (this.pending.length >= this.batchSize) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.flushAll();
    this.pending = [];
  }

  saveWindows(windows: Iterable<[string, { state(): { highest: number; bitmap: string } }]>): void {
    this.db.transaction(() => {
      for (const [kid, w] of windows) {
        const s = w.state();
        this.saveWindow.run(kid, s.highest, s.bitmap);
      }
    })();
  }

  close(): void {
    this.flush();
    this.db.exec(`
      CREATE INDEX IF NOT EXISTS frames_kid_counter ON frames (kid, counter);
      CREATE INDEX IF NOT EXISTS readings_kid_at ON readings (kid, at);
    `);
    this.db.close();
  }
}
