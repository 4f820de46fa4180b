// Replaced by scripts/vectors.mjs in its private build copy: one JSON text per case,
// { seed, record, kid } (a frame) or { seed, message } (a raw RFC 8032 signature).
export const CASES: string[] = []
