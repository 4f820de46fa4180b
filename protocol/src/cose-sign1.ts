import { type Bytes, assertBytes } from './bytes.js';
import { type CborItem, parseCbor, SIMPLE_FALSE, SIMPLE_NULL, SIMPLE_TRUE, SIMPLE_UNDEFINED } from './cbor-reader.js';
import { CborWriter, headSize } from './cbor-writer.js';
import type { Sign1Code } from './codes.js';
import { verifyEd25519 } from './ed25519.js';

/** CBOR tag of COSE_Sign1 (RFC 9052 §4.2). */
export const COSE_SIGN1_TAG = 18;
/** COSE header labels used here (RFC 9052 §3.1). */
export const HEADER_ALG = 1;
export const HEADER_CRIT = 2;
export const HEADER_CONTENT_TYPE = 3;
export const HEADER_KID = 4;
/** EdDSA (RFC 9053) and the fully specified Ed25519 (RFC 9864). */
export const ALG_EDDSA = -8;
export const ALG_ED25519 = -19;

/** Header labels this verifier understands, so `crit` may name them. */
const UNDERSTOOD_LABELS = new Set<number | string>([HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID]);

export type HeaderLabel = number | string;
export type HeaderMap = Map<HeaderLabel, unknown>;

/** The four parts of a COSE_Sign1, with the protected header kept as the bytes received. */
export interface Sign1Parts {
  tagged: boolean;
  protectedBytes: Bytes;
  protectedHeader: HeaderMap;
  /** First departure of the protected bytes from core deterministic encoding, if any. */
  protectedNonCanonical?: { offset: number; detail: string };
  unprotectedHeader: HeaderMap;
  payload: Bytes;
  signature: Bytes;
  /** The parsed item of the payload's enclosing byte string (offsets into the frame). */
  payloadItem: CborItem;
}

export type Sign1Failure = { ok: false; code: Sign1Code; detail: string };

/** A CBOR item as a plain value: integers, Uint8Array, strings, arrays, Maps, booleans, null. */
export function itemToValue(item: CborItem): unknown {
  switch (item.kind) {
    case 'uint':
    case 'nint':
    case 'float':
      return item.value;
    case 'bytes':
      return item.value.slice();
    case 'text':
      return item.value;
    case 'array':
      return item.items.map(itemToValue);
    case 'map':
      return new Map(item.entries.map(([k, v]) => [itemToValue(k), itemToValue(v)]));
    case 'tag':
      return { tag: item.tag, value: itemToValue(item.item) };
    case 'simple':
      if (item.value === SIMPLE_FALSE) return false;
      if (item.value === SIMPLE_TRUE) return true;
      if (item.value === SIMPLE_NULL) return null;
      if (item.value === SIMPLE_UNDEFINED) return undefined;
      return { simple: item.value };
  }
}

function headerLabel(item: CborItem): HeaderLabel | undefined {
  if ((item.kind === 'uint' || item.kind === 'nint') && typeof item.value === 'number') return item.value;
  if (item.kind === 'text') return item.value;
  return undefined;
}

function headerMap(item: CborItem, bucket: string, code: Sign1Code): HeaderMap | Sign1Failure {
  if (item.kind !== 'map') return { ok: false, code, detail: `${bucket} header is not a map` };
  const map: HeaderMap = new Map();
  for (const [k, v] of item.entries) {
    const label = headerLabel(k);
    if (label === undefined) return { ok: false, code, detail: `${bucket} header has a label that is neither int nor text` };
    if (map.has(label)) return { ok: false, code, detail: `${bucket} header repeats label ${String(label)}` };
    map.set(label, itemToValue(v));
  }
  return map;
}

/**
 * Splits a parsed COSE_Sign1 into its parts and checks the headers' structure
 * (RFC 9052 §3 and §4.2): protected a bstr holding a map (or empty), labels int or text and
 * unique across both buckets, `crit` protected, non-empty and naming only understood labels.
 */
export function readSign1(item: CborItem, { requireTag = false } = {}): Sign1Parts | Sign1Failure {
  let body = item;
  const tagged = item.kind === 'tag';
  if (item.kind === 'tag') {
    if (item.tag !== COSE_SIGN1_TAG) return { ok: false, code: 'not-sign1', detail: `tag ${String(item.tag)}, expected ${COSE_SIGN1_TAG} (COSE_Sign1)` };
    body = item.item;
  } else if (requireTag) {
    return { ok: false, code: 'not-sign1', detail: `expected tag ${COSE_SIGN1_TAG} (COSE_Sign1)` };
  }
  if (body.kind !== 'array' || body.items.length !== 4) return { ok: false, code: 'not-sign1', detail: 'expected an array of 4 elements' };
  const [protectedItem, unprotectedItem, payloadItem, signatureItem] = body.items as [CborItem, CborItem, CborItem, CborItem];
  if (protectedItem.kind !== 'bytes') return { ok: false, code: 'not-sign1', detail: 'protected header is not a byte string' };
  if (unprotectedItem.kind !== 'map') return { ok: false, code: 'not-sign1', detail: 'unprotected header is not a map' };
  if (payloadItem.kind !== 'bytes') {
    const detached = payloadItem.kind === 'simple' && payloadItem.value === SIMPLE_NULL;
    return { ok: false, code: 'not-sign1', detail: detached ? 'detached payload (nil) is not supported' : 'payload is not a byte string' };
  }
  if (signatureItem.kind !== 'bytes') return { ok: false, code: 'not-sign1', detail: 'signature is not a byte string' };

  const unprotectedHeader = headerMap(unprotectedItem, 'unprotected', 'not-sign1');
  if (!(unprotectedHeader instanceof Map)) return unprotectedHeader;

  let protectedHeader: HeaderMap = new Map();
  let protectedNonCanonical: { offset: number; detail: string } | undefined;
  if (protectedItem.value.length > 0) {
    const parsed = parseCbor(protectedItem.value);
    if (!parsed.ok) return { ok: false, code: 'bad-protected-header', detail: `protected header is not well-formed CBOR: ${parsed.detail}` };
    const map = headerMap(parsed.item, 'protected', 'bad-protected-header');
    if (!(map instanceof Map)) return map;
    protectedHeader = map;
    protectedNonCanonical = parsed.nonCanonical;
  }
  for (const label of unprotectedHeader.keys()) {
    if (protectedHeader.has(label)) return { ok: false, code: 'bad-protected-header', detail: `label ${String(label)} is in both header buckets` };
  }
  if (unprotectedHeader.has(HEADER_CRIT)) return { ok: false, code: 'bad-protected-header', detail: 'crit is in the unprotected header' };
  const crit = protectedHeader.get(HEADER_CRIT);
  if (crit !== undefined) {
    if (!Array.isArray(crit) || crit.length === 0) return { ok: false, code: 'bad-protected-header', detail: 'crit is not a non-empty array' };
    for (const label of crit) {
      if (!UNDERSTOOD_LABELS.has(label as HeaderLabel)) {
        return { ok: false, code: 'bad-protected-header', detail: `crit names label ${String(label)}, which this verifier does not understand` };
      }
      if (!protectedHeader.has(label as HeaderLabel)) return { ok: false, code: 'bad-protected-header', detail: `crit names label ${String(label)}, which is absent` };
    }
  }
  return {
    tagged,
    protectedBytes: protectedItem.value,
    protectedHeader,
    ...(protectedNonCanonical === undefined ? {} : { protectedNonCanonical }),
    unprotectedHeader,
    payload: payloadItem.value,
    signature: signatureItem.value,
    payloadItem,
  };
}

const SIGNATURE1_PREFIX = Uint8Array.from([0x84, 0x6a, 0x53, 0x69, 0x67, 0x6e, 0x61, 0x74, 0x75, 0x72, 0x65, 0x31]);

/** Sig_structure for COSE_Sign1: ["Signature1", protected (as received), external_aad, payload]. */
export function sigStructure(protectedBytes: Bytes, externalAad: Bytes, payload: Bytes): Bytes {
  const size = SIGNATURE1_PREFIX.length + headSize(protectedBytes.length) + protectedBytes.length + headSize(externalAad.length) + externalAad.length + headSize(payload.length) + payload.length;
  const w = new CborWriter(size); // exactly: finish() then hands over the buffer without a copy
  return w.raw(SIGNATURE1_PREFIX).bytes(protectedBytes).bytes(externalAad).bytes(payload).finish();
}

export type VerifySign1Result =
  | { ok: true; alg: number; protectedHeader: HeaderMap; unprotectedHeader: HeaderMap; payload: Bytes }
  | Sign1Failure;

/** The algorithm of a Sign1's headers as an EdDSA variant, or a failure. */
export function eddsaAlgOf(parts: Sign1Parts): number | Sign1Failure {
  const alg = parts.protectedHeader.has(HEADER_ALG) ? parts.protectedHeader.get(HEADER_ALG) : parts.unprotectedHeader.get(HEADER_ALG);
  if (alg === undefined) return { ok: false, code: 'unsupported-alg', detail: 'no alg header' };
  if (typeof alg !== 'number' && typeof alg !== 'string') return { ok: false, code: 'bad-protected-header', detail: 'alg is neither int nor text' };
  if (alg !== ALG_EDDSA && alg !== ALG_ED25519) return { ok: false, code: 'unsupported-alg', detail: `alg ${String(alg)}; only EdDSA (-8) and Ed25519 (-19) are supported` };
  return alg;
}

/**
 * Verifies any COSE_Sign1 (tagged or not) signed with EdDSA over Ed25519, over the protected
 * header bytes as received. Untrusted `bytes` never throw.
 */
export function verifySign1(bytes: Bytes, publicKey: Bytes, options: { externalAad?: Bytes } = {}): VerifySign1Result {
  assertBytes(bytes, 'bytes');
  assertBytes(publicKey, 'publicKey');
  const externalAad = options.externalAad ?? new Uint8Array(0);
  assertBytes(externalAad, 'externalAad');
  const parsed = parseCbor(bytes);
  if (!parsed.ok) return { ok: false, code: 'malformed-cbor', detail: `at offset ${parsed.offset}: ${parsed.detail}` };
  if (parsed.duplicateKey) return { ok: false, code: 'not-sign1', detail: parsed.duplicateKey.detail };
  const parts = readSign1(parsed.item);
  if ('ok' in parts) return parts;
  const alg = eddsaAlgOf(parts);
  if (typeof alg !== 'number') return alg;
  if (publicKey.length !== 32) {
    return { ok: false, code: 'unsupported-alg', detail: `EdDSA with a ${publicKey.length}-byte key; only Ed25519 (32 bytes) is supported` };
  }
  const toBeSigned = sigStructure(parts.protectedBytes, externalAad, parts.payload);
  if (!verifyEd25519(publicKey, toBeSigned, parts.signature)) return { ok: false, code: 'bad-signature', detail: 'Ed25519 signature does not verify' };
  return { ok: true, alg, protectedHeader: parts.protectedHeader, unprotectedHeader: parts.unprotectedHeader, payload: parts.payload.slice() };
}
