import { aesCcmDecrypt, aesCcmEncrypt, CCM_TAG_BYTES } from './aes-ccm.js';
import { type Bytes, assertBytes, equalBytes } from './bytes.js';
import type { CborItem } from './cbor-reader.js';
import { CborWriter, headSize } from './cbor-writer.js';

/** CBOR tag of COSE_Encrypt0 (RFC 9052 §5.2). */
export const COSE_ENCRYPT0_TAG = 16;
/** AES-CCM-16-64-256 (RFC 9053 §4.2): 256-bit key, 8-byte tag, 13-byte nonce. */
export const ALG_AES_CCM_16_64_256 = 11;
/** The protected header sceau uses, `{1: 11}`, as its CBOR bytes. */
export const PROTECTED_AES_CCM_16_64_256: Bytes = Uint8Array.from([0xa1, 0x01, 0x0b]);

const ENCRYPT0_PREFIX = Uint8Array.from([0x83, 0x68, 0x45, 0x6e, 0x63, 0x72, 0x79, 0x70, 0x74, 0x30]); // [ "Encrypt0",

/** Enc_structure for COSE_Encrypt0 (RFC 9052 §5.3): `["Encrypt0", protected, external_aad]`, the AEAD's AAD. */
export function encStructure(protectedBytes: Bytes, externalAad: Bytes): Bytes {
  const w = new CborWriter(ENCRYPT0_PREFIX.length + headSize(protectedBytes.length) + protectedBytes.length + headSize(externalAad.length) + externalAad.length);
  return w.raw(ENCRYPT0_PREFIX).bytes(protectedBytes).bytes(externalAad).finish();
}

/** Size of the tagged COSE_Encrypt0 sceau writes around `plaintextBytes` bytes. */
export function encrypt0Size(plaintextBytes: number): number {
  const ct = plaintextBytes + CCM_TAG_BYTES;
  return 1 + 1 + 1 + PROTECTED_AES_CCM_16_64_256.length + 1 + headSize(ct) + ct;
}

/**
 * Writes `16([h'a1010b', {}, ciphertext])`: `plaintext` under AES-CCM-16-64-256 with `key` (32
 * bytes) and the given 13-byte `nonce`, which is not carried (the caller and reader both derive it).
 */
export function writeEncrypt0(w: CborWriter, key: Bytes, nonce: Bytes, externalAad: Bytes, plaintext: Bytes): CborWriter {
  assertBytes(key, 'key', 32);
  const ciphertext = aesCcmEncrypt(key, nonce, encStructure(PROTECTED_AES_CCM_16_64_256, externalAad), plaintext);
  return w.tag(COSE_ENCRYPT0_TAG).array(3).bytes(PROTECTED_AES_CCM_16_64_256).map(0).bytes(ciphertext);
}

/**
 * The ciphertext of a parsed item in sceau's profile of COSE_Encrypt0: tag 16, three elements,
 * protected exactly `{1: 11}`, unprotected empty (no IV: the nonce is derived), ciphertext a byte
 * string at least a tag long. A string saying what is wrong otherwise.
 */
export function encrypt0Ciphertext(item: CborItem): Bytes | string {
  if (item.kind !== 'tag' || item.tag !== COSE_ENCRYPT0_TAG) return `expected tag ${COSE_ENCRYPT0_TAG} (COSE_Encrypt0)`;
  const body = item.item;
  if (body.kind !== 'array' || body.items.length !== 3) return 'COSE_Encrypt0: expected an array of 3 elements';
  const [protectedItem, unprotectedItem, ciphertextItem] = body.items as [CborItem, CborItem, CborItem];
  if (protectedItem.kind !== 'bytes' || !equalBytes(protectedItem.value, PROTECTED_AES_CCM_16_64_256)) {
    return 'COSE_Encrypt0: protected header must be {1: 11} (AES-CCM-16-64-256)';
  }
  if (unprotectedItem.kind !== 'map' || unprotectedItem.entries.length !== 0) return 'COSE_Encrypt0: unprotected header must be empty';
  if (ciphertextItem.kind !== 'bytes') return 'COSE_Encrypt0: ciphertext is not a byte string';
  if (ciphertextItem.value.length < CCM_TAG_BYTES) return `COSE_Encrypt0: ciphertext shorter than its ${CCM_TAG_BYTES}-byte tag`;
  return ciphertextItem.value;
}

/** The plaintext of a ciphertext from `encrypt0Ciphertext`, or undefined when the tag does not check. */
export function openEncrypt0(key: Bytes, nonce: Bytes, externalAad: Bytes, ciphertext: Bytes): Bytes | undefined {
  assertBytes(key, 'key', 32);
  return aesCcmDecrypt(key, nonce, encStructure(PROTECTED_AES_CCM_16_64_256, externalAad), ciphertext);
}
