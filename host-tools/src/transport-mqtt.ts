/**
 * MQTT ingest (docs/integrators.md#mqtt-ingest): subscribes where The Things Stack or ChirpStack
 * publish uplinks, and feeds each message through the gateway's one datagram intake, keyed by
 * device (mqtt-uplink.ts): DevEUI mapping, fragment reassembly, outcome codes and the store are
 * those of HTTP.
 *
 * Nothing acknowledged is lost:
 * - A persistent session: MQTT 3.1.1 CONNECT with the clean-session flag off and a stable client
 *   id, so the broker keeps the subscription and the unacknowledged QoS 1 messages while the
 *   gateway is away. (3.1.1, not 5: The Things Stack's server speaks 3.1.1 only.)
 * - MQTT.js sends a QoS 1 PUBACK when the client's `handleMessage(packet, callback)` calls back,
 *   and reads the next packet only once that PUBACK is written (mqtt 5.16.0,
 *   build/lib/handlers/publish.js). Here it calls back once the message's frame is committed and
 *   synced, or once the message is refused for good. PUBACKs thus leave in the order the
 *   messages came, as MQTT 3.1.1 §4.6 requires, and a crash before one means a redelivery, which
 *   idempotent ingest answers `duplicate` from the store: not stored twice, not a `replay`.
 * - A frame the gateway could not store (store failure, overload, a database locked by another
 *   connection) is tried again with back-off and not acknowledged meanwhile: the broker holds the
 *   rest of the stream. Closing the gateway stops there: the broker delivers it again next time.
 * - A PUBACK is sent only on the connection the message came on: after a reconnection the
 *   broker has sent it again, and the packet id may since name another message.
 *
 * Bad messages (not JSON, ChirpStack's Protobuf, no frame, garbage frames) are acknowledged,
 * counted (`sceau_ingest_errors_total{transport="mqtt"}`, `sceau_transport_messages_total`) and
 * logged (at most a few lines per interval): they never block the stream.
 *
 * Limits: one message is processed at a time per connection (its commit included), so the rate
 * is bounded by the commit's latency; `--mqtt-share` spreads a stream over several gateways. A
 * fragment is acknowledged once the reassembler holds it (in memory): a crash loses an incomplete
 * fragmented message, whose earlier fragments are not delivered again.
 */
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { PushResult } from '@sceau/protocol';
import { isRefusal, NotStoredError, type IngestOptions, type IngestResult } from './ingest.js';
import type { LinkStatus } from './metrics.js';
import { DEFAULT_MQTT_TOPICS, readMqttUplink, type MqttFormat } from './mqtt-uplink.js';
import type { StartedTransport, TransportContext, TransportDefinition } from './transport-registry.js';

export interface MqttIngestOptions {
  /** `mqtt://HOST[:PORT]` (1883) or `mqtts://HOST[:PORT]` (TLS, 8883); no credentials in it. */
  url: string;
  format: MqttFormat;
  /** Topic filter (default: the format's uplink topic, mqtt-uplink.ts DEFAULT_MQTT_TOPICS). */
  topic?: string | undefined;
  /** Subscribe as `$share/GROUP/topic`: the gateways of a group split the stream. */
  share?: string | undefined;
  /** Stable across restarts: the broker keeps the session under it. One per gateway. */
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  /** PEM certificate(s) to trust for mqtts://, instead of the system's. */
  ca?: string | Uint8Array | undefined;
  /** Reconnection back-off: the first wait, doubled after each failed attempt up to the second (default 1,000 and 60,000 ms). */
  reconnectMinMs?: number | undefined;
  reconnectMaxMs?: number | undefined;
  keepaliveSeconds?: number | undefined;
  /**
   * Test hook, for crash tests only: after a message's frame is committed, keep its PUBACK back
   * for good (and log that it does), so that a test can kill the process between commit and
   * acknowledgement. Nothing after it is processed on that connection.
   */
  holdAcksAfterCommit?: boolean | undefined;
}

const TRANSPORT = 'mqtt';
/** Longest wait between two tries to store a frame the gateway could not store. */
const STORE_RETRY_MAX_MS = 5_000;
/** Bad-message log lines per interval; beyond, one line says how many were not logged. */
const LOG_BURST = 10;
const LOG_INTERVAL_MS = 10_000;

/** What became of a message: the PUBACK waits for `true`. */
type Handled = boolean;

/** The topic filter subscribed to: the format's topic, shared when asked. */
export function mqttSubscription(options: Pick<MqttIngestOptions, 'format' | 'topic' | 'share'>): string {
  const topic = options.topic ?? DEFAULT_MQTT_TOPICS[options.format];
  return options.share === undefined ? topic : `$share/${options.share}/${topic}`;
}

/** Server and port of an mqtt:// or mqtts:// URL; RangeError for anything else. */
export function parseMqttUrl(url: string): { protocol: 'mqtt' | 'mqtts'; host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`MQTT server ${JSON.stringify(url)}: expected mqtt://HOST:PORT or mqtts://HOST:PORT`);
  }
  const protocol = parsed.protocol.slice(0, -1);
  if (protocol !== 'mqtt' && protocol !== 'mqtts') throw new RangeError(`MQTT server ${JSON.stringify(url)}: expected mqtt:// or mqtts://, got ${parsed.protocol}//`);
  if (parsed.username !== '' || parsed.password !== '') throw new RangeError('MQTT server: credentials do not belong in the URL (it shows in process lists); put them in a credentials file');
  if (parsed.hostname === '') throw new RangeError(`MQTT server ${JSON.stringify(url)}: no host`);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '') throw new RangeError(`MQTT server ${JSON.stringify(url)}: expected no path or query`);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return { protocol, host, port: parsed.port === '' ? (protocol === 'mqtts' ? 8883 : 1883) : Number(parsed.port) };
}

/** A log that says at most LOG_BURST lines per interval, then how many it left out. */
function limitedLog(log: (message: string) => void): (message: string) => void {
  let windowStart = 0;
  let said = 0;
  let skipped = 0;
  return (message) => {
    const now = Date.now();
    if (now - windowStart >= LOG_INTERVAL_MS) {
      if (skipped > 0) log(`mqtt: ${skipped} more bad messages in the last ${Math.round((now - windowStart) / 1000)} s (not logged; counted in /metrics)`);
      windowStart = now;
      said = 0;
      skipped = 0;
    }
    if (said < LOG_BURST) {
      said++;
      log(message);
    } else skipped++;
  };
}

export async function startMqttIngest(context: TransportContext, options: MqttIngestOptions): Promise<StartedTransport> {
  const { intake, ingestor, metrics, log } = context;
  // The gateway's one switch (GatewayOptions.keepRadioMetadata): without it, radio metadata is never read.
  const keepRadio = context.options.keepRadioMetadata === true;
  const server = parseMqttUrl(options.url);
  if (options.share !== undefined && !/^[^/+#]+$/.test(options.share)) throw new RangeError(`MQTT share group ${JSON.stringify(options.share)}: expected a name without /, + or #`);
  const subscription = mqttSubscription(options);
  const minMs = options.reconnectMinMs ?? 1_000;
  const maxMs = Math.max(minMs, options.reconnectMaxMs ?? 60_000);
  const logBad = limitedLog(log);

  const link: LinkStatus = { up: false, state: 'connecting', since: Date.now(), connects: 0, disconnects: 0, info: { server: `${server.protocol}://${server.host}:${server.port}`, clientId: options.clientId, topic: subscription } };
  metrics.links.set(TRANSPORT, link);
  const setState = (state: string, up: boolean, detail?: string): void => {
    if (link.state !== state) link.since = Date.now();
    link.state = state;
    link.up = up;
    if (detail !== undefined) link.detail = detail;
  };

  const { connect } = await import('mqtt');
  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    protocolVersion: 4,
    clean: false,
    keepalive: options.keepaliveSeconds ?? 30,
    reconnectPeriod: minMs,
    connectTimeout: 15_000,
    // Subscribed again at every CONNACK below, with the grant checked; MQTT.js's own would not be.
    resubscribe: false,
    // Refused (bad credentials, client id taken...): keep trying with back-off; the broker's side may be fixed.
    reconnectOnConnackError: true,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.ca === undefined ? {} : { ca: typeof options.ca === 'string' ? options.ca : Buffer.from(options.ca) }),
  };
  const client: MqttClient = connect(options.url, clientOptions);

  let stopping = false;
  /** Counts CONNACKs: a PUBACK goes only on the connection its message came on. */
  let connection = 0;
  let everSubscribed = false;
  let qos0Warned = false;
  /** The message being processed (one at a time per connection), for stop() to wait on. */
  let current: Promise<void> | undefined;
  const sleepers = new Set<() => void>();
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });

  const refuse = (reason: string, detail: string): Handled => {
    metrics.countError(reason, TRANSPORT);
    metrics.countMessage(TRANSPORT, 'refused');
    logBad(`mqtt: message refused (${reason}), acknowledged and dropped: ${detail}`);
    return true;
  };

  /** Stores a message's frame; resolves true when it may be acknowledged. Never rejects. */
  async function handle(topic: string, payload: Uint8Array): Promise<Handled> {
    const message = readMqttUplink(options.format, topic, payload, keepRadio);
    if (message.kind === 'ignored') {
      metrics.countMessage(TRANSPORT, 'ignored');
      return true;
    }
    if (message.kind === 'refused') return refuse(message.reason, `${topic}: ${message.detail}`);
    const ingest: IngestOptions = { source: `${TRANSPORT}:${message.key}`, deviceId: message.deviceId, receivedAt: message.receivedAt };
    metrics.countRadioIgnored(TRANSPORT, message.radioIgnored ?? 0);
    let frame: Uint8Array | undefined;
    let outcome: IngestResult | NotStoredError | PushResult;
    try {
      outcome = await new Promise<IngestResult | NotStoredError | PushResult>((resolve) => {
        const pushed = intake(message.datagram, { hinted: false, key: message.key, origin: message.key, ingest, radio: message.radio }, resolve, resolve);
        if (pushed.kind === 'frame') frame = pushed.frame;
        else resolve(pushed);
      });
      for (let attempt = 0; outcome instanceof NotStoredError && !isRefusal(outcome.reason); attempt++) {
        metrics.countError(outcome.reason, TRANSPORT);
        const waitMs = Math.min(STORE_RETRY_MAX_MS, 100 * 2 ** attempt);
        if (attempt === 0 || waitMs === STORE_RETRY_MAX_MS) log(`mqtt: ${topic}: not stored (${outcome.reason}: ${outcome.message}); not acknowledged, trying again in ${waitMs} ms`);
        if (stopping) return false; // the broker delivers it again after the restart
        await sleep(waitMs);
        if (stopping) return false;
        const again = frame!;
        outcome = await new Promise<IngestResult | NotStoredError>((resolve) => ingestor.submit(again, ingest, resolve, resolve));
      }
    } catch (error) {
      return refuse('internal', `${topic}: ${(error as Error).message}`);
    }
    if (outcome instanceof NotStoredError) return refuse(outcome.reason, `${topic}: ${outcome.message}`);
    if (!('delivery' in outcome)) {
      if (outcome.kind === 'invalid') return refuse('invalid-fragment', `${topic}: ${outcome.detail}`);
      metrics.countMessage(TRANSPORT, 'fragment');
      return true;
    }
    metrics.countMessage(TRANSPORT, outcome.delivery === 'duplicate' ? 'duplicate' : 'stored');
    if (options.holdAcksAfterCommit) {
      log(`mqtt: test hook: frame ${outcome.id} of ${topic} committed (${outcome.delivery}); its PUBACK is held back`);
      return false;
    }
    return true;
  }

  client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void): void => {
    // Closing: not processed, not acknowledged; the broker keeps it in the session.
    if (stopping) return;
    const on = connection;
    const payload = typeof packet.payload === 'string' ? new Uint8Array(Buffer.from(packet.payload)) : new Uint8Array(packet.payload.buffer, packet.payload.byteOffset, packet.payload.length);
    current = handle(packet.topic, payload)
      .then((ack) => {
        current = undefined;
        // Acknowledged on its own connection only; not at all when it could not be stored.
        if (ack && on === connection) callback();
      })
      .catch((error: unknown) => log(`mqtt: acknowledging ${packet.topic}: ${(error as Error).message}`));
  };

  const subscribe = (on: number, attempt = 0): void => {
    client.subscribe(subscription, { qos: 1 }, (error, granted) => {
      if (stopping || on !== connection) return;
      const grant = granted?.[0]?.qos;
      if (error || grant === undefined || grant === 128) {
        const detail = `the broker refused the subscription to ${subscription}${error ? `: ${error.message}` : ''}`;
        const waitMs = Math.min(maxMs, minMs * 2 ** attempt);
        setState('subscribe-refused', false, detail);
        log(`mqtt: ${detail}; trying again in ${waitMs} ms`);
        void sleep(waitMs)
          .then(() => {
            if (!stopping && on === connection && client.connected) subscribe(on, attempt + 1);
          })
          .catch((e: unknown) => log(`mqtt: subscribing again: ${(e as Error).message}`));
        return;
      }
      if (grant === 0 && !qos0Warned) {
        qos0Warned = true;
        log(`mqtt: the broker granted QoS 0 on ${subscription}: a message it sends while the gateway is down or disconnected is lost (The Things Stack's server offers QoS 0 only; docs/integrators.md#mqtt-delivery)`);
      }
      setState('subscribed', true);
      if (!everSubscribed) log(`mqtt: subscribed to ${subscription} (QoS ${grant}) on ${server.protocol}://${server.host}:${server.port} as ${options.clientId}`);
      everSubscribed = true;
    });
  };

  client.on('connect', (connack) => {
    connection++;
    link.connects++;
    client.options.reconnectPeriod = minMs;
    setState('connected', false);
    delete link.detail;
    if (everSubscribed) log(`mqtt: reconnected (session ${connack.sessionPresent ? 'kept' : 'not kept by the broker: messages published meanwhile were not queued'})`);
    subscribe(connection);
  });
  client.on('close', () => {
    if (link.state === 'subscribed' || link.state === 'connected' || link.state === 'subscribe-refused') {
      link.disconnects++;
      if (!stopping) log(`mqtt: connection to ${server.host}:${server.port} lost; reconnecting in ${client.options.reconnectPeriod} ms`);
    }
    if (!stopping) setState('offline', false);
  });
  client.on('reconnect', () => {
    setState('connecting', false);
    // The wait before the attempt after this one: doubled, with jitter so that gateways sharing a
    // subscription do not all knock at the same moment after the broker restarts.
    const next = Math.min(maxMs, (client.options.reconnectPeriod ?? minMs) * 2);
    client.options.reconnectPeriod = Math.round(next * (0.8 + 0.4 * Math.random()));
  });
  client.on('error', (error) => {
    link.detail = error.message;
    log(`mqtt: ${error.message}`);
  });

  return {
    address: { host: server.host, port: server.port, url: `${server.protocol}://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}` },
    async stop() {
      stopping = true;
      for (const wake of [...sleepers]) wake();
      // The message in hand is being committed (the gateway drains its ingest): acknowledge it first.
      await current;
      setState('closed', false);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => client.end(true, {}, () => resolve()), 3_000);
        client.end(!client.connected, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

export const mqttTransport: TransportDefinition = {
  name: TRANSPORT,
  wanted: (o) => o.mqtt !== undefined,
  start: (context) => startMqttIngest(context, context.options.mqtt!),
};
