// The gateway's verdict path (ingest.ts and the SQLite store's replay windows), rule by rule, for
// the mutation run of host-tools (issue 19, `npm run mutation -- --scope gateway`): each test
// names the rule it guards, and a verdict loosened in ingest.ts or store-replay-windows.ts fails
// one of them. The real `Ingestor` on the real SQLite `Store` (a file in a temporary directory),
// or on the in-memory `IngestStore` of tests/helpers when a commit must fail or conflict.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, sealRecordV2, sha256, toHex, type SceauRecord } from '@sceau/protocol';
import { Ingestor, NotStoredError, SqliteReplayWindows, Store, type CommitConflict, type CommitDone, type FrameColumns, type IngestResult } from '@sceau/host-tools';
import { MemoryIngestStore } from './helpers/memory-store.js';

const dir = mkdtempSync(join(tmpdir(), 'sceau-verdicts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const dbFile = (): string => join(dir, `v${++files}.db`);

const seed = sha256(new TextEncoder().encode('gateway verdicts device'));
const kid = toHex(kidOf(getPublicKey(seed)));
const record = (counter: number, value = 2150): SceauRecord => ({ version: 1, counter, time: 1764331200, readings: [{ channel: 1, value }] });
const frame = (counter: number, value?: number): Uint8Array => sealRecord(record(counter, value), seed);
const T0 = Date.UTC(2026, 11, 2, 8, 0, 0);

function openStore(file = dbFile()): Store {
  const store = Store.open(file);
  store.addDevice(getPublicKey(seed), { name: 'verdicts', devEui: '0004a30b001c0599' });
  return store;
}

/** Rows as `counter outcome`, in id order. */
async function rows(store: Store): Promise<string[]> {
  return (await store.queryFrames({ kid, limit: 1000 })).map((f) => `${f.counter} ${f.outcome}`);
}

describe('verdicts on the SQLite store', () => {
  // Rule: an accepted frame is answered with its row id, receive time and source, delivery `new`.
  it('accepts a frame and answers with its row, time and source', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const r = await ingestor.ingest(frame(5), { source: 'http:127.0.0.1', receivedAt: T0 });
    expect(r).toMatchObject({ ok: true, code: 'ok', kid, counter: 5, delivery: 'new', id: 1, receivedAt: new Date(T0).toISOString(), source: 'http:127.0.0.1' });
    expect(r.readings).toEqual([expect.objectContaining({ channel: 1, raw: 2150 })]);
    expect(await rows(store)).toEqual(['5 ok']);
    expect(ingestor.metrics.inFlight).toBe(0);
    await ingestor.close();
    store.close();
  });

  // Rule: other bytes for an accepted counter are a `replay`, stored as such; the window does not move.
  it('other bytes for a committed counter: replay, stored, counted', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    await ingestor.ingest(frame(7), { source: 'udp:10.0.0.1:9', receivedAt: T0 });
    const replay = await ingestor.ingest(frame(7, 1), { source: 'udp:10.0.0.1:9', receivedAt: T0 + 1000 });
    expect(replay).toMatchObject({ ok: false, code: 'replay', kid, counter: 7, delivery: 'new', id: 2, receivedAt: new Date(T0 + 1000).toISOString() });
    expect(replay.detail).toBe('counter 7 already accepted or older than the window (highest 7)');
    expect(await rows(store)).toEqual(['7 ok', '7 replay']);
    expect(store.replay.get(kid).state()).toEqual({ highest: 7, bitmap: '0000000000000001' });
    expect(ingestor.metrics.duplicateDeliveries()).toBe(0);
    await ingestor.close();
    store.close();
  });

  // Rule: the same bytes again after the commit are a `duplicate` delivery: the original's id,
  // receive time, source and verdict, not stored again, counted by transport.
  it('the same bytes after the commit: the original answer, delivery duplicate, nothing stored', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const first = await ingestor.ingest(frame(9), { source: 'tts', receivedAt: T0 });
    const again = await ingestor.ingest(frame(9), { source: 'http:127.0.0.1', receivedAt: T0 + 5000 });
    expect(again).toEqual({ ...first, delivery: 'duplicate' });
    expect(again.source).toBe('tts');
    expect(await rows(store)).toEqual(['9 ok']);
    expect(ingestor.metrics.duplicateDeliveries()).toBe(1);
    expect([...ingestor.metrics.duplicates]).toEqual([['http', 1]]);
    expect(ingestor.metrics.inFlight).toBe(0);
    await ingestor.drain();
    await ingestor.close();
    store.close();
  });

  // Rule: a duplicate arriving before the original is committed waits for it and gets its row.
  it('the same bytes before the commit: the original row once committed; other bytes then are a replay', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const results = await Promise.all([
      ingestor.ingest(frame(11), { source: 'http:a', receivedAt: T0 }),
      ingestor.ingest(frame(11), { source: 'http:b', receivedAt: T0 + 1 }),
      ingestor.ingest(frame(11, 3), { source: 'http:c', receivedAt: T0 + 2 }),
      ingestor.ingest(frame(11), { source: 'udp:d', receivedAt: T0 + 3 }),
    ]);
    expect(results.map((r) => `${r.code} ${r.delivery} ${r.id} ${r.source}`)).toEqual(['ok new 1 http:a', 'ok duplicate 1 http:a', 'replay new 2 http:c', 'ok duplicate 1 http:a']);
    expect(results[1]).toEqual({ ...results[0], delivery: 'duplicate' });
    expect(await rows(store)).toEqual(['11 ok', '11 replay']);
    expect([...ingestor.metrics.duplicates].sort()).toEqual([['http', 1], ['udp', 1]]);
    expect(ingestor.metrics.inFlight).toBe(0);
    await ingestor.close();
    store.close();
  });

  // Rule: a counter below the window (64 counters under the highest) is a replay, whatever its bytes.
  it('a counter too old for the window is a replay; one inside it, not yet seen, is accepted', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    await ingestor.ingest(frame(100), { source: 'test' });
    expect(await ingestor.ingest(frame(36), { source: 'test' })).toMatchObject({ code: 'replay', counter: 36, delivery: 'new' });
    expect(await ingestor.ingest(frame(37), { source: 'test' })).toMatchObject({ code: 'ok', counter: 37, delivery: 'new' });
    expect(await ingestor.ingest(frame(37), { source: 'test' })).toMatchObject({ code: 'ok', counter: 37, delivery: 'duplicate' });
    expect(await rows(store)).toEqual(['100 ok', '36 replay', '37 ok']);
    await ingestor.close();
    store.close();
  });

  // Rule: the windows are stored with the frames: a gateway started again on the file refuses the replay.
  it('windows survive a restart: the store read again refuses the same counter with other bytes, and answers the same bytes as a duplicate', async () => {
    const file = dbFile();
    const store = openStore(file);
    const ingestor = new Ingestor(store);
    for (const c of [3, 1, 40]) await ingestor.ingest(frame(c), { source: 'test' });
    await ingestor.close();
    store.close();
    const reopened = Store.open(file);
    expect(reopened.replay.get(kid).state()).toEqual({ highest: 40, bitmap: (2n ** 39n + 2n ** 37n + 1n).toString(16).padStart(16, '0') });
    const again = new Ingestor(reopened);
    expect(await again.ingest(frame(3, 9), { source: 'test' })).toMatchObject({ code: 'replay', counter: 3 });
    expect(await again.ingest(frame(1), { source: 'test' })).toMatchObject({ code: 'ok', counter: 1, delivery: 'duplicate', id: 2 });
    expect(await again.ingest(frame(2), { source: 'test' })).toMatchObject({ code: 'ok', counter: 2, delivery: 'new' });
    await again.close();
    reopened.close();
  });

  // Rule: a revoked key's frames are refused `key-revoked` (stored with that outcome); unrevoked, accepted again.
  it('revoked and unknown keys', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    expect(await ingestor.ingest(frame(1), { source: 'test' })).toMatchObject({ code: 'ok' });
    store.revokeDevice(kid);
    expect(await ingestor.ingest(frame(2), { source: 'test' })).toMatchObject({ ok: false, code: 'key-revoked', kid, delivery: 'new' });
    // a revoked key's earlier frame sent again is not a duplicate: the key is refused first
    expect(await ingestor.ingest(frame(1), { source: 'test' })).toMatchObject({ ok: false, code: 'key-revoked', delivery: 'new' });
    const stranger = sealRecord(record(1), sha256(new TextEncoder().encode('stranger')));
    expect(await ingestor.ingest(stranger, { source: 'test' })).toMatchObject({ ok: false, code: 'unknown-kid', delivery: 'new' });
    expect(await rows(store)).toEqual(['1 ok', 'null key-revoked', 'null key-revoked']); // refused before the payload is read: no counter
    // a revoked key's frames moved no window: counter 2 is still fresh once the key is back
    expect(store.replay.get(kid).state()).toEqual({ highest: 1, bitmap: '0000000000000001' });
    await ingestor.close();
    store.close();
  });

  // Rule: a frame without kid is verified under the key its transport names (DevEUI), the same verdicts.
  it('frames without kid take the key of the transport identity', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const noKid = sealRecord(record(4), seed, { kid: false });
    expect(await ingestor.ingest(noKid, { source: 'tts', deviceId: 'deveui:0004a30b001c0599' })).toMatchObject({ code: 'ok', kid, kidInFrame: false, delivery: 'new' });
    expect(await ingestor.ingest(noKid, { source: 'tts', deviceId: 'deveui:0004a30b001c0599' })).toMatchObject({ code: 'ok', delivery: 'duplicate', id: 1 });
    expect(await ingestor.ingest(noKid, { source: 'tts' })).toMatchObject({ ok: false, code: 'unknown-kid' });
    expect(await ingestor.ingest(noKid, { source: 'tts', deviceId: 'deveui:0004a30b001c0500' })).toMatchObject({ ok: false, code: 'unknown-kid' });
    await ingestor.close();
    store.close();
  });

  // Rule: record version 2 is verified and stored like version 1 (its readings stay encrypted).
  it('record version 2: accepted, replay and duplicate as version 1', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const contentKey = sha256(new TextEncoder().encode('verdicts content key'));
    const v2 = (counter: number, value: number) => sealRecordV2({ counter, time: null, readings: [{ channel: 1, value }, { channel: 5, value: 3000 }] }, seed, contentKey);
    const first = await ingestor.ingest(v2(3, 1), { source: 'test' });
    expect(first).toMatchObject({ ok: true, code: 'ok', counter: 3, encrypted: true, delivery: 'new' });
    expect(await ingestor.ingest(v2(3, 1), { source: 'test' })).toMatchObject({ code: 'ok', delivery: 'duplicate', id: first.id, clearReadings: first.clearReadings });
    expect(await ingestor.ingest(v2(3, 2), { source: 'test' })).toMatchObject({ code: 'replay', delivery: 'new' });
    await ingestor.close();
    store.close();
  });

  // Rule (docs/protocol.md#floods): the gateway (`storeUnframed: false`) refuses garbage and
  // oversize input with its code and stores nothing; the CLI's default stores them with their outcome.
  it('unframed input: refused with its code by the gateway, stored by default', async () => {
    const store = openStore();
    const gateway = new Ingestor(store, { storeUnframed: false, maxFrameBytes: 200 });
    await expect(gateway.ingest(Uint8Array.of(0xff, 0x00), { source: 'udp:x' })).rejects.toMatchObject({ name: 'NotStoredError', reason: 'malformed-cbor' });
    await expect(gateway.ingest(new Uint8Array(201), { source: 'udp:x' })).rejects.toMatchObject({ reason: 'too-large' });
    // a well-formed frame with a bad verdict is stored whatever the option
    const bent = frame(2);
    bent[bent.length - 1]! ^= 1;
    expect(await gateway.ingest(bent, { source: 'udp:x' })).toMatchObject({ code: 'bad-signature', delivery: 'new' });
    expect(gateway.metrics.inFlight).toBe(0);
    await gateway.close();
    const cli = new Ingestor(store);
    expect(await cli.ingest(Uint8Array.of(0xff, 0x00), { source: 'cli:file' })).toMatchObject({ ok: false, code: 'malformed-cbor', delivery: 'new' });
    await cli.close();
    expect((await store.queryFrames({ limit: 10 })).map((f) => f.outcome)).toEqual(['bad-signature', 'malformed-cbor']);
    store.close();
  });

  // Rule: with signature checks on the thread pool, verdicts still follow arrival order.
  it('workers: a replay and a duplicate in one burst get the verdicts of arrival order', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store, { workers: 1 });
    const burst = [frame(21), frame(22), frame(21, 5), frame(22), frame(23), frame(20)];
    const results = await Promise.all(burst.map((f, i) => ingestor.ingest(f, { source: `http:${i}` })));
    expect(results.map((r) => `${r.counter} ${r.code} ${r.delivery}`)).toEqual(['21 ok new', '22 ok new', '21 replay new', '22 ok duplicate', '23 ok new', '20 ok new']);
    expect(await rows(store)).toEqual(['21 ok', '22 ok', '21 replay', '23 ok', '20 ok']);
    // unanswered frames (UDP, TCP) take the same path
    const stored: IngestResult[] = [];
    const failed: NotStoredError[] = [];
    for (const f of [frame(30), frame(30, 1), frame(30)]) ingestor.submit(f, { source: 'udp:x' }, (e) => failed.push(e), (r) => stored.push(r));
    await ingestor.drain();
    expect(failed).toEqual([]);
    expect(stored.map((r) => `${r.code} ${r.delivery}`).sort()).toEqual(['ok duplicate', 'ok new', 'replay new']);
    await ingestor.close();
    store.close();
  });
});

describe('SqliteReplayWindows (store-replay-windows.ts)', () => {
  // Rule: a window is read once from `replay_windows` and cached; `forget` drops the kids named, or all.
  it('reads a window once, keeps it, and reads it again only once forgotten', () => {
    const file = dbFile();
    Store.open(file).close(); // the schema
    const db = new Database(file);
    const windows = new SqliteReplayWindows(db);
    expect(windows.get('00000000000000aa').state()).toEqual({ highest: 0, bitmap: '0000000000000000' });
    const put = db.prepare('INSERT OR REPLACE INTO replay_windows (kid, highest, bitmap, updated_at) VALUES (?, ?, ?, 0)');
    put.run('00000000000000aa', 50, '8000000000000001');
    put.run('00000000000000bb', 9, '0000000000000003');
    expect(windows.get('00000000000000aa').state()).toEqual({ highest: 0, bitmap: '0000000000000000' }); // cached
    const b = windows.get('00000000000000bb');
    expect(b.state()).toEqual({ highest: 9, bitmap: '0000000000000003' });
    expect(windows.get('00000000000000bb')).toBe(b);
    b.accept(10);
    expect(windows.get('00000000000000bb').state()).toEqual({ highest: 10, bitmap: '0000000000000007' }); // the cached window, as moved
    windows.forget(['00000000000000aa']);
    expect(windows.get('00000000000000aa').state()).toEqual({ highest: 50, bitmap: '8000000000000001' });
    expect(windows.get('00000000000000bb').state().highest).toBe(10); // not forgotten
    windows.forget();
    expect(windows.get('00000000000000bb').state()).toEqual({ highest: 9, bitmap: '0000000000000003' });
    db.close();
  });
});

/** The in-memory store of tests/helpers, with conflicts a shared store (two instances) reports. */
class ConflictStore extends MemoryIngestStore {
  nextConflicts: Map<number, CommitConflict> | undefined;
  override commitBatch(batch: FrameColumns, done: CommitDone): void {
    const conflicts = this.nextConflicts;
    this.nextConflicts = undefined;
    super.commitBatch(batch, (error, ids) => done(error, ids, conflicts));
  }
}

describe('verdicts when the commit fails or conflicts', () => {
  // Rule: nothing of a failed batch is stored or acknowledged; the windows it advanced are read
  // again, so the same frame is accepted on retry, and duplicates waiting on it fail with it.
  it('a failed commit: the frame and the duplicates waiting on it are refused; a retry is accepted', async () => {
    const store = new MemoryIngestStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    store.failNext = true;
    const outcomes = await Promise.allSettled([ingestor.ingest(frame(5), { source: 'a' }), ingestor.ingest(frame(5), { source: 'b' })]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as NotStoredError).reason : 'stored'))).toEqual(['store-failed', 'store-failed']);
    expect(store.rows).toEqual([]);
    expect(ingestor.metrics.inFlight).toBe(0);
    expect(await ingestor.ingest(frame(5), { source: 'c' })).toMatchObject({ code: 'ok', delivery: 'new', id: 1 });
    expect(await ingestor.ingest(frame(5), { source: 'd' })).toMatchObject({ code: 'ok', delivery: 'duplicate', id: 1, source: 'c' });
    await ingestor.close();
  });

  // Rule: another instance committed the same (kid, counter) first. Other bytes: this frame is a
  // `replay` (stored as such, with the detail the store gave); the same bytes: a `duplicate` of
  // the frame stored there, not stored again.
  it('a shared store reports a replay: the frame and its waiting duplicates get the replay', async () => {
    const store = new ConflictStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    store.nextConflicts = new Map([[0, { kind: 'replay', detail: 'counter 8 accepted by another instance' }]]);
    const [first, dup] = await Promise.all([ingestor.ingest(frame(8), { source: 'a' }), ingestor.ingest(frame(8), { source: 'b' })]);
    expect(first).toMatchObject({ ok: false, code: 'replay', detail: 'counter 8 accepted by another instance', kid, counter: 8, delivery: 'new', id: 1 });
    expect(dup).toMatchObject({ ok: false, code: 'replay', kid, counter: 8, delivery: 'duplicate', id: 1 });
    expect(ingestor.metrics.inFlight).toBe(0);
    await ingestor.close();
  });

  it('a shared store reports a duplicate: answered with the other instance\'s row, not stored here', async () => {
    const store = new ConflictStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    const original = { id: 77, receivedAt: T0 - 60_000, source: 'http:other-instance', raw: frame(9) };
    store.nextConflicts = new Map([[1, { kind: 'duplicate', original }]]);
    const [a, b, c] = await Promise.all([
      ingestor.ingest(frame(8), { source: 'a', receivedAt: T0 }),
      ingestor.ingest(frame(9), { source: 'b', receivedAt: T0 }),
      ingestor.ingest(frame(9), { source: 'c', receivedAt: T0 }),
    ]);
    expect(a).toMatchObject({ code: 'ok', delivery: 'new', id: 1 });
    expect(b).toMatchObject({ ok: true, code: 'ok', counter: 9, delivery: 'duplicate', id: 77, source: 'http:other-instance', receivedAt: new Date(T0 - 60_000).toISOString() });
    expect(c).toMatchObject({ ok: true, code: 'ok', counter: 9, delivery: 'duplicate', id: 77, source: 'http:other-instance' });
    expect(ingestor.metrics.duplicateDeliveries()).toBe(2);
    expect(ingestor.metrics.inFlight).toBe(0);
    await ingestor.close();
  });
});

// Written from the survivors of the first mutation run of ingest.ts's verdict path (bench/mutation.md).
describe('verdicts rule by rule (ingest.ts survivors)', () => {
  const clockless = (counter: number, value = 1): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value, age: 60 }] }, seed);
  const latencySum = (i: Ingestor): number => Number(/sceau_ingest_latency_seconds_sum (\S+)/.exec(i.metrics.render())![1]);

  // Rule: readings without a clock are dated from the receipt (seconds), and a duplicate delivery
  // keeps the dates of the first receipt (docs/protocol.md#duplicate-deliveries).
  it('clock-less readings are dated from the first receipt, for the duplicate too', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const first = await ingestor.ingest(clockless(3), { source: 'http:a', receivedAt: T0 });
    expect(first.readings).toEqual([expect.objectContaining({ raw: 1, age: 60, at: T0 / 1000 - 60 })]);
    const later = await ingestor.ingest(clockless(3), { source: 'http:a', receivedAt: T0 + 3_600_000 });
    expect(later).toEqual({ ...first, delivery: 'duplicate' });
    const contentKey = sha256(new TextEncoder().encode('verdicts content key'));
    const v2 = sealRecordV2({ counter: 4, time: null, readings: [{ channel: 5, value: 3000, age: 30 }, { channel: 1, value: 7 }] }, seed, contentKey);
    const v2First = await ingestor.ingest(v2, { source: 'http:a', receivedAt: T0 });
    expect(v2First.clearReadings).toEqual([expect.objectContaining({ raw: 3000, at: T0 / 1000 - 30 })]);
    expect(v2First.readings).toBeNull();
    const v2Later = await ingestor.ingest(v2, { source: 'http:a', receivedAt: T0 + 3_600_000 });
    expect(v2Later).toEqual({ ...v2First, delivery: 'duplicate' });
    await ingestor.close();
    store.close();
  });

  // Rule: frames nobody awaits (UDP, TCP: `submit` without `stored`) take every verdict path
  // without a result object: accepted, replay, duplicate (counted, not stored), and are stored.
  it('unanswered frames: accepted, replay and duplicate, counted in the metrics by outcome and transport', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const failed: NotStoredError[] = [];
    for (const f of [frame(40), frame(40, 1), frame(41)]) ingestor.submit(f, { source: 'udp:10.0.0.9:7' }, (e) => failed.push(e));
    await ingestor.drain();
    ingestor.submit(frame(41), { source: 'tcp:10.0.0.9:8' }, (e) => failed.push(e)); // after its commit: from the store
    await ingestor.drain();
    expect(failed).toEqual([]);
    expect(await rows(store)).toEqual(['40 ok', '40 replay', '41 ok']);
    expect([...ingestor.metrics.frames].sort()).toEqual([['ok|udp', 2], ['replay|udp', 1]]);
    expect([...ingestor.metrics.duplicates]).toEqual([['tcp', 1]]);
    expect(ingestor.metrics.storeBatches).toBeGreaterThanOrEqual(1);
    expect(ingestor.metrics.inFlight).toBe(0);
    const latency = latencySum(ingestor);
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(30); // seconds, three frames
    await ingestor.close();
    store.close();
  });

  // Rule: the console's live feed gets every committed frame with its row id, receipt and verdict.
  it('an observer that listens gets each committed frame with its verdict; one that does not, nothing', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store);
    const seen: Array<{ id: number; receivedAt: number; source: string; code: string }> = [];
    ingestor.observer = { listening: true, committed: (frames) => seen.push(...frames.map((f) => ({ id: f.id, receivedAt: f.receivedAt, source: f.source, code: f.outcome.code }))) };
    ingestor.submit(frame(1), { source: 'udp:x', receivedAt: T0 }, () => undefined);
    await ingestor.ingest(frame(1, 2), { source: 'http:y', receivedAt: T0 + 1 });
    await ingestor.drain();
    expect(seen).toEqual([{ id: 1, receivedAt: T0, source: 'udp:x', code: 'ok' }, { id: 2, receivedAt: T0 + 1, source: 'http:y', code: 'replay' }]);
    let calls = 0;
    ingestor.observer = { listening: false, committed: () => calls++ };
    await ingestor.ingest(frame(2), { source: 'http:y' });
    expect(calls).toBe(0);
    await ingestor.close();
    store.close();
  });

  // Rule: with the checks on the thread pool, a burst larger than the 32 checks in flight per
  // worker is verified to the end, in arrival order.
  it('workers: a burst of 100 frames, more than the checks in flight, all answered in order', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store, { workers: 1 });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => ingestor.ingest(frame(i + 1), { source: 'http' })));
    expect(results.map((r) => r.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(results.every((r) => r.code === 'ok')).toBe(true);
    await ingestor.close();
    store.close();
  });

  // Rule: a registry that cannot be read stores nothing and says so (`store-failed`), with workers.
  it('workers: a keyring that throws refuses the frame, store-failed', async () => {
    const store = new MemoryIngestStore();
    store.resolve = () => {
      throw new Error('registry unreadable');
    };
    const ingestor = new Ingestor(store, { workers: 1 });
    await expect(ingestor.ingest(frame(1), { source: 'http' })).rejects.toEqual(new NotStoredError('the device registry could not be read', 'store-failed'));
    expect(store.rows).toEqual([]);
    await ingestor.close();
  });

  // Rule: a failed commit refuses every frame of it, accepted or not, with the store's message.
  it('a failed commit with accepted and refused frames: each refused, store-failed, with the message', async () => {
    const store = new MemoryIngestStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    await ingestor.ingest(frame(2), { source: 'a' });
    store.failNext = true;
    const bent = frame(3);
    bent[bent.length - 1]! ^= 1;
    const outcomes = await Promise.allSettled([ingestor.ingest(frame(4), { source: 'a' }), ingestor.ingest(bent, { source: 'a' }), ingestor.ingest(frame(2, 5), { source: 'a' })]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? `${(o.reason as NotStoredError).reason}: ${(o.reason as Error).message}` : 'stored'))).toEqual([
      'store-failed: store failed: disk on fire', 'store-failed: store failed: disk on fire', 'store-failed: store failed: disk on fire',
    ]);
    expect(await ingestor.ingest(frame(4), { source: 'a' })).toMatchObject({ code: 'ok', delivery: 'new' });
    await ingestor.close();
  });

  // Rule: a duplicate reported by a shared store is answered with the other instance's stored
  // readings; later deliveries of the same bytes are answered too (none waits for ever), also
  // when the first delivery had nobody awaiting it (UDP) and an answered one (HTTP) waits on it.
  it('shared store duplicate: the other instance\'s readings, later deliveries answered, a UDP original with an HTTP duplicate', async () => {
    const store = new ConflictStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    const readings = [{ channel: 1, name: 'temperature', value: 99, unit: 'Cel', raw: 9900 }];
    const original = { id: 77, receivedAt: T0 - 60_000, source: 'http:other-instance', raw: frame(9), readings };
    store.nextConflicts = new Map([[0, { kind: 'duplicate', original }]]);
    const [a, b] = await Promise.all([ingestor.ingest(frame(9), { source: 'a' }), ingestor.ingest(frame(9), { source: 'b' })]);
    expect(a).toMatchObject({ delivery: 'duplicate', id: 77, readings });
    expect(b).toMatchObject({ delivery: 'duplicate', id: 77, readings });
    // a later delivery of the same bytes is answered (the helper store keeps the row it was given)
    expect(await ingestor.ingest(frame(9), { source: 'c' })).toMatchObject({ code: 'ok', delivery: 'duplicate' });
    // a UDP delivery first, an HTTP one of the same bytes waiting on it; the store says duplicate
    store.nextConflicts = new Map([[0, { kind: 'duplicate', original: { ...original, id: 78, raw: frame(10) } }]]);
    const udpFailed: NotStoredError[] = [];
    ingestor.submit(frame(10), { source: 'udp:x' }, (e) => udpFailed.push(e));
    const http = await ingestor.ingest(frame(10), { source: 'http:y' });
    expect(http).toMatchObject({ ok: true, code: 'ok', counter: 10, delivery: 'duplicate', id: 78 });
    expect(udpFailed).toEqual([]);
    // a shared-store replay is counted as a replay
    store.nextConflicts = new Map([[0, { kind: 'replay', detail: 'counter 11 accepted by another instance' }]]);
    ingestor.submit(frame(11), { source: 'udp:x' }, (e) => udpFailed.push(e));
    await ingestor.drain();
    expect(ingestor.metrics.frames.get('replay|udp')).toBe(1);
    expect(ingestor.metrics.inFlight).toBe(0);
    await ingestor.close();
  });
});

// Written from the survivors of the second run (bench/mutation.md).
describe('verdicts rule by rule (second run)', () => {
  // Rule: with workers, frames are handed on in arrival order however long the burst: the list of
  // arrived frames is compacted every 1,024 handed on, without losing or repeating one.
  it('workers: a burst of 1,100 frames, past the compaction of the arrival list, each answered once in order', async () => {
    const store = openStore();
    const ingestor = new Ingestor(store, { workers: 1 });
    const frames = Array.from({ length: 1100 }, (_, i) => frame(i + 1));
    const results = await Promise.all(frames.map((f) => ingestor.ingest(f, { source: 'http' })));
    expect(results.map((r) => `${r.counter} ${r.code} ${r.delivery}`)).toEqual(frames.map((_, i) => `${i + 1} ok new`));
    expect(ingestor.metrics.inFlight).toBe(0);
    await ingestor.close();
    store.close();
  });

  // Rule: a duplicate answered from a store that keeps no readings (the in-memory helper) gets
  // the readings of the verdict; a shared store's duplicate alone in its batch is answered, and
  // the console is not told of a batch that stored nothing here.
  it('duplicates answered with the verdict\'s readings when the store has none; a lone shared-store duplicate', async () => {
    const store = new ConflictStore();
    store.keys.add(getPublicKey(seed));
    const ingestor = new Ingestor(store);
    let emptyNotices = 0;
    ingestor.observer = { listening: true, committed: (frames) => (emptyNotices += frames.length === 0 ? 1 : 0) };
    await ingestor.ingest(frame(1), { source: 'a' });
    expect(await ingestor.ingest(frame(1), { source: 'b' })).toMatchObject({ delivery: 'duplicate', readings: [expect.objectContaining({ raw: 2150 })] });
    store.nextConflicts = new Map([[0, { kind: 'duplicate', original: { id: 90, receivedAt: T0, source: 'other', raw: frame(2) } }]]);
    expect(await ingestor.ingest(frame(2), { source: 'c' })).toMatchObject({ delivery: 'duplicate', id: 90, readings: [expect.objectContaining({ raw: 2150 })] });
    expect(emptyNotices).toBe(0);
    await ingestor.close();
  });
});
