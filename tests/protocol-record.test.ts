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
