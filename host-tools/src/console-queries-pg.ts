/**
 * The console's queries (console-queries.ts) against PostgreSQL (`PgStore`). The fleet's last
 * 24 hours are summed by the server from `frame_hours` (schema version 4's PostgreSQL form): the
 * query runs in the database, so unlike SQLite it never holds the gateway's event loop; the
 * gateway only turns one row per key and outcome into the fleet. The registry version is
 * meta's `registry_version`, bumped by a trigger on every registry change from any instance or
 * tool (schema version 3).
 */
import type pg from 'pg';
import type { StoredReading } from './store-interface.js';
import { dayHours, FLEET_KEYS_SQL, FleetBuilder, parseReadings, type ConsoleQueries, type FleetDevice, type KeyRow, type ReplayWindowRow, type StoredFrame } from './console-queries.js';

interface FrameDbRow {
  id: number;
  received_at: number;
  source: string;
  outcome: string;
  kid: string | null;
  counter: number | null;
  detail: string | null;
}

const frameOf = (r: FrameDbRow): Omit<StoredFrame, 'raw'> => ({ id: r.id, receivedAt: r.received_at, source: r.source, outcome: r.outcome, kid: r.kid, counter: r.counter, detail: r.detail });

export class PgConsoleQueries implements ConsoleQueries {
  /** The registry's keys as last read, and the registry version they were read at. */
  private keys: { version: string; rows: KeyRow[] } | undefined;

  constructor(private readonly pool: pg.Pool) {}

  async fleet(nowMs: number): Promise<FleetDevice[]> {
    const version = await this.registryVersion();
    if (this.keys?.version !== version) this.keys = { version, rows: (await this.pool.query<KeyRow>(FLEET_KEYS_SQL)).rows };
    const fleet = new FleetBuilder(this.keys.rows);
    for (const w of (await this.pool.query<{ kid: string; highest: number; updated_at: number }>('SELECT kid, highest, updated_at FROM replay_windows')).rows) fleet.window(w.kid, w.highest, w.updated_at);
    const { from, to } = dayHours(nowMs);
    const counts = await this.pool.query<{ kid: string; outcome: string; frames: number; last_at: number }>(
      'SELECT kid, outcome, sum(frames)::bigint AS frames, max(last_at) AS last_at FROM frame_hours WHERE hour BETWEEN $1 AND $2 GROUP BY kid, outcome',
      [from, to],
    );
    for (const c of counts.rows) fleet.count(c.kid, c.outcome, c.frames, c.last_at);
    return fleet.devices();
  }

  async lastReadings(kids: readonly string[]): Promise<Map<string, StoredReading[]>> {
    const out = new Map<string, StoredReading[]>();
    if (kids.length === 0) return out;
    const rows = await this.pool.query<{ kid: string; readings: string | null }>(
      "SELECT DISTINCT ON (kid) kid, readings FROM frames WHERE kid = ANY($1) AND outcome = 'ok' ORDER BY kid, counter DESC",
      [kids],
    );
    for (const r of rows.rows) if (r.readings != null) out.set(r.kid, parseReadings(r.readings));
    return out;
  }

  async lastEncryptedBytes(kids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (kids.length === 0) return out;
    const rows = await this.pool.query<{ kid: string; encrypted: number | null }>(
      "SELECT DISTINCT ON (kid) kid, encrypted FROM frames WHERE kid = ANY($1) AND outcome = 'ok' ORDER BY kid, counter DESC",
      [kids],
    );
    for (const r of rows.rows) if (r.encrypted !== null) out.set(r.kid, Number(r.encrypted));
    return out;
  }

  async replayWindows(kids: readonly string[]): Promise<ReplayWindowRow[]> {
    if (kids.length === 0) return [];
    const rows = await this.pool.query<{ kid: string; highest: number; bitmap: string; updated_at: number }>('SELECT kid, highest, bitmap, updated_at FROM replay_windows WHERE kid = ANY($1)', [kids]);
    return rows.rows.map((w) => ({ kid: w.kid, highest: w.highest, bitmap: w.bitmap, updatedAt: w.updated_at }));
  }

  async rejectedFrames(kids: readonly string[], limit: number): Promise<Array<Omit<StoredFrame, 'raw'>>> {
    if (kids.length === 0) return [];
    const rows = await this.pool.query<FrameDbRow>("SELECT id, received_at, source, outcome, kid, counter, detail FROM frames WHERE kid = ANY($1) AND outcome != 'ok' ORDER BY id DESC LIMIT $2", [kids, limit]);
    return rows.rows.map(frameOf);
  }

  async frame(id: number): Promise<StoredFrame | undefined> {
    const r = (await this.pool.query<FrameDbRow & { raw: Buffer }>('SELECT id, received_at, source, outcome, kid, counter, detail, raw FROM frames WHERE id = $1', [id])).rows[0];
    return r === undefined ? undefined : { ...frameOf(r), raw: new Uint8Array(r.raw) };
  }

  async outcomes24h(nowMs: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const rows = await this.pool.query<{ outcome: string; n: number }>('SELECT outcome, sum(frames)::bigint AS n FROM frame_hours WHERE hour >= $1 GROUP BY outcome', [dayHours(nowMs).from]);
    for (const r of rows.rows) out[r.outcome] = r.n;
    return out;
  }

  async names(): Promise<Map<string, string>> {
    const rows = await this.pool.query<{ kid: string; name: string }>('SELECT k.kid, d.name FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id WHERE d.name IS NOT NULL');
    return new Map(rows.rows.map((r) => [r.kid, r.name] as const));
  }

  async registryVersion(): Promise<string> {
    return (await this.pool.query<{ value: string }>("SELECT value FROM meta WHERE key = 'registry_version'")).rows[0]?.value ?? '';
  }
}
