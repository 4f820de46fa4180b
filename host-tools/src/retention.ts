/**
 * Storage limitation (docs/privacy.md#retention): frames and their readings are deleted once
 * older than their retention, a device's own (`sceau devices retention`) or the gateway's
 * (`gateway serve --retention 90d`). The sweep runs on a timer in the gateway's process, in
 * batches of a few hundred frames with the event loop given back between them, so ingest waits
 * at most one batch's deletion (a few ms), never the whole sweep.
 */
import type { PrivacyStore, RetentionSweep } from './store-interface.js';
import { usageError } from './errors.js';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90d`, `12h`, `30m`, `45s` in ms; a usage error otherwise. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (m === null || Number(m[1]) === 0) throw usageError(`${what} ${JSON.stringify(text)}: expected a duration such as 90d, 12h, 30m or 45s`, 'bad-duration');
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** How often the gateway sweeps: a tenth of the retention, between 1 s and 1 h. */
export function sweepIntervalMs(retentionMs: number | undefined): number {
  return retentionMs === undefined ? 3_600_000 : Math.min(3_600_000, Math.max(1000, Math.floor(retentionMs / 10)));
}

export interface RetentionOptions {
  /** The gateway's retention, ms; undefined: only devices with their own retention are swept. */
  retentionMs?: number | undefined;
  intervalMs?: number | undefined;
  /** Wall clock, ms (default Date.now; not the reassembly's virtual clock). */
  clock?: () => number;
  /** Told of each sweep that deleted frames, and of failures. */
  log?: (message: string) => void;
}

/** Sweeps on a timer until `stop`; `sweep` runs one now (the timer's sweeps never overlap it). */
export class RetentionSweeper {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<RetentionSweep> | undefined;

  constructor(
    private readonly privacy: PrivacyStore,
    private readonly options: RetentionOptions = {},
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.sweep().catch((error: Error) => this.options.log?.(`retention sweep failed: ${error.message}`)), this.options.intervalMs ?? sweepIntervalMs(this.options.retentionMs));
    this.timer.unref();
    return this;
  }

  sweep(): Promise<RetentionSweep> {
    if (this.running !== undefined) return this.running;
    const now = (this.options.clock ?? Date.now)();
    const yieldBetween = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    this.running = this.privacy.deleteExpired(now, this.options.retentionMs, yieldBetween).then(
      (r) => {
        this.running = undefined;
        if (r.frames > 0) this.options.log?.(`retention: deleted ${r.frames} frames received before ${new Date(now - (this.options.retentionMs ?? 0)).toISOString()} (or their device's own retention)`);
        return r;
      },
      (error: unknown) => {
        this.running = undefined;
        throw error;
      },
    );
    return this.running;
  }

  /** Stops the timer and waits for a sweep under way. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
