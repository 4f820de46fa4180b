// Group commit: frames nobody awaits an answer for (UDP, TCP) are not committed at the first idle
// event-loop turn but after `idleGraceMs` without a new frame, so bursts share a transaction;
// a frame whose caller awaits the answer is committed at the first idle turn.
import { describe, expect, it } from 'vitest';
import { getPublicKey, sealRecord } from '@sceau/protocol';
import { Ingestor, Store } from '@sceau/host-tools';

const seed = new Uint8Array(32).fill(0x44);
const frame = (counter: number): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: counter }] }, seed);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A store whose every commit takes at least 30 ms, so the gap between commits is known (8 x 30 ms). */
function slowStore(): Store {
  const store = Store.open(':memory:');
  store.addDevice(getPublicKey(seed));
  const writeBatch = store.writeBatch.bind(store);
  store.writeBatch = (columns) => {
    const until = performance.now() + 30;
    while (performance.now() < until); // a slow disk
    return writeBatch(columns);
  };
  return store;
}

describe('group commit after an idle turn', () => {
  it('keeps two bursts of unanswered frames 20 ms apart in one transaction', async () => {
    const store = slowStore();
    const ingestor = new Ingestor(store, { idleGraceMs: 200, maxCommitDelayMs: 1000 });
    const failed = (): void => {
      throw new Error('not stored');
    };
    try {
      ingestor.submit(frame(1), { source: 'udp:test' }, failed);
      await ingestor.drain(); // the first commit, at once: no gap yet
      expect(ingestor.metrics.storeBatches).toBe(1);
      for (let c = 2; c <= 6; c++) ingestor.submit(frame(c), { source: 'udp:test' }, failed);
      await sleep(20);
      for (let c = 7; c <= 11; c++) ingestor.submit(frame(c), { source: 'udp:test' }, failed);
      await ingestor.drain();
      expect(ingestor.metrics.storeBatches).toBe(2);
      expect((await store.queryFrames({ outcome: 'ok' })).map((f) => f.counter)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    } finally {
      await ingestor.close();
      store.close();
    }
  });

  it('commits a frame whose caller awaits the answer at the first idle turn, not after the grace', async () => {
    const store = slowStore();
    const ingestor = new Ingestor(store, { idleGraceMs: 2000, maxCommitDelayMs: 5000 });
    try {
      expect((await ingestor.ingest(frame(1), { source: 'http' })).code).toBe('ok');
      const started = performance.now();
      expect((await ingestor.ingest(frame(2), { source: 'http' })).code).toBe('ok');
      // The gap (8 x 30 ms or more) has not passed, the grace (2 s) would have: neither applies.
      expect(performance.now() - started).toBeLessThan(1000);
      expect(ingestor.metrics.storeBatches).toBe(2);
    } finally {
      await ingestor.close();
      store.close();
    }
  });
});
