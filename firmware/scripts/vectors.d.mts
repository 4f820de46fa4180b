// Types of vectors.mjs for TypeScript callers (the tests, tests/tsconfig.json).

/** One input case: a record to seal, a message to sign, or a frame to fragment (firmware/README.md). */
export type FirmwareVectorCase =
  | { seed: string; record: unknown[]; kid?: boolean; contentKey?: string }
  | { seed: string; message: string }
  | { fragment: string; mtu: number; tag: number; hint?: string | null };

/** One result per case, in input order. */
export type FirmwareVectorResult = { frame: string } | { publicKey: string; signature: string } | { datagrams: string[] };

/** Runs the cases in the VM (one build, one run). */
export function runVectors(cases: readonly FirmwareVectorCase[], options?: { timeoutMs?: number }): Promise<FirmwareVectorResult[]>;
