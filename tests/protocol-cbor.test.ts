import { describe, expect, it } from 'vitest';
import { cborDiagnostic, CborWriter, decodeRecord, fromHex, parseCbor, toHex } from '@sceau/protocol';
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

// Rule (RFC 8949 §4.2.1, core deterministic encoding, as docs/protocol.md requires of a record):
// an integer's argument takes the shortest head that holds it. Each width is checked at its
// boundary, on its own, for unsigned and negative integers, lengths and tags; then through
// decodeRecord, where counter 5 written long must be refused.
describe('CBOR reader: shortest-form heads, each width on its own (RFC 8949 §4.2.1)', () => {
  const longForms: Array<[string, string, string]> = [
    // [longer-than-needed, shortest with the largest value of the smaller width, smallest that needs this width]
    ['1805', '17', '1818'], // 1-byte argument: 0..23 fit the initial byte
    ['1817', '17', '1818'],
    ['190005', '18ff', '190100'], // 2-byte argument: below 0x100 fits one byte
    ['1900ff', '18ff', '190100'],
    ['1a00000005', '19ffff', '1a00010000'], // 4-byte argument: below 0x10000 fits two bytes
    ['1a0000ffff', '19ffff', '1a00010000'],
    ['1b0000000000000005', '1affffffff', '1b0000000100000000'], // 8-byte argument: below 2^32 fits four
    ['1b00000000ffffffff', '1affffffff', '1b0000000100000000'],
  ];

  it.each(longForms)('%s is well-formed but not in shortest form; %s and %s are', (long, shortMax, needed) => {
    const r = parseCbor(fromHex(long));
    expect(r.ok).toBe(true);
    expect(r.ok && r.nonCanonical).toEqual({ offset: 0, detail: 'argument not in shortest form' });
    for (const hex of [shortMax, needed]) {
      const ok = parseCbor(fromHex(hex));
      expect(ok.ok, hex).toBe(true);
      expect(ok.ok && ok.nonCanonical, hex).toBeUndefined();
    }
  });

  it('reads the value of each width exactly (unsigned and negative)', () => {
    const values: Array<[string, number | bigint]> = [
      ['1818', 24], ['18ff', 255], ['190100', 256], ['19ffff', 65535], ['1a00010000', 65536], ['1affffffff', 4294967295],
      ['1a80000000', 2147483648], ['1b0000000100000000', 4294967296], ['1b001fffffffffffff', 2 ** 53 - 1],
      ['1b0020000000000000', 2n ** 53n], ['1bffffffffffffffff', 2n ** 64n - 1n],
      ['3818', -25], ['39ffff', -65536], ['3a80000000', -2147483649], ['3affffffff', -4294967296],
      ['3b001ffffffffffffe', -(2 ** 53 - 1)], ['3b001fffffffffffff', -(2n ** 53n)], ['3bffffffffffffffff', -(2n ** 64n)],
    ];
    for (const [hex, value] of values) {
      const r = parseCbor(fromHex(hex));
      expect(r.ok && r.item.kind !== 'array' && 'value' in r.item && r.item.value, hex).toBe(value);
      expect(r.ok && r.nonCanonical, hex).toBeUndefined();
    }
  });

  it('the same rule holds for negative integers, lengths, counts and tags', () => {
    for (const hex of ['3805', '390005', '3a00000005', '3b0000000000000005', '580161', '7801' + '61', '9801' + '01', 'b801' + '0101', 'd80101', 'da0000000101']) {
      const r = parseCbor(fromHex(hex));
      expect(r.ok, hex).toBe(true);
      expect(r.ok && r.nonCanonical?.detail, hex).toBe('argument not in shortest form');
    }
  });

  it('a record whose counter 5 is written 18 05, 19 0005, 1a 00000005 or 1b 0000000000000005 is refused', () => {
    const shortest = '840105f6818201190866'; // [1, 5, null, [[1, 2150]]]
    expect(decodeRecord(fromHex(shortest))).toMatchObject({ ok: true, record: { counter: 5 } });
    for (const counter of ['1805', '190005', '1a00000005', '1b0000000000000005']) {
      const r = decodeRecord(fromHex(`8401${counter}f6818201190866`));
      expect(r, counter).toMatchObject({ ok: false, code: 'bad-record' });
      expect(!r.ok && r.detail, counter).toBe('not deterministic CBOR at offset 2: argument not in shortest form');
    }
  });

  it('reports the first departure only, at its offset', () => {
    const r = parseCbor(fromHex('82190005' + '1a00000005'));
    expect(r.ok && r.nonCanonical).toEqual({ offset: 1, detail: 'argument not in shortest form' });
  });
});
