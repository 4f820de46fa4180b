/**
 * The SQLite store's frames: the batch transaction (frames, their readings, the replay windows
 * they advanced), the accepted frame a duplicate delivery repeats, and the queries (frames paged
 * by id, readings streamed oldest first, counts by outcome). Synchronous, as better-sqlite3 is;
 * the store (store.ts) offers the queries as the asynchronous `QueryStore`.
 */
import type Database from 'better-sqlite3';
import { toHex } from '@sceau/protocol';
import type { FrameColumns } from './frame-batch.js';
import type { UnitReading } from './outcome.js';
import { radioCache, withRadio } from './radio-metadata.js';
import type { AcceptedFrame, CommitConflict, FrameFilter, FrameRow, ReadingFilter, ReadingRow } from './store-interface.js';

/** A batch written: the frames' row ids, and the frames not stored because their key was erased meanwhile (by position). */
export interface BatchWritten {
  ids: number[];
  conflicts?: Map<number, CommitConflict>;
}

type AcceptedRow = { id: number; received_at: number; source: string; raw: Buffer; readings: string | null };
type FrameRowSql = { id: number; received_at: number; source: string; outcome: string; kid: string | null; counter: number | null; detail: string | null; raw: Buffer; radio: string | null };
type ReadingRowSql = { kid: string; counter: number; frame_id: number; channel: number; name: string; value: number; unit: string; raw: number; age: number; at: number | null; radio?: string | null };

/** Schema version 6 added `frames.radio` (store-migrations.ts). */
const RADIO_SCHEMA = 6;

export class SqliteFrames {
  /** Stores a batch and the windows it advanced in one transaction; returns the frames' row ids. */
  readonly writeBatch: (batch: FrameColumns) => BatchWritten;
  private acceptedStmt: Database.Statement<[string, number], AcceptedRow> | undefined;

  constructor(
    private readonly db: Database.Database,
    /** The file's schema version (1 only when a version-1 file is opened read-only). */
    private readonly schemaVersion: number,
  ) {
    const insertFrame = db.readonly ? undefined : db.prepare('INSERT INTO frames (received_at, source, outcome, kid, counter, detail, raw, readings, encrypted, radio) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const upsertWindow = db.readonly
      ? undefined
      : db.prepare('INSERT INTO replay_windows (kid, highest, bitmap, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (kid) DO UPDATE SET highest = excluded.highest, bitmap = excluded.bitmap, updated_at = excluded.updated_at');
    // Keys this batch accepted that were erased since the gateway's keyring cache last looked
    // (another process's `sceau devices erase`): nothing of their frames is stored.
    const erasedKey = db.readonly || schemaVersion < 5 ? undefined : db.prepare<[string], { kid: string }>('SELECT kid FROM erased_keys WHERE kid = ?');
    this.writeBatch = db.transaction((batch: FrameColumns): BatchWritten => {
      const n = batch.receivedAt.length;
      const ids = new Array<number>(n);
      let erased: Set<string> | undefined;
      for (const [kid] of batch.windows) if (erasedKey?.get(kid) !== undefined) (erased ??= new Set()).add(kid);
      const conflicts = erased === undefined ? undefined : new Map<number, CommitConflict>();
      for (let i = 0; i < n; i++) {
        if (conflicts !== undefined && erased!.has(batch.kid[i]!)) {
          conflicts.set(i, { kind: 'erased', detail: `key ${batch.kid[i]} was erased (sceau devices erase) before this frame was stored: frames of an erased key are not stored (docs/privacy.md#erasure)` });
          continue;
        }
        const info = insertFrame!.run(batch.receivedAt[i], batch.source[i], batch.outcome[i], batch.kid[i], batch.counter[i], batch.detail[i], batch.raw[i], batch.readings[i], batch.encrypted[i], batch.radio[i]);
        ids[i] = Number(info.lastInsertRowid);
      }
      const now = Date.now();
      for (const [kid, s] of batch.windows) if (erased?.has(kid) !== true) upsertWindow!.run(kid, s.highest, s.bitmap, now);
      return conflicts === undefined ? { ids } : { ids, conflicts };
    });
  }

  /**
   * The frame accepted for (kid, counter), if any (at most one: the `frames_by_kid` index), with
   * its readings as an ingest result gives them (age and at left out when 0 and unknown).
   */
  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined {
    // Prepared on first use: a version-1 file opened read-only has no `readings` column.
    this.acceptedStmt ??= this.db.prepare<[string, number], AcceptedRow>("SELECT id, received_at, source, raw, readings FROM frames WHERE kid = ? AND counter = ? AND outcome = 'ok'");
    const row = this.acceptedStmt.get(kid, counter);
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

  /** Frames in id order; `kids` (the keys of one device, `DeviceRegistry.kidsOf`) or `kid` selects a device. `radio` only on a frame stored with it. */
  frames(filter: FrameFilter = {}): FrameRow[] {
    const { clause, args } = whereClause([...kidConditions(filter), ['received_at >= ?', filter.since], ['outcome = ?', filter.outcome], ['id > ?', filter.afterId]]);
    args.push(filter.limit ?? 1000);
    const radio = this.schemaVersion >= RADIO_SCHEMA ? 'radio' : 'NULL AS radio';
    return this.db
      .prepare<unknown[], FrameRowSql>(`SELECT id, received_at, source, outcome, kid, counter, detail, raw, ${radio} FROM frames ${clause} ORDER BY id LIMIT ?`)
      .all(...args)
      .map((r) => withRadio({ id: r.id, receivedAt: new Date(r.received_at).toISOString(), source: r.source, outcome: r.outcome, kid: r.kid, counter: r.counter, detail: r.detail, frame: toHex(new Uint8Array(r.raw)) }, r.radio));
  }

  /** Readings of accepted frames, oldest first; `since` and `until` in Unix seconds; `radio`: with their frame's radio metadata. */
  *readings(filter: ReadingFilter = {}): IterableIterator<ReadingRow> {
    const { clause, args } = whereClause([...kidConditions(filter), ['at >= ?', filter.since], ['at < ?', filter.until]]);
    // Version 1 (read-only, not migrated) numbered its reading rows; version 2 orders them by frame and position.
    const order = this.schemaVersion === 1 ? 'at, id' : 'at, frame_id, position';
    const radio = filter.radio === true && this.schemaVersion >= RADIO_SCHEMA ? ', (SELECT f.radio FROM frames AS f WHERE f.id = frame_id) AS radio' : '';
    let sql = `SELECT kid, counter, frame_id, channel, name, value, unit, raw, age, at${radio} FROM readings ${clause} ORDER BY ${order}`;
    if (filter.limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(filter.limit);
    }
    const radioOf = radioCache();
    for (const r of this.db.prepare<unknown[], ReadingRowSql>(sql).iterate(...args)) {
      const row: ReadingRow = { kid: r.kid, counter: r.counter, frameId: r.frame_id, channel: r.channel, name: r.name, value: r.value, unit: r.unit, raw: r.raw, age: r.age, at: r.at };
      const radio = radioOf(r.frame_id, r.radio);
      if (radio !== undefined) row.radio = radio;
      yield row;
    }
  }

  /** Frame counts by outcome (for /metrics after a restart and for reports). */
  countByOutcome(): Record<string, number> {
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

