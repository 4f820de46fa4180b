/**
 * A virtual LoRa gateway speaking GWMP v2, the Semtech UDP packet forwarder protocol
 * (Lora-net/packet_forwarder PROTOCOL.TXT; v2 adds the PULL_RESP token and TX_ACK): PUSH_DATA with
 * `rxpk`, PULL_DATA keep-alives, PULL_RESP downlinks answered with one TX_ACK each, and counts of
 * PUSH_ACKs and PULL_ACKs that never came. Runs on the wall clock: a network server schedules
 * downlinks on the gateway's `tmst`, a 32-bit microsecond counter that wraps every 71.6 minutes.
 */
import { type Socket, createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Bytes } from '@sceau/protocol';
import { ArgumentError, parseEndpoint } from '@sceau/host-tools';

export const GWMP_VERSION = 2;
export const PUSH_DATA = 0x00;
export const PUSH_ACK = 0x01;
export const PULL_DATA = 0x02;
export const PULL_RESP = 0x03;
export const PULL_ACK = 0x04;
export const TX_ACK = 0x05;

/** A txpk scheduled with `tmst` further ahead than this is refused TOO_EARLY (the forwarder's JIT queue has a similar horizon). */
export const MAX_TX_ADVANCE_US = 30_000_000;

/** One received radio packet, as the gateway reports it (PROTOCOL.TXT §4). */
export interface RxPacket {
  phyPayload: Bytes;
  /** MHz. */
  freq: number;
  chan: number;
  /** e.g. `SF9BW125`. */
  datr: string;
  rssi: number;
  lsnr: number;
  /** The gateway's tmst at "RX finished"; default now. */
  tmst?: number;
  /** When the packet ended (this gateway's clock, performance.now()): its `time` and, without `tmst`, its tmst; default now. */
  endWallMs?: number;
}

/** A downlink the network server asked for (`txpk`), as it leaves the antenna. */
export interface Emission {
  phyPayload: Bytes;
  /** The gateway's tmst at which it starts on air. */
  tmst: number;
  /** `performance.now()` of that tmst. */
  wallMs: number;
  freq: number | null;
  datr: string | null;
  txpk: Record<string, unknown>;
}

export type TxAckError = 'NONE' | 'TOO_LATE' | 'TOO_EARLY' | 'GPS_UNLOCKED' | 'TX_FREQ';

export interface GwmpStats {
  pushData: number;
  pushAck: number;
  pushAckMissing: number;
  pullData: number;
  pullAck: number;
  pullAckMissing: number;
  pullResp: number;
  txAck: number;
  txAckErrors: number;
  /** Datagrams from the server that were not valid GWMP v2 (wrong version, unknown id, bad JSON). */
  malformed: number;
}

export interface GwmpGatewayOptions {
  /** Gateway EUI, 8 bytes. */
  eui: Bytes;
  host: string;
  port: number;
  /** PULL_DATA period (the packet forwarder's `keepalive_interval`, 10 s by default). */
  keepaliveMs?: number;
  /** How long to wait for a PUSH_ACK or PULL_ACK before counting it missing (the forwarder's `push_timeout_ms` is 100 ms; a loaded server needs more). */
  ackTimeoutMs?: number;
  /** Start of the tmst counter in µs (a real concentrator starts at an arbitrary value). */
  tmstStart?: number;
  /** Token source; default Math.random. */
  random?: () => number;
  /** Called when a downlink is accepted for later (TX_ACK NONE), with the object `onEmit` gets when it goes on air. */
  onSchedule?: (e: Emission) => void;
  /** Called when a downlink goes on air. */
  onEmit?: (e: Emission) => void;
  onLog?: (line: string) => void;
  now?: () => number;
}

/** An I/O failure of the gateway's socket (code `gwmp/socket`) or a bad address (`gwmp/address`). */
export class GwmpError extends Error {
  constructor(
    readonly code: 'gwmp/socket' | 'gwmp/address',
    message: string,
  ) {
    super(message);
    this.name = 'GwmpError';
  }
}

/** `HOST:PORT` or `[v6]:PORT`, the host an IP address or a host name; an `ArgumentError` (`bad-endpoint`) otherwise. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new ArgumentError('bad-endpoint', `--gwmp: expected HOST:PORT (e.g. 127.0.0.1:1700), got ${JSON.stringify(text)}`);
  parseEndpoint(text, port, '--gwmp'); // the host's shape: `256.1.1.1` and `bad host` are no hosts
  return { host: m[1] ?? m[2]!, port };
}

const toB64 = (b: Bytes): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** ISO 8601 'compact' UTC with µs, as the forwarder writes `time`. */
function isoMicro(unixMs: number): string {
  const iso = new Date(Math.floor(unixMs)).toISOString(); // ...T12:34:56.789Z
  const micro = Math.floor((unixMs % 1) * 1000);
  return `${iso.slice(0, -1)}${String(micro).padStart(3, '0')}Z`;
}

export class GwmpGateway {
  readonly stats: GwmpStats = { pushData: 0, pushAck: 0, pushAckMissing: 0, pullData: 0, pullAck: 0, pullAckMissing: 0, pullResp: 0, txAck: 0, txAckErrors: 0, malformed: 0 };
  readonly euiHex: string;
  private socket: Socket | null = null;
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>();
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly origin: number;
  private readonly tmstStart: number;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: GwmpGatewayOptions) {
    if (!(options.eui instanceof Uint8Array) || options.eui.length !== 8) throw new TypeError('eui: expected Uint8Array of length 8');
    this.euiHex = Buffer.from(options.eui).toString('hex');
    this.now = options.now ?? (() => performance.now());
    this.random = options.random ?? Math.random;
    this.origin = this.now();
    this.tmstStart = (options.tmstStart ?? 0) >>> 0;
  }

  /** The concentrator counter now: µs, wrapping at 2^32. */
  tmstNow(): number {
    return this.tmstAt(this.now());
  }

  tmstAt(wallMs: number): number {
    return (this.tmstStart + Math.round((wallMs - this.origin) * 1000)) % 2 ** 32;
  }

  /** The wall time (performance.now()) of a tmst, taking the one nearest to now across the wrap. */
  wallOf(tmst: number): number {
    const now = this.now();
    let d = (tmst - this.tmstAt(now)) % 2 ** 32;
    if (d >= 2 ** 31) d -= 2 ** 32;
    if (d < -(2 ** 31)) d += 2 ** 32;
    return now + d / 1000;
  }

  async start(): Promise<void> {
    const family = isIP(this.options.host) === 6 ? 'udp6' : 'udp4';
    const socket = createSocket(family);
    this.socket = socket;
    socket.on('message', (msg) => this.receive(msg));
    socket.on('error', (e) => this.options.onLog?.(`gateway ${this.euiHex}: socket error: ${e.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      try {
        // Node calls this back on failure too (a name that does not resolve), with the error
        socket.connect(this.options.port, this.options.host, (error?: Error) => {
          socket.off('error', reject);
          if (error) reject(error);
          else resolve();
        });
      } catch (e) {
        reject(e);
      }
    }).catch((e: Error) => {
      this.socket = null;
      socket.close();
      throw new GwmpError('gwmp/socket', `gateway ${this.euiHex}: cannot reach ${this.options.host}:${this.options.port}: ${e.message}`);
    });
    this.pull();
    this.keepalive = setInterval(() => this.pull(), this.options.keepaliveMs ?? 10_000);
  }

  private header(id: number, token: number): Buffer {
    return Buffer.from([GWMP_VERSION, (token >> 8) & 0xff, token & 0xff, id]);
  }

  /** A random token not awaiting an acknowledgement of the same kind (a reused token would make a late ACK count for the wrong datagram). */
  private token(kind: 'push' | 'pull'): number {
    let t = Math.floor(this.random() * 65536) & 0xffff;
    for (let i = 0; i < 8 && this.pending.has(`${kind}:${t}`); i++) t = Math.floor(this.random() * 65536) & 0xffff;
    return t;
  }

  private send(buf: Buffer): void {
    this.socket?.send(buf, (e) => {
      if (e) this.options.onLog?.(`gateway ${this.euiHex}: send failed: ${e.message}`);
    });
  }

  private expectAck(kind: 'push' | 'pull', token: number): void {
    const key = `${kind}:${token}`;
    const previous = this.pending.get(key);
    if (previous !== undefined) {
      clearTimeout(previous);
      this.missing(kind);
    }
    const timer: ReturnType<typeof setTimeout> = setTimeout(() => {
      // Node runs expired timers before it reads the sockets: after the event loop was busy (a
      // firmware VM signing, a loaded machine) an ACK that came in time may still be unread. Read
      // them first (setImmediate runs after the poll phase), then count the ACK missing if it is.
      setImmediate(() => {
        if (this.pending.get(key) !== timer) return;
        this.pending.delete(key);
        this.missing(kind);
      });
    }, this.options.ackTimeoutMs ?? 2000);
    this.pending.set(key, timer);
  }

  private missing(kind: 'push' | 'pull'): void {
    if (kind === 'push') this.stats.pushAckMissing++;
    else this.stats.pullAckMissing++;
  }

  private pull(): void {
    const token = this.token('pull');
    this.stats.pullData++;
    this.expectAck('pull', token);
    this.send(Buffer.concat([this.header(PULL_DATA, token), Buffer.from(this.options.eui)]));
  }

  /** PUSH_DATA with one rxpk; returns the rxpk object sent. */
  push(rx: RxPacket): Record<string, unknown> {
    const nowWall = rx.endWallMs ?? this.now();
    const rxpk = {
      time: isoMicro(performance.timeOrigin + nowWall),
      tmst: rx.tmst ?? this.tmstAt(nowWall),
      chan: rx.chan,
      rfch: 0,
      freq: rx.freq,
      stat: 1,
      modu: 'LORA',
      datr: rx.datr,
      codr: '4/5',
      rssi: Math.round(rx.rssi),
      lsnr: Math.round(rx.lsnr * 10) / 10,
      size: rx.phyPayload.length,
      data: toB64(rx.phyPayload),
    };
    const token = this.token('push');
    this.stats.pushData++;
    this.expectAck('push', token);
    this.send(Buffer.concat([this.header(PUSH_DATA, token), Buffer.from(this.options.eui), Buffer.from(JSON.stringify({ rxpk: [rxpk] }))]));
    return rxpk;
  }

  private receive(msg: Buffer): void {
    if (msg.length < 4 || msg[0] !== GWMP_VERSION) {
      this.stats.malformed++;
      return;
    }
    const token = (msg[1]! << 8) | msg[2]!;
    const id = msg[3]!;
    if (id === PUSH_ACK || id === PULL_ACK) {
      const key = `${id === PUSH_ACK ? 'push' : 'pull'}:${token}`;
      const timer = this.pending.get(key);
      if (timer === undefined) return; // late or duplicate: already counted missing
      clearTimeout(timer);
      this.pending.delete(key);
      if (id === PUSH_ACK) this.stats.pushAck++;
      else this.stats.pullAck++;
      return;
    }
    if (id !== PULL_RESP) {
      this.stats.malformed++;
      return;
    }
    this.stats.pullResp++;
    let txpk: Record<string, unknown>;
    try {
      const parsed = JSON.parse(msg.subarray(4).toString('utf8')) as { txpk?: unknown };
      if (typeof parsed.txpk !== 'object' || parsed.txpk === null) throw new Error('no txpk object');
      txpk = parsed.txpk as Record<string, unknown>;
      if (typeof txpk.data !== 'string') throw new Error('txpk.data: expected base64');
    } catch (e) {
      this.stats.malformed++;
      this.options.onLog?.(`gateway ${this.euiHex}: PULL_RESP refused: ${(e as Error).message}`);
      this.txAck(token, 'TX_FREQ');
      return;
    }
    const phyPayload = new Uint8Array(Buffer.from(txpk.data as string, 'base64'));
    const freq = typeof txpk.freq === 'number' ? txpk.freq : null;
    const datr = typeof txpk.datr === 'string' ? txpk.datr : null;
    let tmst: number;
    if (txpk.imme === true) tmst = this.tmstNow();
    else if (typeof txpk.tmst === 'number') {
      tmst = txpk.tmst >>> 0;
      let ahead = (tmst - this.tmstNow()) % 2 ** 32;
      if (ahead < 0) ahead += 2 ** 32;
      if (ahead >= 2 ** 31) {
        this.txAck(token, 'TOO_LATE');
        return;
      }
      if (ahead > MAX_TX_ADVANCE_US) {
        this.txAck(token, 'TOO_EARLY');
        return;
      }
    } else {
      this.txAck(token, 'GPS_UNLOCKED'); // `time` (GPS) or nothing: this gateway has no GPS
      return;
    }
    this.txAck(token, 'NONE');
    const emission: Emission = { phyPayload, tmst, wallMs: this.wallOf(tmst), freq, datr, txpk };
    this.options.onSchedule?.(emission);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.options.onEmit?.(emission);
    }, Math.max(0, emission.wallMs - this.now()));
    this.timers.add(timer);
  }

  private txAck(token: number, error: TxAckError): void {
    this.stats.txAck++;
    if (error !== 'NONE') this.stats.txAckErrors++;
    this.send(Buffer.concat([this.header(TX_ACK, token), Buffer.from(this.options.eui), Buffer.from(JSON.stringify({ txpk_ack: { error } }))]));
  }

  /** Waits for outstanding acknowledgements (up to their timeout), then closes the socket. */
  async stop(): Promise<void> {
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.keepalive = null;
    const deadline = this.now() + (this.options.ackTimeoutMs ?? 2000) + 50;
    while (this.pending.size > 0 && this.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const t of this.pending.values()) clearTimeout(t);
    for (const key of this.pending.keys()) this.missing(key.startsWith('push') ? 'push' : 'pull');
    this.pending.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((r) => socket.close(() => r()));
  }
}
