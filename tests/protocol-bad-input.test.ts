// Bad input to the protocol's helpers for people and tools (issue 19, "Protocol: cborDiagnostic and
// bad hex"): untrusted bytes get an answer that says what is wrong and never an exception;
// programmer input (a hex argument) gets a TypeError naming the argument.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborDiagnostic, equalBytes, fromHex, inspectFrame, parseHex, sealRecord, sha256, toHex } from '@sceau/protocol';

describe('cborDiagnostic on untrusted bytes', () => {
  // Rule: "Never throws" (cbor-diagnostic.ts); a refusal names the offset and the defect.
  const refused: Array<[string, string, string]> = [
    ['no bytes at all', '', 'malformed CBOR at offset 0: truncated: 1 more byte(s) needed'],
    ['a head cut short', '19', 'malformed CBOR at offset 1: truncated: 2 more byte(s) needed'],
    ['an array longer than the input', '83 01 02', 'malformed CBOR at offset 0: array length 3 exceeds the input'],
    ['a byte string longer than the input', '45 0102', 'malformed CBOR at offset 0: byte string length 5 exceeds the input'],
    ['a reserved additional information', '1c', 'malformed CBOR at offset 0: reserved additional information 28'],
    ['a lone break', 'ff', 'malformed CBOR at offset 0: break outside an indefinite-length item'],
    ['bytes after the item', '01 02', 'malformed CBOR at offset 1: 1 trailing byte(s) after the item'],
    ['invalid UTF-8 in a text string', '62 c328', 'malformed CBOR at offset 0: text string is not valid UTF-8'],
  ];
  it.each(refused)('%s: ok false, with the offset and the defect', (_, hex, detail) => {
    expect(cborDiagnostic(fromHex(hex.replace(/ /g, '')))).toEqual({ ok: false, detail });
  });

  it('nesting deeper than the parser allows is refused, not a stack overflow', () => {
    const deep = new Uint8Array(100_000).fill(0x81); // [[[[...
    expect(cborDiagnostic(deep)).toEqual({ ok: false, detail: 'malformed CBOR at offset 33: nesting deeper than 32' });
  });

  it('embedded: a byte string that is not CBOR stays a byte string; one that is becomes << >>', () => {
    // [h'ff', h'a10127', h''] : the first is not CBOR, the second is {1: -8}, the empty one stays h''
    const bytes = fromHex('83' + '41ff' + '43a10127' + '40');
    expect(cborDiagnostic(bytes, { embedded: true })).toEqual({ ok: true, text: "[h'ff', << {1: -8} >>, h'']" });
    expect(cborDiagnostic(bytes)).toEqual({ ok: true, text: "[h'ff', h'a10127', h'']" });
  });

  it('a sealed frame renders with its protected header and record embedded', () => {
    const frame = sealRecord({ version: 1, counter: 7, time: null, readings: [{ channel: 1, value: -5 }] }, sha256(Uint8Array.of(1)), { kid: false });
    const r = cborDiagnostic(frame, { embedded: true });
    expect(r.ok && r.text).toMatch(/^18\(\[<< \{1: -8\} >>, \{\}, << \[1, 7, null, \[\[1, -5\]\]\] >>, h'[0-9a-f]{128}'\]\)$/);
  });

  it('every proper prefix of a sealed frame (a frame cut in transit) is refused as cut, at its end, embedded or not', () => {
    // Rule: a truncated frame is never shown as if it were whole (frame inspect's malformed-cbor).
    const frame = sealRecord({ version: 1, counter: 8, time: 1700000000, readings: [{ channel: 1, value: 21 }] }, sha256(Uint8Array.of(2)));
    for (let n = 0; n < frame.length; n++) {
      for (const embedded of [false, true]) {
        const r = cborDiagnostic(frame.subarray(0, n), { embedded });
        expect(r.ok, `${n} bytes`).toBe(false);
        expect(!r.ok && r.detail, `${n} bytes`).toMatch(/^malformed CBOR at offset \d+: (truncated: \d+ more byte\(s\) needed|.*exceeds the input)$/);
      }
    }
    expect(cborDiagnostic(frame).ok).toBe(true);
  });

  // Rule: RFC 8949 §8 diagnostic notation for every kind the reader gives (mutation run of cbor-diagnostic.ts).
  it.each([
    ['20', '-1'], ['3903e7', '-1000'], ['6161', '"a"'], ['62225c', '"\\"\\\\"'], ['60', '""'],
    ['a2016161036162', '{1: "a", 3: "b"}'], ['a0', '{}'], ['80', '[]'], ['820102', '[1, 2]'], ['c11a514b67b0', '1(1363896240)'],
    ['f93c00', '1.0'], ['f90000', '0.0'], ['f98000', '-0.0'], ['fb3ff199999999999a', '1.1'], ['fa47c35000', '100000.0'], ['f9c400', '-4.0'],
    ['f97c00', 'Infinity'], ['f9fc00', '-Infinity'], ['f97e00', 'NaN'],
    ['f4', 'false'], ['f5', 'true'], ['f6', 'null'], ['f7', 'undefined'], ['f0', 'simple(16)'], ['f820', 'simple(32)'],
  ])('%s renders as %s', (hex, text) => {
    expect(cborDiagnostic(fromHex(hex))).toEqual({ ok: true, text });
    expect(cborDiagnostic(fromHex(hex), { embedded: true })).toEqual({ ok: true, text });
  });

  it('embedded: byte strings inside maps, tags and nested arrays are opened too', () => {
    // {h'01': 24(h'820102')} and [[h'f5']]
    expect(cborDiagnostic(fromHex('a14101d8184382' + '0102'), { embedded: true })).toEqual({ ok: true, text: '{<< 1 >>: 24(<< [1, 2] >>)}' });
    expect(cborDiagnostic(fromHex('a14101d8184382' + '0102'))).toEqual({ ok: true, text: "{h'01': 24(h'820102')}" });
    expect(cborDiagnostic(fromHex('818141f5'), { embedded: true })).toEqual({ ok: true, text: '[[<< true >>]]' });
    expect(cborDiagnostic(fromHex('4143'), { embedded: true })).toEqual({ ok: true, text: "h'43'" }); // a head cut short stays bytes
  });

  it('never throws on arbitrary bytes, embedded or not (property, pinned seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, embedded) => {
        const r = cborDiagnostic(bytes, { embedded });
        expect(typeof (r.ok ? r.text : r.detail)).toBe('string');
      }),
      { seed: 19, numRuns: 2000 },
    );
  });
});

describe('hex input', () => {
  it('parseHex: undefined for odd lengths and non-hex characters, bytes for either case', () => {
    for (const bad of ['0', 'abc', 'zz', '0g', 'g0', '0x00', ' 00', '00 ', '-1', '１２']) expect(parseHex(bad), bad).toBeUndefined();
    expect(toHex(parseHex('')!)).toBe('');
    expect(toHex(parseHex('00ffAAbB09')!)).toBe('00ffaabb09');
    // every byte value, both cases
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(parseHex(toHex(all))).toEqual(all);
    expect(parseHex(toHex(all).toUpperCase())).toEqual(all);
  });

  it('fromHex: a TypeError naming the argument, for a non-string or a string that is not hex', () => {
    expect(() => fromHex('abc', 'frame')).toThrow(new TypeError('frame: expected an even-length hex string'));
    expect(() => fromHex('zz')).toThrow(new TypeError('hex: expected an even-length hex string'));
    expect(() => fromHex(12 as never, 'key')).toThrow(new TypeError('key: expected a hex string, got number'));
    expect(() => fromHex(undefined as never)).toThrow(/^hex: expected a hex string, got undefined$/);
  });

  // Rule (bytes.ts): ':' to '@' lie between the digits and 'A' and are not hex; bytes are equal
  // only at equal lengths; a byte argument that is not bytes is described in the TypeError.
  it('parseHex refuses the characters between the ranges; equalBytes needs equal lengths; what a non-byte argument is', () => {
    for (const bad of [':0', '0@', '/0', '[0', '`0', 'G0']) expect(parseHex(bad), bad).toBeUndefined();
    expect(equalBytes(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    const seal = (key: unknown) => () => sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, key as Uint8Array);
    for (const [key, what] of [[null, 'null'], [[1, 2], 'array'], [{}, 'Object'], [Object.create(null), 'object'], [5, 'number'], ['ab', 'string'], [new Uint16Array(32), 'Uint16Array']] as const) {
      expect(seal(key), what).toThrow(new TypeError(`secretKey: expected Uint8Array of length 32, got ${what}`));
    }
  });

  // Rule (bytes.ts): toHex writes every byte once, in order, whatever the length; it works in
  // chunks of 4,096 bytes (String.fromCharCode's argument count), so lengths around the chunk
  // edges and several chunks are compared with Node's own hex.
  it('toHex equals Node\'s hex for lengths around its 4,096-byte chunks and over several chunks', () => {
    const bytes = Uint8Array.from({ length: 3 * 4096 + 5 }, (_, i) => (i * 131 + (i >> 8)) & 255);
    for (const n of [0, 1, 32, 4095, 4096, 4097, 8192, 8193, bytes.length]) {
      const part = bytes.subarray(0, n);
      expect(toHex(part), `${n} bytes`).toBe(Buffer.from(part).toString('hex'));
    }
  });

  it('inspectFrame on bytes that are not a frame says so and does not throw', () => {
    expect(inspectFrame(new Uint8Array(0))).toEqual({ recordError: 'not a COSE_Sign1 frame' });
    expect(inspectFrame(fromHex('ff'))).toEqual({ recordError: 'not a COSE_Sign1 frame' });
    expect(inspectFrame(fromHex('d28440'))).toEqual({ recordError: 'not a COSE_Sign1 frame' }); // cut short
    expect(inspectFrame(fromHex('d2824040'))).toEqual({ recordError: 'no payload' }); // an array of 2
    expect(inspectFrame(fromHex('d28440a04241ff40'))).toEqual({ recordError: 'bad-record: record: expected an array' }); // payload h'41ff'
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const r = inspectFrame(Uint8Array.of(0xd2, 0x84, ...bytes));
        expect(r.record !== undefined || typeof r.recordError === 'string').toBe(true);
      }),
      { seed: 19, numRuns: 2000 },
    );
  });
});
