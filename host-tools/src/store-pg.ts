/**
 * The PostgreSQL store: both sides of the store interface on a database that several gateway
 * instances share (docs/architecture.md#several-instances).
 *
 * The ingest pipeline asks the keyring, the replay windows and the accepted frames synchronously;
 * this store answers from memory: every key (reloaded when the registry changes: LISTEN/NOTIFY,
 * and a poll of `meta.registry_version` as the fallback), every replay window (kept fresh by each
 * commit) and the accepted frames it committed lately. Memory can be stale when another instance
 * wrote, so the commit is the authority: inside its transaction it locks the windows of the
 * batch's keys (SELECT ... FOR UPDATE, in kid order), checks every accepted counter against them
 * again, and reports the frames another instance decided first as conflicts (`duplicate`: the
 * same bytes, not stored; `replay`: stored as a replay). The partial unique index on
 * (kid, counter) of accepted frames backs this up: a bug here fails the commit rather than
 * accepting a counter twice.
 */
import { equalBytes, ReplayWindow, toHex, type KeyQuery, type KeyringEntry, type ReplayState, type ReplayWindowStore } from '@sceau/protocol';
import pg from 'pg';
import { devEuiOf } from './device-identity.js';
import type { FrameColumns } from './frame-batch.js';
import { radioCache, withRadio } from './radio-metadata.js';
import type { UnitReading } from './outcome.js';
import { describeUrl, poolConfig, type PgConnectOptions } from './store-pg-connect.js';
import { migratePostgres } from './store-pg-migrate.js';
import { PgRegistry } from './store-pg-registry.js';
import { PgPrivacy } from './store-pg-privacy.js';
import { PgConsoleQueries } from './console-queries-pg.js';
import { StoreError } from './store-errors.js';
import type { AcceptedFrame, CommitConflict, CommitDone, FrameFilter, FrameRow, IngestStore, ReadingFilter, ReadingRow } from './store-interface.js';
import type { Device } from './device-registry.js';
import type { RegistryTransaction } from './store-registry.js';

export interface PgStoreOptions extends PgConnectOptions {
  /** How often the registry version is polled, in ms (default 2,000): the revocation bound without NOTIFY. */
  registryPollMs?: number | undefined;
  /** Accepted frames kept in memory to answer duplicate deliveries at once (default 20,000). */
  recentFrames?: number | undefined;
  /**
   * LISTEN for registry changes (default true). False behind a pooler that does not pass
   * notifications (PgBouncer in transaction mode): the poll alone then bounds the delay.
   */
  listen?: boolean | undefined;
  /**
   * Create the schema in a database without one (default true). False (commands that read or
   * change an existing store): such a database is refused, as a missing SQLite file is, rather
   * than given an empty registry.
   */
  create?: boolean | undefined;
  /** Load the keyring and windows and listen for registry changes (default true; false for one-shot CLI queries). */
  ingest?: boolean | undefined;
}

interface RecentFrame {
  id: number;
  receivedAt: number;
  source: string;
  raw: Uint8Array;
  readings: string | null;
}

const EMPTY_BITMAP = '0000000000000000';

/** Records in `target` every counter `state` has accepted (a union of the two windows, as far as the window reaches). */
export function mergeWindow(target: ReplayWindow, state: ReplayState): void {
  const { highest, bitmap } = state;
  if (highest === 0) return;
  const hi = Number.parseInt(bitmap.slice(0, 8), 16) >>> 0;
  const lo = Number.parseInt(bitmap.slice(8), 16) >>> 0;
  for (let d = 63; d >= 0; d--) {
    const bit = d < 32 ? (lo >>> d) & 1 : (hi >>> (d - 32)) & 1;
    const counter = highest - d;
    if (bit === 1 && counter >= 1 && target.isFresh(counter)) target.accept(counter);
  }
  if (target.isFresh(highest)) target.accept(highest);
}

/** Replay windows cached from PostgreSQL; a window not cached starts empty (the commit checks it against the database). */
class PgReplayWindows implements ReplayWindowStore {
  readonly cache = new Map<string, ReplayWindow>();
  constructor(private readonly reload: (kids: string[] | undefined) => void) {}

  get(kid: string): ReplayWindow {
    let window = this.cache.get(kid);
    if (window === undefined) this.cache.set(kid, (window = new ReplayWindow()));
    return window;
  }

  /** Drops cached windows (after a failed commit) and reads them again from the database. */
  forget(kids?: Iterable<string>): void {
    const list = kids === undefined ? undefined : [...kids];
    if (list === undefined) this.cache.clear();
    else for (const kid of list) this.cache.delete(kid);
    this.reload(list);
  }

  /** Merges database states into the cache (never loses a counter accepted here and not yet committed). */
  merge(kid: string, state: ReplayState): void {
    const cached = this.cache.get(kid);
    if (cached === undefined) this.cache.set(kid, new ReplayWindow(state));
    else mergeWindow(cached, state);
  }
}

type FrameDbRow = { id: number; received_at: number; source: string; outcome: string; kid: string | null; counter: number | null; detail: string | null; raw: Buffer; radio: string | null };
type ReadingDbRow = { kid: string; counter: number; frame_id: number; position: number; channel: number; name: string; value: number; unit: string; raw: number; age: number; at: number | null; radio?: string | null };

export class PgStore implements IngestStore {
  readonly replay: PgReplayWindows;
  readonly registry: PgRegistry;
  /** Wrapped content keys, erasure, retention (store-pg-privacy.ts). */
  readonly privacy: PgPrivacy;
  /** The commit waits for the server, not for this thread: the next one starts as soon as it ends (store-interface.ts). */
  readonly commitGapFactor = 0;
  /** The database as shown in messages (no user). */
  readonly where: string;
  private keys = new Map<string, KeyringEntry>();
  private keysByEui = new Map<string, KeyringEntry>();
  /** Erased kids and when (ms), loaded with the keyring: their frames are refused unstored. */
  private erased = new Map<string, number>();
  private registryVersion = '';
  private reloading: Promise<void> | undefined;
  private queuedReload: Promise<void> | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private listener: pg.Client | undefined;
  private readonly recent = new Map<string, RecentFrame>();
  private readonly recentMax: number;
  private lastError: string | undefined;
  private closed = false;
  /** When the keyring was last loaded (ms since the epoch): for tests and /healthz. */
  keyringLoadedAt = 0;

  private constructor(
    readonly pool: pg.Pool,
    readonly url: string,
    private readonly options: PgStoreOptions,
  ) {
    this.where = describeUrl(url);
    this.recentMax = options.recentFrames ?? 20_000;
    this.replay = new PgReplayWindows((kids) => void this.loadWindows(kids).catch((e: Error) => (this.lastError = e.message)));
    this.registry = new PgRegistry(pool, () => (this.keyringLoadedAt === 0 ? Promise.resolve() : this.requestReload()));
    this.privacy = new PgPrivacy(pool, this.registry, (kids) => this.forgetKeys(new Set(kids)));
    pool.on('error', (error) => (this.lastError = `database: ${error.message}`));
  }

  /** Connects, migrates (advisory lock: instances starting together migrate once), and loads the caches. */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const pool = new pg.Pool(poolConfig(url, options));
    const store = new PgStore(pool, url, options);
    try {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw new StoreError('store-unopenable', `cannot connect to ${store.where}: ${(error as Error).message}`);
      }
      try {
        if (options.create === false && (await client.query("SELECT to_regclass('meta') IS NOT NULL AS sceau")).rows[0].sceau !== true) {
          throw new StoreError('store-unopenable', `${store.where} is not a sceau database (no meta table): it is created by \`sceau gateway serve\`, \`sceau devices add\` or \`sceau db copy\``);
        }
        await migratePostgres(client, store.where);
      } finally {
        client.release();
      }
      if (options.ingest ?? true) await store.startIngest();
      return store;
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  private async startIngest(): Promise<void> {
    await this.reloadKeys();
    await this.loadWindows(undefined);
    if (this.options.listen !== false) await this.listen();
    this.pollTimer = setInterval(() => void this.poll(), this.options.registryPollMs ?? 2000);
    this.pollTimer.unref();
  }

  /**
   * LISTEN on a connection of its own (a pooled one would be handed to others); after a lost
   * connection the next poll listens again (and the poll itself noticed the change meanwhile).
   */
  private async listen(): Promise<void> {
    const listener = new pg.Client(poolConfig(this.url, this.options));
    listener.on('error', (error) => {
      this.lastError = `registry listener: ${error.message}`;
      this.listener = undefined; // the poll still bounds the delay; the next poll reconnects
    });
    listener.on('notification', () => this.requestReload());
    try {
      await listener.connect();
      await listener.query('LISTEN sceau_registry');
      this.listener = listener;
    } catch (error) {
      this.lastError = `registry listener: ${(error as Error).message}`;
      await listener.end().catch(() => undefined);
    }
  }

  /** The fallback: the registry version, read every `registryPollMs`; reload when it moved. */
  private async poll(): Promise<void> {
    if (this.options.listen !== false && this.listener === undefined && !this.closed) await this.listen();
    try {
      const row = (await this.pool.query<{ value: string }>("SELECT value FROM meta WHERE key = 'registry_version'")).rows[0];
      this.lastError = undefined;
      if (row !== undefined && row.value !== this.registryVersion) this.requestReload();
    } catch (error) {
      this.lastError = `database: ${(error as Error).message}`;
    }
  }

  /**
   * Reloads the keyring: one reload at a time; a request during one is served by one more after
   * it (so the promise resolves on a keyring read after the request).
   */
  requestReload(): Promise<void> {
    if (this.reloading === undefined) return this.startReload();
    return (this.queuedReload ??= this.reloading.then(() => {
      this.queuedReload = undefined;
      return this.closed ? undefined : this.startReload();
    }));
  }

  private startReload(): Promise<void> {
    const reload: Promise<void> = this.reloadKeys()
      .catch((error: Error) => void (this.lastError = `registry reload: ${error.message}`))
      .finally(() => {
        if (this.reloading === reload) this.reloading = undefined;
      });
    this.reloading = reload;
    return reload;
  }

  /** Every key into memory. The version is read first: a change during the load is picked up by the next poll. */
  private async reloadKeys(): Promise<void> {
    const version = (await this.pool.query<{ value: string }>("SELECT value FROM meta WHERE key = 'registry_version'")).rows[0]?.value ?? '';
    const rows = (
      await this.pool.query<{ kid: string; public_key: Buffer; state: string; dev_eui: string | null }>(
        'SELECT k.kid, k.public_key, k.state, d.dev_eui FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id ORDER BY k.id',
      )
    ).rows;
    const erased = new Map((await this.pool.query<{ kid: string; erased_at: number }>('SELECT kid, erased_at FROM erased_keys')).rows.map((r) => [r.kid, r.erased_at]));
    const keys = new Map<string, KeyringEntry>();
    const byEui = new Map<string, KeyringEntry>();
    for (const r of rows) {
      const entry = { publicKey: new Uint8Array(r.public_key), revoked: r.state !== 'registered' };
      keys.set(r.kid, entry);
      // A DevEUI names its device's registered key, else its latest (rows come oldest first).
      if (r.dev_eui !== null && (!entry.revoked || byEui.get(r.dev_eui)?.revoked !== false)) byEui.set(r.dev_eui, entry);
    }
    const gone = new Set([...this.keys.keys()].filter((kid) => !keys.has(kid)));
    this.keys = keys;
    this.keysByEui = byEui;
    this.erased = erased;
    if (gone.size > 0) this.forgetKeys(gone);
    this.registryVersion = version;
    this.keyringLoadedAt = Date.now();
  }

  /**
   * Drops what this instance keeps in memory of keys that left the registry (erased or deleted):
   * their recent accepted frames (an erased device's bytes) and cached windows (read again from
   * the database if the key comes back).
   */
  private forgetKeys(kids: ReadonlySet<string>): void {
    for (const key of this.recent.keys()) if (kids.has(key.slice(0, key.lastIndexOf('/')))) this.recent.delete(key);
    for (const kid of kids) this.replay.cache.delete(kid);
  }

  private async loadWindows(kids: string[] | undefined): Promise<void> {
    const rows =
      kids === undefined
        ? (await this.pool.query<{ kid: string; highest: number; bitmap: string }>('SELECT kid, highest, bitmap FROM replay_windows')).rows
        : (await this.pool.query<{ kid: string; highest: number; bitmap: string }>('SELECT kid, highest, bitmap FROM replay_windows WHERE kid = ANY($1)', [kids])).rows;
    for (const r of rows) this.replay.merge(r.kid, { highest: r.highest, bitmap: r.bitmap });
  }

  /** Registry changes with the caller's work between them, in one transaction on one connection (`sceau provision`). */
  transaction<T>(fn: (tx: RegistryTransaction) => Promise<T>): Promise<T> {
    return this.registry.transaction((db) =>
      fn({
        register: (publicKey, options) => this.registry.registerIn(db, publicKey, options),
        rotate: (ref, publicKey) => this.registry.rotateIn(db, ref, publicKey),
        show: (ref) => this.registry.show(ref, db),
        putWrappedKey: (wrapped) => this.privacy.putWrappedKeyIn(db, wrapped),
      }),
    );
  }

  /** The web console's queries against this database (console-queries-pg.ts). */
  consoleQueries(): PgConsoleQueries {
    return new PgConsoleQueries(this.pool);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    await this.queuedReload;
    await this.reloading;
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }

  // --- Keyring (from memory) -----------------------------------------------------------

  resolve(query: KeyQuery): KeyringEntry | undefined {
    if (query.kid !== undefined) return this.keys.get(toHex(query.kid));
    if (query.deviceId === undefined) return undefined;
    const eui = devEuiOf(query.deviceId);
    if (eui !== undefined) return this.keysByEui.get(eui);
    if (query.deviceId.startsWith('kid:')) return this.keys.get(query.deviceId.slice('kid:'.length).toLowerCase());
    return undefined;
  }

  // --- Ingest ---------------------------------------------------------------------------

  erasedAt(kid: string): number | undefined {
    return this.erased.get(kid);
  }

  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined {
    const f = this.recent.get(`${kid}/${counter}`);
    return f === undefined ? undefined : toAccepted(f);
  }

  private remember(kid: string, counter: number, frame: RecentFrame): void {
    const key = `${kid}/${counter}`;
    this.recent.delete(key);
    this.recent.set(key, frame);
    if (this.recent.size > this.recentMax) this.recent.delete(this.recent.keys().next().value!);
  }

  commitBatch(batch: FrameColumns, done: CommitDone): void {
    this.commit(batch).then(
      ({ ids, conflicts }) => done(undefined, ids, conflicts),
      (error: Error) => done(error, []),
    );
  }

  /** The commit transaction: windows locked, counters checked again, frames and windows written. */
  private async commit(batch: FrameColumns): Promise<{ ids: number[]; conflicts: Map<number, CommitConflict> }> {
    const n = batch.raw.length;
    const now = Date.now();
    const client = await this.pool.connect();
    let windows: Map<string, ReplayWindow>;
    const conflicts = new Map<number, CommitConflict>();
    const erased = new Set<string>();
    const ids = new Array<number>(n);
    const inserted: number[] = [];
    try {
      await client.query('BEGIN');
      // The windows of the keys this batch accepts, locked in kid order (two instances lock
      // the same rows in the same order: no deadlock), created first when new.
      const kids = [...new Set(batch.kid.filter((kid, i): kid is string => kid !== null && batch.outcome[i] === 'ok'))].sort();
      windows = new Map();
      if (kids.length > 0) {
        await client.query('INSERT INTO replay_windows (kid, highest, bitmap, updated_at) SELECT k, 0, $2, $3 FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT (kid) DO NOTHING', [kids, EMPTY_BITMAP, now]);
        const rows = await client.query<{ kid: string; highest: number; bitmap: string; erased: boolean }>(
          'SELECT w.kid, w.highest, w.bitmap, e.kid IS NOT NULL AS erased FROM replay_windows AS w LEFT JOIN erased_keys AS e ON e.kid = w.kid WHERE w.kid = ANY($1) ORDER BY w.kid FOR UPDATE OF w',
          [kids],
        );
        for (const r of rows.rows) if (r.erased) erased.add(r.kid);
        else windows.set(r.kid, new ReplayWindow({ highest: r.highest, bitmap: r.bitmap }));
        // Erased while this instance still had the key (before its reload): nothing of it is kept.
        if (erased.size > 0) await client.query('DELETE FROM replay_windows WHERE kid = ANY($1)', [[...erased]]);
      }
      // Accepted here but not by the database's window, or refused here as a replay: was it the
      // same bytes as the frame the database holds for that counter?
      const suspects: number[] = [];
      for (let i = 0; i < n; i++) {
        const kid = batch.kid[i]!;
        const counter = batch.counter[i]!;
        if (kid === null || counter === null || erased.has(kid)) continue;
        if (batch.outcome[i] === 'ok' ? !windows.get(kid)!.accept(counter) : batch.outcome[i] === 'replay') suspects.push(i);
      }
      const originals = new Map<string, RecentFrame>();
      if (suspects.length > 0) {
        const rows = await client.query<{ id: number; received_at: number; source: string; raw: Buffer; readings: string | null; kid: string; counter: number }>(
          "SELECT f.id, f.received_at, f.source, f.raw, f.readings, f.kid, f.counter FROM frames AS f JOIN unnest($1::text[], $2::bigint[]) AS s(kid, counter) ON f.kid = s.kid AND f.counter = s.counter WHERE f.outcome = 'ok'",
          [suspects.map((i) => batch.kid[i]), suspects.map((i) => batch.counter[i])],
        );
        for (const r of rows.rows) originals.set(`${r.kid}/${r.counter}`, { id: r.id, receivedAt: r.received_at, source: r.source, raw: new Uint8Array(r.raw), readings: r.readings });
      }
      const outcome = batch.outcome.slice();
      const detail = batch.detail.slice();
      const readings = batch.readings.slice();
      const encrypted = batch.encrypted.slice();
      for (const i of suspects) {
        const kid = batch.kid[i]!;
        const counter = batch.counter[i]!;
        const original = originals.get(`${kid}/${counter}`);
        if (original !== undefined && equalBytes(original.raw, batch.raw[i]!)) {
          conflicts.set(i, { kind: 'duplicate', original: toAccepted(original) });
          ids[i] = original.id;
          this.remember(kid, counter, original);
        } else if (outcome[i] === 'ok') {
          const d = `counter ${counter} already accepted or older than the window (highest ${windows.get(kid)!.highestAccepted}), by another instance`;
          conflicts.set(i, { kind: 'replay', detail: d });
          outcome[i] = 'replay';
          detail[i] = d;
          readings[i] = null;
          encrypted[i] = null;
        }
      }
      // Frames of a key erased while this instance still had it: not stored, as its later frames are not.
      for (let i = 0; i < n; i++) {
        if (batch.kid[i] !== null && erased.has(batch.kid[i]!)) conflicts.set(i, { kind: 'erased', detail: `key ${batch.kid[i]} was erased (sceau devices erase) before this frame was stored: frames of an erased key are not stored (docs/privacy.md#erasure)` });
      }
      for (let i = 0; i < n; i++) {
        const kind = conflicts.get(i)?.kind;
        if (kind !== 'duplicate' && kind !== 'erased') inserted.push(i);
      }
      if (inserted.length > 0) {
        const col = <T>(values: T[]): T[] => inserted.map((i) => values[i]!);
        const result = await client.query<{ id: number }>(
          `INSERT INTO frames (received_at, source, outcome, kid, counter, detail, raw, readings, encrypted, radio)
           SELECT r, s, o, k, c, d, w, g, e, m FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bytea[], $8::text[], $9::integer[], $10::text[]) WITH ORDINALITY AS t(r, s, o, k, c, d, w, g, e, m, n)
           ORDER BY n RETURNING id`,
          [col(batch.receivedAt), col(batch.source), col(outcome), col(batch.kid), col(batch.counter), col(detail), inserted.map((i) => Buffer.from(batch.raw[i]!.buffer, batch.raw[i]!.byteOffset, batch.raw[i]!.byteLength)), col(readings), col(encrypted), col(batch.radio)],
        );
        // Identities are drawn in insertion order: the ids sorted are the rows in batch order.
        const got = result.rows.map((r) => r.id).sort((a, b) => a - b);
        inserted.forEach((i, k) => (ids[i] = got[k]!));
      }
      if (windows.size > 0) {
        const states = [...windows].map(([kid, w]) => [kid, w.state()] as const);
        // Never backwards, whatever this instance believed: only a window at least as far as the stored one is written.
        await client.query(
          'UPDATE replay_windows AS w SET highest = v.highest, bitmap = v.bitmap, updated_at = $4 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(kid, highest, bitmap) WHERE w.kid = v.kid AND v.highest >= w.highest',
          [states.map(([kid]) => kid), states.map(([, s]) => s.highest), states.map(([, s]) => s.bitmap), now],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    this.lastError = undefined;
    for (const [kid, w] of windows) this.replay.merge(kid, w.state());
    for (const i of inserted) {
      if (batch.outcome[i] === 'ok' && !conflicts.has(i)) {
        this.remember(batch.kid[i]!, batch.counter[i]!, { id: ids[i]!, receivedAt: batch.receivedAt[i]!, source: batch.source[i]!, raw: batch.raw[i]!, readings: batch.readings[i]! });
      }
    }
    return { ids, conflicts };
  }

  /** Serialisation failures and lock timeouts are retried by the sender (503); PostgreSQL has no single writer lock to wait out. */
  isContention(): boolean {
    return false;
  }

  probeWrite(): string | undefined {
    return undefined;
  }

  /** The last error of the pool, the poll or a commit, cleared by the next success. */
  health(): string | undefined {
    return this.lastError;
  }

  // --- Queries (async: QueryStore) ------------------------------------------------------

  listDevices(): Promise<Device[]> {
    return this.registry.list();
  }

  getDevice(ref: string): Promise<Device | undefined> {
    return this.registry.find(ref).then((r) => r?.device);
  }

  async queryFrames(filter: FrameFilter = {}): Promise<FrameRow[]> {
    const where = new Conditions();
    where.kids(filter);
    where.add('received_at >= ?', filter.since);
    where.add('outcome = ?', filter.outcome);
    where.add('id > ?', filter.afterId);
    const limit = where.param(filter.limit ?? 1000);
    const rows = (await this.pool.query<FrameDbRow>(`SELECT id, received_at, source, outcome, kid, counter, detail, raw, radio FROM frames ${where.clause()} ORDER BY id LIMIT ${limit}`, where.args)).rows;
    return rows.map((r) =>
      withRadio(
        {
          id: r.id,
          receivedAt: new Date(r.received_at).toISOString(),
          source: r.source,
          outcome: r.outcome,
          kid: r.kid,
          counter: r.counter,
          detail: r.detail,
          frame: toHex(new Uint8Array(r.raw)),
        },
        r.radio,
      ),
    );
  }

  async queryReadings(filter: ReadingFilter = {}): Promise<ReadingRow[]> {
    const out: ReadingRow[] = [];
    for await (const r of this.iterateReadings(filter)) out.push(r);
    return out;
  }

  /** Readings oldest first, read in pages of 5,000 (keyset on at, frame, position): a large export holds one page at a time. */
  async *iterateReadings(filter: ReadingFilter = {}): AsyncIterableIterator<ReadingRow> {
    let left = filter.limit ?? Number.POSITIVE_INFINITY;
    let after: [number, number, number] | undefined;
    const radio = filter.radio === true ? ', (SELECT f.radio FROM frames AS f WHERE f.id = frame_id) AS radio' : '';
    const radioOf = radioCache();
    while (left > 0) {
      const where = new Conditions();
      where.kids(filter);
      where.add('at >= ?', filter.since);
      where.add('at < ?', filter.until);
      if (after !== undefined) where.add('(coalesce(at, -1), frame_id, position) > (?, ?, ?)', ...after);
      const page = Math.min(left, 5000);
      const rows = (
        await this.pool.query<ReadingDbRow>(
          `SELECT kid, counter, frame_id, position, channel, name, value, unit, raw, age, at${radio} FROM readings ${where.clause()} ORDER BY coalesce(at, -1), frame_id, position LIMIT ${where.param(page)}`,
          where.args,
        )
      ).rows;
      for (const r of rows) {
        const row: ReadingRow = { kid: r.kid, counter: r.counter, frameId: r.frame_id, channel: r.channel, name: r.name, value: r.value, unit: r.unit, raw: r.raw, age: r.age, at: r.at };
        const kept = radioOf(r.frame_id, r.radio);
        if (kept !== undefined) row.radio = kept;
        yield row;
      }
      if (rows.length < page) return;
      left -= rows.length;
      const last = rows[rows.length - 1]!;
      after = [last.at ?? -1, last.frame_id, last.position];
    }
  }

  async countFramesByOutcome(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const row of (await this.pool.query<{ outcome: string; n: number }>('SELECT outcome, count(*)::bigint AS n FROM frames GROUP BY outcome')).rows) out[row.outcome] = row.n;
    return out;
  }
}

function toAccepted(f: RecentFrame): AcceptedFrame {
  const frame: AcceptedFrame = { id: f.id, receivedAt: f.receivedAt, source: f.source, raw: f.raw };
  if (f.readings !== null) {
    frame.readings = (JSON.parse(f.readings) as Array<[number, string, number, string, number, number, number | null]>).map(([channel, name, value, unit, raw, age, at]) => {
      const reading: UnitReading = { channel, name, value, unit, raw };
      if (age !== 0) reading.age = age;
      if (at !== null) reading.at = at;
      return reading;
    });
  }
  return frame;
}

/** A WHERE clause with numbered parameters ($1, $2, ...), from conditions written with `?`. */
class Conditions {
  readonly args: unknown[] = [];
  private readonly parts: string[] = [];

  param(value: unknown): string {
    this.args.push(value);
    return `$${this.args.length}`;
  }

  /** A condition, unless its first value is undefined. */
  add(sql: string, ...values: unknown[]): void {
    if (values[0] === undefined) return;
    let k = 0;
    this.parts.push(sql.replace(/\?/g, () => this.param(values[k++])));
  }

  kids(filter: { kid?: string | undefined; kids?: readonly string[] | undefined }): void {
    const kids = filter.kids ?? (filter.kid === undefined ? undefined : [filter.kid]);
    if (kids === undefined) return;
    this.parts.push(`kid = ANY(${this.param(kids.map((k) => k.toLowerCase()))})`);
  }

  clause(): string {
    return this.parts.length > 0 ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}
