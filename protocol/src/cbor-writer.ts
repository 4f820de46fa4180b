import type { Bytes } from './bytes.js';

/**
 * A CBOR writer for the wire subset of sceau: unsigned and negative integers within ±2^32,
 * byte strings, text strings, definite-length arrays and maps, null and tags. Every head is
 * written in its shortest form (RFC 8949 §4.2.1), so the output is core deterministic as long
 * as the caller writes map keys in bytewise order. Hand-written rather than a general library:
 * the subset is tiny, the firmware carries the same writer, and byte stability is by construction.
 */
export class CborWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(initialCapacity = 128) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = Math.max(this.buffer.length, 8) * 2; // from 0, doubling would never grow
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  /** Writes a head: major type (0..7) and argument (0..2^32-1) in the shortest form. */
  head(major: number, argument: number): this {
    if (!Number.isInteger(argument) || argument < 0 || argument > 0xffffffff) {
      throw new RangeError(`CBOR argument: expected an integer in 0..2^32-1, got ${argument}`);
    }
    this.reserve(5);
    const m = major << 5;
    const b = this.buffer;
    let n = this.length;
    if (argument < 24) {
      b[n++] = m | argument;
    } else if (argument < 0x100) {
      b[n++] = m | 24;
      b[n++] = argument;
    } else if (argument < 0x10000) {
      b[n++] = m | 25;
      b[n++] = argument >>> 8;
      b[n++] = argument & 0xff;
    } else {
      b[n++] = m | 26;
      b[n++] = argument >>> 24;
      b[n++] = (argument >>> 16) & 0xff;
      b[n++] = (argument >>> 8) & 0xff;
      b[n++] = argument & 0xff;
    }
    this.length = n;
    return this;
  }

  /** An integer in -2^32..2^32-1 (major type 0 or 1). */
  int(value: number): this {
    return value >= 0 ? this.head(0, value) : this.head(1, -1 - value);
  }

  bytes(value: Bytes): this {
    this.head(2, value.length);
    this.raw(value);
    return this;
  }

  text(value: string): this {
    const utf8 = encodeUtf8(value);
    this.head(3, utf8.length);
    return this.raw(utf8);
  }

  array(length: number): this {
    return this.head(4, length);
  }

  map(size: number): this {
    return this.head(5, size);
  }

  tag(tag: number): this {
    return this.head(6, tag);
  }

  null(): this {
    this.reserve(1);
    this.buffer[this.length++] = 0xf6;
    return this;
  }

  /** Appends bytes that are already CBOR (or the content of a string). */
  raw(value: Bytes): this {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  /**
   * What was written: the buffer itself when it is exactly full (a writer sized exactly, as
   * Sig_structure is for every frame verified, then costs no copy), else a copy. Any later write
   * moves to a new buffer, so the result never changes.
   */
  finish(): Bytes {
    return this.length === this.buffer.length ? this.buffer : this.buffer.slice(0, this.length);
  }
}

/** Size in bytes of a head carrying `argument`. */
export function headSize(argument: number): number {
  return argument < 24 ? 1 : argument < 0x100 ? 2 : argument < 0x10000 ? 3 : 5;
}

/** UTF-8 without TextEncoder, which the ES library types do not declare. */
export function encodeUtf8(value: string): Bytes {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    let c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}
