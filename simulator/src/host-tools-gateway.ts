import { type Bytes, linkProfile } from '@sceau/protocol';
import { type Gateway, startGateway } from '@sceau/host-tools';
import type { DatagramMeta, DeviceRegistration, FrameSink, SinkOutcome } from './frame-sink.js';

export interface HostToolsGatewayOptions {
  /** SQLite file of the gateway's store, or ':memory:' (default). */
  db?: string;
  /** Threads of libuv's pool checking the gateway's signatures (default 0: on its main thread). */
  workers?: number;
}

/**
 * The gateway of @sceau/host-tools (`startGateway`), run in the simulator's process through its
 * library API: the same reassembly, verification, replay windows and SQLite store as
 * `sceau gateway serve`, without sockets. Datagrams are handed over in virtual-time order and
 * their outcomes are collected asynchronously (the gateway commits in batched transactions).
 */
export class HostToolsGatewaySink implements FrameSink {
  readonly name: string;
  readonly reportsFrames = false;
  readonly observable = true;
  readonly maxInFlight = 2048;
  private readonly hinted = new Map<string, boolean>();
  /** Virtual time of the latest datagram: the gateway's reassembly clock, so fragments expire on virtual time. */
  private virtualNow = 0;

  private constructor(
    readonly gateway: Gateway,
    db: string,
  ) {
    this.name = `in-process (@sceau/host-tools gateway, ${db === ':memory:' ? 'memory' : db})`;
  }

  static async start(options: HostToolsGatewayOptions = {}): Promise<HostToolsGatewaySink> {
    const db = options.db ?? ':memory:';
    let sink: HostToolsGatewaySink | undefined;
    const gateway = await startGateway({
      db,
      synchronous: 'normal',
      maxInFlight: 1_000_000,
      log: () => {},
      clock: () => sink?.virtualNow ?? 0,
      ...(options.workers ? { workers: options.workers } : {}),
    });
    sink = new HostToolsGatewaySink(gateway, db);
    return sink;
  }

  /**
   * The whole fleet in one transaction (all or none), through the store's registry; then the
   * content keys wrapped for the owner, as `sceau provision --owner` stores them.
   */
  async register(devices: DeviceRegistration[]): Promise<void> {
    const entries = devices.map((d, i) => {
      const eui = d.deviceIds.find((id) => id.startsWith('deveui:'));
      return { where: `device ${i}`, publicKey: d.publicKey, name: d.name, ...(eui !== undefined ? { devEui: eui.slice('deveui:'.length) } : {}) };
    });
    await this.gateway.store.registry.registerMany(entries);
    const wrapped = devices.flatMap((d) => (d.wrappedContentKey === undefined ? [] : [d.wrappedContentKey]));
    if (wrapped.length === 0) return;
    const privacy = this.gateway.store.privacy;
    if (privacy === undefined) throw new Error('the in-process gateway\'s store keeps no wrapped content keys');
    for (const w of wrapped) await privacy.putWrappedKey(w);
  }

  async deliver(datagram: Bytes, meta: DatagramMeta): Promise<SinkOutcome> {
    this.virtualNow = meta.t;
    let hinted = this.hinted.get(meta.link);
    if (hinted === undefined) {
      hinted = !linkProfile(meta.link).identifiesSender;
      this.hinted.set(meta.link, hinted);
    }
    const r = await this.gateway.ingestDatagram(datagram, {
      source: meta.source,
      ...(meta.source.startsWith('deveui:') ? { deviceId: meta.source } : {}),
      receivedAt: meta.unixMs,
      hinted,
    });
    if ('kind' in r) return r.kind === 'invalid' ? { kind: 'invalid', detail: r.detail ?? '' } : { kind: r.kind };
    if (r.ok) return { kind: 'accepted', kid: r.kid ?? '', counter: r.counter ?? 0, ...(r.delivery === 'duplicate' ? { delivery: 'duplicate' as const } : {}) };
    const out: SinkOutcome = { kind: 'rejected', code: r.code as Exclude<typeof r.code, 'ok'> };
    if (r.detail !== undefined) out.detail = r.detail;
    if (r.kid !== undefined) out.kid = r.kid;
    if (r.counter !== undefined) out.counter = r.counter;
    return out;
  }

  async close(): Promise<void> {
    await this.gateway.drain();
    await this.gateway.close();
  }
}
