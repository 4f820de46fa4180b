/**
 * Export of stored readings in real units: JSON (an array), CSV (RFC 4180), SenML JSON and
 * SenML CBOR (RFC 8428 §5 and §6): one pack per export, a base name `urn:dev:sceau:<kid>:` per
 * device, absolute times in seconds and the channel registry's SenML names and units.
 */
import type { Writable } from 'node:stream';
import { CborWriter, type ChannelRegistry } from '@sceau/protocol';
import { encodeCbor, senmlRecordToCbor } from './cbor-general.js';
import type { QueryStore, ReadingRow } from './store-interface.js';
import { isMarker, mergeByTime, type ExportRow } from './export-encrypted.js';
import { encryptedLabel } from './outcome.js';
import { ArgumentError } from './argument-errors.js';

export const EXPORT_FORMATS = ['json', 'csv', 'senml', 'senml-cbor'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportFilter {
  kid?: string | undefined;
  /** The keys of one device (several after a key rotation). */
  kids?: readonly string[] | undefined;
  /** Unix seconds. */
  since?: number | undefined;
  until?: number | undefined;
}

/** Unix seconds from `1700000000`, an ISO 8601 date, or a duration back from now (`90m`, `24h`, `7d`); an `ArgumentError` (`bad-time`) otherwise. */
export function parseTimeArg(value: string, what: string, nowMs = Date.now()): number {
  const text = value.trim();
  const bad = (why = 'expected Unix seconds, an ISO 8601 date or a duration such as 24h'): ArgumentError => new ArgumentError('bad-time', `${what} ${JSON.stringify(value)}: ${why}`);
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    if (seconds > MAX_TIME_SECONDS) throw bad(`out of range (Unix seconds up to ${MAX_TIME_SECONDS})`);
    return seconds;
  }
  const duration = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text);
  if (duration !== null) {
    const seconds = Number(duration[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    if (seconds > MAX_TIME_SECONDS) throw bad(`out of range (a duration up to ${MAX_TIME_SECONDS} s)`);
    return Math.floor(nowMs / 1000 - seconds);
  }
  // ISO 8601 only: Date.parse alone takes "-5", "x 2020" and "2026-02-30" (as 2 March).
  const iso = /^(\d{4})-(\d{2})(?:-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?$/i.exec(text);
  const ms = iso === null ? NaN : Date.parse(text);
  if (iso === null || !Number.isFinite(ms)) throw bad();
  const [year, month, day] = [Number(iso[1]), Number(iso[2]), iso[3] === undefined ? 1 : Number(iso[3])];
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) throw bad(`no day ${day} in ${iso[1]}-${iso[2]}`);
  return Math.floor(ms / 1000);
}

/** The latest time a Date holds, in seconds (year 275760). */
const MAX_TIME_SECONDS = 8_640_000_000_000;

/** Size of the chunks a SenML CBOR export is kept in until its count is known. */
const CHUNK_BYTES = 64 * 1024;

function iso(at: number | null): string {
  return at === null ? '' : new Date(at * 1000).toISOString();
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** SenML names may use A-Z a-z 0-9 - : . / _ only (RFC 8428 §4.5.1). */
function senmlSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9\-:./_]/g, '_');
}

/**
 * A stored reading seen through a user channel registry (`--channels`): the gateway may have
 * stored a user channel it did not know as `channel-<id>` without a unit; the registry names it.
 */
async function* relabel(rows: AsyncIterable<ReadingRow>, registry: ChannelRegistry | undefined): AsyncIterable<ReadingRow> {
  for await (const r of rows) {
    const c = registry?.get(r.channel);
    if (c === undefined || registry === undefined) yield r;
    else yield { ...r, name: c.name, unit: c.unit, value: registry.toUnit(r.channel, r.raw) };
  }
}

/**
 * Writes the readings to `out`; resolves with how many were written. `encrypted`: the rows of
 * record version 2's encrypted readings (export-encrypted.ts), merged in by time: opened
 * readings are rows like the others (JSON adds `"encrypted": true`); a frame left encrypted is
 * one row in JSON (`"encrypted": true, "encryptedBytes": N, "readings": null`) and CSV (name
 * `encrypted (N bytes)`, no value), and none in SenML, which has no such record; `skipped`
 * counts those frames (not in the count of readings returned).
 */
export async function exportReadings(store: QueryStore, format: ExportFormat, filter: ExportFilter, out: Writable, registry?: ChannelRegistry, encrypted: readonly ExportRow[] = [], skipped = { frames: 0 }): Promise<number> {
  const names = new Map((await store.listDevices()).map((d) => [d.kid, d.name] as const));
  let count = 0;
  const write = async (text: string | Uint8Array): Promise<void> => {
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  // JSON carries each reading's frame radio metadata when it was stored (--keep-radio-metadata); CSV and SenML have no place for it.
  const merged = mergeByTime(relabel(store.iterateReadings(format === 'json' ? { ...filter, radio: true } : filter), registry), encrypted);
  const senml = format === 'senml' || format === 'senml-cbor';
  async function* readingsOnly(): AsyncIterable<ReadingRow> {
    for await (const r of merged) {
      if (!isMarker(r)) yield r;
      else skipped.frames++;
    }
  }
  const rows: AsyncIterable<ExportRow> = senml ? readingsOnly() : merged;
  if (format === 'senml-cbor') {
    // One definite-length CBOR array (no indefinite lengths): the array head needs the count, so
    // the records are encoded as they come and kept until the end, packed into 64 KiB chunks (a
    // few tens of bytes each: one object per record would cost several times the bytes).
    const chunks: Uint8Array[] = [];
    let chunk = new Uint8Array(CHUNK_BYTES);
    let used = 0;
    let currentBase: string | undefined;
    for await (const r of rows as AsyncIterable<ReadingRow>) {
      const e = encodeCbor(senmlRecordToCbor(senmlRecord(r, currentBase)));
      if (used + e.length > chunk.length) {
        chunks.push(chunk.subarray(0, used));
        chunk = new Uint8Array(Math.max(CHUNK_BYTES, e.length));
        used = 0;
      }
      chunk.set(e, used);
      used += e.length;
      currentBase = `urn:dev:sceau:${r.kid}:`;
      count++;
    }
    chunks.push(chunk.subarray(0, used));
    await write(new CborWriter(5).array(count).finish()); // the head in its shortest form (protocol's writer)
    for (const c of chunks) if (c.length > 0) await write(c);
    return count;
  }
  if (format === 'csv') {
    await write('time,at,kid,device,counter,channel,name,value,unit,raw\r\n');
    for await (const r of rows) {
      const fields = isMarker(r) ? [iso(r.at), r.at, r.kid, names.get(r.kid) ?? '', r.counter, '', encryptedLabel(r.encryptedBytes), '', '', ''] : [iso(r.at), r.at ?? '', r.kid, names.get(r.kid) ?? '', r.counter, r.channel, r.name, r.value, r.unit, r.raw];
      await write(`${fields.map(csvField).join(',')}\r\n`);
      if (isMarker(r)) skipped.frames++;
      else count++;
    }
    return count;
  }
  if (format === 'json') {
    let lines = 0;
    await write('[');
    for await (const r of rows) {
      const head = { time: iso(r.at), at: r.at, kid: r.kid, device: names.get(r.kid) ?? null, counter: r.counter };
      const item = isMarker(r) ? { ...head, encrypted: true, encryptedBytes: r.encryptedBytes, readings: null } : { ...head, channel: r.channel, name: r.name, value: r.value, unit: r.unit, raw: r.raw, ...('encrypted' in r ? { encrypted: true } : {}), ...(r.radio === undefined ? {} : { radio: r.radio }) };
      await write(`${lines === 0 ? '\n' : ',\n'}${JSON.stringify(item)}`);
      lines++;
      if (isMarker(r)) skipped.frames++;
      else count++;
    }
    await write(lines === 0 ? ']\n' : '\n]\n');
    return count;
  }
  // SenML: rows come ordered by time; a base name is repeated whenever the device changes, since
  // it applies to the records that follow it (RFC 8428 §4.1).
  await write('[');
  let currentBase: string | undefined;
  for await (const r of rows as AsyncIterable<ReadingRow>) {
    const record = senmlRecord(r, currentBase);
    currentBase = `urn:dev:sceau:${r.kid}:`;
    await write(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(record)}`);
    count++;
  }
  await write(count === 0 ? ']\n' : '\n]\n');
  return count;
}

/** One SenML record (JSON labels, in the order bn n u v t); the base name only when the device changes. */
function senmlRecord(r: ReadingRow, currentBase: string | undefined): { bn?: string; n: string; u?: string; v: number; t?: number } {
  const record: { bn?: string; n: string; u?: string; v: number; t?: number } = {} as never;
  const base = `urn:dev:sceau:${r.kid}:`;
  if (base !== currentBase) record.bn = base;
  record.n = senmlSafe(r.name);
  if (r.unit !== '') record.u = r.unit;
  record.v = r.value;
  if (r.at !== null) record.t = r.at;
  return record;
}
