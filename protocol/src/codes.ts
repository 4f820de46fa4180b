/**
 * Verification outcome codes, in the order the checks run (first failure wins). The list is
 * append-only: a code's meaning never changes. Each has an anchor in docs/protocol.md
 * (`#code-<code>`) and at least one negative vector in protocol/vectors/frames.json.
 */
export const VERIFICATION_CODES = [
  'too-large',
  'malformed-cbor',
  'non-canonical',
  'not-sign1',
  'bad-protected-header',
  'unsupported-alg',
  'unknown-kid',
  'key-revoked',
  'bad-signature',
  'bad-record',
  'unsupported-version',
  'replay',
] as const;

export type VerificationCode = (typeof VERIFICATION_CODES)[number];

/** The codes `verifySign1` can give (it does not apply sceau's frame policy). */
export type Sign1Code = 'malformed-cbor' | 'not-sign1' | 'bad-protected-header' | 'unsupported-alg' | 'bad-signature';

/** The anchor of a code in docs/protocol.md. */
export function codeAnchor(code: VerificationCode): string {
  return `docs/protocol.md#code-${code}`;
}
