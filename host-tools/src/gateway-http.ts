/**
 * The gateway's HTTP API (node:http):
 *   POST /v1/frames               raw frame or fragment (application/cose, application/octet-stream, application/cbor; ?devEui=)
 *                                 or JSON { "frame": base64|hex, "devEui"? } or { "frames": [...] }
 *   POST /v1/uplinks/tts          The Things Stack v3 webhook (uplink message)
 *   POST /v1/uplinks/chirpstack   ChirpStack v4 HTTP integration (?event=up; other events are acknowledged and ignored)
 *   POST /v1/devices              register a device: JSON { "publicKey": hex, "name"?, "devEui"? }, or
 *                                 { "devices": [...] } in one transaction; idempotent: 201 created,
 *                                 200 the same registration again, 409 a different one (the differences listed)
 *   GET  /v1/devices, /v1/devices/:ref, /v1/devices/:ref/readings?since=&limit=
 *   GET  /v1/frames?kid=&since=&outcome=&after=&limit=
 *        (ref and kid: a kid, a DevEUI or a name, as everywhere; an unknown one is 404 in the
 *        path, 400 in the query, as is an unknown outcome code)
 *   GET  /metrics (Prometheus text), GET /healthz
 *   GET  /, /console/..., /v1/console/...: the web console (console-routes.ts)
 * A 2xx on ingest means the frame is durably stored (accepted or not: the body says which).
 * 4xx means nothing was stored; 503 means it could not be stored now (retry).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { devEuiDeviceId, parseDevEui } from './device-identity.js';
import { decodeText, looksBinary, parseChirpstackUplink, parseFrameObject, parseTtsUplink } from './formats.js';
import { readChirpstackRadio, readTtsRadio, type RadioMetadata } from './radio-metadata.js';
import { isRefusal, NotStoredError, type Ingestor, type IngestResult } from './ingest.js';
import type { LinkStatus, Metrics } from './metrics.js';
import { StoreError } from './store-errors.js';
import { HttpError, registryHttpStatus, send } from './http-common.js';
import { handleReadRoute } from './gateway-read-routes.js';
import type { GatewayConsole } from './console-routes.js';
import { RegistryError, registryErrorBody, type Registration } from './device-registry.js';
import type { OpenedStore } from './store-registry.js';
import type { DatagramIntake, DatagramMeta } from './datagram-intake.js';

export interface HttpApiOptions {
  store: OpenedStore;
  ingestor: Ingestor;
  metrics: Metrics;
  /** Bearer token required on /v1/ routes when set. */
  token?: string | undefined;
  /** Largest request body in bytes (default 524,288: a batch of 1,000 frames of up to 380 bytes in base64). */
  maxBodyBytes?: number;
  /** The request line and headers must arrive within this, in ms (default 10,000). */
  headersTimeoutMs?: number;
  /** The whole request, body included, must arrive within this, in ms (default 30,000). */
  requestTimeoutMs?: number;
  /** Open connections at once (default 256); more are closed on arrival and counted `connection-limit`. */
  maxConnections?: number;
  /** Most frames in one `{ "frames": [...] }` request (default 1,000). */
  maxBatch?: number;
  renderMetrics: () => string;
  log: (message: string) => void;
  /** The web console, served at `/` (console-routes.ts); none when undefined. */
  console?: GatewayConsole | undefined;
  /** Reassembles LoRaWAN fragments (no sender hint), keyed by the network server's device id. */
  /** The gateway's one datagram intake (datagram-intake.ts): reassembles, counts and submits, as for UDP and TCP. */
  intake: DatagramIntake;
  /** Read the radio metadata of network-server uplinks and store it with their frames (default false: never read). */
  keepRadioMetadata?: boolean | undefined;
}

const RAW_TYPES = new Set(['application/cose', 'application/octet-stream', 'application/cbor', 'application/cose; cose-type="cose-sign1"']);

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new HttpError(413, 'body-too-large', `request body of ${declared} bytes, the limit is ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(new HttpError(413, 'body-too-large', `request body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    req.on('error', (error) => {
      if (!done) {
        done = true;
        reject(new HttpError(400, 'aborted', error.message));
      }
    });
  });
}

/** Defaults of the HTTP listener (docs/integrators.md#limits). */
export const DEFAULT_MAX_BODY_BYTES = 512 * 1024;
export const DEFAULT_MAX_BATCH = 1000;
export const DEFAULT_HTTP_MAX_CONNECTIONS = 256;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The body as JSON. The parser's own message quotes the input, which for a binary body (a
 * ChirpStack integration left on Protobuf) is garbage echoed back: the error says where, never what.
 */
function parseJson(body: Buffer, chirpstack = false): unknown {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    const first = text.trimStart().charAt(0);
    const binary = looksBinary(body);
    if (chirpstack && binary) throw new HttpError(415, 'chirpstack-protobuf', "the body is not JSON but binary (ChirpStack's Protobuf encoding?): set the integration's encoding to JSON");
    if (binary) throw new HttpError(400, 'malformed-json', `malformed JSON: the body of ${body.length} bytes is binary, not JSON text`);
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new HttpError(400, 'malformed-json', `malformed JSON${at === undefined ? '' : ` at byte ${at}`}${first === '{' || first === '[' ? '' : ': a JSON object was expected'}`);
  }
}

/** The links for /healthz, and the first that is down (`mqtt-offline`); undefined without links. */
function linkReport(links: ReadonlyMap<string, LinkStatus>): { down: string | undefined; report: Record<string, unknown> } | undefined {
  if (links.size === 0) return undefined;
  let down: string | undefined;
  const report: Record<string, unknown> = {};
  for (const [name, link] of links) {
    if (!link.up) down ??= `${name}-${link.state}`;
    report[name] = { up: link.up, state: link.state, since: new Date(link.since).toISOString(), connects: link.connects, disconnects: link.disconnects, ...(link.detail === undefined ? {} : { detail: link.detail }), ...link.info };
  }
  return { down, report };
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** One registration of a `POST /v1/devices` body: the CLI's `devices add` fields. */
function registrationEntry(value: unknown, where: string): { where: string; publicKey: Uint8Array; name?: string; devEui?: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'bad-registration', `${where}: expected an object { publicKey, name?, devEui? }`);
  const { publicKey, name, devEui } = value as Record<string, unknown>;
  if (typeof publicKey !== 'string' || !/^[0-9a-fA-F]{64}$/.test(publicKey)) throw new HttpError(400, 'bad-registration', `${where}.publicKey: expected 64 hex characters`);
  if (name !== undefined && typeof name !== 'string') throw new HttpError(400, 'bad-registration', `${where}.name: expected a string`);
  if (devEui !== undefined && typeof devEui !== 'string') throw new HttpError(400, 'bad-registration', `${where}.devEui: expected a string`);
  return { where, publicKey: new Uint8Array(Buffer.from(publicKey, 'hex')), ...(name === undefined ? {} : { name }), ...(devEui === undefined ? {} : { devEui }) };
}

/**
 * `POST /v1/devices`, as `sceau devices add` (device-registry.ts): the same registration again
 * is no change (200), a new one is 201, a different one is refused (409 with the differences)
 * and never applied: the gateway's API has no `--update`. A list is registered in one
 * transaction, all or nothing.
 */
async function registerDevices(store: OpenedStore, body: unknown): Promise<{ status: number; body: unknown }> {
  const list = body !== null && typeof body === 'object' && Array.isArray((body as { devices?: unknown }).devices) ? (body as { devices: unknown[] }).devices : undefined;
  try {
    if (list === undefined) {
      const entry = registrationEntry(body, 'body');
      const r = await store.registry.register(entry.publicKey, entry);
      return { status: r.result === 'created' ? 201 : 200, body: registrationBody(r) };
    }
    const results = await store.registry.registerMany(list.map((e, i) => registrationEntry(e, `devices[${i}]`)));
    return { status: results.some((r) => r.result === 'created') ? 201 : 200, body: { results: results.map(registrationBody) } };
  } catch (error) {
    if (error instanceof RegistryError) return { status: registryHttpStatus(error), body: registryErrorBody(error) };
    throw error;
  }
}

function registrationBody(r: Registration): Record<string, unknown> {
  return { ...r.device, result: r.result, ...(r.counterFloor === undefined ? {} : { counterFloor: r.counterFloor }) };
}

function publicResult<T extends IngestResult | RefusedFrame>(r: T): T {
  return r;
}

type RefusalCode = 'too-large' | 'malformed-cbor' | 'key-erased';

/** The answer for a frame refused unstored (docs/protocol.md#floods, docs/privacy.md#erasure): a code, and `stored: false`. */
interface RefusedFrame {
  ok: false;
  error: RefusalCode;
  code: RefusalCode;
  detail: string;
  doc: string;
  stored: false;
}

function refusedFrame(code: RefusalCode, detail: string): RefusedFrame {
  return { ok: false, error: code, code, detail, doc: code === 'key-erased' ? 'docs/privacy.md#erasure' : `docs/protocol.md#code-${code}`, stored: false };
}

/** HTTP status of a refused frame: 413 too large, 410 a frame of an erased key (gone for good), 400 garbage. */
const REFUSAL_STATUS: Record<RefusalCode, number> = { 'too-large': 413, 'key-erased': 410, 'malformed-cbor': 400 };

export function createHttpApi(options: HttpApiOptions): Server {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const expected = options.token === undefined ? undefined : createHash('sha256').update(options.token).digest();

  const authorized = (req: IncomingMessage): boolean => {
    if (expected === undefined) return true;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match === null) return false;
    return timingSafeEqual(createHash('sha256').update(match[1]!.trim()).digest(), expected);
  };

  /**
   * Every frame of a batch, one promise for all (not one per frame: a batch is where the gateway
   * is busiest): their results in order once all are stored, or the first failure (the others are
   * stored all the same, as each frame stands alone).
   */
  const ingestAll = (items: ReadonlyArray<{ frame: Uint8Array; deviceId?: string | undefined }>, source: string): Promise<Array<IngestResult | RefusedFrame>> =>
    new Promise((resolve, reject) => {
      const results = new Array<IngestResult | RefusedFrame>(items.length);
      let left = items.length;
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      if (left === 0) resolve(results);
      items.forEach((item, i) => {
        const stored = (result: IngestResult | RefusedFrame): void => {
          results[i] = result;
          if (--left === 0 && !settled) resolve(results);
        };
        // A garbage or oversized frame of a batch is refused alone: the others are stored and
        // answered, so the batch's answer stays 200 with that frame's refusal in its place.
        const failed = (error: NotStoredError): void => {
          if (!isRefusal(error.reason)) return fail(error);
          options.metrics.countError(error.reason, 'http');
          stored(refusedFrame(error.reason, error.message));
        };
        try {
          options.ingestor.submit(item.frame, { source, deviceId: item.deviceId }, failed, stored);
        } catch (error) {
          fail(error);
        }
      });
    });

  /**
   * One datagram (a whole frame, or a fragment: docs/protocol.md#fragments) through the gateway's
   * shared intake: the stored result, or undefined once answered 202 (a fragment, more to come,
   * or one already held); an invalid fragment is a 400. Refusals and failures reject.
   */
  const intakeOne = (res: ServerResponse, datagram: Uint8Array, meta: DatagramMeta): Promise<IngestResult | undefined> =>
    new Promise((resolve, reject) => {
      const pushed = options.intake(datagram, meta, reject, resolve);
      if (pushed.kind === 'invalid') reject(new HttpError(400, 'invalid-fragment', pushed.detail));
      else if (pushed.kind !== 'frame') {
        send(res, 202, { fragment: pushed.kind });
        resolve(undefined);
      }
    });

  /** Answers one datagram: 200 with its stored result (`sceau-outcome` header), or the 202 of a fragment. */
  const answerOne = async (res: ServerResponse, datagram: Uint8Array, meta: DatagramMeta): Promise<void> => {
    const result = await intakeOne(res, datagram, meta);
    if (result !== undefined) send(res, 200, publicResult(result), { 'sceau-outcome': result.code });
  };

  /** An uplink's radio metadata, read only with `keepRadioMetadata`; its malformed parts are counted, never refused. */
  const uplinkRadio = (tts: boolean, value: unknown): RadioMetadata | undefined => {
    if (options.keepRadioMetadata !== true) return undefined;
    const read = tts ? readTtsRadio(value) : readChirpstackRadio(value);
    options.metrics.countRadioIgnored('http', read.ignored);
    return read.radio;
  };

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;

    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method-not-allowed', 'use GET');
      // From memory: a database locked by another connection must not hold this answer.
      const writes = options.ingestor.writeState();
      if (!writes.writable) {
        send(res, 503, { ok: false, degraded: 'store-unavailable', since: new Date(writes.since).toISOString(), held: writes.held, detail: `writes are failing: ${writes.detail}` }, { 'retry-after': '1' });
        return;
      }
      const unhealthy = options.store.health();
      if (unhealthy !== undefined) {
        send(res, 503, { ok: false, detail: unhealthy });
        return;
      }
      // Links to servers (MQTT): a link that is down means input is not being taken.
      const links = linkReport(options.metrics.links);
      if (links === undefined) send(res, 200, { ok: true });
      else if (links.down !== undefined) send(res, 503, { ok: false, degraded: links.down, links: links.report }, { 'retry-after': '1' });
      else send(res, 200, { ok: true, links: links.report });
      return;
    }
    if (path === '/metrics') {
      if (req.method !== 'GET') throw new HttpError(405, 'method-not-allowed', 'use GET');
      send(res, 200, options.renderMetrics());
      return;
    }
    if (options.console?.serveAsset(req, res, path) === true) return;
    if (!path.startsWith('/v1/')) throw new HttpError(404, 'not-found', `no route ${path}`);
    if (!authorized(req)) throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token');

    if (req.method === 'POST') {
      // Writes are refused while another connection holds the lock: answer before reading the body.
      const writes = options.ingestor.writeState();
      if (!writes.writable) throw new NotStoredError(`database locked by another connection since ${new Date(writes.since).toISOString()}: ${writes.detail}`, 'store-unavailable');
      if (path === '/v1/frames') {
        const body = await readBody(req, maxBody);
        const type = mediaType(req);
        if (RAW_TYPES.has(type)) {
          if (body.length === 0) throw new HttpError(400, 'empty-body', 'empty body: expected a frame');
          // `?devEui=` left empty (a template filled with nothing) names no device, as before.
          const given = url.searchParams.get('devEui') || undefined;
          const eui = given === undefined ? undefined : parseDevEui(given);
          if (given !== undefined && eui === undefined) throw new HttpError(400, 'bad-query', `devEui=${JSON.stringify(given)}: not a DevEUI (16 hex digits)`);
          const deviceId = eui === undefined ? undefined : devEuiDeviceId(eui);
          // A fragment: named by `?devEui=`, else by the sender hint it carries (links without sender identity).
          const origin = req.socket.remoteAddress ?? peer;
          await answerOne(res, new Uint8Array(body), { hinted: deviceId === undefined, key: deviceId ?? origin, origin: deviceId ?? origin, ingest: { source: `http:${peer}`, deviceId } });
          return;
        }
        if (type === 'application/json') {
          const value = parseJson(body);
          if (value !== null && typeof value === 'object' && Array.isArray((value as { frames?: unknown }).frames)) {
            const list = (value as { frames: unknown[] }).frames;
            if (list.length > maxBatch) throw new HttpError(413, 'batch-too-large', `${list.length} frames in one request, the limit is ${maxBatch}`);
            const items = list.map((item) => parseFrameObject(typeof item === 'string' ? { frame: item } : item));
            const bad = items.findIndex((i) => 'ignored' in i || !i.ok);
            if (bad >= 0) {
              const item = items[bad]!;
              throw new HttpError(400, 'bad-frame-field', `frames[${bad}]: ${'error' in item ? item.error : 'not a frame'}`);
            }
            const results = await ingestAll(items as Array<{ frame: Uint8Array; deviceId?: string }>, `http:${peer}`);
            send(res, 200, { results: results.map(publicResult) });
            return;
          }
          const parsed = parseFrameObject(value);
          if ('ignored' in parsed || !parsed.ok) throw new HttpError(400, 'bad-frame-field', 'error' in parsed ? parsed.error : 'not a frame');
          const origin = req.socket.remoteAddress ?? peer;
          const key = parsed.deviceId ?? origin;
          await answerOne(res, parsed.frame, { hinted: parsed.deviceId === undefined, key, origin: key, ingest: { source: `http:${peer}`, deviceId: parsed.deviceId } });
          return;
        }
        throw new HttpError(415, 'unsupported-media-type', `content-type ${JSON.stringify(type)}: expected application/cose, application/octet-stream or application/json`);
      }
      if (path === '/v1/uplinks/tts' || path === '/v1/uplinks/chirpstack') {
        const tts = path.endsWith('tts');
        const event = url.searchParams.get('event');
        const body = await readBody(req, maxBody);
        const value = parseJson(body, !tts);
        if (!tts && event !== null && event !== 'up') {
          send(res, 204, '');
          return;
        }
        const parsed = tts ? parseTtsUplink(value) : parseChirpstackUplink(value);
        if ('ignored' in parsed) {
          send(res, 202, { ignored: parsed.ignored });
          return;
        }
        if (!parsed.ok) throw new HttpError(400, 'bad-uplink', parsed.error);
        // A fragment: the network server names the device.
        const meta = { hinted: false, key: parsed.deviceId ?? peer, origin: parsed.deviceId ?? req.socket.remoteAddress ?? peer, radio: uplinkRadio(tts, value) };
        await answerOne(res, parsed.frame, { ...meta, ingest: { source: `${tts ? 'tts' : 'chirpstack'}:${parsed.deviceId ?? peer}`, deviceId: parsed.deviceId, receivedAt: parsed.receivedAt } });
        return;
      }
      if (path === '/v1/devices') {
        const answer = await registerDevices(options.store, parseJson(await readBody(req, maxBody)));
        send(res, answer.status, answer.body);
        return;
      }
      throw new HttpError(path.startsWith('/v1/devices') || path === '/v1/frames' ? 405 : 404, 'not-found', `no route POST ${path}`);
    }

    if (options.console !== undefined && path.startsWith('/v1/console/')) {
      await options.console.handleApi(req, res, path, url);
      return;
    }
    if (req.method === 'GET') {
      await handleReadRoute(options.store, path, url, res);
      return;
    }
    throw new HttpError(405, 'method-not-allowed', `${req.method} not allowed on ${path}`);
  }

  // The headers are part of the request: a request timeout shorter than the headers' bounds them too (Node refuses headersTimeout > requestTimeout).
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
  const server = createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: 500 }, (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      options.metrics.countError('bad-url', 'http');
      send(res, 400, { error: 'bad-url', detail: 'malformed request URL' });
      return;
    }
    handle(req, res, url).catch((error: unknown) => {
      if (error instanceof HttpError) {
        options.metrics.countError(error.reason, 'http');
        send(res, error.status, { error: error.reason, detail: error.message }, error.status === 413 ? { connection: 'close' } : {});
        if (error.status === 413) req.resume();
        return;
      }
      if (error instanceof NotStoredError && isRefusal(error.reason)) {
        // Garbage, an oversized frame or one of an erased key: refused, not stored (docs/protocol.md#floods).
        options.metrics.countError(error.reason, 'http');
        send(res, REFUSAL_STATUS[error.reason], refusedFrame(error.reason, error.message));
        return;
      }
      if (error instanceof StoreError) {
        // The store's typed errors: the database, not the request, is at fault (docs/architecture.md#errors).
        options.metrics.countError(error.code, 'http');
        send(res, 503, { error: error.code, detail: error.message }, { 'retry-after': '1' });
        return;
      }
      if (error instanceof NotStoredError) {
        options.metrics.countError(error.reason, 'http');
        if (!req.complete) res.setHeader('connection', 'close'); // the body was not read
        send(res, 503, { error: error.reason, detail: error.message }, { 'retry-after': '1' });
        return;
      }
      options.metrics.countError('internal', 'http');
      options.log(`http: internal error on ${req.method} ${url.pathname}: ${(error as Error).stack ?? String(error)}`);
      send(res, 500, { error: 'internal', detail: 'internal error; see the gateway log' });
    });
  });
  // Sockets already answered 400 / 408 here: a later error on one (its peer resetting it) is not counted again.
  const answered = new WeakSet<object>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (answered.has(socket)) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    // Headers or body not received in time (a slow client): 408, counted apart from bad requests.
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    options.metrics.countError(timeout ? 'request-timeout' : 'client-error', 'http');
    if (socket.writable) socket.end(timeout ? 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  // Node checks these timeouts every connectionsCheckingInterval (default 30 s, so a slow client
  // outlived its 10 s headers timeout by up to 30 s): checked twice a second here.
  server.keepAliveTimeout = 5_000;
  server.maxConnections = options.maxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS;
  server.on('drop', () => options.metrics.countError('connection-limit', 'http'));
  return server;
}

export { decodeText };
