import { type Bytes, toHex } from './bytes.js';
import { type CborItem, parseCbor, SIMPLE_FALSE, SIMPLE_NULL, SIMPLE_TRUE, SIMPLE_UNDEFINED } from './cbor-reader.js';

/** RFC 8949 §8 diagnostic notation of one item (byte strings as h'..', floats with a decimal point). */
export function itemToDiagnostic(item: CborItem): string {
  switch (item.kind) {
    case 'uint':
    case 'nint':
      return String(item.value);
    case 'bytes':
      return `h'${toHex(item.value)}'`;
    case 'text':
      return JSON.stringify(item.value);
    case 'array':
      return `[${item.items.map(itemToDiagnostic).join(', ')}]`;
    case 'map':
      return `{${item.entries.map(([k, v]) => `${itemToDiagnostic(k)}: ${itemToDiagnostic(v)}`).join(', ')}}`;
    case 'tag':
      return `${String(item.tag)}(${itemToDiagnostic(item.item)})`;
    case 'float':
      if (Number.isNaN(item.value)) return 'NaN';
      if (!Number.isFinite(item.value)) return item.value > 0 ? 'Infinity' : '-Infinity';
      if (Object.is(item.value, -0)) return '-0.0'; // String(-0) is "0"
      return Number.isInteger(item.value) ? `${item.value}.0` : String(item.value);
    case 'simple':
      if (item.value === SIMPLE_FALSE) return 'false';
      if (item.value === SIMPLE_TRUE) return 'true';
      if (item.value === SIMPLE_NULL) return 'null';
      if (item.value === SIMPLE_UNDEFINED) return 'undefined';
      return `simple(${item.value})`;
  }
}

/**
 * Diagnostic notation of untrusted CBOR, with byte strings that hold CBOR (a COSE protected
 * header, a payload) shown embedded as `<< ... >>` when `embedded` is set. Never throws.
 */
export function cborDiagnostic(bytes: Bytes, options: { embedded?: boolean } = {}): { ok: true; text: string } | { ok: false; detail: string } {
  const parsed = parseCbor(bytes);
  if (!parsed.ok) return { ok: false, detail: `malformed CBOR at offset ${parsed.offset}: ${parsed.detail}` };
  const render = (item: CborItem): string => {
    if (options.embedded && item.kind === 'bytes' && item.value.length > 0) {
      const inner = parseCbor(item.value);
      if (inner.ok) return `<< ${render(inner.item)} >>`;
    }
    switch (item.kind) {
      case 'array':
        return `[${item.items.map(render).join(', ')}]`;
      case 'map':
        return `{${item.entries.map(([k, v]) => `${render(k)}: ${render(v)}`).join(', ')}}`;
      case 'tag':
        return `${String(item.tag)}(${render(item.item)})`;
      default:
        return itemToDiagnostic(item);
    }
  };
  return { ok: true, text: render(parsed.item) };
}
