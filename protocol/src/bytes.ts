/** Raw bytes. Public types of this package never use Node's `Buffer`. */
export type Bytes = Uint8Array;

const HEX = '0123456789abcdef';
const HEX_CODES: number[] = [];
for (let i = 0; i < 16; i++) HEX_CODES.push(HEX.charCodeAt(i));
/** Bytes per `String.fromCharCode` call (two arguments a byte: far below any engine's argument limit). */
const HEX_CHUNK = 4096;

/**
 * Lower-case hex of `bytes`, as one flat string. Built with `+=`, a hex string of more than 12
 * characters is a tree of V8 cons strings, one node per byte past the sixth: 870 bytes of heap for
 * a 32-byte key against 88 flat, kept as long as the string is (a map key: every verification key
 * a gateway caches, bench/README.md#gateway-memory).
 */
export function toHex(bytes: Bytes): string {
  let out = '';
  for (let start = 0; start < bytes.length; start += HEX_CHUNK) {
    const end = Math.min(bytes.length, start + HEX_CHUNK);
    const codes = new Array<number>((end - start) * 2);
    for (let i = start, j = 0; i < end; i++) {
      const b = bytes[i]!;
      codes[j++] = HEX_CODES[b >> 4]!;
      codes[j++] = HEX_CODES[b & 15]!;
    }
    out += String.fromCharCode.apply(null, codes);
  }
  return out;
}

function hexNibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** Bytes of a hex string (either case, even length), or `undefined` when it is not hex. */
export function parseHex(hex: string): Bytes | undefined {
  if (hex.length % 2 !== 0) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexNibble(hex.charCodeAt(2 * i));
    const lo = hexNibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return undefined;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Bytes of a hex string; throws `TypeError` naming `what` when it is not hex (programmer input). */
export function fromHex(hex: string, what = 'hex'): Bytes {
  if (typeof hex !== 'string') throw new TypeError(`${what}: expected a hex string, got ${typeof hex}`);
  const out = parseHex(hex);
  if (out === undefined) throw new TypeError(`${what}: expected an even-length hex string`);
  return out;
}

export function concatBytes(...parts: Bytes[]): Bytes {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function equalBytes(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Throws a `TypeError` unless `value` is a Uint8Array (of `length`, when given). */
export function assertBytes(value: unknown, what: string, length?: number): asserts value is Bytes {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${what}: expected Uint8Array${length === undefined ? '' : ` of length ${length}`}, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new TypeError(`${what}: expected Uint8Array of length ${length}, got length=${value.length}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
