/**
 * What each verification code means, as docs/protocol.md#verification states it: the table's
 * one-line meaning and the section under the code's heading (Markdown). One source for the docs
 * and for the gateway's console, which serves these offline; a test fails when docs/protocol.md
 * and this list differ.
 */
import type { VerificationCode } from './codes.js';

export interface CodeDoc {
  /** The table's "meaning" column. */
  meaning: string;
  /** The text under the code's heading (Markdown, one paragraph). */
  explanation: string;
}

export const CODE_DOCS: Readonly<Record<VerificationCode, CodeDoc>> = {
  'too-large': {
    meaning: "more bytes than the verifier's limit (2048 by default)",
    explanation:
      "The frame is longer than the verifier's limit (`maxFrameBytes`, 2048 by default: 16 fragments of the largest LoRaWAN payload stay under it). Checked before any parsing, so a big datagram costs no CPU. The gateway does not store such a frame at all: it refuses it with this code and counts it (see [Floods](#floods)); `frame verify --db` still records it.",
  },
  'malformed-cbor': {
    meaning: "not exactly one well-formed CBOR item",
    explanation:
      "Not one well-formed CBOR data item filling the input: truncated, trailing bytes, reserved additional information (28-30), a break outside an indefinite item, invalid UTF-8 in a text string, a two-byte simple value below 32 (RFC 8949 §3.3), nesting deeper than 32 levels.",
  },
  'non-canonical': {
    meaning: "well-formed but not core deterministic",
    explanation:
      "Well-formed, but the outer frame is not core deterministic: a head longer than needed, an indefinite length, map keys out of order or repeated. (The protected header and the payload are byte strings; their content is checked by their own steps.)",
  },
  'not-sign1': {
    meaning: "not a tagged COSE_Sign1 of the sceau shape",
    explanation:
      "Not tag 18 around an array of four (bstr, map, bstr, bstr); a detached (nil) payload; an unprotected header with a label other than 4, or a kid that is not 8 bytes.",
  },
  'bad-protected-header': {
    meaning: "protected header malformed or not `{1: alg}`",
    explanation:
      "The protected bytes are not a deterministic CBOR map, repeat a label, share a label with the unprotected bucket, carry `crit` (in either bucket) naming labels the verifier does not understand, or hold any label other than alg (1).",
  },
  'unsupported-alg': {
    meaning: "alg is not EdDSA / Ed25519",
    explanation:
      "alg is missing or is not -8 (EdDSA) or -19 (Ed25519). A generic `verifySign1` also gives this code for an EdDSA frame with a key that is not 32 bytes (Ed448).",
  },
  'unknown-kid': {
    meaning: "no key for this kid or transport identity",
    explanation:
      "The keyring has no key for the frame's kid, or the frame has no kid and the transport named no known device (for example a DevEUI without a registry entry).",
  },
  'key-revoked': {
    meaning: "the key is revoked",
    explanation:
      "The key is in the keyring but revoked. Checked before the signature: a revoked key's frames are refused whatever they carry.",
  },
  'bad-signature': {
    meaning: "the signature does not verify",
    explanation:
      "The Ed25519 signature does not verify under the policy above (wrong key, any altered byte in the protected header or payload, S ≥ L, non-canonical or small-order key).",
  },
  'bad-record': {
    meaning: "the payload is not a v1 record",
    explanation:
      "The signed payload is not a deterministic CBOR array in the v1 record schema: wrong element count, a float, an integer out of range, a zero counter, an explicit age of 0, no readings, trailing bytes. Checked only after the signature, so unauthenticated payloads are never interpreted.",
  },
  'unsupported-version': {
    meaning: "the record has another version",
    explanation:
      "The payload is a deterministic CBOR array whose first element is an unsigned integer other than the versions this verifier reads (1, and 2 where it reads [record version 2](#record-version-2-readings-encrypted-for-their-owner)). A future version's record, correctly signed, is reported as this rather than `bad-record`.",
  },
  'replay': {
    meaning: "the counter was already accepted, or is too old to tell",
    explanation:
      "The counter is not fresh for this device's replay window (below), and the frame's bytes differ from those of the frame accepted with that counter (the same bytes are a [duplicate delivery](#duplicate-deliveries), not a replay).",
  },
};
