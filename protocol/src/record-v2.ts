import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CCM_NONCE_BYTES, CCM_TAG_BYTES } from './aes-ccm.js';
import { type Bytes, assertBytes, parseHex } from './bytes.js';
import { type CborItem, parseCbor, SIMPLE_NULL } from './cbor-reader.js';
import { CborWriter, encodeUtf8 } from './cbor-writer.js';
import { encrypt0Ciphertext, openEncrypt0, writeEncrypt0 } from './cose-encrypt0.js';
import { BadRecord, type Reading, MAX_UINT, readingsOf, uintOf, writeReadings } from './record.js';

/**
 * Record version 2 (docs/protocol.md, "Record version 2"): the v1 record with its readings split
 * in two. Operational channels stay in clear; the rest travel in a COSE_Encrypt0 only the content
 * key opens:
 *   [2, counter, time / null, clearReadings, 16([h'a1010b', {}, ciphertext])]
 * The whole record is then signed exactly as v1 is, so a gateway checks origin and freshness
 * without the content key.
 */
export const RECORD_VERSION_2 = 2;
/** Channels that may (and, when sealed by sceau, do) travel in clear: battery (5), boot (32), readings dropped (33). */
export const OPERATIONAL_CHANNELS: readonly number[] = [5, 32, 33];
export const CONTENT_KEY_BYTES = 32;
const KID_BYTES = 8;
const BASE_IV_INFO = encodeUtf8('sceau base iv');

export interface SceauRecordV2 {
  version: 2;
  counter: number;
  time: number | null;
  /** The operational readings, in clear. */
  clearReadings: Reading[];
  /** The tagged COSE_Encrypt0 holding the other readings, as its bytes on the wire. */
  encrypted: Bytes;
}

/** A record to seal, whatever its version on the wire. */
export interface PlainRecord {
  counter: number;
  time: number | null;
  readings: Reading[];
}

export type DecodeRecordV2Result = { ok: true; record: SceauRecordV2 } | { ok: false; code: 'bad-record'; detail: string };
export type OpenReadingsResult =
  | { ok: true; readings: Reading[] }
  | { ok: false; code: 'decrypt-failed' | 'bad-record'; detail: string };

/** baseIV = HKDF-SHA256(contentKey, salt empty, info "sceau base iv", 13 bytes). */
export function contentBaseIv(contentKey: Bytes): Bytes {
  assertBytes(contentKey, 'contentKey', CONTENT_KEY_BYTES);
  return hkdf(sha256, contentKey, new Uint8Array(0), BASE_IV_INFO, CCM_NONCE_BYTES);
}

/**
 * The nonce of one record: baseIV XOR the counter as an unsigned big-endian integer right-aligned
 * in 13 bytes. It never repeats under one content key only because a device's counters never
 * repeat (docs/protocol.md, nonce uniqueness).
 */
export function contentNonce(baseIv: Bytes, counter: number): Bytes {
  assertBytes(baseIv, 'baseIv', CCM_NONCE_BYTES);
  if (!Number.isInteger(counter) || counter < 1 || counter > MAX_UINT) throw new RangeError(`counter: expected an integer in 1..${MAX_UINT}, got ${counter}`);
  const nonce = baseIv.slice();
  nonce[9]! ^= counter >>> 24;
  nonce[10]! ^= (counter >>> 16) & 0xff;
  nonce[11]! ^= (counter >>> 8) & 0xff;
  nonce[12]! ^= counter & 0xff;
  return nonce;
}

/** external_aad of the COSE_Encrypt0: CBOR `[kid, counter, time / null]`, kid the registry's 8 bytes. */
export function readingsAad(kid: Bytes, counter: number, time: number | null): Bytes {
  assertBytes(kid, 'kid', KID_BYTES);
  const w = new CborWriter(24).array(3).bytes(kid).int(counter);
  return (time === null ? w.null() : w.int(time)).finish();
}

function kidBytes(kid: Bytes | string): Bytes {
  if (typeof kid !== 'string') return kid;
  const bytes = parseHex(kid);
  if (bytes === undefined || bytes.length !== KID_BYTES) throw new TypeError(`kid: expected ${KID_BYTES} bytes of hex, got ${kid}`);
  return bytes;
}

function checkUint(value: unknown, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_UINT) {
    throw new RangeError(`${what}: expected an integer in ${min}..${MAX_UINT}, got ${String(value)}`);
  }
  return value;
}

/**
 * A record as version 2: operational readings in clear, the others (in their order, possibly
 * none) encrypted under `contentKey` for the device of `kid`. Deterministic. Throws
 * `TypeError` / `RangeError` for a record outside the schema (a programmer error).
 */
export function encodeRecordV2(record: PlainRecord, contentKey: Bytes, kid: Bytes | string): Bytes {
  if (record === null || typeof record !== 'object') throw new TypeError('record: expected an object');
  const counter = checkUint(record.counter, 'record.counter', 1);
  if (record.time !== null) checkUint(record.time, 'record.time', 0);
  if (!Array.isArray(record.readings) || record.readings.length === 0) throw new RangeError('record.readings: expected a non-empty array');
  const clear = record.readings.filter((r) => OPERATIONAL_CHANNELS.includes(r?.channel));
  const hidden = record.readings.filter((r) => !OPERATIONAL_CHANNELS.includes(r?.channel));
  const plaintext = new CborWriter(4 + hidden.length * 8);
  writeReadings(plaintext, hidden, 'record.readings (encrypted)');
  const w = new CborWriter(48 + record.readings.length * 8).array(5).int(RECORD_VERSION_2).int(counter);
  if (record.time === null) w.null();
  else w.int(record.time);
  writeReadings(w, clear, 'record.readings (clear)');
  const nonce = contentNonce(contentBaseIv(contentKey), counter);
  return writeEncrypt0(w, contentKey, nonce, readingsAad(kidBytes(kid), counter, record.time), plaintext.finish()).finish();
}

/**
 * A v2 record in an already parsed (well-formed, deterministic) CBOR item of `bytes`: five
 * elements, counter >= 1, clear readings on operational channels only, the encrypted part in
 * sceau's profile of COSE_Encrypt0. The ciphertext is not opened.
 */
export function recordV2FromItem(item: CborItem, bytes: Bytes): DecodeRecordV2Result {
  try {
    if (item.kind !== 'array' || item.items.length !== 5) throw new BadRecord(`record v2: expected 5 elements`);
    if (uintOf(item.items[0], 'record[0] (version)') !== RECORD_VERSION_2) throw new BadRecord('record[0] (version): expected 2');
    const counter = uintOf(item.items[1], 'record[1] (counter)', 1);
    const timeItem = item.items[2]!;
    const time = timeItem.kind === 'simple' && timeItem.value === SIMPLE_NULL ? null : uintOf(timeItem, 'record[2] (time)');
    const clearReadings = readingsOf(item.items[3]!, 'record[3]');
    clearReadings.forEach((r, i) => {
      if (!OPERATIONAL_CHANNELS.includes(r.channel)) throw new BadRecord(`record[3][${i}]: channel ${r.channel} is not operational and must be encrypted`);
    });
    const encryptedItem = item.items[4]!;
    const ciphertext = encrypt0Ciphertext(encryptedItem);
    if (typeof ciphertext === 'string') throw new BadRecord(`record[4] (encrypted): ${ciphertext}`);
    return { ok: true, record: { version: RECORD_VERSION_2, counter, time, clearReadings, encrypted: bytes.slice(encryptedItem.start, encryptedItem.end) } };
  } catch (error) {
    if (error instanceof BadRecord) return { ok: false, code: 'bad-record', detail: error.detail };
    throw error;
  }
}

/**
 * How many bytes of encrypted readings (their CBOR) a v2 record carries: the ciphertext less
 * AES-CCM's 8-byte tag. It is all a party without the content key learns of them; it does not
 * tell how many readings they are (a reading takes 3 to 19 bytes).
 */
export function encryptedReadingsBytes(record: SceauRecordV2): number {
  const parsed = parseCbor(record.encrypted);
  const ciphertext = parsed.ok ? encrypt0Ciphertext(parsed.item) : 'malformed CBOR';
  if (typeof ciphertext === 'string') throw new TypeError(`record.encrypted: ${ciphertext}`);
  return ciphertext.length - CCM_TAG_BYTES;
}

/**
 * The encrypted readings of a v2 record, decrypted with the device's content key: `decrypt-failed`
 * for a wrong key or kid (AES-CCM's tag does not check, so no garbage readings come out),
 * `bad-record` for a plaintext outside the schema. Never throws on a record from `recordV2FromItem`.
 */
export function openRecordReadings(record: SceauRecordV2, contentKey: Bytes, kid: Bytes | string): OpenReadingsResult {
  assertBytes(contentKey, 'contentKey', CONTENT_KEY_BYTES);
  const parsed = parseCbor(record.encrypted);
  const ciphertext = parsed.ok ? encrypt0Ciphertext(parsed.item) : 'malformed CBOR';
  if (typeof ciphertext === 'string') return { ok: false, code: 'bad-record', detail: `encrypted: ${ciphertext}` };
  const nonce = contentNonce(contentBaseIv(contentKey), record.counter);
  const plaintext = openEncrypt0(contentKey, nonce, readingsAad(kidBytes(kid), record.counter, record.time), ciphertext);
  if (plaintext === undefined) return { ok: false, code: 'decrypt-failed', detail: 'AES-CCM tag does not check: wrong content key, or not this device\'s record' };
  const inner = parseCbor(plaintext);
  if (!inner.ok) return { ok: false, code: 'bad-record', detail: `encrypted readings are not well-formed CBOR: ${inner.detail}` };
  const departure = inner.nonCanonical ?? inner.duplicateKey;
  if (departure) return { ok: false, code: 'bad-record', detail: `encrypted readings are not deterministic CBOR: ${departure.detail}` };
  try {
    const readings = readingsOf(inner.item, 'encrypted');
    if (readings.length + record.clearReadings.length === 0) throw new BadRecord('record has no readings at all');
    return { ok: true, readings };
  } catch (error) {
    if (error instanceof BadRecord) return { ok: false, code: 'bad-record', detail: error.detail };
    throw error;
  }
}
