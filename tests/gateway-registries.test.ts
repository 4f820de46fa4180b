// A store backend and a transport added through their registries alone (one registration call
// each, nothing else edited): startGateway opens the store by its URL scheme, starts the
// transport, and frames ingested through it are verified, stored, answered as duplicates, and read
// back through the gateway's HTTP API (registration and read routes), all on a store with no SQLite.
import { afterEach, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, MemoryKeyring, ReplayWindow, sealRecord, toHex, type Bytes, type KeyQuery, type KeyringEntry } from '@sceau/protocol';
import {
  openStore,
  registerStoreBackend,
  registerTransport,
  startGateway,
  StoreError,
  unregisterStoreBackend,
  unregisterTransport,
  type AcceptedFrame,
  type CommitDone,
  type DatagramIntake,
  type Device,
  type FrameColumns,
  type FrameFilter,
  type FrameRow,
  type OpenedStore,
  type ReadingRow,
  type Registration,
  type TransportDefinition,
} from '@sceau/host-tools';

interface Row {
  id: number;
  kid: string | null;
  counter: number | null;
  outcome: string;
  raw: Uint8Array;
  receivedAt: number;
  source: string;
}

/** A whole backend in memory: keyring, windows, rows, an async query side, a registry. */
class MemoryStore implements OpenedStore {
  readonly keys = new MemoryKeyring();
  readonly devices: Device[] = [];
  readonly rows: Row[] = [];
  closed = false;
  private readonly windows = new Map<string, ReplayWindow>();
  readonly replay = {
    get: (kid: string): ReplayWindow => {
      let w = this.windows.get(kid);
      if (w === undefined) this.windows.set(kid, (w = new ReplayWindow()));
      return w;
    },
    forget: (): void => this.windows.clear(),
  };
  readonly registry = {
    register: (publicKey: Bytes, options: { name?: string | undefined } = {}): Registration => {
      const kid = toHex(kidOf(publicKey));
      const known = this.devices.find((d) => d.kid === kid);
      if (known !== undefined) return { device: known, result: 'unchanged' };
      const device: Device = { kid, publicKey: toHex(publicKey), name: options.name ?? null, devEui: null, revoked: false, state: 'registered', createdAt: new Date(0).toISOString(), revokedAt: null, highestCounter: 0 };
      this.devices.push(device);
      this.keys.add(publicKey);
      return { device, result: 'created' };
    },
    registerMany: (entries: ReadonlyArray<{ publicKey: Bytes; name?: string | undefined }>) => entries.map((e) => this.registry.register(e.publicKey, e)),
    show: (ref: string) => ({ ...this.find(ref), keys: [] }),
    kidsOf: async (ref: string) => [this.find(ref).kid],
  };

  constructor(readonly location: string) {}

  private find(ref: string): Device {
    const d = this.devices.find((x) => x.kid === ref || x.name === ref);
    if (d === undefined) throw new Error(`no device ${ref}`);
    return d;
  }
  resolve(query: KeyQuery): KeyringEntry | undefined {
    return this.keys.resolve(query);
  }
  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined {
    const row = this.rows.find((r) => r.kid === kid && r.counter === counter && r.outcome === 'ok');
    return row === undefined ? undefined : { id: row.id, receivedAt: row.receivedAt, source: row.source, raw: row.raw };
  }
  commitBatch(batch: FrameColumns, done: CommitDone): void {
    setImmediate(() => {
      const ids = batch.raw.map((raw, i) => {
        const id = this.rows.length + 1;
        this.rows.push({ id, kid: batch.kid[i]!, counter: batch.counter[i]!, outcome: batch.outcome[i]!, raw, receivedAt: batch.receivedAt[i]!, source: batch.source[i]! });
        return id;
      });
      done(undefined, ids);
    });
  }
  isContention(): boolean {
    return false;
  }
  probeWrite(): string | undefined {
    return undefined;
  }
  health(): string | undefined {
    return this.closed ? 'closed' : undefined;
  }
  async listDevices(): Promise<Device[]> {
    return [...this.devices];
  }
  async getDevice(ref: string): Promise<Device | undefined> {
    return this.devices.find((x) => x.kid === ref || x.name === ref);
  }
  async queryFrames(filter: FrameFilter = {}): Promise<FrameRow[]> {
    return this.rows
      .filter((r) => (filter.kids === undefined || filter.kids.includes(r.kid ?? '')) && (filter.outcome === undefined || r.outcome === filter.outcome))
      .map((r) => ({ id: r.id, receivedAt: new Date(r.receivedAt).toISOString(), source: r.source, outcome: r.outcome, kid: r.kid, counter: r.counter, detail: null, frame: toHex(r.raw) }));
  }
  async queryReadings(): Promise<ReadingRow[]> {
    return [];
  }
  async *iterateReadings(): AsyncIterableIterator<ReadingRow> {}
  async countFramesByOutcome(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.rows) out[r.outcome] = (out[r.outcome] ?? 0) + 1;
    return out;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const opened: MemoryStore[] = [];
let intake: DatagramIntake | undefined;
let transportStopped = false;

/** A transport fed by function calls, as a message queue would be by its broker. */
const queueTransport: TransportDefinition = {
  name: 'queue',
  wanted: (options) => (options as { queue?: boolean }).queue === true,
  async start(context) {
    intake = context.intake;
    transportStopped = false;
    return { address: { host: 'queue', port: 0 }, stop: async () => void (transportStopped = true) };
  },
};

/** Hands a datagram to the transport's intake; resolves with its stored verdict. */
function deliver(datagram: Uint8Array): Promise<{ code: string; delivery?: string; id?: number }> {
  return new Promise((resolve, reject) => {
    intake!(datagram, { hinted: false, key: 'queue:a', origin: 'queue', ingest: { source: 'queue:a' } }, reject, resolve);
  });
}

afterEach(() => {
  unregisterStoreBackend('memory');
  unregisterTransport('queue');
  opened.length = 0;
});

const seed = new Uint8Array(32).fill(0x5a);
const frame = (counter: number, value = 1): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value }] }, seed);

describe('the store and transport registries', () => {
  it('refuses a scheme twice and a second backend of file paths; an unknown scheme is a StoreError', async () => {
    registerStoreBackend({ name: 'memory', schemes: ['memory'], open: async (location) => new MemoryStore(location) });
    expect(() => registerStoreBackend({ name: 'memory-2', schemes: ['memory'], open: async (location) => new MemoryStore(location) })).toThrow(RangeError);
    expect(() => registerStoreBackend({ name: 'files-2', open: async (location) => new MemoryStore(location) })).toThrow(/already opens file paths/);
    await expect(openStore('nosuch://x', 'readonly')).rejects.toSatisfy((e: unknown) => e instanceof StoreError && e.code === 'store-backend-unknown');
  });

  it('ingests through a registered transport into a registered store, and the HTTP API reads it back', async () => {
    registerStoreBackend({
      name: 'memory',
      schemes: ['memory'],
      open: async (location) => {
        const store = new MemoryStore(location);
        opened.push(store);
        return store;
      },
    });
    registerTransport(queueTransport);
    const gw = await startGateway({ db: 'memory://fleet', queue: true, http: '127.0.0.1:0', log: () => undefined } as Parameters<typeof startGateway>[0]);
    const store = opened[0]!;
    try {
      expect(store.location).toBe('memory://fleet');
      expect(gw.store).toBe(store);
      expect(gw.addresses.queue).toEqual({ host: 'queue', port: 0 });
      const base = gw.addresses.http!.url;
      // Registration through the gateway's API lands in the backend's registry.
      const reg = await fetch(`${base}/v1/devices`, { method: 'POST', body: JSON.stringify({ publicKey: toHex(getPublicKey(seed)), name: 'meter' }), headers: { 'content-type': 'application/json' } });
      expect(reg.status).toBe(201);
      expect(store.devices.map((d) => d.name)).toEqual(['meter']);

      expect(await deliver(frame(1))).toMatchObject({ code: 'ok', delivery: 'new', id: 1 });
      expect(await deliver(frame(1))).toMatchObject({ code: 'ok', delivery: 'duplicate', id: 1 }); // the same bytes again
      expect(await deliver(frame(1, 7))).toMatchObject({ code: 'replay', delivery: 'new', id: 2 }); // other bytes, same counter
      expect(store.rows.map((r) => [r.counter, r.outcome, r.source])).toEqual([[1, 'ok', 'queue:a'], [1, 'replay', 'queue:a']]);

      const frames = (await (await fetch(`${base}/v1/frames?kid=meter`)).json()) as { frames: Array<{ outcome: string }> };
      expect(frames.frames.map((f) => f.outcome)).toEqual(['ok', 'replay']);
      const devices = (await (await fetch(`${base}/v1/devices`)).json()) as { devices: Device[] };
      expect(devices.devices.map((d) => d.name)).toEqual(['meter']);
      expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ ok: true });
    } finally {
      await gw.close();
    }
    expect(transportStopped).toBe(true);
    expect(store.closed).toBe(true); // opened by the gateway, so closed by it
  });
});
