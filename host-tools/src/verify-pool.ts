/**
 * Verification worker threads (verify-worker.ts) for the ingest pipeline: frames are handed to
 * the least busy worker, in batches once per event-loop turn, and their results come back in
 * submission order (the caller applies replay windows, which must see frames in that order).
 */
import { Worker } from 'node:worker_threads';
import type { VerifyResult } from '@sceau/protocol';

/** One frame to verify, as the worker receives it. */
export interface VerifyJob {
  id: number;
  frame: Uint8Array;
  deviceId?: string;
  now: number;
  maxFrameBytes: number;
}

interface Slot {
  worker: Worker;
  busy: number;
}

export class VerifyPool<T> {
  private readonly slots: Slot[] = [];
  private readonly items = new Map<number, T>();
  private readonly done = new Map<number, VerifyResult>();
  private nextJob = 1;
  private nextToDeliver = 1;
  private outbox = new Map<Slot, VerifyJob[]>();
  private postScheduled = false;
  private nextSlot = 0;

  /**
   * `verified` gets each item with its result, in submission order; `lost` gets the items whose
   * worker died (they were not verified).
   */
  constructor(
    dbFile: string,
    size: number,
    private readonly verified: (item: T, result: VerifyResult) => void,
    private readonly lost: (items: T[]) => void,
  ) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { dbFile } });
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (results: Array<{ id: number; result: VerifyResult }>) => {
        slot.busy -= results.length;
        if (slot.busy === 0) worker.unref(); // idle workers must not keep the process alive
        for (const { id, result } of results) if (this.items.has(id)) this.done.set(id, result);
        this.deliverInOrder();
      });
      worker.on('error', (error) => {
        // A worker that dies fails every frame in flight (not stored, so not acknowledged); the
        // others go on.
        process.emitWarning(`sceau verification worker failed: ${error.message}`);
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots.splice(index, 1);
        const items = [...this.items.values()];
        this.items.clear();
        this.done.clear();
        this.nextToDeliver = this.nextJob;
        this.lost(items);
      });
      worker.unref();
      this.slots.push(slot);
    }
  }

  get size(): number {
    return this.slots.length;
  }

  verify(item: T, frame: Uint8Array, now: number, maxFrameBytes: number, deviceId: string | undefined): void {
    const id = this.nextJob++;
    this.items.set(id, item);
    // Least-busy worker, round robin among equals.
    let slot = this.slots[this.nextSlot++ % this.slots.length]!;
    for (const s of this.slots) if (s.busy < slot.busy) slot = s;
    // A worker holding jobs keeps the event loop alive until it answers (an in-process caller
    // awaiting only these results would otherwise see the process exit with nothing pending).
    if (slot.busy++ === 0) slot.worker.ref();
    let list = this.outbox.get(slot);
    if (list === undefined) this.outbox.set(slot, (list = []));
    const job: VerifyJob = { id, frame, now, maxFrameBytes };
    if (deviceId !== undefined) job.deviceId = deviceId;
    list.push(job);
    if (list.length >= 64) {
      this.outbox.delete(slot);
      slot.worker.postMessage(list);
    } else if (!this.postScheduled) {
      this.postScheduled = true;
      setImmediate(this.postAll);
    }
  }

  private readonly postAll = (): void => {
    this.postScheduled = false;
    const outbox = this.outbox;
    this.outbox = new Map();
    for (const [slot, jobs] of outbox) slot.worker.postMessage(jobs);
  };

  private deliverInOrder(): void {
    for (;;) {
      const result = this.done.get(this.nextToDeliver);
      if (result === undefined) return;
      const item = this.items.get(this.nextToDeliver)!;
      this.done.delete(this.nextToDeliver);
      this.items.delete(this.nextToDeliver);
      this.nextToDeliver++;
      this.verified(item, result);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
