import { type Bytes, assertBytes } from './bytes.js';
import { type CborItem, parseCbor, SIMPLE_NULL } from './cbor-reader.js';
import { CborWriter } from './cbor-writer.js';

/** The record version this package writes and reads. */
export const RECORD_VERSION = 1;
/** Largest unsigned value on the wire (every integer stays within ±2^32). */
export const MAX_UINT = 0xffffffff;
/** Smallest reading value on the wire. */
export const MIN_INT = -0x100000000;

export interface Reading {
  channel: number;
  /** An integer in the channel's unit and scale. */
  value: number;
  /** Seconds between the measurement and the sealing; absent means 0. */
  age?: number;
}

export interface SceauRecord {
  version: 1;
  /** Per device, strictly increasing over the device's life; 1..2^32-1. */
  counter: number;
  /** Device wall clock at sealing in Unix seconds, or null when the device has none. */
  time: number | null;
  readings: Reading[];
}

export type DecodeRecordResult =
  | { ok: true; record: SceauRecord }
  | { ok: false; code: 'bad-record' | 'unsupported-version'; detail: string };

function checkUint(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_UINT) {
    throw new RangeError(`${what}: expected an integer in ${min}..${MAX_UINT}, got ${String(value)}`);
  }
  return value;
}

/**
 * Writes `[[channel, value] / [channel, value, age], ...]` (age left out when 0), as in a v1 record
 * and in the plaintext of a v2 record. Throws `RangeError` for a reading outside the schema.
 */
export function writeReadings(w: CborWriter, readings: readonly Reading[], what: string): void {
  w.array(readings.length);
  readings.forEach((r, i) => {
    const channel = checkUint(r?.channel, `${what}[${i}].channel`);
    const value = r.value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_INT || value > MAX_UINT) {
      throw new RangeError(`${what}[${i}].value: expected an integer in ${MIN_INT}..${MAX_UINT}, got ${String(value)}`);
    }
    const age = r.age === undefined ? 0 : checkUint(r.age, `${what}[${i}].age`);
    w.array(age === 0 ? 2 : 3).int(channel).int(value);
    if (age !== 0) w.int(age);
  });
}

/**
 * The record as core deterministic CBOR:
 * `[1, counter, time / null, [[channel, value] / [channel, value, age], ...]]`, age left out when 0.
 * Throws `TypeError` / `RangeError` for a record outside the schema (a programmer error).
 */
export function encodeRecord(record: SceauRecord): Bytes {
  if (record === null || typeof record !== 'object') throw new TypeError('record: expected an object');
  if (record.version !== RECORD_VERSION) throw new RangeError(`record.version: expected ${RECORD_VERSION}, got ${String(record.version)}`);
  const counter = checkUint(record.counter, 'record.counter', 1);
  if (record.time !== null) checkUint(record.time, 'record.time');
  if (!Array.isArray(record.readings) || record.readings.length === 0) {
    throw new RangeError('record.readings: expected a non-empty array');
  }
  const w = new CborWriter(16 + record.readings.length * 8);
  w.array(4).int(RECORD_VERSION).int(counter);
  if (record.time === null) w.null();
  else w.int(record.time);
  writeReadings(w, record.readings, 'record.readings');
  return w.finish();
}

/** A departure from the record schema, caught where a decode result is built. */
export class BadRecord {
  constructor(readonly detail: string) {}
}

/** The readings of a parsed readings array (`where` names it in errors); throws `BadRecord`. */
export function readingsOf(list: CborItem, where: string): Reading[] {
  if (list.kind !== 'array') throw new BadRecord(`${where} (readings): expected an array`);
  const readings: Reading[] = [];
  list.items.forEach((r, i) => {
    const at = `${where}[${i}]`;
    if (r.kind !== 'array' || (r.items.length !== 2 && r.items.length !== 3)) throw new BadRecord(`${at}: expected [channel, value] or [channel, value, age]`);
    const channel = uintOf(r.items[0], `${at}[0] (channel)`);
    const v = r.items[1]!;
    let value: number;
    if (v.kind === 'uint' && typeof v.value === 'number' && v.value <= MAX_UINT) value = v.value;
    else if (v.kind === 'nint' && typeof v.value === 'number' && v.value >= MIN_INT) value = v.value;
    else throw new BadRecord(`${at}[1] (value): expected an integer in ${MIN_INT}..${MAX_UINT}`);
    if (r.items.length === 3) {
      const age = uintOf(r.items[2], `${at}[2] (age)`, 1);
      readings.push({ channel, value, age });
    } else {
      readings.push({ channel, value });
    }
  });
  return readings;
}

export function uintOf(item: CborItem | undefined, what: string, min = 0): number {
  if (item?.kind !== 'uint' || typeof item.value !== 'number' || item.value > MAX_UINT || item.value < min) {
    throw new BadRecord(`${what}: expected an unsigned integer in ${min}..${MAX_UINT}`);
  }
  return item.value;
}

/**
 * Strict decoding of a record: one well-formed, core deterministic CBOR item with nothing after
 * it, in the v1 schema, every integer within ±2^32, no floats, and one encoding per value (an
 * explicit age of 0 is refused). Never throws: untrusted bytes get a result.
 * `unsupported-version` is reported for a deterministic array whose first element is an
 * unsigned integer other than 1; everything else wrong is `bad-record`.
 */
export function decodeRecord(bytes: Bytes): DecodeRecordResult {
  assertBytes(bytes, 'bytes');
  const parsed = parseCbor(bytes);
  if (!parsed.ok) return { ok: false, code: 'bad-record', detail: `malformed CBOR at offset ${parsed.offset}: ${parsed.detail}` };
  if (parsed.nonCanonical) {
    return { ok: false, code: 'bad-record', detail: `not deterministic CBOR at offset ${parsed.nonCanonical.offset}: ${parsed.nonCanonical.detail}` };
  }
  return recordFromItem(parsed.item);
}

/** The record in an already parsed (well-formed, deterministic) CBOR item. */
export function recordFromItem(item: CborItem): DecodeRecordResult {
  if (item.kind !== 'array' || item.items.length === 0) return { ok: false, code: 'bad-record', detail: 'record: expected an array' };
  const version = item.items[0]!;
  if (version.kind !== 'uint') return { ok: false, code: 'bad-record', detail: 'record[0] (version): expected an unsigned integer' };
  if (version.value !== RECORD_VERSION) {
    return { ok: false, code: 'unsupported-version', detail: `record version ${String(version.value)}, this verifier reads version ${RECORD_VERSION}` };
  }
  try {
    if (item.items.length !== 4) throw new BadRecord(`record: expected 4 elements, got ${item.items.length}`);
    const counter = uintOf(item.items[1], 'record[1] (counter)', 1);
    const timeItem = item.items[2]!;
    const time = timeItem.kind === 'simple' && timeItem.value === SIMPLE_NULL ? null : uintOf(timeItem, 'record[2] (time)');
    const list = item.items[3]!;
    if (list.kind !== 'array' || list.items.length === 0) throw new BadRecord('record[3] (readings): expected a non-empty array');
    const readings = readingsOf(list, 'record[3]');
    return { ok: true, record: { version: RECORD_VERSION, counter, time, readings } };
  } catch (error) {
    if (error instanceof BadRecord) return { ok: false, code: 'bad-record', detail: error.detail };
    throw error;
  }
}
