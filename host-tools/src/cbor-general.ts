/**
 * General CBOR on host paths where byte stability of the wire is not at stake (docs/protocol.md
 * keeps the frame's own writer and strict reader): SenML CBOR export (RFC 8428 §6) and
 * `frame inspect` of CBOR or COSE that is not a sceau frame. This is the only module that
 * imports cbor-x; its options are pinned here because its defaults are not byte-stable (STYLE.md):
 * in Node it tags Uint8Array as tag 64, writes objects with a map16 header unless
 * variableMapSize, and may pack records. Callers get plain Uint8Array, and a golden test
 * (tests/host-tools-cbor-general.test.ts) fails if the bytes ever change.
 */
import { Decoder, Encoder, FLOAT32_OPTIONS, Tag } from 'cbor-x';
import { toHex } from '@sceau/protocol';

const OPTIONS = {
  useRecords: false,
  structuredClone: false,
  mapsAsObjects: false,
  variableMapSize: true,
  tagUint8Array: false,
  useFloat32: FLOAT32_OPTIONS.NEVER,
  largeBigIntToFloat: false,
  bundleStrings: false,
  pack: false,
  useSelfDescribedHeader: false,
  copyBuffers: true,
} as const;

const encoder = new Encoder(OPTIONS);
const decoder = new Decoder(OPTIONS);

/**
 * CBOR of `value` (Maps keep their key types, so integer labels stay integers). Integers are
 * written in their shortest form up to 2^32-1; other numbers as float64.
 */
export function encodeCbor(value: unknown): Uint8Array {
  const buf = encoder.encode(value);
  return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** SenML CBOR labels (RFC 8428 §6, Table 6). */
export const SENML_CBOR_LABELS = { bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, bs: -6, n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8 } as const;
export type SenmlLabel = keyof typeof SENML_CBOR_LABELS;

/** One SenML record with its JSON labels, as CBOR: a map with the integer labels of §6. */
export function senmlRecordToCbor(record: Partial<Record<SenmlLabel, string | number | boolean>>): Map<number, string | number | boolean> {
  const out = new Map<number, string | number | boolean>();
  for (const [label, value] of Object.entries(record)) {
    const key = SENML_CBOR_LABELS[label as SenmlLabel];
    if (key === undefined) throw new TypeError(`senml: unknown label ${label}`);
    if (value !== undefined) out.set(key, value);
  }
  return out;
}

export type DecodeGeneral = { ok: true; items: unknown[] } | { ok: false; detail: string };

/**
 * Checks that `bytes` is a well-formed CBOR sequence (RFC 8949 §5 and Appendix C: every head
 * complete, reserved additional information 28-30 refused, a break only inside an
 * indefinite-length item, indefinite strings made of definite chunks of their own type). cbor-x
 * is lenient (it reads a lone 0xff break as an empty map); this runs first.
 */
export function checkWellFormed(bytes: Uint8Array): { ok: true; items: number } | { ok: false; detail: string } {
  let at = 0;
  const fail = (detail: string): never => {
    throw new RangeError(`${detail} at offset ${at}`);
  };
  const head = (): { major: number; ai: number; arg: number } => {
    if (at >= bytes.length) fail('unexpected end of input');
    const ib = bytes[at++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (ai < 24) return { major, ai, arg: ai };
    if (ai >= 28 && ai <= 30) fail(`reserved additional information ${ai}`);
    if (ai === 31) return { major, ai, arg: -1 };
    const size = 1 << (ai - 24);
    if (at + size > bytes.length) fail('unexpected end of input');
    let arg = 0;
    for (let i = 0; i < size; i++) arg = arg * 256 + bytes[at++]!;
    return { major, ai, arg };
  };
  // Returns true when it read a break (only allowed where `breakOk`).
  const item = (depth: number, breakOk: boolean): boolean => {
    if (depth > 256) fail('nesting deeper than 256');
    const h = head();
    if (h.ai === 31) {
      if (h.major === 7) {
        if (!breakOk) fail('break outside an indefinite-length item');
        return true;
      }
      if (h.major === 0 || h.major === 1 || h.major === 6) fail(`indefinite length on major type ${h.major}`);
      if (h.major === 2 || h.major === 3) {
        for (;;) {
          const start = at;
          const c = head();
          if (c.major === 7 && c.ai === 31) break;
          if (c.major !== h.major || c.ai === 31) {
            at = start;
            fail('chunk of an indefinite-length string is not a definite string of the same type');
          }
          if (at + c.arg > bytes.length) fail('unexpected end of input');
          at += c.arg;
        }
        return false;
      }
      let n = 0;
      while (!item(depth + 1, true)) n++;
      if (h.major === 5 && n % 2 !== 0) fail('indefinite-length map with an odd number of items');
      return false;
    }
    switch (h.major) {
      case 2:
      case 3:
        if (at + h.arg > bytes.length) fail('unexpected end of input');
        at += h.arg;
        return false;
      case 4:
        for (let i = 0; i < h.arg; i++) if (item(depth + 1, false)) fail('unexpected break');
        return false;
      case 5:
        for (let i = 0; i < 2 * h.arg; i++) if (item(depth + 1, false)) fail('unexpected break');
        return false;
      case 6:
        if (item(depth + 1, false)) fail('unexpected break');
        return false;
      case 7:
        if (h.ai === 24 && h.arg < 32) fail('simple value below 32 in two bytes');
        return false;
      default:
        return false;
    }
  };
  try {
    let items = 0;
    while (at < bytes.length) {
      item(0, false);
      items++;
    }
    if (items === 0) return { ok: false, detail: 'empty input' };
    return { ok: true, items };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}

/** Decodes a well-formed CBOR sequence (usually one item); never throws on bad input. */
export function decodeCborSequence(bytes: Uint8Array): DecodeGeneral {
  const wellFormed = checkWellFormed(bytes);
  if (!wellFormed.ok) return { ok: false, detail: `not well-formed CBOR: ${wellFormed.detail}` };
  try {
    const items: unknown[] = [];
    decoder.decodeMultiple(bytes, (value: unknown) => {
      items.push(value);
    });
    if (items.length === 0) return { ok: false, detail: 'no CBOR item' };
    return { ok: true, items };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}

/** COSE message tags (RFC 9052 §2). */
const COSE_TAGS: Readonly<Record<number, string>> = { 16: 'COSE_Encrypt0', 17: 'COSE_Mac0', 18: 'COSE_Sign1', 96: 'COSE_Encrypt', 97: 'COSE_Mac', 98: 'COSE_Sign' };

/** The COSE structure a decoded item is, by its tag; undefined when it is not a tagged COSE message. */
export function coseKind(item: unknown): string | undefined {
  return item instanceof Tag ? COSE_TAGS[item.tag] : undefined;
}

function diag(value: unknown, depth: number): string {
  if (depth > 64) return '...';
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return Number.isInteger(value) && !Object.is(value, -0) ? String(value) : (Object.is(value, -0) ? '-0.0' : String(value).includes('.') || String(value).includes('e') ? String(value) : `${value}.0`);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return `h'${toHex(value)}'`;
  if (value instanceof Date) return `1(${value.getTime() / 1000})`;
  if (value instanceof Tag) return `${value.tag}(${diag(value.value, depth + 1)})`;
  if (Array.isArray(value)) return `[${value.map((v) => diag(v, depth + 1)).join(', ')}]`;
  if (value instanceof Map) return `{${[...value].map(([k, v]) => `${diag(k, depth + 1)}: ${diag(v, depth + 1)}`).join(', ')}}`;
  if (value instanceof Set) return `258([${[...value].map((v) => diag(v, depth + 1)).join(', ')}])`;
  if (typeof value === 'object') return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}: ${diag(v, depth + 1)}`).join(', ')}}`;
  return String(value);
}

/**
 * Diagnostic notation (RFC 8949 §8) of a decoded item. It shows the data model, not the
 * encoding: float widths and indefinite lengths of the input are not kept by the decoder.
 */
export function generalDiagnostic(item: unknown): string {
  return diag(item, 0);
}
