import { type Bytes, assertBytes, equalBytes } from './bytes.js';
import { CborWriter, headSize } from './cbor-writer.js';
import { COSE_SIGN1_TAG, HEADER_KID, sigStructure } from './cose-sign1.js';
import { getPublicKey, kidOf, signEd25519 } from './ed25519.js';
import { type SceauRecord, encodeRecord } from './record.js';
import { type PlainRecord, encodeRecordV2 } from './record-v2.js';

/** The protected header of every sceau frame: `{1: -8}` (alg EdDSA), as its CBOR bytes. */
export const PROTECTED_EDDSA: Bytes = Uint8Array.from([0xa1, 0x01, 0x27]);
const EMPTY: Bytes = new Uint8Array(0);

export interface SealOptions {
  /** Put the key id in the unprotected header (default). Leave it out (10 bytes fewer) where the transport names the device. */
  kid?: boolean;
}

// The kid of a secret key, cached by array identity with a copy to notice a mutated array.
const kids = new WeakMap<Bytes, { seed: Bytes; kid: Bytes }>();
function kidOfSecret(secretKey: Bytes): Bytes {
  const cached = kids.get(secretKey);
  if (cached !== undefined && equalBytes(cached.seed, secretKey)) return cached.kid;
  const kid = kidOf(getPublicKey(secretKey));
  kids.set(secretKey, { seed: secretKey.slice(), kid });
  return kid;
}

/** Size in bytes of the frame that seals a record of `recordBytes` bytes. */
export function frameSize(recordBytes: number, options: SealOptions = {}): number {
  // tag + array + protected bstr (4) + unprotected map (1 or 11) + payload bstr + signature bstr (66)
  return 2 + 4 + (options.kid === false ? 1 : 11) + headSize(recordBytes) + recordBytes + 66;
}

/**
 * Seals a record as a COSE_Sign1 frame (tag 18): protected `{1: -8}`, unprotected `{4: kid}`
 * (or `{}` with `kid: false`), the record as payload, an Ed25519 signature over the
 * Sig_structure with empty external AAD. Deterministic: same key and record, same bytes.
 */
export function sealRecord(record: SceauRecord, secretKey: Bytes, options: SealOptions = {}): Bytes {
  assertBytes(secretKey, 'secretKey', 32);
  return sealPayload(encodeRecord(record), secretKey, options);
}

/**
 * Seals a record as version 2 (docs/protocol.md): operational readings in clear, the others
 * encrypted under the device's 32-byte `contentKey` with the kid of `secretKey` in the AAD, the
 * whole record signed as `sealRecord` signs v1. Deterministic.
 */
export function sealRecordV2(record: PlainRecord, secretKey: Bytes, contentKey: Bytes, options: SealOptions = {}): Bytes {
  assertBytes(secretKey, 'secretKey', 32);
  return sealPayload(encodeRecordV2(record, contentKey, kidOfSecret(secretKey)), secretKey, options);
}

function sealPayload(payload: Bytes, secretKey: Bytes, options: SealOptions): Bytes {
  const signature = signEd25519(secretKey, sigStructure(PROTECTED_EDDSA, EMPTY, payload));
  const w = new CborWriter(frameSize(payload.length, options));
  w.tag(COSE_SIGN1_TAG).array(4).bytes(PROTECTED_EDDSA);
  if (options.kid === false) w.map(0);
  else w.map(1).int(HEADER_KID).bytes(kidOfSecret(secretKey));
  return w.bytes(payload).bytes(signature).finish();
}
