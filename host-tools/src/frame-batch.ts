/**
 * A batch of frames to store, in columns: what the ingest pipeline hands to the store writer,
 * one transaction per batch. Readings are already in their stored form, one JSON text per
 * accepted frame (docs/integrators.md#the-database): the store binds one value per frame rather
 * than one row per reading.
 */
import { encryptedReadingsBytes, type Bytes, type ChannelRegistry, type ReplayState, type VerifyResult } from '@sceau/protocol';
import { channelName } from './outcome.js';
import type { StoredReading } from './store-interface.js';

/** One frame to store, accepted or not. */
export interface FrameToStore {
  raw: Bytes;
  receivedAt: number;
  source: string;
  /** 'ok' or a verification code. */
  outcome: string;
  kid?: string | undefined;
  counter?: number | undefined;
  detail?: string | undefined;
  readings?: StoredReading[];
  /** Record version 2: bytes of readings stored encrypted (in `raw`). */
  encryptedBytes?: number | undefined;
  /** Radio metadata as stored (`radioJson`), kept only with `--keep-radio-metadata`. */
  radio?: string | null | undefined;
}


export interface FrameColumns {
  receivedAt: number[];
  source: string[];
  outcome: string[];
  kid: Array<string | null>;
  counter: Array<number | null>;
  detail: Array<string | null>;
  raw: Uint8Array[];
  /** Readings of each frame as stored (`readingsJson`); null for a frame not accepted. */
  readings: Array<string | null>;
  /** Record version 2: bytes of encrypted readings (they stay in `raw`); null for a record in clear or a frame not accepted. */
  encrypted: Array<number | null>;
  /** Radio metadata of the uplinks that carried each frame (JSON, radio-metadata.ts), kept only with `--keep-radio-metadata`; null otherwise. */
  radio: Array<string | null>;
  /** Replay windows as the batch leaves them (every frame that advanced them is in the batch). */
  windows: Array<[string, ReplayState]>;
}

const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/**
 * One reading as stored: `[channel, name, value, unit, raw, age, at]` (at: Unix seconds or null),
 * from its channel's two fragments: `[channel,"name",` and `,"unit",`.
 */
function readingJson(head: string, unitPart: string, value: number, raw: number, age: number, at: number | null | undefined): string {
  return `${head}${num(value)}${unitPart}${num(raw)},${num(age)},${at === null || at === undefined ? 'null' : num(at)}]`;
}

function fragmentsOf(channel: number, name: string, unit: string): [string, string] {
  return [`[${channel},${JSON.stringify(name)},`, `,${JSON.stringify(unit)},`];
}

/** The readings of a frame as stored in `frames.readings` (JSON, read back through the `readings` view). */
export function readingsJson(readings: readonly StoredReading[]): string {
  return `[${readings.map((r) => readingJson(...fragmentsOf(r.channel, r.name, r.unit), r.value, r.raw, r.age, r.at)).join(',')}]`;
}

/** A registry's channel fragments by id, built once (at most 1,024 kept per registry). */
const fragmentCache = new WeakMap<ChannelRegistry, Map<number, [string, string]>>();
function channelFragments(registry: ChannelRegistry, id: number): [string, string] {
  let byId = fragmentCache.get(registry);
  if (byId === undefined) fragmentCache.set(registry, (byId = new Map()));
  let fragments = byId.get(id);
  if (fragments === undefined) {
    const channel = registry.get(id);
    fragments = fragmentsOf(id, channelName(channel, id), channel?.unit ?? '');
    if (byId.size >= 1024) byId.clear();
    byId.set(id, fragments);
  }
  return fragments;
}

/** Collects frames one by one, then `finish` gives the columns. */
export class FrameBatch {
  private readonly cols: Omit<FrameColumns, 'windows'> = { receivedAt: [], source: [], outcome: [], kid: [], counter: [], detail: [], raw: [], readings: [], encrypted: [], radio: [] };

  /** Readings are stored only for a frame with kid and counter; radio metadata with any frame. */
  add(raw: Uint8Array, receivedAt: number, source: string, outcome: string, kid: string | undefined, counter: number | undefined, detail: string | undefined, readings?: string | readonly StoredReading[], encryptedBytes?: number, radio?: string | null): void {
    const c = this.cols;
    c.raw.push(raw);
    c.receivedAt.push(receivedAt);
    c.source.push(source);
    c.outcome.push(outcome);
    c.kid.push(kid ?? null);
    c.counter.push(counter ?? null);
    c.detail.push(detail ?? null);
    const stored = readings === undefined || kid === undefined || counter === undefined ? null : typeof readings === 'string' ? readings : readingsJson(readings);
    c.readings.push(stored);
    c.encrypted.push(stored === null ? null : (encryptedBytes ?? null));
    c.radio.push(radio ?? null);
  }

  /**
   * A verified frame as the ingest pipeline stores it: readings in real units straight from the
   * protocol's result (no intermediate objects: this runs once per frame received).
   */
  addResult(raw: Uint8Array, receivedAt: number, source: string, result: VerifyResult, registry: ChannelRegistry, radio?: string | null): void {
    if (!result.ok) {
      this.add(raw, receivedAt, source, result.code, result.kid, result.counter, result.detail, undefined, undefined, radio);
      return;
    }
    const parts: string[] = [];
    for (const r of result.readings) {
      const [head, unitPart] = channelFragments(registry, r.channel);
      parts.push(readingJson(head, unitPart, registry.toUnit(r.channel, r.value), r.value, r.age ?? 0, r.at));
    }
    const encrypted = result.record.version === 2 ? encryptedReadingsBytes(result.record) : undefined;
    this.add(raw, receivedAt, source, 'ok', result.kid, result.counter, undefined, `[${parts.join(',')}]`, encrypted, radio);
  }

  finish(windows: Array<[string, ReplayState]> = []): FrameColumns {
    return { ...this.cols, windows };
  }

  static of(frames: readonly FrameToStore[], windows: Array<[string, ReplayState]> = []): FrameColumns {
    const batch = new FrameBatch();
    for (const f of frames) batch.add(f.raw, f.receivedAt, f.source, f.outcome, f.kid, f.counter, f.detail, f.readings, f.encryptedBytes, f.radio);
    return batch.finish(windows);
  }
}
