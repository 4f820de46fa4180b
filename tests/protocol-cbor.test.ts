import { describe, expect, it } from 'vitest';
import { cborDiagnostic, CborWriter, decodeRecord, fromHex, parseCbor, toHex, type CborItem } from '@sceau/protocol';
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

// Rule (RFC 8949 §3, §5.3 and the reader's contract in protocol/src/cbor-reader.ts): malformed
// input is a result with the offset of the fault and what it is, never an exception. Each line
// pins one check of the reader: a loosened bound or a wrong offset changes its answer.
describe('CBOR reader: every malformation, its offset and its detail', () => {
  const malformed: Array<[string, number, string]> = [
    ['', 0, 'truncated: 1 more byte(s) needed'],
    ['18', 1, 'truncated: 1 more byte(s) needed'],
    ['19', 1, 'truncated: 2 more byte(s) needed'],
    ['1a0000', 1, 'truncated: 4 more byte(s) needed'],
    ['1b00000000', 1, 'truncated: 8 more byte(s) needed'],
    ['c0', 1, 'truncated: 1 more byte(s) needed'],
    ['d9', 1, 'truncated: 2 more byte(s) needed'],
    ['f8', 1, 'truncated: 1 more byte(s) needed'],
    ['f9', 1, 'truncated: 2 more byte(s) needed'],
    ['fa0000', 1, 'truncated: 4 more byte(s) needed'],
    ['fb00', 1, 'truncated: 8 more byte(s) needed'],
    ['9f', 1, 'truncated: 1 more byte(s) needed'],
    ['9f01', 2, 'truncated: 1 more byte(s) needed'],
    ['bf01', 2, 'truncated: 1 more byte(s) needed'],
    ['a2010203', 4, 'truncated: 1 more byte(s) needed'],
    ['5a00010000', 0, 'byte string length 65536 exceeds the input'],
    ['5b0000000100000000', 0, 'byte string length 4294967296 exceeds the input'],
    ['7a80000000', 0, 'text string length 2147483648 exceeds the input'],
    ['9b0000000100000000', 0, 'array length 4294967296 exceeds the input'],
    ['830102', 0, 'array length 3 exceeds the input'],
    ['a1', 0, 'map size 1 exceeds the input'],
    ['5f41', 1, 'chunk length 1 exceeds the input'],
    ['1c', 0, 'reserved additional information 28'],
    ['1d', 0, 'reserved additional information 29'],
    ['1e', 0, 'reserved additional information 30'],
    ['5c', 0, 'reserved additional information 28'],
    ['dc', 0, 'reserved additional information 28'],
    ['fc', 0, 'reserved additional information 28'],
    ['fe', 0, 'reserved additional information 30'],
    ['5f5c', 1, 'reserved additional information 28'],
    ['5f5e', 1, 'reserved additional information 30'],
    ['ff', 0, 'break outside an indefinite-length item'],
    ['1f', 0, 'indefinite length on a type that has none'],
    ['3f', 0, 'indefinite length on a type that has none'],
    ['df', 0, 'indefinite length on a type that has none'],
    ['5f6161ff', 1, 'bad chunk in indefinite-length string'],
    ['5f5f4061ffff', 1, 'bad chunk in indefinite-length string'],
    ['7f40ff', 1, 'bad chunk in indefinite-length string'],
    ['5f1c', 1, 'bad chunk in indefinite-length string'],
    ['62c328', 0, 'text string is not valid UTF-8'],
    ['7f62c328ff', 1, 'text string is not valid UTF-8'],
    ['bf01ff', 2, 'map ends after a key without its value'],
    ['f800', 0, 'two-byte simple value below 32'],
    ['f81f', 0, 'two-byte simple value below 32'],
    ['0101', 1, '1 trailing byte(s) after the item'],
    ['a202010102ff01', 5, '2 trailing byte(s) after the item'],
    ['81'.repeat(33) + '00', 33, 'nesting deeper than 32'],
    ['9f'.repeat(33) + '00' + 'ff'.repeat(33), 33, 'nesting deeper than 32'],
  ];
  it.each(malformed)('%s: offset %i, %s', (hex, offset, detail) => {
    expect(parseCbor(fromHex(hex))).toEqual({ ok: false, offset, detail });
  });

  it('32 levels of nesting are allowed, the 33rd is not', () => {
    expect(parseCbor(fromHex('81'.repeat(32) + '00')).ok).toBe(true);
    expect(parseCbor(fromHex('9f'.repeat(32) + '00' + 'ff'.repeat(32))).ok).toBe(true);
  });
});

// Rule (RFC 8949 §4.2.1): floats in the shortest of half, single and double that holds the value
// exactly, NaN as f97e00; simple values below 32 only in the initial byte.
describe('CBOR reader: floats and simple values', () => {
  const floats: Array<[string, number, boolean]> = [
    // [hex, value, in shortest form]
    ['f90001', 2 ** -24, true], ['f97bff', 65504, true], ['f9fc00', -Infinity, true], ['f97c00', Infinity, true],
    ['f97e00', NaN, true], ['f97e01', NaN, false], ['f9fe00', NaN, false], ['f98000', -0, true], ['f93e00', 1.5, true],
    ['f90400', 2 ** -14, true], ['f903ff', 1023 * 2 ** -24, true],
    ['fa477fe000', 65504, false], ['fa47800000', 65536, true], ['fa33800000', 2 ** -24, false], ['fa33000000', 2 ** -25, true],
    ['fa38800000', 2 ** -14, false], ['fa3f801000', 1 + 2 ** -11, true], ['fa3f802000', 1 + 2 ** -10, false],
    ['fa7fc00000', NaN, false], ['fa7f800000', Infinity, false], ['fa477ff000', 65520, true], ['fa00000001', 2 ** -149, true],
    ['fb3ff0000000000000', 1, false], ['fb3ff0000000000001', 1 + 2 ** -52, true], ['fb7ff8000000000000', NaN, false],
    ['fb4197d78400000000', 1e8, false], ['fb7ff0000000000000', Infinity, false], ['fb3fb999999999999a', 0.1, true],
  ];
  it.each(floats)('%s is %d (shortest: %s)', (hex, value, shortest) => {
    const r = parseCbor(fromHex(hex));
    expect(r.ok && r.item.kind).toBe('float');
    expect(r.ok && r.item.kind === 'float' && r.item.value).toBe(value);
    expect(r.ok && r.item.kind === 'float' && r.item.size).toBe(hex.length === 6 ? 2 : hex.length === 10 ? 4 : 8);
    expect(r.ok && r.nonCanonical?.detail).toBe(shortest ? undefined : value !== value && hex.length === 6 ? 'NaN not encoded as f97e00' : 'float not in shortest form');
  });

  it('simple values: false, true, null, undefined, 16 in one byte and 32 in two', () => {
    for (const [hex, value] of [['f4', 20], ['f5', 21], ['f6', 22], ['f7', 23], ['f0', 16], ['f820', 32], ['f8ff', 255]] as const) {
      expect(parseCbor(fromHex(hex))).toMatchObject({ ok: true, item: { kind: 'simple', value, start: 0, end: hex.length / 2 } });
    }
  });
});

// Rule (RFC 8949 §4.2.1 and RFC 9052 §3): map keys in bytewise order of their encodings; a repeated
// key is reported apart, whatever its kind, even when it is written in two forms.
describe('CBOR reader: map key order and duplicate keys', () => {
  const maps: Array<[string, { offset: number; detail: string } | undefined, { offset: number; detail: string } | undefined]> = [
    ['a201010202', undefined, undefined],
    ['a202010102', { offset: 3, detail: 'map keys not in bytewise order' }, undefined],
    ['a2616101616202', undefined, undefined],
    ['a2410100410200', undefined, undefined],
    ['a241010042010200', undefined, undefined],
    ['a2410100410100', { offset: 4, detail: 'map keys not in bytewise order' }, { offset: 4, detail: 'duplicate map key of kind bytes' }],
    ['a2810100810100', { offset: 4, detail: 'map keys not in bytewise order' }, { offset: 4, detail: 'duplicate map key of kind array' }],
    ['a2f4f5f4f5', { offset: 3, detail: 'map keys not in bytewise order' }, { offset: 3, detail: 'duplicate map key of kind simple' }],
    ['a2f4f5f5f4', undefined, undefined],
    ['a200002000', undefined, undefined], // 0 and -1 differ
    ['a220002000', { offset: 3, detail: 'map keys not in bytewise order' }, { offset: 3, detail: 'duplicate map key -1' }],
    ['a2616101616101', { offset: 4, detail: 'map keys not in bytewise order' }, { offset: 4, detail: 'duplicate map key "a"' }],
    ['a3010102020101', { offset: 5, detail: 'map keys not in bytewise order' }, { offset: 5, detail: 'duplicate map key 1' }],
    ['a24100004000', { offset: 4, detail: 'map keys not in bytewise order' }, undefined], // h'00' then h'': 40 sorts before 41
    ['bf01020103ff', { offset: 0, detail: 'indefinite length' }, { offset: 3, detail: 'duplicate map key 1' }],
    ['a2a000a000', { offset: 3, detail: 'map keys not in bytewise order' }, { offset: 3, detail: 'duplicate map key of kind map' }],
  ];
  it.each(maps)('%s', (hex, nonCanonical, duplicateKey) => {
    const r = parseCbor(fromHex(hex));
    expect(r.ok).toBe(true);
    expect(r.ok && r.nonCanonical).toEqual(nonCanonical);
    expect(r.ok && r.duplicateKey).toEqual(duplicateKey);
  });
});

// Rule (RFC 8949 §3.2): indefinite-length items are well-formed (flagged as not deterministic) and
// read as the same values as their definite forms; the nesting limit holds through every kind of
// container (arrays, maps by key and by value, tags, indefinite ones).
describe('CBOR reader: indefinite lengths, nesting through every container, result shape', () => {
  const plain = (item: CborItem): unknown => {
    switch (item.kind) {
      case 'bytes': return `h'${toHex(item.value)}'`;
      case 'array': return item.items.map(plain);
      case 'map': return item.entries.map(([k, v]) => [plain(k), plain(v)]);
      case 'tag': return { tag: item.tag, item: plain(item.item) };
      default: return item.value;
    }
  };
  it.each([
    ['5f42010243030405ff', "h'0102030405'", 'bytes'],
    ['5f41ff42c328ff', "h'ffc328'", 'bytes'], // byte chunks are not text: no UTF-8 check
    ['7f657374726561646d696e67ff', 'streaming', 'text'],
    ['9f018202039f0405ffff', [1, [2, 3], [4, 5]], 'array'],
    ['bf61610161629f0203ffff', [['a', 1], ['b', [2, 3]]], 'map'],
    ['9fff', [], 'array'],
    ['bfff', [], 'map'],
  ])('%s reads as its definite form', (hex, value, kind) => {
    const r = parseCbor(fromHex(hex));
    expect(r.ok && r.item.kind).toBe(kind);
    expect(r.ok && plain(r.item)).toEqual(value);
    expect(r.ok && r.item).toMatchObject({ start: 0, end: hex.length / 2 });
    expect(r.ok && r.nonCanonical).toEqual({ offset: 0, detail: 'indefinite length' });
  });

  it.each([
    ['tags', (n: number) => 'c1'.repeat(n) + '00'],
    ['map values', (n: number) => 'a101'.repeat(n) + '00'],
    ['map keys', (n: number) => 'a1'.repeat(n) + '00' + '00'.repeat(n)],
    ['indefinite arrays', (n: number) => '9f'.repeat(n) + '00' + 'ff'.repeat(n)],
    ['indefinite map values', (n: number) => 'bf01'.repeat(n) + '00' + 'ff'.repeat(n)],
    ['indefinite map keys', (n: number) => 'bf'.repeat(n) + '0000ff' + '00ff'.repeat(n - 1)],
  ])('nesting through %s: 32 levels read, 33 refused', (_, make) => {
    expect(parseCbor(fromHex(make(32))).ok).toBe(true);
    const deep = parseCbor(fromHex(make(33)));
    expect(deep.ok).toBe(false);
    expect(!deep.ok && deep.detail).toBe('nesting deeper than 32');
  });

  it('a clean result carries no nonCanonical or duplicateKey field at all', () => {
    expect(Object.keys(parseCbor(fromHex('a201020304')))).toEqual(['ok', 'item']);
    expect(Object.keys(parseCbor(fromHex('1805')))).toEqual(['ok', 'item', 'nonCanonical']);
  });

  it('duplicate keys: the first one is reported; every kind compares by value, across encodings', () => {
    expect(parseCbor(fromHex('a40100010002000200'))).toMatchObject({ ok: true, duplicateKey: { offset: 3, detail: 'duplicate map key 1' } });
    const dup = (hex: string) => {
      const r = parseCbor(fromHex(hex));
      expect(r.ok, hex).toBe(true);
      return r.ok ? r.duplicateKey?.detail : 'malformed';
    };
    expect(dup('a2200038' + '0000')).toBe('duplicate map key -1'); // -1 and -1 in a longer head
    expect(dup('a2616100' + '78016100')).toBe('duplicate map key "a"'); // "a" in two heads
    expect(dup('a2410100' + '58010100')).toBe('duplicate map key of kind bytes'); // h'01' in two heads
    expect(dup('a2810100' + '810101')).toBe('duplicate map key of kind array'); // same key, different values
    expect(dup('a2410100' + '410200')).toBeUndefined(); // h'01' and h'02'
    expect(dup('a2800040' + '00')).toBeUndefined(); // [] and h'': different kinds
    expect(dup('a2400080' + '00')).toBeUndefined(); // h'' and []
    expect(dup('a2416100' + '616100')).toBeUndefined(); // h'61' and "a"
    expect(dup('a2000020' + '00')).toBeUndefined(); // 0 and -1
  });
});

// The writer's rules (protocol/src/cbor-writer.ts), from the mutation run of that file (issue 19):
// every head in its shortest form at each width boundary, the argument range refused outside
// 0..2^32-1, UTF-8 as TextEncoder writes it, growth from any capacity, and `finish` never
// handing out a buffer a later write changes.
describe('CborWriter rule by rule', () => {
  const hex = (f: (w: CborWriter) => unknown, capacity?: number) => {
    const w = new CborWriter(capacity);
    f(w);
    return toHex(w.finish());
  };

  it('shortest heads at every width boundary, for each major type', () => {
    const cases: Array<[number, string]> = [
      [0, '00'], [23, '17'], [24, '1818'], [255, '18ff'], [256, '190100'], [0xffff, '19ffff'],
      [0x10000, '1a00010000'], [0x01020304, '1a01020304'], [0xffffffff, '1affffffff'],
    ];
    for (const [n, h] of cases) {
      expect(hex((w) => w.int(n)), `uint ${n}`).toBe(h);
      expect(hex((w) => w.int(-1 - n)), `nint ${-1 - n}`).toBe((0x20 | parseInt(h.slice(0, 2), 16)).toString(16) + h.slice(2));
      expect(hex((w) => w.head(7, n)).slice(2), `argument of ${n}`).toBe(h.slice(2));
    }
    expect(hex((w) => w.array(24).map(1).tag(16).null())).toBe('9818a1d0f6');
    expect(hex((w) => w.text('abc').bytes(Uint8Array.of(1, 2)))).toBe('6361626342' + '0102');
  });

  it('refuses an argument outside 0..2^32-1 or not an integer', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => new CborWriter().head(0, bad)).toThrow(new RangeError(`CBOR argument: expected an integer in 0..2^32-1, got ${bad}`));
    }
    expect(() => new CborWriter().int(-1 - 2 ** 32)).toThrow(RangeError);
    expect(hex((w) => w.int(-(2 ** 32)))).toBe('3affffffff');
  });

  it('writes UTF-8 as TextEncoder does, surrogate pairs as one 4-byte character', () => {
    for (const s of ['', 'a', '\u007f', '\u0080', 'é', '\u07ff', '\u0800', '€', '\uffff', '😀', 'a😀b', '\u{10ffff}', '\u{10000}']) {
      const utf8 = new TextEncoder().encode(s);
      expect(hex((w) => w.text(s)), JSON.stringify(s)).toBe(toHex(new CborWriter().head(3, utf8.length).raw(utf8).finish()));
    }
    // a high surrogate not followed by a low one is written alone, and the next character as itself
    expect(hex((w) => w.text('\ud83dA'))).toBe('64eda0bd41');
    expect(hex((w) => w.text('A\ud83d'))).toBe('6441eda0bd');
    expect(hex((w) => w.text('\ud83d\ue000'))).toBe('66eda0bdee8080');
    expect(hex((w) => w.text('\udc00'))).toBe('63edb080');
    // a low surrogate never starts a pair, whatever precedes or follows it
    expect(hex((w) => w.text('A\udc00'))).toBe('6441edb080');
    expect(hex((w) => w.text('\udc00\udc00'))).toBe('66edb080edb080');
    expect(hex((w) => w.text('\ue000\udc00'))).toBe('66ee8080edb080');
  });

  // Capacity 0 looped forever before (doubling 0); found by this test.
  it('grows from any initial capacity, and finish never shares a buffer a later write changes', () => {
    const long = new Uint8Array(1000).map((_, i) => i);
    for (const capacity of [0, 1, 2, 5, 6, 1003]) {
      expect(hex((w) => w.null().bytes(long), capacity), `capacity ${capacity}`).toBe('f6' + '5903e8' + toHex(long));
    }
    const w = new CborWriter(1);
    const first = w.null().finish();
    expect(toHex(first)).toBe('f6');
    w.int(1);
    expect(toHex(first)).toBe('f6');
    expect(toHex(w.finish())).toBe('f601');
    const partial = new CborWriter(8).int(1);
    const out = partial.finish();
    expect(out.length).toBe(1);
    partial.int(2);
    expect(toHex(out)).toBe('01');
  });
});
