/**
 * The gateway as a library: `startGateway` opens the store, starts the requested listeners
 * (HTTP, TCP, UDP; 127.0.0.1 by default) and returns their addresses, an in-process `ingest`
 * (the simulator's in-process gateway) and `close`.
 */
import { existsSync, rmSync } from 'node:fs';
import { channels as builtInChannels, DEFAULT_MAX_FRAME_BYTES, type ChannelRegistry, type PushResult } from '@sceau/protocol';
import { DEFAULT_REASSEMBLY_MAX_PENDING, GatewayReassembler } from './gateway-reassembly.js';
import { createDatagramIntake } from './datagram-intake.js';
import { FragmentRadio } from './radio-fragments.js';
import { registeredTransports, type StartedTransport, type TransportContext } from './transport-registry.js';
import './transports.js';
import { Ingestor, isRefusal, NotStoredError, type IngestOptions, type IngestResult } from './ingest.js';
import { Metrics } from './metrics.js';
import { RetentionSweeper } from './retention.js';
import { openStore, storeBackendOf } from './db-open.js';
import type { OpenedStore } from './store-registry.js';
import { usageError } from './errors.js';
import { readPrivateFile } from './private-file.js';
import { DEFAULT_BUSY_TIMEOUT_MS, type Endpoint } from './endpoint.js';
import type { MqttIngestOptions } from './transport-mqtt.js';

export type { Endpoint } from './endpoint.js';
export { parseEndpoint, DEFAULT_HTTP_PORT, DEFAULT_TCP_PORT, DEFAULT_UDP_PORT, DEFAULT_BUSY_TIMEOUT_MS } from './endpoint.js';

export interface GatewayOptions {
  /**
   * Where the store is: a database file (created when missing), ':memory:', a URL of a registered
   * backend (store-registry.ts), or a store already open (the gateway then leaves it open).
   */
  db: string | OpenedStore;
  /** `HOST:PORT`, a port, `{ host, port }`, or false/undefined for none. Port 0 picks a free port. */
  http?: string | number | Endpoint | false | undefined;
  tcp?: string | number | Endpoint | false | undefined;
  udp?: string | number | Endpoint | false | undefined;
  /** Subscribe to a broker where a network server publishes uplinks (transport-mqtt.ts). */
  mqtt?: MqttIngestOptions | undefined;
  /** Bearer token required on /v1/ HTTP routes. */
  token?: string | undefined;
  /** A file holding the token (first line); refused when readable by group or others. */
  tokenFile?: string | undefined;
  /** The web console at `/` of the HTTP listener (default true; docs/integrators.md#console). */
  console?: boolean | undefined;
  /** Serve the console on non-loopback addresses even without a token (default false). */
  consolePublic?: boolean | undefined;
  maxBodyBytes?: number;
  maxFrameBytes?: number;
  /** Signature checks on libuv's thread pool (default 0: on this thread); see IngestorOptions.workers. */
  workers?: number;
  batchMax?: number;
  maxInFlight?: number;
  /** Incomplete fragmented messages expire after this long (default 10 minutes). */
  reassemblyExpiryMs?: number;
  /** Bytes held by incomplete fragmented messages, per reassembler (default 16 MiB; docs/protocol.md#floods). */
  reassemblyMaxBytes?: number;
  /** Incomplete messages per reassembler (default 10,000). */
  reassemblyMaxPending?: number;
  /** Incomplete messages one origin (IP address, network-server device) may hold (default 64). */
  reassemblyMaxPerOrigin?: number;
  /**
   * How long a commit waits for another connection's write lock, in ms (default 100). Past it,
   * writes are refused at once (503, `store-unavailable`) until a probe gets the lock: a locked
   * database never holds the event loop for longer than this.
   */
  busyTimeoutMs?: number;
  /** HTTP: the request line and headers must arrive within this, in ms (default 10,000). */
  headersTimeoutMs?: number;
  /** HTTP: the whole request, body included, within this; TCP: a frame once begun (default 30,000 HTTP, 10,000 TCP). */
  bodyTimeoutMs?: number;
  /** Open connections per listener, HTTP and TCP; beyond, new ones are closed at once and counted (default 256 HTTP, 1,024 TCP). */
  maxConnections?: number;
  /**
   * The clock of reassembly, in ms (default `Date.now`). A simulator running on virtual time
   * passes its own, so fragment expiry follows virtual time and never mixes the two clocks.
   */
  clock?: () => number;
  /**
   * Storage limitation (retention.ts): frames older than this, in ms, are deleted in the
   * background; a device's own retention (`sceau devices retention`) overrides it. Undefined:
   * only devices with their own retention are swept.
   */
  retentionMs?: number | undefined;
  /** How often the retention sweep runs, ms (default: a tenth of the retention, 1 s to 1 h). */
  retentionSweepMs?: number | undefined;
  /**
   * Keep the radio metadata of network-server uplinks (gateways, RSSI, SNR, their locations;
   * frequency, bandwidth, spreading factor) with each frame, for coverage diagnostics (default
   * false: dropped as the uplink is read, never stored; docs/privacy.md#radio-metadata). HTTP
   * webhooks and MQTT alike.
   */
  keepRadioMetadata?: boolean | undefined;
  channels?: ChannelRegistry;
  synchronous?: 'full' | 'normal';
  /** Logger for operational messages (default: stderr). */
  log?: (message: string) => void;
}

export interface GatewayAddresses {
  /** Any registered transport's address, under its name (transport-registry.ts). */
  [transport: string]: (Endpoint & { url?: string }) | undefined;
  http?: Endpoint & { url: string };
  tcp?: Endpoint;
  udp?: Endpoint;
}

export interface Gateway {
  readonly addresses: GatewayAddresses;
  readonly store: OpenedStore;
  readonly metrics: Metrics;
  /**
   * Ingests one datagram in-process: a whole frame, or a fragment (reassembled per `source`
   * and sender hint when `fragments: 'hinted'`). Resolves with the stored outcome, or with
   * `{ kind: 'pending' | 'duplicate' | 'invalid' }` for a fragment that completes nothing.
   */
  ingest(frame: Uint8Array, source?: string | IngestOptions): Promise<IngestResult>;
  /**
   * Pushes a datagram through a reassembler first (`hinted` for links without sender identity,
   * as UDP). `nowMs` defaults to the gateway's clock and must be on that clock.
   */
  ingestDatagram(datagram: Uint8Array, options: IngestOptions & { hinted?: boolean; nowMs?: number }): Promise<IngestResult | { kind: 'pending' | 'duplicate' | 'invalid'; detail?: string }>;
  /** Stores every frame received so far. */
  drain(): Promise<void>;
  renderMetrics(): string;
  close(): Promise<void>;
  /** The retention sweep (absent for a backend without one); `sweep()` runs one now. */
  readonly retention: RetentionSweeper | undefined;
}

/** The bearer token in a file: its first line; the file must not be readable by group or others. */
export function readTokenFile(file: string): string {
  const token = readPrivateFile(file, 'token file').split(/\r?\n/, 1)[0]!.trim();
  if (token.length < 16) throw usageError(`token file ${file}: the token must be at least 16 characters (its first line)`, 'token-too-short');
  return token;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const token = options.token ?? (options.tokenFile === undefined ? undefined : readTokenFile(options.tokenFile));
  for (const transport of registeredTransports()) if (transport.wanted(options)) transport.check?.(options);
  const ownStore = typeof options.db === 'string';
  // A database file this start creates goes again when the start is refused (a listening address
  // in use is found only when the transports start, after the store is open): nothing left behind.
  const createdFile = typeof options.db === 'string' && options.db !== ':memory:' && storeBackendOf(options.db).schemes === undefined && !existsSync(options.db) ? options.db : undefined;
  const discardCreated = (): void => {
    if (createdFile !== undefined) for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${createdFile}${suffix}`, { force: true });
  };
  const store = typeof options.db === 'string' ? await openStore(options.db, { mode: 'create', synchronous: options.synchronous ?? 'full' }) : options.db;
  if (options.retentionMs !== undefined && store.privacy === undefined) {
    if (ownStore) await store.close();
    discardCreated();
    throw usageError('--retention: this store backend cannot delete by retention yet (docs/privacy.md#retention)', 'retention-unsupported');
  }
  const retention = store.privacy === undefined ? undefined : new RetentionSweeper(store.privacy, { retentionMs: options.retentionMs, intervalMs: options.retentionSweepMs, log }).start();
  const metrics = new Metrics();
  const channels = options.channels ?? builtInChannels;
  if (ownStore || options.busyTimeoutMs !== undefined) store.setBusyTimeout?.(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
  const ingestor = new Ingestor(store, {
    channels,
    metrics,
    storeUnframed: false,
    ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    ...(options.batchMax === undefined ? {} : { batchMax: options.batchMax }),
    ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
    ...(options.workers === undefined ? {} : { workers: options.workers }),
  });
  const expiryMs = options.reassemblyExpiryMs ?? 600_000;
  const limits = {
    expiryMs,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    ...(options.reassemblyMaxBytes === undefined ? {} : { maxBytes: options.reassemblyMaxBytes }),
    ...(options.reassemblyMaxPending === undefined ? {} : { maxPending: options.reassemblyMaxPending }),
    ...(options.reassemblyMaxPerOrigin === undefined ? {} : { maxPendingPerOrigin: options.reassemblyMaxPerOrigin }),
  };
  // Links that name the sender (LoRaWAN via a network server, TCP): fragments without hint.
  const namedReassembler = new GatewayReassembler({ ...limits, senderHint: false });
  // UDP and other links that do not: fragments carry the 2-byte sender hint.
  const hintedReassembler = new GatewayReassembler({ ...limits, senderHint: true });
  const renderMetrics = (): string => metrics.render({ reassembly: [namedReassembler.stats(), hintedReassembler.stats()] });
  const clock = options.clock ?? Date.now;
  const expiryTimer = setInterval(() => {
    const now = clock();
    namedReassembler.expire(now);
    hintedReassembler.expire(now);
  }, Math.min(10_000, expiryMs));
  expiryTimer.unref();

  const addresses: GatewayAddresses = {};
  // The fragments' radio metadata, held as long and as many as the reassembler holds messages.
  const radio = options.keepRadioMetadata === true ? new FragmentRadio(expiryMs, options.reassemblyMaxPending ?? DEFAULT_REASSEMBLY_MAX_PENDING) : undefined;
  const intake = createDatagramIntake({ ingestor, metrics, named: namedReassembler, hinted: hintedReassembler, clock, radio });
  const started: StartedTransport[] = [];
  const cleanup = async (): Promise<void> => {
    clearInterval(expiryTimer);
    await retention?.stop();
    const closing = started.map((t) => t.stop());
    await ingestor.close();
    for (const t of started) t.afterDrain?.();
    await Promise.all(closing);
    if (ownStore) await store.close();
  };

  try {
    // Every registered transport these options ask for (transports.ts registers them).
    const context: TransportContext = { options, ingestor, metrics, intake, named: namedReassembler, hinted: hintedReassembler, store, token, clock, renderMetrics, log };
    for (const transport of registeredTransports()) {
      if (!transport.wanted(options)) continue;
      const t = await transport.start(context);
      started.push(t);
      if (t.address !== undefined) addresses[transport.name] = t.address;
    }
  } catch (error) {
    await cleanup().catch(() => undefined);
    discardCreated();
    throw error;
  }

  const ingest = (frame: Uint8Array, source?: string | IngestOptions): Promise<IngestResult> => {
    const opts: IngestOptions = typeof source === 'object' ? source : { source: source ?? 'in-process' };
    return ingestor.ingest(frame, opts);
  };

  return {
    addresses,
    store,
    metrics,
    ingest,
    async ingestDatagram(datagram, opts) {
      const key = opts.deviceId ?? opts.source;
      let pushed: PushResult | undefined;
      const result = new Promise<IngestResult>((resolve, reject) => {
        pushed = intake(datagram, { hinted: opts.hinted ?? false, key, origin: key, nowMs: opts.nowMs, ingest: opts }, reject, resolve);
      });
      if (pushed!.kind !== 'frame') {
        const p = pushed!;
        return p.kind === 'invalid' ? { kind: 'invalid', detail: p.detail } : { kind: p.kind };
      }
      try {
        return await result;
      } catch (error) {
        // Garbage and oversized frames are refused, not stored (docs/protocol.md#floods).
        if (!(error instanceof NotStoredError) || !isRefusal(error.reason)) throw error;
        metrics.countError(error.reason, opts.source.split(':', 1)[0]!);
        return { kind: 'invalid', detail: `${error.reason}: ${error.message}` };
      }
    },
    retention,
    drain: () => ingestor.drain(),
    renderMetrics,
    close: cleanup,
  };
}
