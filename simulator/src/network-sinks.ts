import { createSocket, type Socket } from 'node:dgram';
import { type Bytes, VERIFICATION_CODES, type VerificationCode, toHex } from '@sceau/protocol';
import type { DatagramMeta, DeviceRegistration, FrameSink, SinkOutcome } from './frame-sink.js';

/** Raised when a gateway cannot be reached or answers outside its interface (exit status 3). */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
}

/**
 * A gateway over HTTP: `POST {base}/v1/frames` with the datagram as an
 * `application/octet-stream` body, the transport source and link in the query string and in
 * `X-Sceau-Source` / `X-Sceau-Link` headers; the JSON answer carries `ok`, `code`, `kid`,
 * `counter`, or `pending: true` for a fragment that did not complete a frame. Keys are
 * registered with `POST {base}/v1/devices` (`{ publicKey, name, deviceIds }`), best effort: a
 * gateway without that route must have the keys beforehand (`--keys-out`).
 */
export class HttpSink implements FrameSink {
  readonly name: string;
  readonly reportsFrames = false;
  readonly observable = true;
  private readonly base: string;

  constructor(url: string, private readonly warn: (line: string) => void = () => {}) {
    this.base = url.replace(/\/+$/, '');
    this.name = this.base;
  }

  async register(devices: DeviceRegistration[]): Promise<void> {
    let refused = 0;
    for (const d of devices) {
      let res: Response;
      try {
        res = await fetch(`${this.base}/v1/devices`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ publicKey: toHex(d.publicKey), name: d.name, deviceIds: d.deviceIds }),
        });
      } catch (e) {
        throw new GatewayError(`gateway ${this.base}: ${(e as Error).message}`);
      }
      await res.arrayBuffer();
      if (!res.ok) refused++;
    }
    if (refused > 0) this.warn(`gateway ${this.base}: ${refused} of ${devices.length} key registrations refused (POST /v1/devices); the gateway must know the keys already (--keys-out)`);
  }

  async deliver(datagram: Bytes, meta: DatagramMeta): Promise<SinkOutcome> {
    const query = `source=${encodeURIComponent(meta.source)}&link=${encodeURIComponent(meta.link)}&receivedAt=${meta.unixMs}`;
    let res: Response;
    try {
      res = await fetch(`${this.base}/v1/frames?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'x-sceau-source': meta.source, 'x-sceau-link': meta.link },
        body: datagram,
      });
    } catch (e) {
      throw new GatewayError(`gateway ${this.base}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new GatewayError(`gateway ${this.base}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    return outcomeFromJson(body);
  }

  close(): void {}
}

/** Reads a gateway's JSON outcome (`{ ok, code, kid, counter }`, `{ pending: true }`, or `{ outcome: ... }`). */
export function outcomeFromJson(body: Record<string, unknown>): SinkOutcome {
  const inner = (body.outcome !== null && typeof body.outcome === 'object' ? body.outcome : body) as Record<string, unknown>;
  const status = inner.status ?? inner.kind ?? body.status;
  if (inner.pending === true || status === 'pending') return { kind: 'pending' };
  if (status === 'duplicate') return { kind: 'duplicate' };
  const kid = typeof inner.kid === 'string' ? inner.kid : undefined;
  const counter = typeof inner.counter === 'number' ? inner.counter : undefined;
  if (inner.ok === true || status === 'accepted') return { kind: 'accepted', kid: kid ?? '', counter: counter ?? 0, ...(inner.delivery === 'duplicate' ? { delivery: 'duplicate' as const } : {}) };
  const code = (inner.code ?? body.code) as VerificationCode;
  if (inner.ok === false && (VERIFICATION_CODES as readonly string[]).includes(String(code))) {
    const out: SinkOutcome = { kind: 'rejected', code };
    if (typeof inner.detail === 'string') out.detail = inner.detail;
    if (kid !== undefined) out.kid = kid;
    if (counter !== undefined) out.counter = counter;
    return out;
  }
  if (status === 'invalid') return { kind: 'invalid', detail: String(inner.detail ?? '') };
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
      socket.send(datagram, this.port, this.host, (err) => (err ? reject(new GatewayError(`${this.name}: ${err.message}`)) : resolve()));
    });
    // A datagram every so often yields to let the gateway (possibly in this process) keep up.
    if (++this.sent % 256 === 0) await new Promise((r) => setImmediate(r));
    return { kind: 'unknown' };
  }

  close(): void {
    this.socket?.close();
  }
}

/** A sink from a `--gateway` value: `in-process` is handled by the caller. */
export function networkSink(spec: string, warn?: (line: string) => void): FrameSink {
  if (/^https?:\/\//.test(spec)) return new HttpSink(spec, warn);
  const m = /^udp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(spec);
  if (m !== null) return new UdpSink(m[1]!.replace(/^\[|\]$/g, ''), Number(m[2]));
  throw new RangeError(`gateway: expected in-process, http://HOST:PORT or udp://HOST:PORT, got ${JSON.stringify(spec)}`);
}
