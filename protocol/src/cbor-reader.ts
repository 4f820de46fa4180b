import type { Bytes } from './bytes.js';

/**
 * A well-formedness parser for untrusted CBOR (RFC 8949). It never throws on bad input: it
 * returns `{ ok: false }` with an offset. It accepts every well-formed item (so it can read any
 * COSE library's output) and reports, separately, the first departure from core deterministic
 * encoding (§4.2.1: shortest heads and floats, definite lengths, map keys in bytewise order) and
 * the first duplicate map key, so each caller applies the policy it needs.
 */

interface ItemBase {
  /** Offset of the item's first byte in the parsed buffer. */
  start: number;
  /** Offset just after the item. */
  end: number;
}
export type CborItem =
  | (ItemBase & { kind: 'uint'; value: number | bigint })
  | (ItemBase & { kind: 'nint'; value: number | bigint })
  | (ItemBase & { kind: 'bytes'; value: Bytes })
  | (ItemBase & { kind: 'text'; value: string })
  | (ItemBase & { kind: 'array'; items: CborItem[] })
  | (ItemBase & { kind: 'map'; entries: Array<[CborItem, CborItem]> })
  | (ItemBase & { kind: 'tag'; tag: number | bigint; item: CborItem })
  | (ItemBase & { kind: 'simple'; value: number })
  | (ItemBase & { kind: 'float'; value: number; size: 2 | 4 | 8 });

export type CborParse =
  | {
      ok: true;
      item: CborItem;
      /** First departure from core deterministic encoding, if any. */
      nonCanonical?: { offset: number; detail: string };
      /** First map key that repeats an earlier key of the same map, if any. */
      duplicateKey?: { offset: number; detail: string };
    }
  | { ok: false; offset: number; detail: string };

export const SIMPLE_FALSE = 20;
export const SIMPLE_TRUE = 21;
export const SIMPLE_NULL = 22;
export const SIMPLE_UNDEFINED = 23;

/** Deepest nesting accepted; deeper input is refused rather than risking the stack. */
export const MAX_CBOR_DEPTH = 32;

declare const TextDecoder: new (label: string, options: { fatal: boolean }) => { decode(input: Bytes): string };
let utf8Decoder: { decode(input: Bytes): string } | undefined;

class Malformed {
  constructor(readonly offset: number, readonly detail: string) {}
}

class Parser {
  pos = 0;
  nonCanonical: { offset: number; detail: string } | undefined;
  duplicateKey: { offset: number; detail: string } | undefined;

  constructor(private readonly bytes: Bytes) {}

  private fail(detail: string, offset = this.pos): never {
    throw new Malformed(offset, detail);
  }

  private noteNonCanonical(offset: number, detail: string): void {
    if (this.nonCanonical === undefined) this.nonCanonical = { offset, detail };
  }

  private need(count: number): void {
    if (this.pos + count > this.bytes.length) this.fail(`truncated: ${count} more byte(s) needed`);
  }

  /** Reads the argument of a head whose additional information is `info` (< 28). */
  private argument(info: number, start: number): number | bigint {
    const b = this.bytes;
    if (info < 24) return info;
    if (info === 24) {
      this.need(1);
      const v = b[this.pos++]!;
      if (v < 24) this.noteNonCanonical(start, 'argument not in shortest form');
      return v;
    }
    if (info === 25) {
      this.need(2);
      const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
      this.pos += 2;
      if (v < 0x100) this.noteNonCanonical(start, 'argument not in shortest form');
      return v;
    }
    if (info === 26) {
      this.need(4);
      const v = ((b[this.pos]! << 24) >>> 0) + ((b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!);
      this.pos += 4;
      if (v < 0x10000) this.noteNonCanonical(start, 'argument not in shortest form');
      return v;
    }
    // info === 27
    this.need(8);
    const hi = ((b[this.pos]! << 24) >>> 0) + ((b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!);
    const lo = ((b[this.pos + 4]! << 24) >>> 0) + ((b[this.pos + 5]! << 16) | (b[this.pos + 6]! << 8) | b[this.pos + 7]!);
    this.pos += 8;
    if (hi === 0) this.noteNonCanonical(start, 'argument not in shortest form');
    if (hi < 0x200000) return hi * 0x100000000 + lo;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A length or count: must fit what is left of the input (each element takes a byte at least). */
  private count(info: number, start: number, what: string): number {
    const n = this.argument(info, start);
    if (typeof n === 'bigint' || n > this.bytes.length - this.pos) this.fail(`${what} ${n} exceeds the input`, start);
    return n;
  }

  item(depth: number): CborItem {
    if (depth > MAX_CBOR_DEPTH) this.fail(`nesting deeper than ${MAX_CBOR_DEPTH}`);
    const start = this.pos;
    this.need(1);
    const initial = this.bytes[this.pos++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.simpleOrFloat(info, start);
    if (info >= 28 && info <= 30) this.fail(`reserved additional information ${info}`, start);
    if (info === 31) {
      if (major === 0 || major === 1 || major === 6) this.fail('indefinite length on a type that has none', start);
      this.noteNonCanonical(start, 'indefinite length');
      return this.indefinite(major, start, depth);
    }
    switch (major) {
      case 0:
        return { kind: 'uint', value: this.argument(info, start), start, end: this.pos };
      case 1: {
        const n = this.argument(info, start);
        const value = typeof n === 'bigint' ? -1n - n : n >= 2 ** 53 - 1 ? -1n - BigInt(n) : -1 - n;
        return { kind: 'nint', value, start, end: this.pos };
      }
      case 2: {
        const length = this.count(info, start, 'byte string length');
        const value = this.bytes.subarray(this.pos, this.pos + length);
        this.pos += length;
        return { kind: 'bytes', value, start, end: this.pos };
      }
      case 3: {
        const length = this.count(info, start, 'text string length');
        const value = this.utf8(this.bytes.subarray(this.pos, this.pos + length), start);
        this.pos += length;
        return { kind: 'text', value, start, end: this.pos };
      }
      case 4: {
        const length = this.count(info, start, 'array length');
        const items: CborItem[] = [];
        for (let i = 0; i < length; i++) items.push(this.item(depth + 1));
        return { kind: 'array', items, start, end: this.pos };
      }
      case 5: {
        const size = this.count(info, start, 'map size');
        const entries: Array<[CborItem, CborItem]> = [];
        for (let i = 0; i < size; i++) {
          const key = this.item(depth + 1);
          this.checkKeyOrder(entries, key);
          entries.push([key, this.item(depth + 1)]);
        }
        return { kind: 'map', entries, start, end: this.pos };
      }
      default: {
        const tag = this.argument(info, start);
        const item = this.item(depth + 1);
        return { kind: 'tag', tag, item, start, end: this.pos };
      }
    }
  }

  private checkKeyOrder(entries: Array<[CborItem, CborItem]>, key: CborItem): void {
    const previous = entries[entries.length - 1];
    if (previous !== undefined && compareEncoded(this.bytes, previous[0], key) >= 0) {
      this.noteNonCanonical(key.start, 'map keys not in bytewise order');
    }
    if (this.duplicateKey === undefined) {
      for (const [other] of entries) {
        if (sameKey(this.bytes, other, key)) {
          this.duplicateKey = { offset: key.start, detail: `duplicate map key ${describeKey(key)}` };
          break;
        }
      }
    }
  }

  private indefinite(major: number, start: number, depth: number): CborItem {
    if (major === 2 || major === 3) {
      const chunks: Bytes[] = [];
      let total = 0;
      for (;;) {
        this.need(1);
        if (this.bytes[this.pos] === 0xff) {
          this.pos++;
          break;
        }
        const chunkStart = this.pos;
        const chunkInitial = this.bytes[this.pos++]!;
        if (chunkInitial >> 5 !== major || (chunkInitial & 0x1f) === 31) this.fail('bad chunk in indefinite-length string', chunkStart);
        const info = chunkInitial & 0x1f;
        if (info >= 28) this.fail(`reserved additional information ${info}`, chunkStart);
        const length = this.count(info, chunkStart, 'chunk length');
        const chunk = this.bytes.subarray(this.pos, this.pos + length);
        if (major === 3) this.utf8(chunk, chunkStart);
        chunks.push(chunk);
        total += length;
        this.pos += length;
      }
      const value = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        value.set(c, at);
        at += c.length;
      }
      return major === 2
        ? { kind: 'bytes', value, start, end: this.pos }
        : { kind: 'text', value: this.utf8(value, start), start, end: this.pos };
    }
    if (major === 4) {
      const items: CborItem[] = [];
      for (;;) {
        this.need(1);
        if (this.bytes[this.pos] === 0xff) {
          this.pos++;
          return { kind: 'array', items, start, end: this.pos };
        }
        items.push(this.item(depth + 1));
      }
    }
    const entries: Array<[CborItem, CborItem]> = [];
    for (;;) {
      this.need(1);
      if (this.bytes[this.pos] === 0xff) {
        this.pos++;
        return { kind: 'map', entries, start, end: this.pos };
      }
      const key = this.item(depth + 1);
      this.checkKeyOrder(entries, key);
      this.need(1);
      if (this.bytes[this.pos] === 0xff) this.fail('map ends after a key without its value');
      entries.push([key, this.item(depth + 1)]);
    }
  }

  private simpleOrFloat(info: number, start: number): CborItem {
    const b = this.bytes;
    if (info < 24) return { kind: 'simple', value: info, start, end: this.pos };
    if (info === 24) {
      this.need(1);
      const value = b[this.pos++]!;
      if (value < 32) this.fail('two-byte simple value below 32', start);
      return { kind: 'simple', value, start, end: this.pos };
    }
    if (info === 25) {
      this.need(2);
      const value = decodeHalf((b[this.pos]! << 8) | b[this.pos + 1]!);
      this.pos += 2;
      if (Number.isNaN(value) && !(b[start + 1] === 0x7e && b[start + 2] === 0x00)) {
        this.noteNonCanonical(start, 'NaN not encoded as f97e00');
      }
      return { kind: 'float', value, size: 2, start, end: this.pos };
    }
    if (info === 26) {
      this.need(4);
      const value = readFloat(b, this.pos, 4);
      this.pos += 4;
      if (fitsHalf(value)) this.noteNonCanonical(start, 'float not in shortest form');
      return { kind: 'float', value, size: 4, start, end: this.pos };
    }
    if (info === 27) {
      this.need(8);
      const value = readFloat(b, this.pos, 8);
      this.pos += 8;
      if (Number.isNaN(value) || Math.fround(value) === value) this.noteNonCanonical(start, 'float not in shortest form');
      return { kind: 'float', value, size: 8, start, end: this.pos };
    }
    if (info === 31) this.fail('break outside an indefinite-length item', start);
    return this.fail(`reserved additional information ${info}`, start);
  }

  private utf8(bytes: Bytes, start: number): string {
    utf8Decoder ??= new TextDecoder('utf-8', { fatal: true });
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      return this.fail('text string is not valid UTF-8', start);
    }
  }
}

/**
 * Parses exactly one CBOR data item filling `bytes` (trailing bytes are malformed).
 * Never throws on untrusted input.
 */
export function parseCbor(bytes: Bytes): CborParse {
  const parser = new Parser(bytes);
  try {
    const item = parser.item(0);
    if (parser.pos !== bytes.length) {
      return { ok: false, offset: parser.pos, detail: `${bytes.length - parser.pos} trailing byte(s) after the item` };
    }
    const result: CborParse = { ok: true, item };
    if (parser.nonCanonical !== undefined) result.nonCanonical = parser.nonCanonical;
    if (parser.duplicateKey !== undefined) result.duplicateKey = parser.duplicateKey;
    return result;
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, offset: error.offset, detail: error.detail };
    if (error instanceof RangeError) return { ok: false, offset: parser.pos, detail: 'nesting too deep' };
    throw error;
  }
}

function compareEncoded(bytes: Bytes, a: CborItem, b: CborItem): number {
  const la = a.end - a.start;
  const lb = b.end - b.start;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const d = bytes[a.start + i]! - bytes[b.start + i]!;
    if (d !== 0) return d;
  }
  return la - lb;
}

/** Keys are the same when they denote the same value (integers and strings by value). */
function sameKey(bytes: Bytes, a: CborItem, b: CborItem): boolean {
  if ((a.kind === 'uint' || a.kind === 'nint') && a.kind === b.kind) return a.value === b.value;
  if (a.kind === 'text' && b.kind === 'text') return a.value === b.value;
  if (a.kind === 'bytes' && b.kind === 'bytes') {
    if (a.value.length !== b.value.length) return false;
    for (let i = 0; i < a.value.length; i++) if (a.value[i] !== b.value[i]) return false;
    return true;
  }
  return a.kind === b.kind && compareEncoded(bytes, a, b) === 0;
}

function describeKey(key: CborItem): string {
  if (key.kind === 'uint' || key.kind === 'nint') return String(key.value);
  if (key.kind === 'text') return JSON.stringify(key.value);
  return `of kind ${key.kind}`;
}

function decodeHalf(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  let value: number;
  if (exponent === 0) value = mantissa * 2 ** -24;
  else if (exponent === 31) value = mantissa === 0 ? Infinity : NaN;
  else value = (mantissa + 1024) * 2 ** (exponent - 25);
  return half & 0x8000 ? -value : value;
}

function readFloat(bytes: Bytes, at: number, size: 4 | 8): number {
  const copy = new Uint8Array(size);
  for (let i = 0; i < size; i++) copy[i] = bytes[at + size - 1 - i]!; // big-endian to little-endian
  return size === 4 ? new Float32Array(copy.buffer)[0]! : new Float64Array(copy.buffer)[0]!;
}

/** True when `value` is exactly representable as an IEEE 754 half (binary16). */
export function fitsHalf(value: number): boolean {
  if (!Number.isFinite(value) || value === 0) return true;
  const a = Math.abs(value);
  if (a < 2 ** -14) return Number.isInteger(a * 2 ** 24);
  if (a >= 65520) return false;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return Number.isInteger(a * 2 ** (10 - e));
}
