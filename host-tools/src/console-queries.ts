/**
 * What the console asks the store beyond the read API (store-interface.ts's QueryStore): the
 * fleet with its last 24 hours by code (from `frame_hours`, schema version 4), a device's replay
 * windows and rejected frames, one frame with its bytes, and kid-to-name lookups for the live
 * feed. Asynchronous like QueryStore, so a backend on an asynchronous database implements the
 * same interface; `SqliteConsoleQueries` answers from the SQLite store, `PgConsoleQueries`
 * (console-queries-pg.ts) from PostgreSQL. A store gives its own through `OpenedStore.consoleQueries`.
 */
import type Database from 'better-sqlite3';
import type { StoredReading } from './store-interface.js';
import type { Store } from './store.js';

/** One device of the fleet: its current key (registered, else its latest) and counts over all its keys. */
export interface FleetDevice {
  kid: string;
  kids: string[];
  name: string | null;
  devEui: string | null;
  revoked: boolean;
  highestCounter: number;
  /**
   * ms since the epoch of the last frame received for one of its keys in the last 24 hours, else
   * of the last frame accepted (its replay window's last change), or null.
   */
  lastSeen: number | null;
  accepted24h: number;
  rejected24h: number;
  /** Rejected frames of the last 24 hours by code. */
  byCode24h: Record<string, number>;
}

export interface ReplayWindowRow {
  kid: string;
  highest: number;
  /** The window's bitmap as stored (hex, bit i: counter highest - i accepted). */
  bitmap: string;
  /** ms since the epoch of the last change. */
  updatedAt: number;
}

export interface StoredFrame {
  id: number;
  receivedAt: number;
  source: string;
  outcome: string;
  kid: string | null;
  counter: number | null;
  detail: string | null;
  raw: Uint8Array;
}

export interface ConsoleQueries {
  /** Every device with its counts for the 24 hours before `nowMs`. */
  fleet(nowMs: number): Promise<FleetDevice[]>;
  /** The readings of the last accepted frame of each key given. */
  lastReadings(kids: readonly string[]): Promise<Map<string, StoredReading[]>>;
  /**
   * Record version 2: the bytes of encrypted readings of each key's last accepted frame, for the
   * keys whose last frame has some (the console says "encrypted (N bytes)"). Optional: a backend
   * without `frames.encrypted` (store migration 5) leaves it out.
   */
  lastEncryptedBytes?(kids: readonly string[]): Promise<Map<string, number>>;
  replayWindows(kids: readonly string[]): Promise<ReplayWindowRow[]>;
  /** A device's rejected frames, newest first. */
  rejectedFrames(kids: readonly string[], limit: number): Promise<Array<Omit<StoredFrame, 'raw'>>>;
  frame(id: number): Promise<StoredFrame | undefined>;
  /** Frames of the 24 hours before `nowMs` by outcome, over the fleet (frames without a kid included). */
  outcomes24h(nowMs: number): Promise<Record<string, number>>;
  /** Device names by kid (every key of a named device). */
  names(): Promise<Map<string, string>>;
  /** Changes when the registry may have changed (a cached fleet is then counted again). */
  registryVersion(): Promise<string>;
}

const HOUR_MS = 3_600_000;

/** The first and last hour (`received_at / 3,600,000`) of the 24 hours before `nowMs`. */
export function dayHours(nowMs: number): { from: number; to: number } {
  return { from: Math.floor((nowMs - 24 * HOUR_MS) / HOUR_MS), to: Math.floor(nowMs / HOUR_MS) };
}

/** One key of the registry with its device, as the fleet reads them (FLEET_KEYS_SQL). */
export interface KeyRow {
  device_id: number;
  kid: string;
  state: string;
  name: string | null;
  dev_eui: string | null;
}

/** The registry's keys, each device's registered key first, else its latest (SQLite and PostgreSQL alike). */
export const FLEET_KEYS_SQL =
  "SELECT k.device_id, k.kid, k.state, d.name, d.dev_eui FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id ORDER BY d.id, k.state = 'registered' DESC, k.id DESC";

/** A stored frame's readings column (JSON tuples, store-frames.ts) as readings. */
export function parseReadings(json: string): StoredReading[] {
  return (JSON.parse(json) as ReadingTuple[]).map(([channel, name, value, unit, raw, age, at]) => ({ channel, name, value, unit, raw, age, at }));
}

/**
 * The fleet built from the registry's keys (FLEET_KEYS_SQL's order), then their replay windows
 * and their counts per outcome added by kid, whichever backend read them.
 */
export class FleetBuilder {
  private readonly byDevice = new Map<number, FleetDevice>();
  private readonly byKid = new Map<string, FleetDevice>();

  constructor(keys: Iterable<KeyRow>) {
    for (const k of keys) {
      let d = this.byDevice.get(k.device_id);
      if (d === undefined) {
        // The first key of a device is its registered one, else its latest (the ORDER BY).
        d = { kid: k.kid, kids: [], name: k.name, devEui: k.dev_eui, revoked: k.state !== 'registered', highestCounter: 0, lastSeen: null, accepted24h: 0, rejected24h: 0, byCode24h: {} };
        this.byDevice.set(k.device_id, d);
      }
      d.kids.push(k.kid);
      this.byKid.set(k.kid, d);
    }
  }

  /** A key's replay window: its highest counter, and its last change as last seen. */
  window(kid: string, highest: number, updatedAt: number): void {
    const d = this.byKid.get(kid);
    if (d === undefined) return;
    d.highestCounter = Math.max(d.highestCounter, highest);
    d.lastSeen = Math.max(d.lastSeen ?? 0, updatedAt);
  }

  /** `frames` frames of a key with `outcome`, the last at `last` (0: unknown). Keys of no device are left out. */
  count(kid: string, outcome: string, frames: number, last: number): void {
    const d = this.byKid.get(kid);
    if (d === undefined) return;
    if (last > 0 && (d.lastSeen === null || last > d.lastSeen)) d.lastSeen = last;
    if (outcome === 'ok') d.accepted24h += frames;
    else if (frames > 0) {
      d.rejected24h += frames;
      d.byCode24h[outcome] = (d.byCode24h[outcome] ?? 0) + frames;
    }
  }

  devices(): FleetDevice[] {
    return [...this.byDevice.values()];
  }
}

type ReadingTuple = [number, string, number, string, number, number, number | null];

/** One row of frame_hours: kid, outcome, frames, last_at. */
type HourRow = [string, string, number, number];

/** A key's counts over the hours summed so far. */
interface Tally {
  ok: number;
  byCode: Record<string, number>;
  /** ms since the epoch of its last frame in those hours (kept when an hour leaves the sum). */
  last: number;
}

/**
 * The last 24 hours of frame_hours, summed per key without reading them all each time: an hour
 * two or more hours old no longer changes, so it is read once, added to running totals, and
 * subtracted when it leaves the 24 hours; only the current and the previous hour (frames may be
 * dated a little back, by a network server's receive time) are read on every count. Counting
 * 10,000 devices then reads about 1/12 of the rows (bench/README.md#console-summary).
 */
class HourTotals {
  private readonly settled = new Map<number, HourRow[]>();
  private readonly totals = new Map<string, Tally>();

  constructor(private readonly read: (hour: number) => HourRow[]) {}

  /** Per key, the counts of hours `from` to `to` (inclusive). */
  sum(from: number, to: number): { totals: Map<string, Tally>; fresh: HourRow[] } {
    for (const [hour, rows] of this.settled) {
      if (hour >= from && hour <= to - 2) continue;
      this.settled.delete(hour);
      this.add(rows, -1);
    }
    for (let hour = from; hour <= to - 2; hour++) {
      if (this.settled.has(hour)) continue;
      const rows = this.read(hour);
      this.settled.set(hour, rows);
      this.add(rows, 1);
    }
    const fresh: HourRow[] = [];
    for (let hour = Math.max(from, to - 1); hour <= to; hour++) fresh.push(...this.read(hour));
    return { totals: this.totals, fresh };
  }

  private add(rows: readonly HourRow[], sign: 1 | -1): void {
    for (const [kid, outcome, frames, last] of rows) {
      let t = this.totals.get(kid);
      if (t === undefined) this.totals.set(kid, (t = { ok: 0, byCode: {}, last: 0 }));
      if (sign > 0 && last > t.last) t.last = last;
      if (outcome === 'ok') t.ok += sign * frames;
      else {
        const n = (t.byCode[outcome] ?? 0) + sign * frames;
        if (n === 0) delete t.byCode[outcome];
        else t.byCode[outcome] = n;
      }
    }
  }
}

export class SqliteConsoleQueries implements ConsoleQueries {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly hours: HourTotals;
  /** The registry's keys as last read, and the registry version they were read at. */
  private keys: { version: string; readAt: number; rows: KeyRow[] } | undefined;

  constructor(store: Store) {
    this.db = store.db;
    this.stmt = {
      keys: this.db.prepare<[], KeyRow>(FLEET_KEYS_SQL),
      hour: this.db.prepare<[number], HourRow>('SELECT kid, outcome, frames, last_at FROM frame_hours WHERE hour = ?').raw(),
      windows: this.db.prepare<[], { kid: string; highest: number; bitmap: string; updated_at: number }>('SELECT kid, highest, bitmap, updated_at FROM replay_windows'),
      lastAccepted: this.db.prepare<[string], { readings: string | null }>("SELECT readings FROM frames WHERE kid = ? AND outcome = 'ok' ORDER BY counter DESC LIMIT 1"),
      lastEncrypted: this.db.prepare<[string], { encrypted: number | null }>("SELECT encrypted FROM frames WHERE kid = ? AND outcome = 'ok' ORDER BY counter DESC LIMIT 1"),
      frame: this.db.prepare<[number], { id: number; received_at: number; source: string; outcome: string; kid: string | null; counter: number | null; detail: string | null; raw: Buffer }>(
        'SELECT id, received_at, source, outcome, kid, counter, detail, raw FROM frames WHERE id = ?',
      ),
      outcomes: this.db.prepare<[number], { outcome: string; n: number }>('SELECT outcome, sum(frames) AS n FROM frame_hours WHERE hour >= ? GROUP BY outcome'),
      registryVersion: this.db.prepare<[], { n: number; last: number | null }>('SELECT count(*) AS n, max(id) AS last FROM registry_keys'),
      names: this.db.prepare<[], { kid: string; name: string }>('SELECT k.kid, d.name FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id WHERE d.name IS NOT NULL'),
    };
    this.hours = new HourTotals((hour) => this.stmt.hour.all(hour));
  }

  async fleet(nowMs: number): Promise<FleetDevice[]> {
    const version = await this.registryVersion();
    // Read again at least every minute: a library caller may rename or revoke on this connection.
    if (this.keys?.version !== version || Date.now() - this.keys.readAt > 60_000) this.keys = { version, readAt: Date.now(), rows: this.stmt.keys.all() };
    const fleet = new FleetBuilder(this.keys.rows);
    for (const w of this.stmt.windows.iterate()) fleet.window(w.kid, w.highest, w.updated_at);
    const { from, to } = dayHours(nowMs);
    const { totals, fresh } = this.hours.sum(from, to);
    for (const [kid, t] of totals) {
      fleet.count(kid, 'ok', t.ok, t.last);
      for (const [code, n] of Object.entries(t.byCode)) fleet.count(kid, code, n, 0);
    }
    for (const [kid, outcome, frames, last] of fresh) fleet.count(kid, outcome, frames, last);
    return fleet.devices();
  }

  async lastReadings(kids: readonly string[]): Promise<Map<string, StoredReading[]>> {
    const out = new Map<string, StoredReading[]>();
    for (const kid of kids) {
      const row = this.stmt.lastAccepted.get(kid);
      if (row?.readings == null) continue;
      out.set(kid, parseReadings(row.readings));
    }
    return out;
  }

  async lastEncryptedBytes(kids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const kid of kids) {
      const bytes = this.stmt.lastEncrypted.get(kid)?.encrypted;
      if (bytes !== undefined && bytes !== null) out.set(kid, bytes);
    }
    return out;
  }

  async replayWindows(kids: readonly string[]): Promise<ReplayWindowRow[]> {
    if (kids.length === 0) return [];
    return this.db
      .prepare<string[], { kid: string; highest: number; bitmap: string; updated_at: number }>(`SELECT kid, highest, bitmap, updated_at FROM replay_windows WHERE kid IN (${kids.map(() => '?').join(', ')})`)
      .all(...kids)
      .map((w) => ({ kid: w.kid, highest: w.highest, bitmap: w.bitmap, updatedAt: w.updated_at }));
  }

  async rejectedFrames(kids: readonly string[], limit: number): Promise<Array<Omit<StoredFrame, 'raw'>>> {
    if (kids.length === 0) return [];
    return this.db
      .prepare<unknown[], { id: number; received_at: number; source: string; outcome: string; kid: string | null; counter: number | null; detail: string | null }>(
        `SELECT id, received_at, source, outcome, kid, counter, detail FROM frames WHERE kid IN (${kids.map(() => '?').join(', ')}) AND outcome != 'ok' ORDER BY id DESC LIMIT ?`,
      )
      .all(...kids, limit)
      .map((r) => ({ id: r.id, receivedAt: r.received_at, source: r.source, outcome: r.outcome, kid: r.kid, counter: r.counter, detail: r.detail }));
  }

  async frame(id: number): Promise<StoredFrame | undefined> {
    const r = this.stmt.frame.get(id);
    return r === undefined ? undefined : { id: r.id, receivedAt: r.received_at, source: r.source, outcome: r.outcome, kid: r.kid, counter: r.counter, detail: r.detail, raw: new Uint8Array(r.raw) };
  }

  async outcomes24h(nowMs: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.stmt.outcomes.iterate(dayHours(nowMs).from)) out[r.outcome] = r.n;
    return out;
  }

  /**
   * The gateway's own connection only adds keys (its API registers, never renames or revokes):
   * their count and last id say when; every other change comes from another connection (the
   * CLI), which SQLite's data_version tells. (A library caller that renames or revokes through
   * the gateway's own store is seen within a minute.)
   */
  async registryVersion(): Promise<string> {
    const r = this.stmt.registryVersion.get()!;
    return `${r.n}/${r.last ?? 0}/${String(this.db.pragma('data_version', { simple: true }))}`;
  }

  async names(): Promise<Map<string, string>> {
    return new Map(this.stmt.names.all().map((r) => [r.kid, r.name] as const));
  }
}
