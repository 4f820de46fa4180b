import type { Bytes } from './bytes.js';
import { ALG_ED25519, ALG_EDDSA } from './cose-sign1.js';
import { MAX_UINT, MIN_INT, RECORD_VERSION, type Reading, type SceauRecord } from './record.js';

/**
 * Readers for the exact bytes sceau's encoders write (docs/protocol.md#frame), without a parse
 * tree: the verifier sees these layouts in nearly every frame, and a gateway's CPU per frame goes
 * to the signature check and to little else. Each returns `undefined` for any other input (a
 * longer head, a float, a map, a tag, a byte left over...), and its caller then runs the generic
 * strict path, which gives every other input its code. For an input a reader accepts, the generic
 * path gives the same parts and the same record (tests/protocol-frame-layout.test.ts checks it on
 * every vector and on mutated frames), so which path ran never changes a result.
 */

/** The parts of a frame in sceau's layout. */
export interface CanonicalFrame {
  alg: number;
  /** The protected header bytes as received (`A1 01 27` or `A1 01 32`). */
  protectedBytes: Bytes;
  kid: Bytes | undefined;
  payload: Bytes;
  signature: Bytes;
}

/**
 * `D2 84 43 A1 01 (27|32) (A1 04 48 <kid 8> | A0) <payload bstr> 58 40 <signature 64>`: tag 18,
 * protected `{1: -8}` or `{1: -19}`, unprotected `{4: kid}` or `{}`, shortest heads, nothing after.
 */
export function readCanonicalFrame(bytes: Bytes): CanonicalFrame | undefined {
  const n = bytes.length;
  // The smallest: 7 bytes of headers without kid, an empty payload's head, 66 of signature.
  if (n < 7 + 1 + 66 || bytes[0] !== 0xd2 || bytes[1] !== 0x84 || bytes[2] !== 0x43 || bytes[3] !== 0xa1 || bytes[4] !== 0x01) return undefined;
  const algByte = bytes[5];
  const alg = algByte === 0x27 ? ALG_EDDSA : algByte === 0x32 ? ALG_ED25519 : undefined;
  if (alg === undefined) return undefined;
  let pos: number;
  let kid: Bytes | undefined;
  if (bytes[6] === 0xa0) {
    pos = 7;
  } else if (bytes[6] === 0xa1 && bytes[7] === 0x04 && bytes[8] === 0x48) {
    kid = bytes.subarray(9, 17);
    pos = 17;
  } else {
    return undefined;
  }
  // Payload: a byte string with the shortest head for its length.
  const head = bytes[pos]!;
  let length: number;
  if (head >= 0x40 && head < 0x58) {
    length = head - 0x40;
    pos += 1;
  } else if (head === 0x58 && bytes[pos + 1]! >= 24) {
    length = bytes[pos + 1]!;
    pos += 2;
  } else if (head === 0x59 && pos + 2 < n && bytes[pos + 1]! !== 0) {
    length = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
    pos += 3;
  } else {
    return undefined;
  }
  const payloadEnd = pos + length;
  if (payloadEnd + 66 !== n || bytes[payloadEnd] !== 0x58 || bytes[payloadEnd + 1] !== 0x40) return undefined;
  return { alg, protectedBytes: bytes.subarray(3, 6), kid, payload: bytes.subarray(pos, payloadEnd), signature: bytes.subarray(payloadEnd + 2, n) };
}

/** A cursor over a record's bytes; every read returns -1 (not this layout) or the value. */
class RecordCursor {
  constructor(
    private readonly bytes: Bytes,
    public pos: number,
  ) {}

  /** The argument of a head of `major` in shortest form, up to 2^32 - 1; -1 otherwise. */
  argument(major: number): number {
    const b = this.bytes;
    const initial = b[this.pos];
    if (initial === undefined || initial >> 5 !== major) return -1;
    const info = initial & 0x1f;
    if (info < 24) {
      this.pos += 1;
      return info;
    }
    if (info === 24) {
      const v = b[this.pos + 1];
      if (v === undefined || v < 24) return -1;
      this.pos += 2;
      return v;
    }
    if (info === 25) {
      if (this.pos + 2 >= b.length) return -1;
      const v = (b[this.pos + 1]! << 8) | b[this.pos + 2]!;
      if (v < 0x100) return -1;
      this.pos += 3;
      return v;
    }
    if (info === 26) {
      if (this.pos + 4 >= b.length) return -1;
      const v = ((b[this.pos + 1]! << 24) >>> 0) + ((b[this.pos + 2]! << 16) | (b[this.pos + 3]! << 8) | b[this.pos + 4]!);
      if (v < 0x10000) return -1;
      this.pos += 5;
      return v;
    }
    return -1;
  }
}

/**
 * `[1, counter, time / null, [[channel, value] / [channel, value, age], ...]]` in core deterministic
 * CBOR within the v1 schema (counter >= 1, age >= 1 when present, integers within ±2^32), nothing
 * after it: the record, else undefined.
 */
export function readCanonicalRecord(bytes: Bytes): SceauRecord | undefined {
  if (bytes[0] !== 0x84 || bytes[1] !== RECORD_VERSION) return undefined;
  const c = new RecordCursor(bytes, 2); // after the array head and the version
  const counter = c.argument(0);
  if (counter < 1) return undefined;
  let time: number | null = null;
  if (bytes[c.pos] === 0xf6) c.pos += 1;
  else if ((time = c.argument(0)) < 0) return undefined;
  const count = c.argument(4);
  if (count < 1) return undefined;
  const readings: Reading[] = [];
  for (let i = 0; i < count; i++) {
    const size = c.argument(4);
    if (size !== 2 && size !== 3) return undefined;
    const channel = c.argument(0);
    if (channel < 0) return undefined;
    let value = c.argument(0);
    if (value < 0) {
      const magnitude = c.argument(1);
      if (magnitude < 0) return undefined;
      value = -1 - magnitude;
      if (value < MIN_INT) return undefined;
    } else if (value > MAX_UINT) {
      return undefined;
    }
    if (size === 3) {
      const age = c.argument(0);
      if (age < 1) return undefined;
      readings.push({ channel, value, age });
    } else {
      readings.push({ channel, value });
    }
  }
  if (c.pos !== bytes.length) return undefined;
  return { version: RECORD_VERSION, counter, time, readings };
}
