// A transaction that fails (here a trigger raising an error, standing for a full disk or an I/O
// error): its frames are refused (not acknowledged) and the replay windows they advanced are
// rolled back, so the same frames are accepted once the store works again. For a database file
// (WAL synced by the writer) and for :memory:.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';
import { NotStoredError, startGateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'sceau-gw-fail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const seed = new Uint8Array(32).fill(0x33);
const kid = toHex(kidOf(getPublicKey(seed)));
const frame = (counter: number): Uint8Array => sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 + counter }] }, seed);

const FAIL = "CREATE TRIGGER fail_frames BEFORE INSERT ON frames BEGIN SELECT RAISE(ABORT, 'disk on fire'); END";

describe.each([
  ['a database file', 'file', 0],
  ['a database file, signatures checked on the thread pool', 'file', 2],
  [':memory:', 'memory', 0],
] as const)('a failed commit, %s', (_, kind, workers) => {
  it('refuses its frames, rolls back their windows, and stores them when retried', async () => {
    const db = kind === 'file' ? join(dir, `fail-${workers}.db`) : ':memory:';
    const gw = await startGateway({ db, workers, log: () => undefined });
    // The trigger comes from another connection for a file (as an outside failure would), from
    // the gateway's own connection for :memory:.
    const other = kind === 'file' ? new Database(db) : sqliteStore(gw).db;
    try {
      sqliteStore(gw).addDevice(getPublicKey(seed));
      const first = await gw.ingest(frame(1));
      expect(first.code).toBe('ok');

      other.exec(FAIL);
      const failing = await Promise.allSettled([2, 3, 4].map((c) => gw.ingest(frame(c))));
      for (const r of failing) {
        expect(r.status).toBe('rejected');
        const reason = (r as PromiseRejectedResult).reason as NotStoredError;
        expect(reason).toBeInstanceOf(NotStoredError);
        expect(reason.reason).toBe('store-failed');
      }
      other.exec('DROP TRIGGER fail_frames');

      const retried = await Promise.all([2, 3, 4, 1].map((c) => gw.ingest(frame(c))));
      // Frame 1 again, stored before the failure: its original answer (a duplicate delivery).
      expect(retried.map((r) => `${r.code} ${r.delivery}`)).toEqual(['ok new', 'ok new', 'ok new', 'ok duplicate']);
      expect(retried[3]!.id).toBe(first.id);
      await gw.drain();
      expect(gw.metrics.storeFailures).toBeGreaterThanOrEqual(1);
      const ok = (await gw.store.queryFrames({ outcome: 'ok', limit: 100 })).map((f) => f.counter);
      expect(ok).toEqual([1, 2, 3, 4]);
      expect((await gw.store.getDevice(kid))?.highestCounter).toBe(4);
    } finally {
      if (other !== sqliteStore(gw).db) other.close();
      await gw.close();
    }
  });
});

describe('a registry that cannot be read while signatures are checked on the thread pool', () => {
  it('refuses that frame (not stored, not acknowledged) and keeps the others in arrival order', async () => {
    const gw = await startGateway({ db: join(dir, 'registry.db'), workers: 2, log: () => undefined });
    try {
      sqliteStore(gw).addDevice(getPublicKey(seed));
      const resolve = gw.store.resolve.bind(gw.store);
      let calls = 0;
      gw.store.resolve = (query) => {
        if (++calls === 2) throw new Error('database is locked');
        return resolve(query);
      };
      const settled = await Promise.allSettled([1, 2, 3, 4].map((c) => gw.ingest(frame(c))));
      expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(((settled[1] as PromiseRejectedResult).reason as NotStoredError).reason).toBe('store-failed');
      expect(settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ code: string }>).value.code)).toEqual(['ok', 'ok', 'ok']);
      // The refused frame was never stored, so the device can send it again.
      expect((await gw.ingest(frame(2))).code).toBe('ok');
      expect((await gw.store.queryFrames({ limit: 100 })).map((f) => f.counter)).toEqual([1, 3, 4, 2]);
    } finally {
      await gw.close();
    }
  });
});
