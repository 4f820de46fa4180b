/**
 * What the console asks the store beyond the read API (store-interface.ts's QueryStore): the
 * fleet with its last 24 hours by code (from `frame_hours`, schema version 5), a device's replay
 * windows and rejected frames, one frame with its bytes, and kid-to-name lookups for the live
 * feed. Asynchronous like QueryStore, so a backend on an asynchronous database implements the
 * same interface; `SqliteConsoleQueries` answers from the SQLite store.
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
  replayWindows(kids: readonly string[]): Promise<ReplayWindowRow[]>;
  /** A device's rejected frames, newest first. */
  rejectedFrames(kids: readonly string[], limit: number): Promise<Array<Omit<StoredFrame, 'raw'>>>;
  frame(id: number): Promise<StoredFrame | undefined>;
  /** Frames of the 24 hours before `nowMs` by outcome, over the fleet (frames without a kid included). */
  outcomes24h(nowMs: number): Promise<Record<string, number>>;
  /** Device names by kid (every key of a named device). */
  names(): Promise<Map<string, string>>;
  /** Changes when a key is added to the registry (a cached fleet is then counted again). */
  registryVersion(): Promise<string>;
}

const HOUR_MS = 3_600_000;

type ReadingTuple = [number, string, number, string, number, number, number | null];

export class SqliteConsoleQueries implements ConsoleQueries {
  private readonly db: Database.Database;
  private readonly stmt;

  constructor(store: Store) {
    this.db = store.db;
    this.stmt = {
      keys: this.db.prepare<[], { device_id: number; kid: string; state: string; name: string | null; dev_eui: string | null }>(
        "SELECT k.device_id, k.kid, k.state, d.name, d.dev_eui FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id ORDER BY d.id, k.state = 'registered' DESC, k.id DESC",
      ),
      hours: this.db.prepare<[number], { kid: string; outcome: string; frames: number; last_at: number }>('SELECT kid, outcome, sum(frames) AS frames, max(last_at) AS last_at FROM frame_hours WHERE hour >= ? GROUP BY kid, outcome'),
      windows: this.db.prepare<[], { kid: string; highest: number; bitmap: string; updated_at: number }>('SELECT kid, highest, bitmap, updated_at FROM replay_windows'),
      lastAccepted: this.db.prepare<[string], { readings: string | null }>("SELECT readings FROM frames WHERE kid = ? AND outcome = 'ok' ORDER BY counter DESC LIMIT 1"),
      frame: this.db.prepare<[number], { id: number; received_at: number; source: string; outcome: string; kid: string | null; counter: number | null; detail: string | null; raw: Buffer }>(
        'SELECT id, received_at, source, outcome, kid, counter, detail, raw FROM frames WHERE id = ?',
      ),
      outcomes: this.db.prepare<[number], { outcome: string; n: number }>('SELECT outcome, sum(frames) AS n FROM frame_hours WHERE hour >= ? GROUP BY outcome'),
      registryVersion: this.db.prepare<[], { n: number; last: number | null }>('SELECT count(*) AS n, max(id) AS last FROM registry_keys'),
      names: this.db.prepare<[], { kid: string; name: string }>('SELECT k.kid, d.name FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id WHERE d.name IS NOT NULL'),
    };
  }

  async fleet(nowMs: number): Promise<FleetDevice[]> {
    const devices = new Map<number, FleetDevice>();
    const byKid = new Map<string, FleetDevice>();
    for (const k of this.stmt.keys.iterate()) {
      let d = devices.get(k.device_id);
      if (d === undefined) {
        // The first key of a device is its registered one, else its latest (the ORDER BY).
        d = { kid: k.kid, kids: [], name: k.name, devEui: k.dev_eui, revoked: k.state !== 'registered', highestCounter: 0, lastSeen: null, accepted24h: 0, rejected24h: 0, byCode24h: {} };
        devices.set(k.device_id, d);
      }
      d.kids.push(k.kid);
      byKid.set(k.kid, d);
    }
    for (const w of this.stmt.windows.iterate()) {
      const d = byKid.get(w.kid);
      if (d === undefined) continue;
      d.highestCounter = Math.max(d.highestCounter, w.highest);
      d.lastSeen = Math.max(d.lastSeen ?? 0, w.updated_at);
    }
    for (const r of this.stmt.hours.iterate(Math.floor((nowMs - 24 * HOUR_MS) / HOUR_MS))) {
      const d = byKid.get(r.kid);
      if (d === undefined) continue;
      if (d.lastSeen === null || r.last_at > d.lastSeen) d.lastSeen = r.last_at;
      if (r.outcome === 'ok') d.accepted24h += r.frames;
      else {
        d.rejected24h += r.frames;
        d.byCode24h[r.outcome] = (d.byCode24h[r.outcome] ?? 0) + r.frames;
      }
    }
    return [...devices.values()];
  }

  async lastReadings(kids: readonly string[]): Promise<Map<string, StoredReading[]>> {
    const out = new Map<string, StoredReading[]>();
    for (const kid of kids) {
      const row = this.stmt.lastAccepted.get(kid);
      if (row?.readings == null) continue;
      out.set(kid, (JSON.parse(row.readings) as ReadingTuple[]).map(([channel, name, value, unit, raw, age, at]) => ({ channel, name, value, unit, raw, age, at })));
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
    for (const r of this.stmt.outcomes.iterate(Math.floor((nowMs - 24 * HOUR_MS) / HOUR_MS))) out[r.outcome] = r.n;
    return out;
  }

  async registryVersion(): Promise<string> {
    const r = this.stmt.registryVersion.get()!;
    return `${r.n}/${r.last ?? 0}`;
  }

  async names(): Promise<Map<string, string>> {
    return new Map(this.stmt.names.all().map((r) => [r.kid, r.name] as const));
  }
}
