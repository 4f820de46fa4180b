/**
 * The privacy tables on PostgreSQL (migration 5, docs/privacy.md): the same content keys wrapped
 * for the data owner, erasure with its tombstone, and retention as the SQLite store
 * (store-privacy.ts), asynchronous, and safe with several gateway instances on the database.
 *
 * Erasure and the instances' commits meet on the replay window rows: erasure locks the windows of
 * the device's keys (creating missing ones, as a commit does) before it deletes, so a commit of
 * the same keys either finished before (its frames are erased too) or waits, and then finds the
 * key's tombstone in its own transaction (store-pg.ts) and stores nothing accepted for it. Every
 * other instance forgets the key with the registry change (LISTEN/NOTIFY, else the poll:
 * docs/architecture.md#several-instances).
 */
import type pg from 'pg';
import type { WrappedContentKey } from './content-key-wrap.js';
import { RegistryError, type DeviceRecord } from './device-registry.js';
import type { PgRegistry } from './store-pg-registry.js';
import { RETENTION_BATCH } from './store-privacy.js';
import type { EncryptedFrameRow, Erasure, ErasureTombstone, PrivacyStore, RetentionSweep } from './store-interface.js';

type WrappedRow = { kid: string; owner_key_id: string; suite: string; enc: string; ciphertext: string };
type TombstoneRow = { kid: string; frames: number; readings: number; content_key: number; erased_at: number };

const toWrapped = (r: WrappedRow): WrappedContentKey => ({ kid: r.kid, ownerKeyId: r.owner_key_id, suite: r.suite, enc: r.enc, ciphertext: r.ciphertext });
const toTombstone = (r: TombstoneRow): ErasureTombstone => ({ kid: r.kid, frames: r.frames, readings: r.readings, contentKey: r.content_key === 1, erasedAt: new Date(r.erased_at).toISOString() });

const EMPTY_BITMAP = '0000000000000000';

/** Encrypted frames read per query by `encryptedFrames` (keyset paging on the frame id). */
const ENCRYPTED_PAGE = 1000;

export class PgPrivacy implements PrivacyStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly registry: PgRegistry,
    /** Called after an erasure with the kids erased (this instance's cached windows and recent frames). */
    private readonly erasedKids: (kids: readonly string[]) => void = () => undefined,
  ) {}

  async wrappedKeys(kids?: readonly string[]): Promise<Map<string, WrappedContentKey>> {
    const sql = 'SELECT kid, owner_key_id, suite, enc, ciphertext FROM content_keys';
    const rows = kids === undefined ? await this.pool.query<WrappedRow>(`${sql} ORDER BY kid`) : await this.pool.query<WrappedRow>(`${sql} WHERE kid = ANY($1) ORDER BY kid`, [kids.map((k) => k.toLowerCase())]);
    return new Map(rows.rows.map((r) => [r.kid, toWrapped(r)]));
  }

  /** Stores a key's wrapped content key (`content-key-exists` when it has one), in its own transaction. */
  putWrappedKey(w: WrappedContentKey): Promise<void> {
    return this.registry.transaction((db) => this.putWrappedKeyIn(db, w));
  }

  /** `putWrappedKey` inside a transaction of the caller's (provisioning registers the key in the same one). */
  async putWrappedKeyIn(db: pg.ClientBase, w: WrappedContentKey): Promise<void> {
    const inserted = await db.query('INSERT INTO content_keys (kid, owner_key_id, suite, enc, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING', [w.kid, w.ownerKeyId, w.suite, w.enc, w.ciphertext, Date.now()]);
    if (inserted.rowCount === 0) {
      const other = (await db.query<{ owner_key_id: string }>('SELECT owner_key_id FROM content_keys WHERE kid = $1', [w.kid])).rows[0];
      throw new RegistryError('content-key-exists', `key ${w.kid} already has a content key wrapped for owner key ${other?.owner_key_id ?? '?'}; the board holds that one (owner rotate re-wraps it for a new owner key)`);
    }
  }

  /** Replaces every wrapped key given (same kids) in one transaction: `owner rotate --db`. */
  replaceWrappedKeys(list: readonly WrappedContentKey[]): Promise<number> {
    return this.registry.transaction(async (db) => {
      let n = 0;
      for (const w of list) n += (await db.query('UPDATE content_keys SET owner_key_id = $1, suite = $2, enc = $3, ciphertext = $4 WHERE kid = $5', [w.ownerKeyId, w.suite, w.enc, w.ciphertext, w.kid])).rowCount ?? 0;
      return n;
    });
  }

  async tombstone(kid: string): Promise<ErasureTombstone | undefined> {
    const row = (await this.pool.query<TombstoneRow>('SELECT kid, frames, readings, content_key, erased_at FROM erased_keys WHERE kid = $1', [kid.toLowerCase()])).rows[0];
    return row === undefined ? undefined : toTombstone(row);
  }

  /**
   * Erases the device `ref` names (all its keys): frames (any outcome), readings, wrapped content
   * keys, replay windows, hourly counts and the registry entry, in one transaction, with a
   * tombstone per key. The freed rows stay in the table files until VACUUM reuses them, and in
   * the WAL, its archives, replicas and backups (docs/privacy.md#erasure).
   */
  async erase(ref: string): Promise<Erasure> {
    const now = Date.now();
    const result = await this.registry.transaction(async (db) => {
      const device = await this.registry.show(ref, db);
      const kids = device.keys.map((k) => k.kid).sort();
      // The windows first, in kid order as every commit locks them: commits of these keys wait for the erasure.
      await db.query('INSERT INTO replay_windows (kid, highest, bitmap, updated_at) SELECT k, 0, $2, $3 FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT (kid) DO NOTHING', [kids, EMPTY_BITMAP, now]);
      await db.query('SELECT kid FROM replay_windows WHERE kid = ANY($1) ORDER BY kid FOR UPDATE', [kids]);
      const counts = new Map(
        (
          await db.query<{ kid: string; frames: number; readings: number }>(
            'SELECT kid, count(*)::bigint AS frames, coalesce(sum(CASE WHEN readings IS NULL THEN 0 ELSE json_array_length(readings::json) END), 0)::bigint AS readings FROM frames WHERE kid = ANY($1) GROUP BY kid',
            [kids],
          )
        ).rows.map((r) => [r.kid, r]),
      );
      const withKey = new Set((await db.query<{ kid: string }>('DELETE FROM content_keys WHERE kid = ANY($1) RETURNING kid', [kids])).rows.map((r) => r.kid));
      await db.query('DELETE FROM frames WHERE kid = ANY($1)', [kids]);
      await db.query('DELETE FROM replay_windows WHERE kid = ANY($1)', [kids]);
      await db.query('DELETE FROM frame_hours WHERE kid = ANY($1)', [kids]);
      const tombstones = device.keys.map(({ kid }): TombstoneRow => ({ kid, frames: counts.get(kid)?.frames ?? 0, readings: counts.get(kid)?.readings ?? 0, content_key: withKey.has(kid) ? 1 : 0, erased_at: now }));
      await db.query(
        'INSERT INTO erased_keys (kid, frames, readings, content_key, erased_at) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[])',
        [tombstones.map((t) => t.kid), tombstones.map((t) => t.frames), tombstones.map((t) => t.readings), tombstones.map((t) => t.content_key), tombstones.map((t) => t.erased_at)],
      );
      const deviceId = (await this.registry.resolve(kids[0]!, db)).deviceId;
      await db.query('DELETE FROM registry_keys WHERE device_id = $1', [deviceId]);
      await db.query('DELETE FROM registry_devices WHERE id = $1', [deviceId]);
      return { device, tombstones: tombstones.map(toTombstone) };
    });
    this.erasedKids(result.device.keys.map((k) => k.kid));
    // Nothing to checkpoint on PostgreSQL: the WAL is the server's (docs/privacy.md#erasure).
    return { ...result, walCheckpointed: true };
  }

  /**
   * Deletes frames received before their retention, a device's own or `defaultMs`, in batches of
   * RETENTION_BATCH frames, each its own short transaction (`yieldBetween` between them). Rows
   * another instance's sweep holds are skipped (SKIP LOCKED): instances sweeping at once share
   * the work rather than wait for each other; ingest only inserts, and never waits for a sweep.
   */
  async deleteExpired(now: number, defaultMs: number | undefined, yieldBetween: () => Promise<void> = async () => undefined): Promise<RetentionSweep> {
    const cutoffs = (
      await this.pool.query<{ kid: string; retention_ms: number }>('SELECT k.kid, d.retention_ms FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id WHERE d.retention_ms IS NOT NULL ORDER BY k.kid')
    ).rows;
    let frames = 0;
    const sweep = async (where: string, args: unknown[]): Promise<void> => {
      const sql = `DELETE FROM frames WHERE id IN (SELECT id FROM frames WHERE ${where} ORDER BY id LIMIT ${RETENTION_BATCH} FOR UPDATE SKIP LOCKED)`;
      for (;;) {
        const changes = (await this.pool.query(sql, args)).rowCount ?? 0;
        frames += changes;
        if (changes < RETENTION_BATCH) return;
        await yieldBetween();
      }
    };
    for (const c of cutoffs) await sweep('kid = $1 AND received_at < $2', [c.kid, now - c.retention_ms]);
    if (defaultMs !== undefined) await sweep('received_at < $1 AND (kid IS NULL OR NOT (kid = ANY($2)))', [now - defaultMs, cutoffs.map((c) => c.kid)]);
    return { frames };
  }

  /** Accepted record version 2 frames, in id order, read a page at a time, with the public key of their kid. */
  async *encryptedFrames(kids?: readonly string[]): AsyncIterableIterator<EncryptedFrameRow> {
    type Row = { id: number; kid: string; counter: number; received_at: number; raw: Buffer; encrypted: number; public_key: Buffer | null };
    const selected = kids?.map((k) => k.toLowerCase());
    let after = 0;
    for (;;) {
      const rows = (
        await this.pool.query<Row>(
          `SELECT f.id, f.kid, f.counter, f.received_at, f.raw, f.encrypted, k.public_key FROM frames AS f LEFT JOIN registry_keys AS k ON k.kid = f.kid
           WHERE f.outcome = 'ok' AND f.encrypted IS NOT NULL AND f.id > $1 ${selected === undefined ? '' : 'AND f.kid = ANY($3)'} ORDER BY f.id LIMIT $2`,
          selected === undefined ? [after, ENCRYPTED_PAGE] : [after, ENCRYPTED_PAGE, selected],
        )
      ).rows;
      for (const r of rows) {
        yield { frameId: r.id, kid: r.kid, counter: r.counter, receivedAt: r.received_at, raw: new Uint8Array(r.raw), encryptedBytes: r.encrypted, publicKey: r.public_key === null ? undefined : new Uint8Array(r.public_key) };
      }
      if (rows.length < ENCRYPTED_PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  /** A device's own retention in ms (null: the gateway's). */
  setRetention(ref: string, ms: number | null): Promise<DeviceRecord> {
    return this.registry.transaction(async (db) => {
      const { deviceId } = await this.registry.resolve(ref, db);
      await db.query('UPDATE registry_devices SET retention_ms = $1 WHERE id = $2', [ms, deviceId]);
      return this.registry.show(ref, db);
    });
  }
}
