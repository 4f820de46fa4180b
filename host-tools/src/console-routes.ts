/**
 * The web console (docs/integrators.md#console): its page and assets at `/` and `/console/...`,
 * served from host-tools/console/ with a strict Content-Security-Policy (scripts and styles
 * from the gateway only, nothing inline, no other origin), and its API under `/v1/console/`
 * behind the gateway's bearer token:
 *   GET /v1/console/summary                        tiles: frames per minute, 24 h by code, silent devices, health
 *   GET /v1/console/fleet?offset=&limit=&sort=&dir=&q=   one page of the fleet, sorted and filtered here
 *   GET /v1/console/live                           server-sent events: each committed batch of frames
 *   GET /v1/console/codes                          every verification code's meaning and explanation
 *   GET /v1/console/devices/:ref                   a device, its keys, replay windows and rejected frames
 *   GET /v1/console/devices/:ref/series?since=&until=   its readings per channel, in units
 *   GET /v1/console/devices/:ref/export?format=csv|json|senml&since=&until=   as `sceau export`
 *   GET /v1/console/frames/:id                     one frame: hex, CBOR diagnostic notation, record, verdict
 * Without a token the console answers only on loopback addresses, unless `consolePublic`.
 */
import type { OpenedStore } from './store-registry.js';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CODE_DOCS, cborDiagnostic, inspectFrame, toHex, VERIFICATION_CODES, type ChannelRegistry } from '@sceau/protocol';
import { ConsoleHub } from './console-hub.js';
import type { ConsoleQueries, FleetDevice } from './console-queries.js';
import { exportReadings, type ExportFormat } from './export.js';
import { HttpError, pathSegment, send } from './http-common.js';
import { registryQuery, sinceParam } from './gateway-read-routes.js';
import type { Ingestor } from './ingest.js';
import type { Metrics } from './metrics.js';

/** The store as the console reads it: whatever `exportReadings` takes (the console's export is `sceau export`'s). */
type ConsoleStore = OpenedStore;

/** The page's security headers: nothing inline, nothing from elsewhere, never framed. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/console/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

const FLEET_SORTS = ['name', 'kid', 'devEui', 'lastSeen', 'accepted24h', 'rejected24h', 'highestCounter', 'revoked'] as const;
type FleetSort = (typeof FLEET_SORTS)[number];

/** How long one count of the fleet serves the console's requests. */
const FLEET_CACHE_MS = 10_000;

/** Most readings one series request returns (all channels together). */
const MAX_SERIES_POINTS = 200_000;

export interface ConsoleOptions {
  store: ConsoleStore;
  queries: ConsoleQueries;
  ingestor: Ingestor;
  metrics: Metrics;
  channels: ChannelRegistry;
  /** The gateway requires a bearer token (then the console is served on every address). */
  tokenRequired: boolean;
  /** Serve the console on non-loopback addresses without a token (`--console-public`). */
  consolePublic?: boolean | undefined;
  /** Where the assets are (default: host-tools/console/). */
  assetsDir?: URL | undefined;
}

export interface GatewayConsole {
  readonly hub: ConsoleHub;
  /** Answers `/` and `/console/...`: false when the path is none of the console's assets. */
  serveAsset(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** Answers a GET under `/v1/console/` (the caller checked the token). */
  handleApi(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void>;
  close(): void;
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

/**
 * Whether the console answers a request that arrived on `localAddress`: always when the gateway
 * requires a token or was told `--console-public`, else only on a loopback address.
 */
export function consoleServed(localAddress: string | undefined, tokenRequired: boolean, consolePublic: boolean): boolean {
  return tokenRequired || consolePublic || isLoopback(localAddress);
}

/** A device as the fleet table shows it, with when it counts as silent. */
export interface FleetRow extends FleetDevice {
  /** Longer without a frame than 3 times its usual interval (24 h / frames accepted in 24 h), or a day when it sent fewer than 2. */
  silent: boolean;
}

function silentAt(d: FleetDevice, nowMs: number): boolean {
  if (d.lastSeen === null) return false;
  const usual = d.accepted24h >= 2 ? 86_400_000 / d.accepted24h : 86_400_000 / 3;
  return nowMs - d.lastSeen > 3 * usual;
}

function compareBy(sort: FleetSort): (a: FleetRow, b: FleetRow) => number {
  return (a, b) => {
    const x = a[sort];
    const y = b[sort];
    if (x === y) return a.kid < b.kid ? -1 : 1;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  };
}

export function createConsole(options: ConsoleOptions): GatewayConsole {
  const dir = options.assetsDir ?? new URL('../console/', import.meta.url);
  // Read once: the console is a few tens of kilobytes, served from memory.
  const assets = new Map(Object.entries(ASSETS).map(([path, a]) => [path, { body: readFileSync(new URL(a.file, dir)), type: a.type }] as const));
  const hub = new ConsoleHub({ names: () => options.queries.names() });
  const served = (req: IncomingMessage): boolean => consoleServed(req.socket.localAddress, options.tokenRequired, options.consolePublic === true);

  // Frames per minute from the metrics' total, sampled every 5 s over the last minute.
  const samples: Array<[number, number]> = [];
  const totalFrames = (): number => {
    let n = 0;
    for (const v of options.metrics.frames.values()) n += v;
    return n;
  };
  const sample = (): void => {
    const now = Date.now();
    samples.push([now, totalFrames()]);
    while (samples.length > 0 && now - samples[0]![0] > 65_000) samples.shift();
  };
  sample();
  const sampler = setInterval(sample, 5_000);
  sampler.unref();
  const framesPerMinute = (): number => {
    const now = Date.now();
    const first = samples[0]!;
    const span = Math.max(now - first[0], 1_000);
    return Math.round(((totalFrames() - first[1]) * 60_000) / span);
  };

  let fleetCache: { at: number; registry: string; rows: FleetRow[] } | undefined;
  const fleet = async (): Promise<FleetRow[]> => {
    const now = Date.now();
    const registry = await options.queries.registryVersion();
    // Counting 10,000 devices' last 24 h reads about 300,000 rows of frame_hours (bench/README.md#console-summary):
    // the pages, tiles and device views read within 10 s share one count.
    // A device registered meanwhile is counted at once.
    if (fleetCache !== undefined && now - fleetCache.at < FLEET_CACHE_MS && fleetCache.registry === registry) return fleetCache.rows;
    const rows = (await options.queries.fleet(now)).map((d) => ({ ...d, silent: silentAt(d, now) }));
    fleetCache = { at: now, registry, rows };
    return rows;
  };

  // Awaited: registry lookups and queries may be asynchronous (a backend on an asynchronous database).
  const deviceKids = async (ref: string): Promise<string[]> => await registryQuery(() => options.store.registry.kidsOf(ref), 404);

  async function handleApi(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
    if (!served(req)) throw new HttpError(404, 'console-not-served', 'the console is served on loopback addresses only, unless the gateway has a token (--token-file) or --console-public');
    if (req.method !== 'GET') throw new HttpError(405, 'method-not-allowed', 'use GET');
    const route = path.slice('/v1/console'.length);
    if (route === '/live') {
      hub.open(res);
      return;
    }
    if (route === '/summary') {
      const now = Date.now();
      const rows = await fleet();
      const writes = options.ingestor.writeState();
      let errors = 0;
      for (const v of options.metrics.errors.values()) errors += v;
      send(res, 200, {
        now,
        framesPerMinute: framesPerMinute(),
        outcomes24h: await options.queries.outcomes24h(now),
        devices: rows.length,
        silent: rows.filter((r) => r.silent).map((r) => ({ kid: r.kid, name: r.name, lastSeen: r.lastSeen })).slice(0, 50),
        silentCount: rows.filter((r) => r.silent).length,
        health: {
          store: (await options.store.health()) ?? 'ok',
          writable: writes.writable,
          ...(writes.writable ? {} : { writesRefusedSince: new Date(writes.since).toISOString(), held: writes.held }),
          inFlight: options.metrics.inFlight,
          storeBatches: options.metrics.storeBatches,
          storeFailures: options.metrics.storeFailures,
          duplicates: options.metrics.duplicateDeliveries(),
          refused: errors,
        },
      });
      return;
    }
    if (route === '/fleet') {
      const sort = (url.searchParams.get('sort') ?? 'name') as FleetSort;
      if (!FLEET_SORTS.includes(sort)) throw new HttpError(400, 'bad-query', `sort: expected one of ${FLEET_SORTS.join(', ')}`);
      const dir = url.searchParams.get('dir') === 'desc' ? -1 : 1;
      const offset = intParam(url, 'offset', 0, 0, 10_000_000);
      const limit = intParam(url, 'limit', 200, 1, 1_000);
      const q = (url.searchParams.get('q') ?? '').trim().toLowerCase();
      let rows = await fleet();
      if (q !== '') rows = rows.filter((r) => r.kids.some((k) => k.includes(q)) || (r.name ?? '').toLowerCase().includes(q) || (r.devEui ?? '').includes(q) || (q === 'silent' && r.silent) || (q === 'revoked' && r.revoked));
      const compare = compareBy(sort);
      rows = [...rows].sort((a, b) => dir * compare(a, b));
      const page = rows.slice(offset, offset + limit);
      const readings = await options.queries.lastReadings(page.map((r) => r.kid));
      const encrypted = (await options.queries.lastEncryptedBytes?.(page.map((r) => r.kid))) ?? new Map<string, number>();
      send(res, 200, {
        total: rows.length,
        offset,
        devices: page.map((r) => ({ ...r, lastReadings: (readings.get(r.kid) ?? []).map((x) => ({ channel: x.channel, name: x.name, value: x.value, unit: x.unit })), lastEncryptedBytes: encrypted.get(r.kid) ?? null })),
      });
      return;
    }
    if (route === '/codes') {
      send(res, 200, { codes: VERIFICATION_CODES.map((code) => ({ code, ...CODE_DOCS[code], doc: `docs/protocol.md#code-${code}` })) });
      return;
    }
    const frame = /^\/frames\/(\d{1,15})$/.exec(route);
    if (frame !== null) {
      const f = await options.queries.frame(Number(frame[1]));
      if (f === undefined) throw new HttpError(404, 'unknown-frame', `no frame ${frame[1]}`);
      const diagnostic = cborDiagnostic(f.raw, { embedded: true });
      const names = f.kid === null ? undefined : await options.queries.names();
      send(res, 200, {
        id: f.id,
        receivedAt: new Date(f.receivedAt).toISOString(),
        source: f.source,
        outcome: f.outcome,
        detail: f.detail,
        kid: f.kid,
        name: f.kid === null ? null : (names?.get(f.kid) ?? null),
        counter: f.counter,
        bytes: f.raw.length,
        hex: toHex(f.raw),
        diagnostic: diagnostic.ok ? diagnostic.text : null,
        diagnosticError: diagnostic.ok ? null : diagnostic.detail,
        decoded: inspectFrame(f.raw, options.channels),
      });
      return;
    }
    const device = /^\/devices\/([^/]+)(\/series|\/export)?$/.exec(route);
    if (device !== null) {
      const ref = pathSegment(device[1]!);
      const found = await registryQuery(() => options.store.registry.show(ref), 404);
      const kids = await deviceKids(ref);
      const since = sinceParam(url.searchParams.get('since'));
      const until = sinceParam(url.searchParams.get('until'));
      if (device[2] === '/series') {
        const series = new Map<number, { channel: number; name: string; unit: string; t: number[]; v: number[] }>();
        let points = 0;
        let truncated = false;
        for await (const r of options.store.iterateReadings({ kids, since, until })) {
          if (r.at === null) continue;
          if (points >= MAX_SERIES_POINTS) {
            truncated = true;
            break;
          }
          let s = series.get(r.channel);
          if (s === undefined) series.set(r.channel, (s = { channel: r.channel, name: r.name, unit: r.unit, t: [], v: [] }));
          s.t.push(r.at);
          s.v.push(r.value);
          points++;
        }
        send(res, 200, { kid: found.kid, since: since ?? null, until: until ?? null, points, truncated, channels: [...series.values()].sort((a, b) => a.channel - b.channel) });
        return;
      }
      if (device[2] === '/export') {
        const format = url.searchParams.get('format') ?? 'csv';
        const types: Record<string, string> = { csv: 'text/csv; charset=utf-8', json: 'application/json; charset=utf-8', senml: 'application/senml+json' };
        if (types[format] === undefined) throw new HttpError(400, 'bad-query', 'format: expected csv, json or senml');
        res.writeHead(200, { 'content-type': types[format]!, 'content-disposition': `attachment; filename="${found.kid}.${format === 'senml' ? 'senml.json' : format}"`, 'cache-control': 'no-store' });
        await exportReadings(options.store, format as ExportFormat, { kids, since, until }, res, options.channels);
        res.end();
        return;
      }
      const [windows, rejected, rows] = await Promise.all([options.queries.replayWindows(kids), options.queries.rejectedFrames(kids, 100), fleet()]);
      const row = rows.find((r) => r.kids.includes(found.kid));
      send(res, 200, {
        device: found,
        kids,
        stats: row ?? null,
        windows,
        highestCounter: windows.reduce((n, w) => Math.max(n, w.highest), 0),
        rejected: rejected.map((f) => ({ ...f, receivedAt: new Date(f.receivedAt).toISOString() })),
      });
      return;
    }
    throw new HttpError(404, 'not-found', `no route GET ${path}`);
  }

  return {
    hub,
    serveAsset(req, res, path) {
      const asset = assets.get(path);
      if (asset === undefined) return false;
      if (!served(req)) throw new HttpError(404, 'console-not-served', 'the console is served on loopback addresses only, unless the gateway has a token (--token-file) or --console-public');
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method-not-allowed', 'use GET');
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': asset.body.length,
        'content-security-policy': CONSOLE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return true;
    },
    handleApi,
    close: () => {
      clearInterval(sampler);
      hub.close();
    },
  };
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const value = url.searchParams.get(name);
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, 'bad-query', `${name}: expected an integer in ${min}..${max}`);
  return n;
}
