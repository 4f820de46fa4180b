import { describe, expect, it } from 'vitest';
import { cborDiagnostic, CborWriter, fromHex, parseCbor, toHex } from '@sceau/protocol';
import { readVector } from './helpers/vectors.js';

type AppendixItem = { hex: string; roundtrip: boolean; decoded?: unknown; diagnostic?: string };
const appendixA = readVector<AppendixItem[]>('third-party/appendix_a.json');
const subset = readVector<{ items: Array<{ hex: string; value: unknown }> }>('cbor.json').items;

function write(w: CborWriter, value: unknown): void {
  if (value === null) w.null();
  else if (typeof value === 'number') w.int(value);
  else if (Array.isArray(value)) {
    w.array(value.length);
    for (const v of value) write(w, v);
  } else w.bytes(fromHex((value as { bytes: string }).bytes));
}

describe('CBOR reader against RFC 8949 Appendix A', () => {
  it('parses every item as well-formed, except f818 which RFC 8949 §3.3 made not well-formed', () => {
    for (const item of appendixA) {
      const parsed = parseCbor(fromHex(item.hex));
      if (item.hex === 'f818') {
        expect(parsed.ok).toBe(false);
        continue;
      }
      expect(parsed.ok, item.hex).toBe(true);
    }
  });

  it('flags as non-deterministic exactly the items that do not round-trip (indefinite lengths, long floats)', () => {
    for (const item of appendixA) {
      const parsed = parseCbor(fromHex(item.hex));
      if (!parsed.ok) continue;
      expect(parsed.nonCanonical === undefined, item.hex).toBe(item.roundtrip);
    }
  });

  it('renders the same diagnostic notation as the appendix for integers, arrays and byte strings', () => {
    let checked = 0;
    for (const item of appendixA) {
      if (!item.roundtrip || item.hex >= 'e0' || typeof item.decoded !== 'number' || !Number.isSafeInteger(item.decoded)) continue;
      const d = cborDiagnostic(fromHex(item.hex));
      expect(d.ok && d.text).toBe(String(item.decoded));
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
    expect(cborDiagnostic(fromHex('4401020304'))).toEqual({ ok: true, text: "h'01020304'" });
    expect(cborDiagnostic(fromHex('f97e00'))).toEqual({ ok: true, text: 'NaN' });
  });

  it('the writer reproduces every item of the wire subset (protocol/vectors/cbor.json) byte for byte', () => {
    expect(subset.length).toBe(20);
    for (const item of subset) {
      const w = new CborWriter(1);
      write(w, item.value);
      expect(toHex(w.finish())).toBe(item.hex);
    }
  });
});

describe('CBOR reader on hostile input', () => {
  const cases: Array<[string, string]> = [
    ['truncated head', '19'],
    ['length beyond the input', '5a00010000'],
    ['array count beyond the input', '9b0000000100000000'],
    ['reserved additional information', '1c'],
    ['break outside indefinite item', 'ff'],
    ['indefinite integer', '1f'],
    ['wrong chunk type in indefinite bytes', '5f6161ff'],
    ['invalid UTF-8', '62c328'],
    ['map missing its last value', 'a2010203'],
  ];
  it.each(cases)('%s is malformed, not an exception', (_, hex) => {
    expect(parseCbor(fromHex(hex)).ok).toBe(false);
  });

  it('refuses nesting deeper than 32 levels without touching the stack limit', () => {
    const deep = new Uint8Array(100_000).fill(0x81);
    const r = parseCbor(deep);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.detail).toMatch(/nesting/);
  });

  it('reports duplicate keys separately from ordering', () => {
    const r = parseCbor(fromHex('a2616101616102'));
    expect(r.ok && r.duplicateKey?.detail).toMatch(/duplicate map key "a"/);
    const semantic = parseCbor(fromHex('a20101180102')); // 1 and 1 written in two forms
    expect(semantic.ok && semantic.duplicateKey !== undefined).toBe(true);
  });

  it('knows shortest floats: half, single and double boundaries', () => {
    expect(parseCbor(fromHex('f93c00')).ok && parseCbor(fromHex('f93c00'))).toMatchObject({ ok: true });
    const single = parseCbor(fromHex('fa3f800000')); // 1.0 fits a half
    expect(single.ok && single.nonCanonical?.detail).toMatch(/shortest/);
    const needsSingle = parseCbor(fromHex('fa47c35000')); // 100000.0
    expect(needsSingle.ok && needsSingle.nonCanonical).toBeUndefined();
    const double = parseCbor(fromHex('fb3ff8000000000000')); // 1.5 fits a half
    expect(double.ok && double.nonCanonical?.detail).toMatch(/shortest/);
  });
});
