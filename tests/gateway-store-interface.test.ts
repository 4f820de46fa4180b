// The ingest pipeline sees the store only through `IngestStore` (store-interface.ts): a store
// written here in memory, with no SQLite, verifies, applies replay windows, answers duplicate
// deliveries and commits in batches exactly as the SQLite store does.
import { describe, expect, it } from 'vitest';
import { getPublicKey, MemoryKeyring, ReplayWindow, sealRecord, type KeyQuery, type KeyringEntry } from '@sceau/protocol';
import { Ingestor, Store, type AcceptedFrame, type CommitDone, type FrameColumns, type IngestStore } from '@sceau/host-tools';

/** A store in memory: a keyring, windows and rows in arrays; commits answer on the next turn. */
class MemoryIngestStore implements IngestStore {
  readonly keys = new MemoryKeyring();
  readonly rows: Array<{ id: number; kid: string | null; counter: number | null; outcome: string; raw: Uint8Array; receivedAt: number; source: string }> = [];
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

const seed = new Uint8Array(32).fill(0x61);
const frame = (counter: number, value = 1): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value }] }, seed);

describe('the ingest pipeline on a store in memory (IngestStore only)', () => {
  it('verifies, refuses replays, answers duplicates from the store, and batches commits', async () => {
    const store = new MemoryIngestStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    const first = await Promise.all([1, 2, 3].map((c) => ingestor.ingest(frame(c), { source: 'test' })));
    expect(first.map((r) => `${r.code} ${r.delivery} ${r.id}`)).toEqual(['ok new 1', 'ok new 2', 'ok new 3']);
    expect(store.commits).toEqual([3]); // one transaction for the three
    const again = await ingestor.ingest(frame(2), { source: 'test' });
    expect(again).toMatchObject({ code: 'ok', delivery: 'duplicate', id: 2 });
    const replay = await ingestor.ingest(frame(2, 9), { source: 'test' });
    expect(replay).toMatchObject({ code: 'replay', delivery: 'new', id: 4 });
    expect(store.rows.map((r) => r.outcome)).toEqual(['ok', 'ok', 'ok', 'replay']);
    expect(ingestor.metrics.duplicateDeliveries()).toBe(1);
    await ingestor.close();
  });

  it('a failed commit refuses its frames and forgets the windows they advanced', async () => {
    const store = new MemoryIngestStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    store.failNext = true;
    await expect(ingestor.ingest(frame(5), { source: 'test' })).rejects.toMatchObject({ reason: 'store-failed' });
    expect(await ingestor.ingest(frame(5), { source: 'test' })).toMatchObject({ code: 'ok', delivery: 'new' });
    await ingestor.close();
  });

  it('the SQLite store is one implementation of the same interface', () => {
    const store: IngestStore = Store.open(':memory:');
    expect(store.health()).toBeUndefined();
    expect(store.probeWrite()).toBeUndefined();
    expect(store.acceptedFrame('0011223344556677', 1)).toBeUndefined();
    (store as Store).close();
  });
});
