/**
 * Where the ingest pipeline's transactions run. `ThreadStoreWriter`: a worker thread
 * (store-writer-thread.ts) owning its own write connection to the database file, so a commit
 * and its fsync never block the main thread, which keeps receiving and verifying meanwhile.
 * `InlineStoreWriter`: on the calling thread, for `:memory:` databases (a worker cannot share
 * them) and one-shot commands. Both store the frames, their readings and the replay windows they
 * advanced in one transaction, one transaction at a time.
 */
import { Worker } from 'node:worker_threads';
import type { FrameColumns } from './frame-batch.js';
import type { Store } from './store.js';

/** Called once per write: the stored frames' row ids, or the error (then nothing was stored). */
export type WriteDone = (error: Error | undefined, ids: number[]) => void;

export interface StoreWriter {
  /** One transaction; the next write may start only once `done` was called. */
  write(batch: FrameColumns, done: WriteDone): void;
  /** Ends the writer (after its last write). */
  close(): Promise<void>;
}

/** Message from the writer thread. */
export type WriterReply = { ids: number[] } | { error: string };

export class InlineStoreWriter implements StoreWriter {
  constructor(private readonly store: Store) {}

  write(batch: FrameColumns, done: WriteDone): void {
    let ids: number[];
    try {
      ids = this.store.writeBatch(batch);
    } catch (error) {
      done(error as Error, []);
      return;
    }
    done(undefined, ids);
  }

  async close(): Promise<void> {}
}

export class ThreadStoreWriter implements StoreWriter {
  private worker: Worker | undefined;
  private pending: WriteDone | undefined;

  constructor(
    private readonly file: string,
    private readonly synchronous: 'full' | 'normal',
  ) {}

  /** A writer thread for the store's file, with the store's `synchronous` setting. */
  static forStore(store: Store): ThreadStoreWriter {
    const level = store.db.pragma('synchronous', { simple: true }) as number; // 0 off, 1 normal, 2 full, 3 extra
    return new ThreadStoreWriter(store.file, level >= 2 ? 'full' : 'normal');
  }

  write(batch: FrameColumns, done: WriteDone): void {
    if (this.pending !== undefined) throw new Error('store writer: one transaction at a time');
    const worker = this.worker ?? this.start();
    this.pending = done;
    // A thread holding a transaction keeps the process alive until it answers (an in-process
    // caller awaiting only its ingest promises would otherwise see the process exit).
    worker.ref();
    worker.postMessage(batch, [batch.raw.buffer as ArrayBuffer]); // the frames move, not copied
  }

  /** Started on the first write, and again after a thread died (its transaction failed). */
  private start(): Worker {
    const worker = new Worker(new URL('./store-writer-thread.js', import.meta.url), { workerData: { file: this.file, synchronous: this.synchronous } });
    worker.on('message', (reply: WriterReply) => {
      worker.unref();
      if ('error' in reply) this.settle(new Error(reply.error), []);
      else this.settle(undefined, reply.ids);
    });
    // A thread that dies fails its transaction; the next write starts a new one. (After close()
    // or a first event, `this.worker` is no longer this thread: its events are ignored.)
    const died = (error: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.settle(error, []);
    };
    worker.on('error', (error) => {
      process.emitWarning(`sceau store writer thread failed: ${error.message}`);
      died(error);
    });
    worker.on('exit', (code) => died(new Error(`store writer thread exited (code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settle(error: Error | undefined, ids: number[]): void {
    const done = this.pending;
    this.pending = undefined;
    done?.(error, ids);
  }

  /** Lets the last transaction finish, closes the thread's connection and waits for it to end. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    worker.ref();
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage('close');
    });
  }
}
