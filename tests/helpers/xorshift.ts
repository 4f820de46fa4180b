/**
 * xorshift32 (Marsaglia 2003) from a pinned seed: the generated test cases are the same on every
 * run. Returns the generator: each call, the next 32-bit unsigned value.
 */
export function xorshift32(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}
