/**
 * The SQLite store's privacy tables (migration 5, docs/privacy.md): content keys wrapped for the
 * data owner (never a content key in clear), erasure of a device with its tombstone, and the
 * deletion of frames past their retention. Synchronous, as better-sqlite3 is; the shared shape is
 * `PrivacyStore` (store-interface.ts).
 */
import type Database from 'better-sqlite3';
import type { WrappedContentKey } from './content-key-wrap.js';
import { RegistryError, type DeviceRecord, type DeviceRegistry } from './device-registry.js';
import type { EncryptedFrameRow, ErasureTombstone, PrivacyStore, RetentionSweep } from './store-interface.js';

type WrappedRow = { kid: string; owner_key_id: string; suite: string; enc: string; ciphertext: string };
type TombstoneRow = { kid: string; frames: number; readings: number; content_key: number; erased_at: number };

const toWrapped = (r: WrappedRow): WrappedContentKey => ({ kid: r.kid, ownerKeyId: r.owner_key_id, suite: r.suite, enc: r.enc, ciphertext: r.ciphertext });
const toTombstone = (r: TombstoneRow): ErasureTombstone => ({ kid: r.kid, frames: r.frames, readings: r.readings, contentKey: r.content_key === 1, erasedAt: new Date(r.erased_at).toISOString() });

/** Frames deleted per statement by a retention sweep: each batch is a short transaction, so ingest waits at most one batch. */
export const RETENTION_BATCH = 500;

export class SqlitePrivacy implements PrivacyStore {
  constructor(
    private readonly db: Database.Database,
    private readonly registry: DeviceRegistry,
    /** Called after an erasure with the kids erased (the keyring's cache, the cached replay windows). */
    private readonly erasedKids: (kids: readonly string[]) => void,
    /** Below 5 (a file opened read-only, not migrated): no privacy tables, so no wrapped keys and no encrypted frames. */
    private readonly schemaVersion: number,
  ) {}

  /** Wrapped content keys by kid: of `kids`, or all. */
  wrappedKeys(kids?: readonly string[]): Map<string, WrappedContentKey> {
    if (this.schemaVersion < 5) return new Map();
    const rows =
      kids === undefined
        ? this.db.prepare<[], WrappedRow>('SELECT kid, owner_key_id, suite, enc, ciphertext FROM content_keys ORDER BY kid').all()
        : kids.flatMap((k) => this.db.prepare<[string], WrappedRow>('SELECT kid, owner_key_id, suite, enc, ciphertext FROM content_keys WHERE kid = ?').all(k.toLowerCase()));
    return new Map(rows.map((r) => [r.kid, toWrapped(r)]));
  }

  /**
   * Stores a wrapped content key for a registered key; a key that already has one is refused
   * (`content-key-exists`: the device holds the other content key; re-wrap with `owner rotate`).
   */
  putWrappedKey(w: WrappedContentKey): void {
    this.registry.write(() => {
      if (this.db.prepare('SELECT 1 FROM content_keys WHERE kid = ?').get(w.kid) !== undefined) {
        throw new RegistryError('content-key-exists', `key ${w.kid} already has a content key wrapped for owner key ${this.wrappedKeys([w.kid]).get(w.kid)!.ownerKeyId}; the board holds that one (owner rotate re-wraps it for a new owner key)`);
      }
      this.db.prepare('INSERT INTO content_keys (kid, owner_key_id, suite, enc, ciphertext, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(w.kid, w.ownerKeyId, w.suite, w.enc, w.ciphertext, Date.now());
    });
  }

  /** Replaces every wrapped key given (same kids) in one transaction: `owner rotate --db`. */
  replaceWrappedKeys(list: readonly WrappedContentKey[]): number {
    const update = this.db.prepare('UPDATE content_keys SET owner_key_id = ?, suite = ?, enc = ?, ciphertext = ? WHERE kid = ?');
    return this.registry.write(() => list.reduce((n, w) => n + update.run(w.ownerKeyId, w.suite, w.enc, w.ciphertext, w.kid).changes, 0));
  }

  /** When `kid` was erased (ms), if it was: one indexed lookup, asked for frames of unknown kids. */
  tombstoneTime(kid: string): number | undefined {
    if (this.schemaVersion < 5) return undefined;
    return (this.erasedAtStatement ??= this.db.prepare<[string], { erased_at: number }>('SELECT erased_at FROM erased_keys WHERE kid = ?')).get(kid)?.erased_at;
  }

  private erasedAtStatement: Database.Statement<[string], { erased_at: number }> | undefined;

  /** The tombstone of an erased key, if it was erased. */
  tombstone(kid: string): ErasureTombstone | undefined {
    const row = this.db.prepare<[string], TombstoneRow>('SELECT kid, frames, readings, content_key, erased_at FROM erased_keys WHERE kid = ?').get(kid.toLowerCase());
    return row === undefined ? undefined : toTombstone(row);
  }

  /**
   * Erases the device `ref` names (all its keys): its frames (whatever their outcome), readings,
   * wrapped content keys, replay windows, hourly counts and registry entry, in one transaction,
   * leaving a tombstone per key (kid, what was deleted, when) that refuses the key from then on.
   * secure_delete overwrites the freed pages; the WAL is then checkpointed and truncated, so the
   * file and its WAL keep no copy of the deleted rows (docs/privacy.md#erasure says what remains).
   */
  erase(ref: string): { device: DeviceRecord; tombstones: ErasureTombstone[]; walCheckpointed: boolean } {
    const now = Date.now();
    const result = this.registry.write(() => {
      const device = this.registry.show(ref);
      const kids = device.keys.map((k) => k.kid);
      const tombstones = kids.map((kid) => {
        const counts = this.db.prepare<[string], { frames: number; readings: number }>("SELECT count(*) AS frames, coalesce(sum(CASE WHEN readings IS NULL THEN 0 ELSE json_array_length(readings) END), 0) AS readings FROM frames WHERE kid = ?").get(kid)!;
        const contentKey = this.db.prepare('DELETE FROM content_keys WHERE kid = ?').run(kid).changes;
        this.db.prepare('DELETE FROM frames WHERE kid = ?').run(kid);
        this.db.prepare('DELETE FROM replay_windows WHERE kid = ?').run(kid);
        this.db.prepare('DELETE FROM frame_hours WHERE kid = ?').run(kid);
        const row: TombstoneRow = { kid, frames: counts.frames, readings: counts.readings, content_key: contentKey, erased_at: now };
        this.db.prepare('INSERT INTO erased_keys (kid, frames, readings, content_key, erased_at) VALUES (?, ?, ?, ?, ?)').run(row.kid, row.frames, row.readings, row.content_key, row.erased_at);
        return toTombstone(row);
      });
      const deviceId = this.db.prepare<[string], { device_id: number }>('SELECT device_id FROM registry_keys WHERE kid = ?').get(kids[0]!)!.device_id;
      this.db.prepare('DELETE FROM registry_keys WHERE device_id = ?').run(deviceId);
      this.db.prepare('DELETE FROM registry_devices WHERE id = ?').run(deviceId);
      return { device, tombstones };
    });
    this.erasedKids(result.device.keys.map((k) => k.kid));
    return { ...result, walCheckpointed: this.checkpoint() };
  }

  /**
   * Deletes accepted and refused frames received before their retention: a device's own
   * (`registry_devices.retention_ms`) or `defaultMs` (undefined: only devices with their own).
   * In batches of RETENTION_BATCH frames, each its own short transaction; `yieldBetween` runs
   * between batches (the gateway gives the event loop back there, so ingest is never blocked
   * for more than one batch). Frames of keys no device has (refused `unknown-kid`) follow `defaultMs`.
   */
  async deleteExpired(now: number, defaultMs: number | undefined, yieldBetween: () => Promise<void> = async () => undefined): Promise<RetentionSweep> {
    const cutoffs = this.db
      .prepare<[], { kid: string; retention_ms: number | null }>('SELECT k.kid, d.retention_ms FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id WHERE d.retention_ms IS NOT NULL')
      .all();
    let frames = 0;
    const sweep = async (sql: string, args: unknown[]): Promise<void> => {
      const statement = this.db.prepare(`DELETE FROM frames WHERE id IN (SELECT id FROM frames WHERE ${sql} LIMIT ${RETENTION_BATCH})`);
      for (;;) {
        const changes = statement.run(...args).changes;
        frames += changes;
        if (changes < RETENTION_BATCH) return;
        await yieldBetween();
      }
    };
    for (const c of cutoffs) await sweep('kid = ? AND received_at < ?', [c.kid, now - c.retention_ms!]);
    if (defaultMs !== undefined) {
      const own = cutoffs.map((c) => c.kid);
      const except = own.length === 0 ? '' : ` AND (kid IS NULL OR kid NOT IN (${own.map(() => '?').join(', ')}))`;
      await sweep(`received_at < ?${except}`, [now - defaultMs, ...own]);
    }
    return { frames };
  }

  async *encryptedFrames(kids?: readonly string[]): AsyncIterableIterator<EncryptedFrameRow> {
    if (this.schemaVersion < 5) return;
    const where = kids === undefined ? '' : kids.length === 0 ? ' AND 0' : ` AND f.kid IN (${kids.map(() => '?').join(', ')})`;
    const sql = `SELECT f.id, f.kid, f.counter, f.received_at, f.raw, f.encrypted, k.public_key FROM frames AS f LEFT JOIN registry_keys AS k ON k.kid = f.kid
      WHERE f.outcome = 'ok' AND f.encrypted IS NOT NULL${where} ORDER BY f.id`;
    type Row = { id: number; kid: string; counter: number; received_at: number; raw: Buffer; encrypted: number; public_key: Buffer | null };
    // all(), not iterate(): the caller reads the registry between rows, which a running iteration forbids on this connection.
    for (const r of this.db.prepare<unknown[], Row>(sql).all(...(kids ?? []).map((k) => k.toLowerCase()))) {
      yield { frameId: r.id, kid: r.kid, counter: r.counter, receivedAt: r.received_at, raw: new Uint8Array(r.raw), encryptedBytes: r.encrypted, publicKey: r.public_key === null ? undefined : new Uint8Array(r.public_key) };
    }
  }

  /** A device's own retention in ms (null: the gateway's). */
  setRetention(ref: string, ms: number | null): DeviceRecord {
    return this.registry.write(() => {
      const { deviceId } = this.registry.resolve(ref);
      this.db.prepare('UPDATE registry_devices SET retention_ms = ? WHERE id = ?').run(ms, deviceId);
      return this.registry.show(ref);
    });
  }

  /**
   * Copies the WAL into the database and truncates it (after an erasure: the WAL keeps no deleted
   * row); false when another connection's reader kept it from finishing (run it again later).
   */
  checkpoint(): boolean {
    if (this.db.memory || this.db.readonly) return true;
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    return result === undefined || result.busy === 0;
  }
}
