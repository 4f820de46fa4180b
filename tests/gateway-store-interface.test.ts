// The ingest pipeline sees the store only through `IngestStore` (store-interface.ts): a store
// written here in memory, with no SQLite, verifies, applies replay windows, answers duplicate
// deliveries and commits in batches exactly as the SQLite store does.
import { describe, expect, it } from 'vitest';
import { getPublicKey, sealRecord } from '@sceau/protocol';
import { Ingestor, Store, type IngestStore } from '@sceau/host-tools';
import { MemoryIngestStore } from './helpers/memory-store.js';

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
