// Group commit: frames nobody awaits an answer for (UDP, TCP) are not committed at the first idle
// event-loop turn but after `idleGraceMs` without a new frame, so bursts share a transaction;
// a frame whose caller awaits the answer is committed at the first idle turn.
//
// The clock is vitest's fake one (timers, immediates, performance.now): a commit "takes" 30 ms
// because the store moves the fake clock by 30 ms, and the bursts arrive at fake times the test
// sets, so no assertion depends on how fast this machine runs (issue 19: no wall-clock bounds, no
// sleep that must finish inside a grace).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getPublicKey, sealRecord } from '@sceau/protocol';
import { Ingestor, Store } from '@sceau/host-tools';

const seed = new Uint8Array(32).fill(0x44);
const frame = (counter: number): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: counter }] }, seed);
const COMMIT_MS = 30;
/** The real setImmediate, taken before the fake clock replaces it: lets I/O callbacks (the WAL sync) run. */
const realSetImmediate = setImmediate;
const ioTurn = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve));

/** A store whose every commit takes 30 ms of the fake clock, so the gap between commits is known (8 x 30 ms = 240 ms). */
function slowStore(): Store {
  const store = Store.open(':memory:');
  store.addDevice(getPublicKey(seed));
  const writeBatch = store.writeBatch.bind(store);
  store.writeBatch = (columns) => {
    const ids = writeBatch(columns);
    vi.advanceTimersByTime(COMMIT_MS); // a slow disk, on the fake clock
    return ids;
  };
  return store;
}

/** Runs the fake event loop (immediates, timers due by then, I/O callbacks) until `p` settles, without moving the clock. */
async function settleWithoutTime<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const out = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < 1000 && !done; i++) {
    await vi.advanceTimersByTimeAsync(0);
    if (!done) await ioTurn();
  }
  if (!done) throw new Error('the promise needs the clock to move');
  return out;
}

/** Runs every fake timer (and the I/O between) until `p` settles. */
async function settle<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const out = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < 1000 && !done; i++) {
    await vi.runAllTimersAsync();
    if (!done) await ioTurn();
  }
  return out;
}

describe('group commit after an idle turn', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const failed = (): void => {
    throw new Error('not stored');
  };

  /** Frame 1 committed alone, then 2-6, then 7-11 `pauseMs` of fake time later: the commits it took. */
  async function twoBursts(pauseMs: number, idleGraceMs: number): Promise<{ batches: number; counters: Array<number | null> }> {
    const store = slowStore();
    const ingestor = new Ingestor(store, { idleGraceMs, maxCommitDelayMs: 1000 });
    try {
      ingestor.submit(frame(1), { source: 'udp:test' }, failed);
      await settle(ingestor.drain()); // the first commit, at once: no gap yet
      expect(ingestor.metrics.storeBatches).toBe(1);
      for (let c = 2; c <= 6; c++) ingestor.submit(frame(c), { source: 'udp:test' }, failed);
      await vi.advanceTimersByTimeAsync(pauseMs);
      for (let c = 7; c <= 11; c++) ingestor.submit(frame(c), { source: 'udp:test' }, failed);
      await settle(ingestor.drain());
      return { batches: ingestor.metrics.storeBatches, counters: (await store.queryFrames({ outcome: 'ok' })).map((f) => f.counter) };
    } finally {
      await settle(ingestor.close());
      store.close();
    }
  }

  it('keeps two bursts of unanswered frames 20 ms apart in one transaction (grace 200 ms)', async () => {
    const r = await twoBursts(20, 200);
    expect(r.batches).toBe(2);
    expect(r.counters).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('commits the first burst once the grace has passed without a new frame (the grace is a bound, not the gap)', async () => {
    // 201 ms after the first burst: its 200 ms grace ran out before the gap (240 ms) did.
    const r = await twoBursts(201, 200);
    expect(r.batches).toBe(3);
    expect(r.counters).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Just inside the grace, the bursts still share a transaction.
    expect((await twoBursts(199, 200)).batches).toBe(2);
  });

  it('commits a frame whose caller awaits the answer at the first idle turn, not after the grace', async () => {
    const store = slowStore();
    const ingestor = new Ingestor(store, { idleGraceMs: 2000, maxCommitDelayMs: 5000 });
    try {
      expect((await settle(ingestor.ingest(frame(1), { source: 'http' }))).code).toBe('ok');
      const started = performance.now();
      // The gap (8 x 30 ms) has not passed, the grace (2 s) would have: neither applies, the
      // answer comes without any timer firing; the only time that passes is the commit's own.
      expect((await settleWithoutTime(ingestor.ingest(frame(2), { source: 'http' }))).code).toBe('ok');
      expect(performance.now() - started).toBe(COMMIT_MS);
      expect(ingestor.metrics.storeBatches).toBe(2);
    } finally {
      await settle(ingestor.close());
      store.close();
    }
  });
});
