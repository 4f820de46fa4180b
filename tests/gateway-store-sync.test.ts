// The store writer's durability: with synchronous=full on a database file, each commit runs with
// SQLite's NORMAL and the writer syncs the WAL file itself (off the main thread) before it reports
// the batch stored; a failed sync is reported as a failure, never as stored.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FrameBatch, Store, StoreWriter, syncFileData, type SyncFile } from '@sceau/host-tools';

const dir = mkdtempSync(join(tmpdir(), 'sceau-sync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const batch = (counter: number) =>
  FrameBatch.of([{ raw: Uint8Array.of(1, 2, counter), receivedAt: 1_700_000_000_000 + counter, source: 'test', outcome: 'unknown-kid', kid: '00112233445566aa', counter }]);

/** A SyncFile that records its calls and lets the test finish them. */
function heldSync(): { sync: SyncFile; calls: Array<{ path: string; finish: (error: Error | null) => void }> } {
  const calls: Array<{ path: string; finish: (error: Error | null) => void }> = [];
  return { sync: (path, done) => calls.push({ path, finish: done }), calls };
}

describe('StoreWriter on a database file with synchronous=full', () => {
  it('reports the batch only after it syncs the WAL file, and leaves the connection at FULL', async () => {
    const file = join(dir, 'full.db');
    const store = Store.open(file);
    try {
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
      const { sync, calls } = heldSync();
      const writer = new StoreWriter(store, sync);
      // The level SQLite commits with: NORMAL, the writer syncing the WAL itself.
      const levels: unknown[] = [];
      const writeBatch = store.writeBatch.bind(store);
      store.writeBatch = (columns) => {
        levels.push(store.db.pragma('synchronous', { simple: true }));
        return writeBatch(columns);
      };
      const reported: Array<[Error | undefined, number[]]> = [];
      writer.write(batch(1), (error, ids) => reported.push([error, ids]));
      // Committed (another reader sees it), not yet reported: the sync is still running.
      expect((await store.queryFrames()).map((f) => f.counter)).toEqual([1]);
      expect(reported).toEqual([]);
      expect(calls.map((c) => c.path)).toEqual([`${file}-wal`]);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
      expect(() => writer.write(batch(2), () => undefined)).toThrow(/one transaction at a time/);
      calls[0]!.finish(null);
      expect(reported).toHaveLength(1);
      expect(reported[0]![0]).toBeUndefined();
      expect(reported[0]![1]).toHaveLength(1);
      // Only the writer's own transactions run at NORMAL: any other write keeps FULL.
      expect(levels).toEqual([1]);
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    } finally {
      store.close();
    }
  });

  it('reports a failed sync as a failure (the frames are not acknowledged)', () => {
    const store = Store.open(join(dir, 'fails.db'));
    try {
      const { sync, calls } = heldSync();
      const writer = new StoreWriter(store, sync);
      let reported: Error | undefined;
      writer.write(batch(1), (error) => (reported = error));
      calls[0]!.finish(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
      expect(reported?.message).toMatch(/sync of .*fails\.db-wal failed: EIO/);
    } finally {
      store.close();
    }
  });
});

describe('StoreWriter without a sync of its own', () => {
  it.each([
    ['synchronous=normal', (f: string) => Store.open(f, { synchronous: 'normal' })],
    [':memory:', () => Store.open(':memory:')],
  ])('%s: reports the batch as soon as it is committed', (_, open) => {
    const store = open(join(dir, 'normal.db'));
    try {
      const level = store.db.pragma('synchronous', { simple: true });
      const { sync, calls } = heldSync();
      const writer = new StoreWriter(store, sync);
      let ids: number[] = [];
      writer.write(batch(1), (error, stored) => {
        expect(error).toBeUndefined();
        ids = stored;
      });
      expect(ids).toHaveLength(1);
      expect(calls).toEqual([]);
      expect(store.db.pragma('synchronous', { simple: true })).toBe(level);
    } finally {
      store.close();
    }
  });
});

describe('syncFileData', () => {
  it('syncs an existing file and reports a missing one', async () => {
    const file = join(dir, 'synced.db');
    Store.open(file).close();
    expect(existsSync(file)).toBe(true);
    await expect(new Promise((resolve) => syncFileData(file, resolve))).resolves.toBeNull();
    const missing = await new Promise<Error | null>((resolve) => syncFileData(join(dir, 'absent'), resolve));
    expect((missing as NodeJS.ErrnoException | null)?.code).toBe('ENOENT');
  });
});
