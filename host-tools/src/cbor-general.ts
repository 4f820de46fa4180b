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

/** Decodes a CBOR sequence (usually one item); never throws on bad input. */
export function decodeCborSequence(bytes: Uint8Array): DecodeGeneral {
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
