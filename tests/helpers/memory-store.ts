// Stores in memory, for tests that run the pipeline without SQLite: the ingest side alone
// (a keyring, replay windows and rows in arrays; commits answer on the next turn), and a whole
// backend (with an async query side and a registry) to register through the store registry.
import { kidOf, MemoryKeyring, ReplayWindow, toHex, type Bytes, type KeyQuery, type KeyringEntry } from '@sceau/protocol';
import type { AcceptedFrame, CommitDone, Device, FrameColumns, FrameFilter, FrameRow, IngestStore, OpenedStore, ReadingRow, Registration } from '@sceau/host-tools';

export interface MemoryRow {
  id: number;
  kid: string | null;
  counter: number | null;
  outcome: string;
  raw: Uint8Array;
  receivedAt: number;
  source: string;
}

/** A store in memory: a keyring, windows and rows in arrays; commits answer on the next turn. */
export class MemoryIngestStore implements IngestStore {
  readonly keys = new MemoryKeyring();
  readonly rows: MemoryRow[] = [];
  readonly commits: number[] = [];
  private readonly windows = new Map<string, ReplayWindow>();
  readonly replay = {
    get: (kid: string): ReplayWindow => {
      let w = this.windows.get(kid);
      if (w === undefined) this.windows.set(kid, (w = new ReplayWindow()));
      return w;
    },
    forget: (): void => this.windows.clear(),
  };
  failNext = false;

  resolve(query: KeyQuery): KeyringEntry | undefined {
    return this.keys.resolve(query);
  }
  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined {
    const row = this.rows.find((r) => r.kid === kid && r.counter === counter && r.outcome === 'ok');
    return row === undefined ? undefined : { id: row.id, receivedAt: row.receivedAt, source: row.source, raw: row.raw };
  }
  commitBatch(batch: FrameColumns, done: CommitDone): void {
    setImmediate(() => {
      if (this.failNext) {
        this.failNext = false;
        done(new Error('disk on fire'), []);
        return;
      }
      const ids = batch.raw.map((raw, i) => {
        const id = this.rows.length + 1;
        this.rows.push({ id, kid: batch.kid[i]!, counter: batch.counter[i]!, outcome: batch.outcome[i]!, raw, receivedAt: batch.receivedAt[i]!, source: batch.source[i]! });
        return id;
      });
      this.commits.push(ids.length);
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
    return undefined;
  }
}

/** A whole backend in memory: the ingest side of the helper, an async query side, a registry. */
export class MemoryStore extends MemoryIngestStore implements OpenedStore {
  readonly devices: Device[] = [];
  closed = false;
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

  constructor(readonly location: string) {
    super();
  }

  private find(ref: string): Device {
    const d = this.devices.find((x) => x.kid === ref || x.name === ref);
    if (d === undefined) throw new Error(`no device ${ref}`);
    return d;
  }
  override health(): string | undefined {
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
