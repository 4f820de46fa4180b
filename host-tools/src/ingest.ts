/**
 * The ingest pipeline shared by every transport and by `frame verify --db`: verify (inline or
 * on worker threads), apply the replay window in arrival order, then store the frame, its
 * readings and the changed windows in one batched transaction. A caller's promise resolves only
 * once its frame is committed, so a transport acknowledges only durable frames.
 */
import { Worker } from 'node:worker_threads';
import { channels as builtInChannels, DEFAULT_MAX_FRAME_BYTES, verifyFrame, type ChannelRegistry, type ReplayWindow, type VerifyResult } from '@sceau/protocol';
import { describeResult, storedReadings, type FrameOutcome } from './outcome.js';
import { Metrics } from './metrics.js';
import type { FrameToStore, Store } from './store.js';

export interface IngestOptions {
  /** Transport and peer, stored with the frame: `http`, `udp:127.0.0.1:5000`, `tts`, `cli:file`... */
  source: string;
  /** Transport identity for frames without kid (`deveui:0004a30b001c0530`). */
  deviceId?: string | undefined;
  /** Receive time, ms since the epoch (default: now). */
  receivedAt?: number | undefined;
}

export interface IngestResult extends FrameOutcome {
  /** Row id of the stored frame. */
  id: number;
  receivedAt: string;
  source: string;
}

/** Thrown (rejected) when a frame could not be stored: the caller must not acknowledge it. */
export class NotStoredError extends Error {
  constructor(
    message: string,
    readonly reason: 'overloaded' | 'store-failed' | 'closed',
  ) {
    super(message);
    this.name = 'NotStoredError';
  }
}

export interface IngestorOptions {
  channels?: ChannelRegistry;
  maxFrameBytes?: number;
  /** Most frames per transaction (default 512). */
  batchMax?: number;
  /** Frames received and not yet stored beyond which new ones are refused (default 20,000). */
  maxInFlight?: number;
  /** Verification worker threads (default 0: verify on the main thread). Needs a database file. */
  workers?: number;
  metrics?: Metrics;
  /**
   * Group commit: while frames keep arriving, a commit waits until about four times the last
   * commit's duration (its fsync) has passed since the previous one, up to this (default 25 ms),
   * so one fsync is shared by every frame that arrived meanwhile (about 20% of the time at full
   * load). As soon as an event-loop turn brings no new frame (a lone frame, or every client
   * waiting for its answer), the queue is committed at once.
   */
  maxCommitDelayMs?: number;
}

interface Pending {
  frame: Uint8Array;
  options: IngestOptions;
  receivedAt: number;
  started: number;
  resolve: (result: IngestResult) => void;
  reject: (error: Error) => void;
}

interface Queued {
  pending: Pending;
  row: FrameToStore;
  outcome: FrameOutcome;
}

interface WorkerSlot {
  worker: Worker;
  busy: number;
}

export class Ingestor {
  readonly metrics: Metrics;
  private readonly store: Store;
  private readonly channels: ChannelRegistry;
  private readonly maxFrameBytes: number;
  private readonly batchMax: number;
  private readonly maxInFlight: number;
  private queue: Queued[] = [];
  private windows = new Map<string, ReplayWindow>();
  private flushScheduled = false;
  private arrivals = 0;
  private arrivalsAtCheck = 0;
  private lastCommitEnd = 0;
  private commitGapMs = 0;
  private readonly maxCommitDelayMs: number;
  private closed = false;
  private readonly workers: WorkerSlot[] = [];
  private readonly jobs = new Map<number, Pending>();
  private nextJob = 1;
  /** Worker results are applied in arrival order (the replay window must see frames in that order). */
  private nextToApply = 1;
  private readonly done = new Map<number, VerifyResult>();
  private outbox = new Map<WorkerSlot, Array<{ id: number; frame: Uint8Array; deviceId?: string; now: number; maxFrameBytes: number }>>();
  private dispatchScheduled = false;
  private nextWorker = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(store: Store, options: IngestorOptions = {}) {
    this.store = store;
    this.channels = options.channels ?? builtInChannels;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.batchMax = options.batchMax ?? 512;
    this.maxInFlight = options.maxInFlight ?? 20_000;
    this.metrics = options.metrics ?? new Metrics();
    this.maxCommitDelayMs = options.maxCommitDelayMs ?? 25;
    const workers = options.workers ?? 0;
    if (workers > 0) {
      if (store.file === ':memory:' || store.file === '') throw new RangeError('workers: verification workers need a database file, not :memory:');
      for (let i = 0; i < workers; i++) {
        const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { dbFile: store.file } });
        const slot: WorkerSlot = { worker, busy: 0 };
        worker.on('message', (results: Array<{ id: number; result: VerifyResult }>) => {
          slot.busy -= results.length;
          if (slot.busy === 0) worker.unref(); // idle workers must not keep the process alive
          for (const { id, result } of results) this.done.set(id, result);
          this.applyInOrder();
        });
        worker.on('error', (error) => {
          // A worker that dies fails its frames (not stored, so not acknowledged); the others go on.
          process.emitWarning(`sceau verification worker failed: ${error.message}`);
          const index = this.workers.indexOf(slot);
          if (index >= 0) this.workers.splice(index, 1);
          for (const [id, pending] of this.jobs) {
            this.jobs.delete(id);
            this.done.delete(id);
            this.fail(pending, new NotStoredError('verification worker failed', 'store-failed'));
          }
          this.nextToApply = this.nextJob;
        });
        worker.unref();
        this.workers.push(slot);
      }
    }
  }

  /** Verifies and stores one frame; resolves once it is durably stored, with its outcome. */
  ingest(frame: Uint8Array, options: IngestOptions): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, reject) => {
      if (this.closed) {
        reject(new NotStoredError('the gateway is closing', 'closed'));
        return;
      }
      if (this.metrics.inFlight >= this.maxInFlight) {
        reject(new NotStoredError(`more than ${this.maxInFlight} frames waiting to be stored`, 'overloaded'));
        return;
      }
      this.metrics.inFlight++;
      const pending: Pending = { frame, options, receivedAt: options.receivedAt ?? Date.now(), started: performance.now(), resolve, reject };
      if (this.workers.length === 0) {
        this.afterVerify(pending, this.verifyInline(pending));
      } else {
        this.dispatch(pending);
      }
    });
  }

  private verifyInline(p: Pending): VerifyResult {
    const options = { now: Math.floor(p.receivedAt / 1000), maxFrameBytes: this.maxFrameBytes, ...(p.options.deviceId === undefined ? {} : { deviceId: p.options.deviceId }) };
    return verifyFrame(p.frame, this.store, options);
  }

  private applyInOrder(): void {
    for (;;) {
      const result = this.done.get(this.nextToApply);
      if (result === undefined) return;
      const pending = this.jobs.get(this.nextToApply);
      this.done.delete(this.nextToApply);
      this.jobs.delete(this.nextToApply);
      this.nextToApply++;
      if (pending !== undefined) this.afterVerify(pending, result);
    }
  }

  private dispatch(p: Pending): void {
    const id = this.nextJob++;
    this.jobs.set(id, p);
    // Least-busy worker, round robin among equals; jobs are posted in batches once per tick.
    let slot = this.workers[this.nextWorker++ % this.workers.length]!;
    for (const w of this.workers) if (w.busy < slot.busy) slot = w;
    // A worker holding jobs keeps the event loop alive until it answers (an in-process caller
    // awaiting only these results would otherwise see the process exit with nothing pending).
    if (slot.busy++ === 0) slot.worker.ref();
    let list = this.outbox.get(slot);
    if (list === undefined) this.outbox.set(slot, (list = []));
    const job = { id, frame: p.frame, now: Math.floor(p.receivedAt / 1000), maxFrameBytes: this.maxFrameBytes, ...(p.options.deviceId === undefined ? {} : { deviceId: p.options.deviceId }) };
    list.push(job);
    if (list.length >= 64) {
      this.outbox.delete(slot);
      slot.worker.postMessage(list);
    } else if (!this.dispatchScheduled) {
      this.dispatchScheduled = true;
      setImmediate(() => {
        this.dispatchScheduled = false;
        const outbox = this.outbox;
        this.outbox = new Map();
        for (const [s, jobs] of outbox) s.worker.postMessage(jobs);
      });
    }
  }

  /** Applies the replay window (in arrival order on this thread) and queues the frame for storage. */
  private afterVerify(p: Pending, verified: VerifyResult): void {
    let result = verified;
    if (result.ok) {
      const window = this.store.replay.get(result.kid);
      if (!window.isFresh(result.counter)) {
        result = { ok: false, code: 'replay', detail: `counter ${result.counter} already accepted or older than the window (highest ${window.highestAccepted})`, kid: result.kid, counter: result.counter };
      } else {
        window.accept(result.counter);
        this.windows.set(result.kid, window);
      }
    }
    const outcome = describeResult(result, this.channels);
    const row: FrameToStore = {
      raw: p.frame,
      receivedAt: p.receivedAt,
      source: p.options.source,
      outcome: outcome.code,
      kid: outcome.kid,
      counter: outcome.counter,
      detail: outcome.detail,
    };
    const readings = storedReadings(outcome);
    if (readings !== undefined) row.readings = readings;
    this.queue.push({ pending: p, row, outcome });
    this.arrivals++;
    if (this.queue.length >= this.batchMax) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.arrivalsAtCheck = this.arrivals;
      setImmediate(this.checkFlush);
    }
  }

  private readonly checkFlush = (): void => {
    if (!this.flushScheduled) return;
    const stillArriving = this.arrivals !== this.arrivalsAtCheck;
    if (stillArriving && performance.now() - this.lastCommitEnd < this.commitGapMs && this.queue.length < this.batchMax) {
      this.arrivalsAtCheck = this.arrivals;
      setImmediate(this.checkFlush);
      return;
    }
    this.flush();
  };

  /** Commits every queued frame in one transaction, then settles their promises. */
  flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const started = performance.now();
    const batch = this.queue;
    const windows = this.windows;
    this.queue = [];
    this.windows = new Map();
    let ids: number[];
    try {
      ids = this.store.writeFrames(
        batch.map((q) => q.row),
        windows,
      );
    } catch (error) {
      // Nothing of the batch is stored: forget the windows it advanced so they are read back
      // from the database, and tell every sender (who will not get a 2xx, so may retry).
      this.metrics.storeFailures++;
      this.store.replay.forget(windows.keys());
      for (const q of batch) this.fail(q.pending, new NotStoredError(`store failed: ${(error as Error).message}`, 'store-failed'));
      this.notifyIdle();
      return;
    }
    this.metrics.storeBatches++;
    const now = performance.now();
    this.lastCommitEnd = now;
    this.commitGapMs = Math.min(this.maxCommitDelayMs, (now - started) * 4);
    batch.forEach((q, i) => {
      this.metrics.inFlight--;
      const transport = q.row.source.split(':', 1)[0]!;
      this.metrics.countFrame(q.outcome.code, transport);
      this.metrics.observeLatency((now - q.pending.started) / 1000);
      q.pending.resolve({ ...q.outcome, id: ids[i]!, receivedAt: new Date(q.row.receivedAt).toISOString(), source: q.row.source });
    });
    this.notifyIdle();
  }

  private fail(p: Pending, error: NotStoredError): void {
    this.metrics.inFlight--;
    p.reject(error);
  }

  private notifyIdle(): void {
    if (this.metrics.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every frame received so far is stored (or failed). */
  drain(): Promise<void> {
    if (this.metrics.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new frames, stores those in flight, stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    this.flush();
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
