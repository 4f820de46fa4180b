// Types of vectors.mjs for TypeScript callers (the tests, tests/tsconfig.json).

/** Vector keys are derived, not random: seed i = SHA-256("sceau vector key i"). */
export function seedOf(i: number): Uint8Array;
/** Content key i = SHA-256("sceau vector content key i"). */
export function contentKeyOf(i: number): Uint8Array;

export interface VectorKey {
  name: string;
  seed: string;
  publicKey: string;
  kid: string;
  revoked: boolean;
  deviceIds: string[];
}

export function keySet(): VectorKey[];

/** Every file of protocol/vectors/ by name, as the JSON value it should hold. */
export function buildVectors(appendixA: unknown, rfc8032: unknown): Record<string, unknown>;
