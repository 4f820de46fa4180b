import { type Bytes, assertBytes, toHex } from './bytes.js';
import { parseCbor } from './cbor-reader.js';
import type { VerificationCode } from './codes.js';
import { HEADER_ALG, HEADER_KID, eddsaAlgOf, readSign1, sigStructure } from './cose-sign1.js';
import { type CanonicalFrame, readCanonicalFrame, readCanonicalRecord } from './frame-layout.js';
import { kidOf, verifyEd25519, verifyEd25519Async } from './ed25519.js';
import type { Keyring } from './keyring.js';
import { type Reading, type SceauRecord, recordFromItem } from './record.js';
import { type SceauRecordV2, RECORD_VERSION_2, recordV2FromItem } from './record-v2.js';
import type { ReplayWindow, ReplayWindowStore } from './replay-window.js';

/** Frames above this size are refused before any parsing, unless `maxFrameBytes` says otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 2048;
const KID_BYTES = 8;
const EMPTY: Bytes = new Uint8Array(0);

export interface VerifyFrameOptions {
  /** Replay windows by kid; without it, replay is not checked. */
  replay?: ReplayWindowStore;
  /** Record an accepted counter in its window (default true). False checks without changing it. */
  commit?: boolean;
  /** Receive time, Unix seconds: dates readings of records without `time`. */
  now?: number;
  /** The transport's name for the sender (DevEUI, ...), to find the key of a frame without kid. */
  deviceId?: string;
  maxFrameBytes?: number;
  /**
   * Record versions this verifier accepts besides 1, which it always reads (default `[1]`: a v2 record is then `unsupported-version`,
   * as for any verifier that predates it). With 2, a v2 record verifies like v1 and the result
   * carries its clear readings and its encrypted part (`openRecordReadings` decrypts it).
   */
  recordVersions?: readonly number[];
}

export interface DatedReading extends Reading {
  /** Unix seconds of the measurement: `(time ?? now) - age`, when either clock is known. */
  at?: number;
}

export interface FrameAccepted {
  ok: true;
  /** Key id (hex) of the key that verified the frame, whether or not the frame carried it. */
  kid: string;
  kidInFrame: boolean;
  alg: number;
  counter: number;
  time: number | null;
  record: SceauRecord | SceauRecordV2;
  /** The readings in clear: all of a v1 record's, the operational ones of a v2 record. */
  readings: DatedReading[];
  /** v2 only: the tagged COSE_Encrypt0 holding the other readings. */
  encrypted?: Bytes;
}

export interface FrameRejected {
  ok: false;
  code: VerificationCode;
  detail: string;
  /** Known once the sender is identified. */
  kid?: string;
  /** Known once the record is read (bad signatures never get this far). */
  counter?: number;
}

export type VerifyResult = FrameAccepted | FrameRejected;

function reject(code: VerificationCode, detail: string, kid?: string, counter?: number): FrameRejected {
  const result: FrameRejected = { ok: false, code, detail };
  if (kid !== undefined) result.kid = kid;
  if (counter !== undefined) result.counter = counter;
  return result;
}

/** What a frame needs once its header, key and policy passed: the signature check, then the rest. */
interface SignatureToCheck {
  publicKey: Bytes;
  message: Bytes;
  signature: Bytes;
  payload: Bytes;
  kid: string;
  kidInFrame: boolean;
  alg: number;
}

/**
 * The full sceau check of an untrusted frame, in the order of docs/protocol.md; the first
 * failure wins and has one stable code. Never throws on untrusted bytes.
 */
export function verifyFrame(bytes: Bytes, keyring: Keyring, options: VerifyFrameOptions = {}): VerifyResult {
  const check = checkUpToSignature(bytes, keyring, options);
  if (!('payload' in check)) return check;
  return finishAfterSignature(check, verifyEd25519(check.publicKey, check.message, check.signature), options);
}

/**
 * `verifyFrame` with the Ed25519 equation computed off the calling thread where the runtime can
 * (node:crypto runs it on libuv's thread pool, so frames verified concurrently use several
 * cores); the same checks, order and codes. Frames finish in any order: with `replay`, windows
 * are applied in the order the checks finish, so a caller that needs arrival order applies the
 * replay window itself, as the sceau gateway does.
 */
export function verifyFrameAsync(bytes: Bytes, keyring: Keyring, options: VerifyFrameOptions = {}): Promise<VerifyResult> {
  let check: FrameRejected | SignatureToCheck;
  try {
    check = checkUpToSignature(bytes, keyring, options);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  if (!('payload' in check)) return Promise.resolve(check);
  const ready = check;
  return new Promise((resolve) => verifyEd25519Async(ready.publicKey, ready.message, ready.signature, (ok) => resolve(finishAfterSignature(ready, ok, options))));
}

/** Size, CBOR, COSE_Sign1 profile, key and revocation: everything before the signature. */
function checkUpToSignature(bytes: Bytes, keyring: Keyring, options: VerifyFrameOptions): FrameRejected | SignatureToCheck {
  assertBytes(bytes, 'bytes');
  const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (bytes.length > max) return reject('too-large', `${bytes.length} bytes, the limit is ${max}`);

  const frame = readCanonicalFrame(bytes) ?? readFrameGeneric(bytes);
  if ('code' in frame) return frame;
  const { kid: frameKid, alg } = frame;

  const query = frameKid !== undefined ? { kid: frameKid } : options.deviceId !== undefined ? { deviceId: options.deviceId } : undefined;
  const entry = query === undefined ? undefined : keyring.resolve(query);
  if (entry === undefined) {
    if (frameKid !== undefined) return reject('unknown-kid', `no key for kid ${toHex(frameKid)}`, toHex(frameKid));
    return reject('unknown-kid', options.deviceId === undefined ? 'frame has no kid and the transport named no device' : `no key for device ${options.deviceId}`);
  }
  const kid = frameKid !== undefined ? toHex(frameKid) : toHex(kidOf(entry.publicKey));
  if (entry.revoked) return reject('key-revoked', `key ${kid} is revoked`, kid);

  return { publicKey: entry.publicKey, message: sigStructure(frame.protectedBytes, EMPTY, frame.payload), signature: frame.signature, payload: frame.payload, kid, kidInFrame: frameKid !== undefined, alg };
}

/** Any frame through the generic strict parser: its parts in sceau's profile of COSE_Sign1, or the first failure. */
function readFrameGeneric(bytes: Bytes): CanonicalFrame | FrameRejected {
  const parsed = parseCbor(bytes);
  if (!parsed.ok) return reject('malformed-cbor', `at offset ${parsed.offset}: ${parsed.detail}`);
  const departure = parsed.nonCanonical ?? parsed.duplicateKey;
  if (departure) return reject('non-canonical', `at offset ${departure.offset}: ${departure.detail}`);

  const parts = readSign1(parsed.item, { requireTag: true });
  if ('ok' in parts) return reject(parts.code, parts.detail);
  // sceau's profile of COSE_Sign1: protected holds alg only, deterministically encoded;
  // unprotected holds at most an 8-byte kid.
  if (parts.protectedNonCanonical) return reject('bad-protected-header', `protected header is not deterministic CBOR: ${parts.protectedNonCanonical.detail}`);
  for (const label of parts.protectedHeader.keys()) {
    if (label !== HEADER_ALG) return reject('bad-protected-header', `protected header label ${String(label)}: a sceau frame protects alg only`);
  }
  let kid: Bytes | undefined;
  for (const [label, value] of parts.unprotectedHeader) {
    if (label !== HEADER_KID) return reject('not-sign1', `unprotected header label ${String(label)}: a sceau frame carries kid only`);
    if (!(value instanceof Uint8Array) || value.length !== KID_BYTES) return reject('not-sign1', `kid is not a ${KID_BYTES}-byte string`);
    kid = value;
  }
  const alg = eddsaAlgOf(parts);
  if (typeof alg !== 'number') return reject(alg.code, alg.detail);
  return { alg, protectedBytes: parts.protectedBytes, kid, payload: parts.payload, signature: parts.signature };
}

/** The signature's verdict, then the record, the replay window and the dated readings. */
function finishAfterSignature(check: SignatureToCheck, signatureOk: boolean, options: VerifyFrameOptions): VerifyResult {
  const { kid, payload } = check;
  if (!signatureOk) return reject('bad-signature', 'Ed25519 signature does not verify', kid);

  const record = readCanonicalRecord(payload) ?? readRecordGeneric(payload, kid, options.recordVersions);
  if ('code' in record) return record;

  if (options.replay !== undefined) {
    const replayed = checkReplayWindow(options.replay.get(kid), kid, record.counter, options.commit !== false);
    if (replayed !== undefined) return replayed;
  }

  const clock = record.time ?? options.now;
  // Built field by field (an object spread per reading costs more than the rest of this function).
  const readings: DatedReading[] = [];
  for (const r of record.version === RECORD_VERSION_2 ? record.clearReadings : record.readings) {
    const dated: DatedReading = r.age === undefined ? { channel: r.channel, value: r.value } : { channel: r.channel, value: r.value, age: r.age };
    if (clock !== undefined) dated.at = clock - (r.age ?? 0);
    readings.push(dated);
  }
  const accepted: FrameAccepted = { ok: true, kid, kidInFrame: check.kidInFrame, alg: check.alg, counter: record.counter, time: record.time, record, readings };
  if (record.version === RECORD_VERSION_2) accepted.encrypted = record.encrypted;
  return accepted;
}

/**
 * Check 12 on its own, for a verifier that applies replay windows in its own order (the gateway,
 * after `verifyFrameAsync`): the `replay` rejection of a counter already accepted or older than
 * the window, else undefined, the counter then accepted in the window when `commit` (default true).
 */
export function checkReplayWindow(window: ReplayWindow, kid: string, counter: number, commit = true): FrameRejected | undefined {
  if (!window.isFresh(counter)) return reject('replay', `counter ${counter} already accepted or older than the window (highest ${window.highestAccepted})`, kid, counter);
  if (commit) window.accept(counter);
  return undefined;
}

/** Any payload through the generic strict parser: the record, or the first failure. */
function readRecordGeneric(payload: Bytes, kid: string, versions: readonly number[] = [1]): SceauRecord | SceauRecordV2 | FrameRejected {
  const parsed = parseCbor(payload);
  if (!parsed.ok) return reject('bad-record', `payload is not well-formed CBOR: ${parsed.detail}`, kid);
  const departure = parsed.nonCanonical ?? parsed.duplicateKey;
  if (departure) return reject('bad-record', `payload is not deterministic CBOR: ${departure.detail}`, kid);
  const item = parsed.item;
  if (versions.includes(RECORD_VERSION_2) && item.kind === 'array' && item.items[0]?.kind === 'uint' && item.items[0].value === RECORD_VERSION_2) {
    const v2 = recordV2FromItem(item, payload);
    return v2.ok ? v2.record : reject(v2.code, v2.detail, kid);
  }
  const decoded = recordFromItem(item);
  if (!decoded.ok && decoded.code === 'unsupported-version' && versions.length > 1) {
    return reject(decoded.code, `${decoded.detail.replace(/, this verifier reads.*/, '')}, this verifier reads versions ${versions.join(', ')}`, kid);
  }
  return decoded.ok ? decoded.record : reject(decoded.code, decoded.detail, kid);
}
