/**
 * Where the ingest pipeline's transactions run: on the calling thread, through the store's own
 * connection, one at a time, each storing a batch of frames, their readings and the replay
 * windows they advanced.
 *
 * The main thread never waits for the disk. With `synchronous=full` on a database file, the
 * writer runs its own transactions with SQLite's `synchronous=NORMAL` (in WAL mode the commit is
 * then written to the WAL file without a sync; any other write on the connection keeps `FULL`)
 * and syncs the WAL file itself, `fdatasync` on libuv's thread pool, before it reports the batch
 * stored. That sync is the one that `FULL` adds in WAL mode
 * (https://sqlite.org/pragma.html#pragma_synchronous), so a batch reported stored survives a
 * power cut as with `FULL`. Checkpoints (every 10,000 WAL pages, see store.ts) still sync on this
 * thread: SQLite runs them inside the commit that fills the WAL.
 *
 * Why not a writer thread (the first design): on one core, the thread's own work (its copy of the
 * batch, its wake-ups, its heap) cost more CPU per frame than the SQLite work it took off the main
 * thread (bench/README.md, gateway ingest).
 */
import { close, fdatasync, open } from 'node:fs';
import { resolve } from 'node:path';
import type { FrameColumns } from './frame-batch.js';
import type { Store } from './store.js';
import type { BatchWritten } from './store-frames.js';
import type { CommitConflict } from './store-interface.js';

/** SQLite could not get a lock (another connection writes): SQLITE_BUSY, SQLITE_LOCKED and their extended codes. */
export function isLockError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** Called once per write: the stored frames' row ids (and the frames of keys erased meanwhile, not stored), or the error (then the batch is not reported stored). */
export type WriteDone = (error: Error | undefined, ids: number[], conflicts?: ReadonlyMap<number, CommitConflict>) => void;

/** Syncs a file's data to the disk (the WAL file after a commit); `done` gets the error, if any. */
export type SyncFile = (path: string, done: (error: Error | null) => void) => void;

/** `fdatasync` of the file at `path` on libuv's thread pool. */
export const syncFileData: SyncFile = (path, done) => {
  open(path, 'r+', (openError, fd) => {
    if (openError !== null) {
      done(openError);
      return;
    }
    fdatasync(fd, (syncError) => close(fd, (closeError) => done(syncError ?? closeError)));
  });
};

export class StoreWriter {
  /** The WAL file this writer syncs after each commit (undefined: SQLite syncs, or nothing to sync). */
  private readonly walToSync: string | undefined;
  /** The connection's own `synchronous` level, restored after each of this writer's transactions. */
  private readonly ownLevel: number;
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly syncFile: SyncFile = syncFileData,
  ) {
    this.ownLevel = store.db.pragma('synchronous', { simple: true }) as number; // 0 off, 1 normal, 2 full, 3 extra
    const wal = (store.db.pragma('journal_mode', { simple: true }) as string).toLowerCase() === 'wal';
    if (wal && this.ownLevel >= 2) this.walToSync = `${resolve(store.file)}-wal`;
  }

  /** One transaction, then the WAL sync; the next write may start only once `done` was called. */
  write(batch: FrameColumns, done: WriteDone): void {
    if (this.busy) throw new Error('store writer: one transaction at a time');
    let written: BatchWritten;
    try {
      written = this.commit(batch);
    } catch (error) {
      done(error as Error, []);
      return;
    }
    const wal = this.walToSync;
    if (wal === undefined) {
      done(undefined, written.ids, written.conflicts);
      return;
    }
    this.busy = true;
    this.syncFile(wal, (error) => {
      this.busy = false;
      // Committed but perhaps not on the disk: not reported stored (a retry is then answered
      // `replay`, as the database holds the frame).
      if (error !== null) done(new Error(`sync of ${wal} failed: ${error.message}`), []);
      else done(undefined, written.ids, written.conflicts);
    });
  }

  /** The transaction, with SQLite's own sync left to this writer when it syncs the WAL itself. */
  private commit(batch: FrameColumns): BatchWritten {
    if (this.walToSync === undefined) return this.store.writeBatch(batch);
    // exec, not a prepared statement: SQLite applies this pragma when it compiles it.
    this.store.db.exec('PRAGMA synchronous = NORMAL');
    try {
      return this.store.writeBatch(batch);
    } finally {
      this.store.db.exec(`PRAGMA synchronous = ${this.ownLevel}`);
    }
  }
}
