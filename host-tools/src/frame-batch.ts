/**
 * A batch of frames to store, in columns: what the ingest pipeline hands to the store, and to
 * the store writer thread as a few arrays and one transferred buffer per transaction rather than
 * an object graph per frame (fewer objects to build, copy between threads and collect).
 */
import type { ChannelRegistry, ReplayState, VerifyResult } from '@sceau/protocol';
import { channelName } from './outcome.js';
import type { FrameToStore, StoredReading } from './store.js';

/** Per reading: frame index, channel, value, raw, age, at (NaN when unknown). */
export const READING_FIELDS = 6;

export interface FrameColumns {
  receivedAt: number[];
  source: string[];
  outcome: string[];
  kid: Array<string | null>;
  counter: Array<number | null>;
  detail: Array<string | null>;
  /** The frames' bytes end to end: frame i is `raw[rawEnd[i - 1] ?? 0, rawEnd[i])`. */
  raw: Uint8Array;
  rawEnd: number[];
  /** Readings of accepted frames, READING_FIELDS numbers each, in frame order. */
  readings: number[];
  readingName: string[];
  readingUnit: string[];
  /** Replay windows as the batch leaves them (every frame that advanced them is in the batch). */
  windows: Array<[string, ReplayState]>;
}

/** Collects frames one by one, then `finish` gives the columns. */
export class FrameBatch {
  private readonly frames: Uint8Array[] = [];
  private rawBytes = 0;
  private readonly cols: Omit<FrameColumns, 'raw' | 'windows'> = { receivedAt: [], source: [], outcome: [], kid: [], counter: [], detail: [], rawEnd: [], readings: [], readingName: [], readingUnit: [] };

  /** Readings are stored only for a frame with kid and counter. */
  add(raw: Uint8Array, receivedAt: number, source: string, outcome: string, kid: string | undefined, counter: number | undefined, detail: string | undefined, readings?: readonly StoredReading[]): void {
    const c = this.cols;
    const index = this.frames.length;
    this.frames.push(raw);
    this.rawBytes += raw.length;
    c.rawEnd.push(this.rawBytes);
    c.receivedAt.push(receivedAt);
    c.source.push(source);
    c.outcome.push(outcome);
    c.kid.push(kid ?? null);
    c.counter.push(counter ?? null);
    c.detail.push(detail ?? null);
    if (readings === undefined || kid === undefined || counter === undefined) return;
    for (const r of readings) {
      c.readings.push(index, r.channel, r.value, r.raw, r.age, r.at ?? Number.NaN);
      c.readingName.push(r.name);
      c.readingUnit.push(r.unit);
    }
  }

  /**
   * A verified frame as the ingest pipeline stores it: readings in real units straight from the
   * protocol's result (no intermediate objects: this runs once per frame received).
   */
  addResult(raw: Uint8Array, receivedAt: number, source: string, result: VerifyResult, registry: ChannelRegistry): void {
    if (!result.ok) {
      this.add(raw, receivedAt, source, result.code, result.kid, result.counter, result.detail);
      return;
    }
    const index = this.frames.length;
    this.add(raw, receivedAt, source, 'ok', result.kid, result.counter, undefined);
    const c = this.cols;
    for (const r of result.readings) {
      const channel = registry.get(r.channel);
      c.readings.push(index, r.channel, registry.toUnit(r.channel, r.value), r.value, r.age ?? 0, r.at ?? Number.NaN);
      c.readingName.push(channelName(channel, r.channel));
      c.readingUnit.push(channel?.unit ?? '');
    }
  }

  finish(windows: Array<[string, ReplayState]> = []): FrameColumns {
    const raw = new Uint8Array(this.rawBytes);
    let at = 0;
    for (const f of this.frames) {
      raw.set(f, at);
      at += f.length;
    }
    return { ...this.cols, raw, windows };
  }

  static of(frames: readonly FrameToStore[], windows: Array<[string, ReplayState]> = []): FrameColumns {
    const batch = new FrameBatch();
    for (const f of frames) batch.add(f.raw, f.receivedAt, f.source, f.outcome, f.kid, f.counter, f.detail, f.readings);
    return batch.finish(windows);
  }
}
