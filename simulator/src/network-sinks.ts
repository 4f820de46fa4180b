import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { type Bytes, VERIFICATION_CODES, type VerificationCode, toHex } from '@sceau/protocol';
import type { DatagramMeta, DeviceRegistration, FrameSink, SinkOutcome } from './frame-sink.js';

/** Raised when a gateway cannot be reached or answers outside its interface (exit status 3). */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    message: string,
    /** `gateway-unreachable` (no answer: refused, no route, a name that does not resolve) or `gateway-refused` (it answered with an error). */
    readonly code: 'gateway-unreachable' | 'gateway-refused' = 'gateway-refused',
  ) {
    super(message);
  }
}

/**
 * A gateway over HTTP, through the host-tools gateway's API (host-tools/src/gateway-http.ts):
 * the fleet's keys registered with `POST /v1/devices` (idempotent: a key registered the same way
 * before is no change, a different registration is refused and the run stops with exit 3);
 * datagrams of LoRaWAN devices (source `deveui:…`) as The Things Stack uplink webhooks
 * (`POST /v1/uplinks/tts`, the network server naming the device, its receive time in
 * `received_at`), others as raw bodies (`POST /v1/frames`). Fragments are reassembled by the
 * gateway (202 until a frame completes). `token` is sent as the bearer token.
 */
export class HttpSink implements FrameSink {
  readonly name: string;
  readonly reportsFrames = false;
  readonly observable = true;
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(url: string, options: { token?: string | undefined } = {}) {
    this.base = url.replace(/\/+$/, '');
    this.name = this.base;
    this.headers = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  }

  private async post(path: string, type: string, body: string | Uint8Array): Promise<{ status: number; body: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method: 'POST', headers: { 'content-type': type, ...this.headers }, body });
    } catch (e) {
      throw new GatewayError(`gateway ${this.base}: ${describeFetchError(e)}`, 'gateway-unreachable');
    }
    const text = await res.text();
    try {
      return { status: res.status, body: text.length === 0 ? {} : (JSON.parse(text) as Record<string, unknown>) };
    } catch {
      throw new GatewayError(`gateway ${this.base}: HTTP ${res.status} on ${path}, not JSON: ${text.slice(0, 200)}`);
    }
  }

  async register(devices: DeviceRegistration[]): Promise<void> {
    // One transaction per request on the gateway; 500 registrations stay well under its body limit.
    for (let i = 0; i < devices.length; i += 500) {
      const list = devices.slice(i, i + 500).map((d) => {
        const eui = d.deviceIds.find((id) => id.startsWith(DEVEUI))?.slice(DEVEUI.length);
        return { publicKey: toHex(d.publicKey), name: d.name, ...(eui === undefined ? {} : { devEui: eui }) };
      });
      const r = await this.post('/v1/devices', 'application/json', JSON.stringify({ devices: list }));
      if (r.status !== 200 && r.status !== 201) {
        throw new GatewayError(`gateway ${this.base}: registration refused (HTTP ${r.status} ${String(r.body.error ?? '')}): ${String(r.body.detail ?? JSON.stringify(r.body)).slice(0, 400)}`);
      }
    }
  }

  async deliver(datagram: Bytes, meta: DatagramMeta): Promise<SinkOutcome> {
    const received = new Date(meta.unixMs).toISOString();
    const eui = devEuiFor(meta);
    const r = eui !== undefined
      ? await this.post('/v1/uplinks/tts', 'application/json', JSON.stringify({
          end_device_ids: { device_id: `sim-${eui}`, dev_eui: eui.toUpperCase() },
          received_at: received,
          uplink_message: { frm_payload: Buffer.from(datagram).toString('base64'), received_at: received },
        }))
      : await this.post('/v1/frames', 'application/octet-stream', datagram);
    return outcomeOf(r.status, r.body, this.base);
  }

  close(): void {}
}

const DEVEUI = 'deveui:';

/**
 * The DevEUI a datagram goes to the gateway under, as a network server's webhook: a LoRaWAN
 * device's own; for an attacker on a LoRaWAN link, one derived from its name (the network server
 * names every sender). Undefined: the datagram goes as a raw body (`POST /v1/frames`), where the
 * gateway reassembles fragments by their sender hint (links without sender identity).
 */
function devEuiFor(meta: DatagramMeta): string | undefined {
  if (meta.source.startsWith(DEVEUI)) return meta.source.slice(DEVEUI.length);
  if (meta.link.startsWith('lorawan-')) return createHash('sha256').update(meta.source).digest('hex').slice(0, 16);
  return undefined;
}

/** The gateway's answer to a datagram (status and JSON body) as a sink outcome. */
function outcomeOf(status: number, body: Record<string, unknown>, base: string): SinkOutcome {
  if (status === 202) return body.fragment === 'duplicate' ? { kind: 'duplicate' } : { kind: 'pending' };
  if (status === 200) return outcomeFromJson(body);
  // A fragment or frame the gateway refuses unstored (docs/protocol.md#floods).
  if ((status === 400 || status === 413) && ['invalid-fragment', 'malformed-cbor', 'too-large'].includes(String(body.error))) return { kind: 'invalid', detail: `${String(body.error)}: ${String(body.detail ?? '')}` };
  throw new GatewayError(`gateway ${base}: HTTP ${status} ${String(body.error ?? '')}: ${String(body.detail ?? '')}`);
}

/** Reads the gateway's JSON outcome of one frame: `{ ok, code, kid, counter, delivery }`. */
export function outcomeFromJson(body: Record<string, unknown>): SinkOutcome {
  const kid = typeof body.kid === 'string' ? body.kid : undefined;
  const counter = typeof body.counter === 'number' ? body.counter : undefined;
  if (body.ok === true) return { kind: 'accepted', kid: kid ?? '', counter: counter ?? 0, ...(body.delivery === 'duplicate' ? { delivery: 'duplicate' as const } : {}) };
  const code = body.code as VerificationCode;
  if (body.ok === false && (VERIFICATION_CODES as readonly string[]).includes(String(code))) {
    const out: SinkOutcome = { kind: 'rejected', code };
    if (typeof body.detail === 'string') out.detail = body.detail;
    if (kid !== undefined) out.kid = kid;
    if (counter !== undefined) out.counter = counter;
    return out;
  }
  throw new GatewayError(`gateway answered outside its interface: ${JSON.stringify(body).slice(0, 200)}`);
}

/**
 * A gateway over UDP: each datagram sent as is from one local socket. UDP gives no answer, so
 * outcomes are not observable: the summary counts what was delivered, and the gateway's own
 * store holds the verdicts. The gateway sees one source address for the whole fleet, so only
 * whole frames (with kid) and fragments with sender hints (profiles udp, nbiot) reassemble
 * correctly; other profiles' fragments may mix at the gateway.
 */
export class UdpSink implements FrameSink {
  readonly name: string;
  readonly reportsFrames = false;
  readonly observable = false;
  private socket: Socket | undefined;
  private sent = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.name = `udp://${host}:${port}`;
  }

  register(): void {}

  async deliver(datagram: Bytes): Promise<SinkOutcome> {
    if (this.socket === undefined) {
      this.socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
      this.socket.unref();
    }
    const socket = this.socket;
    await new Promise<void>((resolve, reject) => {
      socket.send(datagram, this.port, this.host, (err) => (err ? reject(new GatewayError(`${this.name}: ${err.message}`, 'gateway-unreachable')) : resolve()));
    });
    // A datagram every so often yields to let the gateway (possibly in this process) keep up.
    if (++this.sent % 256 === 0) await new Promise((r) => setImmediate(r));
    return { kind: 'unknown' };
  }

  close(): void {
    this.socket?.close();
  }
}

/** `fetch failed` says nothing: the system's reason (ECONNREFUSED, ENOTFOUND...) is in its cause. */
function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { message?: unknown } }).cause;
  const message = (e as Error).message;
  // "connect ECONNREFUSED 127.0.0.1:8750", "getaddrinfo ENOTFOUND host", "bad port" (a port fetch never uses: 1, 25...)
  return typeof cause?.message === 'string' ? `${message}: ${cause.message}` : message;
}

/** A `--gateway` value that is not a gateway URL: a usage error (`bad-gateway-url`). */
export class GatewayUrlError extends RangeError {
  readonly code = 'bad-gateway-url';
  override readonly name = 'GatewayUrlError';
}

/** A sink from a `--gateway` value: `in-process` is handled by the caller. */
export function networkSink(spec: string, options: { token?: string | undefined } = {}): FrameSink {
  const expected = `gateway: expected in-process, http://HOST:PORT or udp://HOST:PORT, got ${JSON.stringify(spec)}`;
  if (/^https?:\/\//.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw new GatewayUrlError(`${expected} (not a URL; a port is 0..65535)`);
    }
    // Never echo a URL with credentials in it: the message may end up in a CI log.
    if (url.username !== '' || url.password !== '') throw new GatewayUrlError('gateway: credentials do not belong in the URL; give the bearer token with --token-file');
    if (url.hostname === '' || url.search !== '' || url.hash !== '') throw new GatewayUrlError(`${expected} (a host, an optional port and path)`);
    return new HttpSink(spec, options);
  }
  const m = /^udp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(spec);
  if (m !== null && Number(m[2]) <= 65535) return new UdpSink(m[1]!.replace(/^\[|\]$/g, ''), Number(m[2]));
  throw new GatewayUrlError(expected);
}
