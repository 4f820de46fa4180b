import fc from 'fast-check';
import { encode as cborgEncode } from 'cborg';
import { describe, expect, it } from 'vitest';
import { channels, ChannelRegistry, decodeRecord, encodeRecord, fromHex, toHex, type SceauRecord } from '@sceau/protocol';
import { recordArb } from './helpers/arbitraries.js';

const asArrays = (r: SceauRecord) => [r.version, r.counter, r.time, r.readings.map((x) => (x.age === undefined ? [x.channel, x.value] : [x.channel, x.value, x.age]))];

describe('records', () => {
  it('encode then decode gives the record back (property, pinned seed)', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        const decoded = decodeRecord(encodeRecord(record));
        expect(decoded).toEqual({ ok: true, record });
      }),
      { seed: 1, numRuns: 500 },
    );
  });

  it('is byte-identical to an independent RFC 8949 deterministic encoder (cborg)', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        expect(toHex(encodeRecord(record))).toBe(toHex(cborgEncode(asArrays(record))));
      }),
      { seed: 2, numRuns: 300 },
    );
  });

  it('leaves out an age of 0 (one encoding per value)', () => {
    const r = encodeRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 5, age: 0 }] });
    expect(toHex(r)).toBe('8401 01 f6 81 82 01 05'.replace(/ /g, ''));
  });

  const rejects: Array<[string, string, string]> = [
    ['explicit age 0', '840101f681830105' + '00', 'bad-record'],
    ['float value', '840101f6818201f93c00', 'bad-record'],
    ['indefinite readings', '840101f69f820105ff', 'bad-record'],
    ['non-shortest counter', '84011801f681820105', 'bad-record'],
    ['trailing bytes', '840101f68182010500', 'bad-record'],
    ['value below -2^32', '840101f68182013b0000000100000000', 'bad-record'],
    ['time as text', '8401016161818201 05'.replace(/ /g, ''), 'bad-record'],
    ['five elements', '850101f681820105 00'.replace(/ /g, ''), 'bad-record'],
    ['reading of one element', '840101f6818101', 'bad-record'],
    ['version 7', '840701f681820105', 'unsupported-version'],
    ['version as text', '846131 01f681820105'.replace(/ /g, ''), 'bad-record'],
    ['empty input', '', 'bad-record'],
  ];
  it.each(rejects)('refuses %s with %s', (_, hex, code) => {
    const r = decodeRecord(fromHex(hex));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.code).toBe(code);
  });

  it('random bytes never throw (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => void decodeRecord(bytes)), { seed: 3, numRuns: 2000 });
  });

  it('throws TypeError / RangeError naming the field for records outside the schema', () => {
    expect(() => encodeRecord({ version: 1, counter: 0, time: null, readings: [{ channel: 1, value: 1 }] })).toThrow(/record.counter: expected an integer in 1\.\./);
    expect(() => encodeRecord({ version: 1, counter: 1, time: null, readings: [] })).toThrow(RangeError);
    expect(() => encodeRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1.5 }] })).toThrow(/readings\[0\].value/);
    expect(() => encodeRecord({ version: 2 as 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] })).toThrow(/version/);
    expect(() => encodeRecord(null as never)).toThrow(TypeError);
  });
});

// Rule (docs/protocol.md#record, the v1 schema): each departure from it is refused on its own
// with the detail that names the element at fault; the bounds themselves are accepted.
describe('decodeRecord and encodeRecord: each schema rule, its detail and its bounds', () => {
  const W = '840101f681820105'; // [1, 1, null, [[1, 5]]]
  const refused: Array<[string, string, 'bad-record' | 'unsupported-version', string]> = [
    ['not an array', 'a0', 'bad-record', 'record: expected an array'],
    ['an empty array', '80', 'bad-record', 'record: expected an array'],
    ['version as text', '846131' + W.slice(4), 'bad-record', 'record[0] (version): expected an unsigned integer'],
    ['version 2', '8402' + W.slice(4), 'unsupported-version', 'record version 2, this verifier reads version 1'],
    ['version 2 with the wrong shape', '820201', 'unsupported-version', 'record version 2, this verifier reads version 1'],
    ['three elements', '830101f6', 'bad-record', 'record: expected 4 elements, got 3'],
    ['five elements', '85' + W.slice(2) + '00', 'bad-record', 'record: expected 4 elements, got 5'],
    ['counter 0', '840100f681820105', 'bad-record', 'record[1] (counter): expected an unsigned integer in 1..4294967295'],
    ['counter 2^32', '84011b0000000100000000f681820105', 'bad-record', 'record[1] (counter): expected an unsigned integer in 1..4294967295'],
    ['counter negative', '840120f681820105', 'bad-record', 'record[1] (counter): expected an unsigned integer in 1..4294967295'],
    ['counter as bytes', '840140f681820105', 'bad-record', 'record[1] (counter): expected an unsigned integer in 1..4294967295'],
    ['time as text', '840101616181820105', 'bad-record', 'record[2] (time): expected an unsigned integer in 0..4294967295'],
    ['time 2^32', '8401011b000000010000000081820105', 'bad-record', 'record[2] (time): expected an unsigned integer in 0..4294967295'],
    ['time false', '840101f481820105', 'bad-record', 'record[2] (time): expected an unsigned integer in 0..4294967295'],
    ['readings a map', '840101f6a0', 'bad-record', 'record[3] (readings): expected a non-empty array'],
    ['readings empty', '840101f680', 'bad-record', 'record[3] (readings): expected a non-empty array'],
    ['a reading not an array', '840101f68101', 'bad-record', 'record[3][0]: expected [channel, value] or [channel, value, age]'],
    ['a reading of 1 element', '840101f6818101', 'bad-record', 'record[3][0]: expected [channel, value] or [channel, value, age]'],
    ['a reading of 4 elements', '840101f6818401020304', 'bad-record', 'record[3][0]: expected [channel, value] or [channel, value, age]'],
    ['the second reading bad', '840101f6828201058101', 'bad-record', 'record[3][1]: expected [channel, value] or [channel, value, age]'],
    ['channel negative', '840101f681822005', 'bad-record', 'record[3][0][0] (channel): expected an unsigned integer in 0..4294967295'],
    ['channel 2^32', '840101f681821b000000010000000005', 'bad-record', 'record[3][0][0] (channel): expected an unsigned integer in 0..4294967295'],
    ['value 2^32', '840101f68182011b0000000100000000', 'bad-record', 'record[3][0][1] (value): expected an integer in -4294967296..4294967295'],
    ['value below -2^32', '840101f68182013b0000000100000000', 'bad-record', 'record[3][0][1] (value): expected an integer in -4294967296..4294967295'],
    ['value a float', '840101f6818201f93c00', 'bad-record', 'record[3][0][1] (value): expected an integer in -4294967296..4294967295'],
    ['value null', '840101f6818201f6', 'bad-record', 'record[3][0][1] (value): expected an integer in -4294967296..4294967295'],
    ['age 0', '840101f68183010500', 'bad-record', 'record[3][0][2] (age): expected an unsigned integer in 1..4294967295'],
    ['age negative', '840101f68183010520', 'bad-record', 'record[3][0][2] (age): expected an unsigned integer in 1..4294967295'],
    ['malformed CBOR', '8401', 'bad-record', 'malformed CBOR at offset 0: array length 4 exceeds the input'],
    ['a head longer than needed', '84011801f681820105', 'bad-record', 'not deterministic CBOR at offset 2: argument not in shortest form'],
    ['a byte after the record', W + '00', 'bad-record', 'malformed CBOR at offset 8: 1 trailing byte(s) after the item'],
  ];
  it.each(refused)('decodeRecord refuses %s', (_, hex, code, detail) => {
    expect(decodeRecord(fromHex(hex))).toStrictEqual({ ok: false, code, detail });
  });

  it('decodeRecord takes every bound of the schema', () => {
    const max = 4294967295;
    const record = { version: 1 as const, counter: max, time: 0, readings: [{ channel: 0, value: -4294967296, age: 1 }, { channel: max, value: max, age: max }] };
    const bytes = encodeRecord(record);
    expect(toHex(bytes)).toBe('84' + '01' + '1affffffff' + '00' + '82' + '83003affffffff01' + '831affffffff1affffffff1affffffff');
    expect(decodeRecord(bytes)).toStrictEqual({ ok: true, record });
    expect(decodeRecord(fromHex('840101' + '1affffffff' + '81820105'))).toStrictEqual({ ok: true, record: { version: 1, counter: 1, time: max, readings: [{ channel: 1, value: 5 }] } });
  });

  const thrown: Array<[string, unknown, string]> = [
    ['counter 0', { counter: 0 }, 'RangeError: record.counter: expected an integer in 1..4294967295, got 0'],
    ['counter 2^32', { counter: 2 ** 32 }, 'RangeError: record.counter: expected an integer in 1..4294967295, got 4294967296'],
    ['counter 1.5', { counter: 1.5 }, 'RangeError: record.counter: expected an integer in 1..4294967295, got 1.5'],
    ['time -1', { time: -1 }, 'RangeError: record.time: expected an integer in 0..4294967295, got -1'],
    ['time 2^32', { time: 2 ** 32 }, 'RangeError: record.time: expected an integer in 0..4294967295, got 4294967296'],
    ['readings missing', { readings: undefined }, 'RangeError: record.readings: expected a non-empty array'],
    ['readings empty', { readings: [] }, 'RangeError: record.readings: expected a non-empty array'],
    ['a reading null', { readings: [null] }, 'RangeError: record.readings[0].channel: expected an integer in 0..4294967295, got undefined'],
    ['channel -1', { readings: [{ channel: -1, value: 1 }] }, 'RangeError: record.readings[0].channel: expected an integer in 0..4294967295, got -1'],
    ['value 2^32', { readings: [{ channel: 1, value: 2 ** 32 }] }, 'RangeError: record.readings[0].value: expected an integer in -4294967296..4294967295, got 4294967296'],
    ['value -2^32 - 1', { readings: [{ channel: 1, value: -(2 ** 32) - 1 }] }, 'RangeError: record.readings[0].value: expected an integer in -4294967296..4294967295, got -4294967297'],
    ['value as text', { readings: [{ channel: 1, value: '1' }] }, 'RangeError: record.readings[0].value: expected an integer in -4294967296..4294967295, got 1'],
    ['age -1 on the second reading', { readings: [{ channel: 1, value: 1 }, { channel: 2, value: 1, age: -1 }] }, 'RangeError: record.readings[1].age: expected an integer in 0..4294967295, got -1'],
    ['version 2', { version: 2 }, 'RangeError: record.version: expected 1, got 2'],
  ];
  it.each(thrown)('encodeRecord throws for %s, naming the field', (_, change, message) => {
    const record = { version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }], ...(change as object) };
    let error: unknown;
    try {
      encodeRecord(record as never);
    } catch (e) {
      error = e;
    }
    expect(String(error)).toBe(message);
  });

  it('decodeRecord throws a TypeError naming its argument for what is not bytes (a programmer error)', () => {
    expect(() => decodeRecord('840101f681820105' as never)).toThrow(/^bytes: expected Uint8Array/);
  });

  it('encodeRecord throws a TypeError for what is not an object', () => {
    for (const bad of [null, 5, 'record', undefined]) expect(() => encodeRecord(bad as never)).toThrow(new TypeError('record: expected an object'));
  });
});

describe('channels', () => {
  it('has the registry of the design with SenML units and scales', () => {
    expect(channels.get(1)).toMatchObject({ name: 'temperature', unit: 'Cel', scale: 0.01 });
    expect(channels.get('battery')).toMatchObject({ id: 5, unit: 'V', scale: 0.001 });
    expect(channels.get(32)?.name).toBe('boot');
    expect(channels.list().map((c) => c.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 32, 33]);
  });

  it('converts between wire integers and units without binary noise', () => {
    expect(channels.fromUnit(1, 21.5)).toBe(2150);
    expect(channels.toUnit(1, 2150)).toBe(21.5);
    expect(channels.toUnit(5, 3012)).toBe(3.012);
    expect(channels.toUnit(1, -1)).toBe(-0.01);
    expect(() => channels.fromUnit(1, 21.555)).toThrow(/not a multiple/);
  });

  it('toUnit gives, for every scale, what rounding value * scale to the scale\'s decimals gives', () => {
    // toUnit divides by 10^d for scales 10^-d; the reference is the string round trip it skips.
    const scales = [1, 0.5, 0.25, 0.2, 0.1, 0.01, 0.001, 1e-4, 1e-6, 1e-9, 1e-12, 1e-15, 2, 10, 1000];
    const mine = channels.withUserChannels(scales.map((scale, i) => ({ id: 128 + i, name: `c${i}`, scale })));
    const reference = (value: number, scale: number): number => {
      const decimals = Math.max(0, Math.ceil(-Math.log10(scale)));
      return Number((value * scale).toFixed(decimals));
    };
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = [0, 1, -1, 2150, -2150, 3012, 999_999, 2 ** 31, -(2 ** 31), 2 ** 40 + 7, 999_999_999_999_999, -999_999_999_999_999, 2 ** 53 - 1, 2 ** 60, 1e21];
    for (let i = 0; i < 3000; i++) values.push(Math.floor((random() - 0.5) * 2 ** (1 + Math.floor(random() * 52))));
    for (const [i, scale] of scales.entries()) {
      for (const value of values) {
        const got = mine.toUnit(128 + i, value);
        if (!Object.is(got, reference(value, scale))) expect({ scale, value, got }).toEqual({ scale, value, got: reference(value, scale) });
      }
    }
    expect(channels.toUnit(99, 7)).toBe(7); // an unknown channel keeps its raw value
  });

  it('loads user channels (ids >= 128) and refuses ids of the protocol', () => {
    const mine = channels.withUserChannels([{ id: 200, name: 'tank-level', unit: 'm', scale: 0.001 }]);
    expect(mine).toBeInstanceOf(ChannelRegistry);
    expect(mine.toUnit(200, 1234)).toBe(1.234);
    expect(channels.get(200)).toBeUndefined();
    expect(() => channels.withUserChannels([{ id: 12, name: 'x' }])).toThrow(RangeError);
    expect(() => channels.withUserChannels([{ id: 130, name: 'temperature' }])).toThrow(/duplicate name/);
    expect(() => channels.withUserChannels({})).toThrow(TypeError);
  });
});
