import { type Bytes, MemoryKeyring, Reassembler, ReplayWindows, linkProfile, toHex, verifyFrame } from '@sceau/protocol';
import type { DatagramMeta, DeviceRegistration, FrameSink, SinkOutcome } from './frame-sink.js';
import { SqliteFrameStore } from './sqlite-store.js';

export interface InProcessGatewayOptions {
  /** SQLite file to store frames and readings in; none keeps everything in memory only. */
  db?: string;
  /** Incomplete fragmented messages expire after this long (default 10 minutes, as the protocol's Reassembler). */
  expiryMs?: number;
}

/**
 * A gateway in the simulator's process, built directly on @sceau/protocol: reassembly per
 * transport source, verifyFrame against an in-memory keyring with replay windows, and an
 * optional SQLite store. It stands in for @sceau/host-tools' gateway until that one exports
 * its library API (then `--gateway in-process` should use it).
 */
export class InProcessGateway implements FrameSink {
  readonly name = 'in-process';
  readonly reportsFrames = true;
  readonly observable = true;
  readonly keyring = new MemoryKeyring();
  readonly windows = new ReplayWindows();
  private readonly plain: Reassembler;
  private readonly hinted: Reassembler;
  private readonly hintByLink = new Map<string, boolean>();
  readonly store: SqliteFrameStore | undefined;

  constructor(options: InProcessGatewayOptions = {}) {
    const expiry = options.expiryMs === undefined ? {} : { expiryMs: options.expiryMs };
    this.plain = new Reassembler({ ...expiry, senderHint: false, maxPending: 1_000_000 });
    this.hinted = new Reassembler({ ...expiry, senderHint: true, maxPending: 1_000_000 });
    this.store = options.db === undefined ? undefined : new SqliteFrameStore(options.db);
  }

  register(devices: DeviceRegistration[]): void {
    for (const d of devices) this.keyring.add(d.publicKey, { deviceIds: d.deviceIds });
    this.store?.addDevices(devices.map((d) => ({ kid: d.kid, publicKeyHex: toHex(d.publicKey), name: d.name, deviceId: d.deviceIds[0] ?? null })));
  }

  deliver(datagram: Bytes, meta: DatagramMeta): SinkOutcome {
    let hint = this.hintByLink.get(meta.link);
    if (hint === undefined) {
      hint = !linkProfile(meta.link).identifiesSender;
      this.hintByLink.set(meta.link, hint);
    }
    const pushed = (hint ? this.hinted : this.plain).push(datagram, meta.t, meta.source);
    if (pushed.kind === 'pending' || pushed.kind === 'duplicate') return { kind: pushed.kind };
    if (pushed.kind === 'invalid') return pushed;
    const frame = pushed.frame;
    const v = verifyFrame(frame, this.keyring, { replay: this.windows, now: Math.floor(meta.unixMs / 1000), deviceId: meta.source });
    if (v.ok) {
      this.store?.addFrame(meta.unixMs, meta.source, v.kid, v.counter, 'accepted', null, frame, v.readings);
      return { kind: 'accepted', kid: v.kid, counter: v.counter, frame };
    }
    this.store?.addFrame(meta.unixMs, meta.source, v.kid ?? null, v.counter ?? null, v.code, v.detail, frame, null);
    const out: SinkOutcome = { kind: 'rejected', code: v.code, detail: v.detail, frame };
    if (v.kid !== undefined) out.kid = v.kid;
    if (v.counter !== undefined) out.counter = v.counter;
    return out;
  }

  /** Reassembly counters of both reassemblers (fragments, duplicates, expired...). */
  reassemblyStats(): { expired: number; duplicates: number; pending: number } {
    const a = this.plain.stats();
    const b = this.hinted.stats();
    return { expired: a.expired + b.expired, duplicates: a.duplicates + b.duplicates, pending: a.pending + b.pending };
  }

  close(): void {
    if (this.store !== undefined) {
      this.store.saveWindows(this.windows.entries());
      this.store.close();
    }
  }
}
