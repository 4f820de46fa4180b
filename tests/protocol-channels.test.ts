// The channel registry (protocol/src/channels.ts) against the spec: docs/protocol.md's channel
// table decides what a channel number means (the firmware, the formatter and the exports all rely
// on it), and every rule of a user registry file is checked with the value that breaks it.
// Written for the mutation run of channels.ts (issue 19): each block names the rule it guards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChannelRegistry, channels, FIRST_USER_CHANNEL } from '@sceau/protocol';

const spec = readFileSync(join(import.meta.dirname, '..', 'docs', 'protocol.md'), 'utf8');

/** The rows of docs/protocol.md's "### Channels" table: id, name, unit as written, scale. */
function specChannels(): Array<{ id: number; name: string; unit: string; scale: number }> {
  const start = spec.indexOf('### Channels');
  // the table right under the heading: the rows up to the first line that is not a table row
  const lines = spec.slice(start).split('\n').slice(1);
  const first = lines.findIndex((l) => l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
  const rows = lines.slice(first, end).filter((l) => /^\| \d+ \|/.test(l));
  return rows.map((l) => {
    const [id, name, unit, scale] = l.split('|').slice(1, 5).map((c) => c.trim());
    return { id: Number(id), name: name!, unit: unit!, scale: Number(scale) };
  });
}

/** The SenML unit the spec's cell names: a parenthesised note is "no unit"; `/ (0 or 1)` is `/`. */
function senmlUnit(cell: string): string {
  if (cell.startsWith('(')) return '';
  return cell.replace(/\s*\(.*\)$/, '');
}

describe('built-in channels: docs/protocol.md decides', () => {
  it('the registry holds exactly the spec table, in id order, with its names, units and scales', () => {
    const table = specChannels();
    expect(table.length).toBeGreaterThanOrEqual(17);
    expect(channels.list().map((c) => c.id)).toEqual(table.map((r) => r.id));
    for (const row of table) {
      const c = channels.get(row.id)!;
      expect({ id: c.id, name: c.name, unit: c.unit, scale: c.scale }, `channel ${row.id}`).toEqual({ id: row.id, name: row.name, unit: senmlUnit(row.unit), scale: row.scale });
      // the SenML name is the channel's name for every built-in channel
      expect(c.senmlName).toBe(row.name);
      expect(channels.get(row.name)).toBe(c);
      expect(c.description.length, `channel ${row.id} has a description`).toBeGreaterThan(3);
    }
  });

  it('descriptions say what each channel measures', () => {
    expect(channels.get('temperature')!.description).toBe('air temperature');
    expect(channels.get('boot')!.description).toMatch(/^boot count/);
    expect(channels.get('readings-dropped')!.description).toMatch(/dropped/);
  });

  it('channels are frozen: a reader cannot change what a number means', () => {
    const c = channels.get(1)!;
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { scale: number }).scale = 1;
    }).toThrow(TypeError);
    expect(channels.get(1)!.scale).toBe(0.01);
  });

  it('lookups by id and by name are distinct: a number never matches a name', () => {
    expect(channels.get(0)).toBeUndefined();
    expect(channels.get(16)).toBeUndefined();
    expect(channels.get('1')).toBeUndefined();
    expect(channels.get('Temperature')).toBeUndefined();
  });
});

describe('toUnit and fromUnit', () => {
  it('scales by the channel, keeps an unknown channel raw, never yields -0', () => {
    expect(channels.toUnit(1, 2150)).toBe(21.5);
    expect(channels.toUnit(5, 3300)).toBe(3.3);
    expect(channels.toUnit(3, 101325)).toBe(101325);
    expect(channels.toUnit(1000, 7)).toBe(7);
    expect(Object.is(channels.toUnit(1, -0), 0)).toBe(true);
    expect(Object.is(channels.toUnit(3, -0), 0)).toBe(true);
    // values beyond the fast path go through the rounding path and still give the decimal
    expect(channels.toUnit(1, 2 ** 53 + 2)).toBe(Number(((2 ** 53 + 2) * 0.01).toFixed(2)));
    expect(channels.toUnit(1, -2150)).toBe(-21.5);
  });

  it('fromUnit is the inverse on whole steps and refuses the rest, naming the channel and the step', () => {
    expect(channels.fromUnit(1, 21.5)).toBe(2150);
    expect(channels.fromUnit(5, 3.3)).toBe(3300);
    expect(() => channels.fromUnit(1, 21.505)).toThrow(/^temperature: 21\.505 Cel is not a multiple of the channel's step 0\.01$/);
    expect(() => channels.fromUnit(999, 1)).toThrow(/^channel: unknown channel 999$/);
    expect(() => channels.fromUnit(999, 1)).toThrow(RangeError);
  });

  it('fromUnit allows binary noise up to a millionth of a step, that bound included, and no more', () => {
    // 1e-6 Pa on pressure (step 1) is exactly a millionth of a step away from 0 steps: accepted
    expect(channels.fromUnit(3, 1e-6)).toBe(0);
    expect(channels.fromUnit(3, 101325 + 1e-7)).toBe(101325);
    expect(() => channels.fromUnit(3, 2e-6)).toThrow(/^pressure: 0\.000002 Pa is not a multiple of the channel's step 1$/);
    expect(() => channels.fromUnit(3, 0.5)).toThrow(RangeError);
  });
});

describe('user channels (a local registry file)', () => {
  const tank = { id: 200, name: 'tank-level', unit: 'm', scale: 0.001 };

  it('adds channels from id 128 on, with defaults for what is left out', () => {
    const r = channels.withUserChannels([tank, { id: FIRST_USER_CHANNEL, name: 'x' }]);
    expect(FIRST_USER_CHANNEL).toBe(128);
    expect(r.get(200)).toEqual({ id: 200, name: 'tank-level', senmlName: 'tank-level', unit: 'm', scale: 0.001, description: '' });
    expect(r.get('x')).toEqual({ id: 128, name: 'x', senmlName: 'x', unit: '', scale: 1, description: '' });
    expect(r.get(1)).toEqual(channels.get(1));
    expect(r.toUnit(200, 1500)).toBe(1.5);
    // the built-in registry is unchanged (withUserChannels returns a new one)
    expect(channels.get(200)).toBeUndefined();
    expect(channels.withUserChannels([{ ...tank, senmlName: 'tank', description: 'water tank' }]).get(200)).toMatchObject({ senmlName: 'tank', description: 'water tank' });
  });

  it('refuses what is not an array of objects', () => {
    expect(() => channels.withUserChannels({})).toThrow(/^user channels: expected an array of channel definitions$/);
    expect(() => channels.withUserChannels([null])).toThrow(/^user channels\[0\]: expected an object$/);
    expect(() => channels.withUserChannels([tank, 'x'])).toThrow(/^user channels\[1\]: expected an object$/);
  });

  it.each([
    [127, /user channels\[0\]\.id: expected an integer in 128\.\.2\^32-1, got 127/],
    [2 ** 32, /got 4294967296/],
    [200.5, /got 200\.5/],
    ['200', /got 200/],
  ])('refuses id %s (ids below 128 are the protocol\'s; no id beyond 32 bits)', (id, message) => {
    expect(() => channels.withUserChannels([{ ...tank, id }])).toThrow(message);
  });

  it('accepts the edges of the user id range', () => {
    expect(channels.withUserChannels([{ ...tank, id: 2 ** 32 - 1 }]).get(2 ** 32 - 1)?.name).toBe('tank-level');
  });

  it.each([['Tank'], ['1tank'], [''], ['tank level'], [7]])('refuses the name %j (lower case, starting with a letter)', (name) => {
    expect(() => channels.withUserChannels([{ ...tank, name }])).toThrow(/^user channels\[0\]\.name: expected a lower-case name such as "tank-level"$/);
  });

  it.each([[null], [true], [['tank']], [{ toString: (): string => 'tank' }]])(
    'refuses the name %j: a name is a JSON string, not a value whose text would pass the pattern',
    (name) => {
      expect(() => channels.withUserChannels([{ ...tank, name }])).toThrow(/^user channels\[0\]\.name: expected a lower-case name such as "tank-level"$/);
    },
  );

  it('accepts names with digits, dots, dashes and underscores after the first letter', () => {
    expect(channels.withUserChannels([{ ...tank, name: 'a1.b-c_d' }]).get('a1.b-c_d')?.id).toBe(200);
  });

  it.each([[0], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['1']])('refuses the scale %s (a positive finite number)', (scale) => {
    expect(() => channels.withUserChannels([{ ...tank, scale }])).toThrow(/^user channels\[0\]\.scale: expected a positive number$/);
  });

  it('refuses a scale of null: only a missing scale means 1 (null is refused for every key)', () => {
    expect(() => channels.withUserChannels([{ ...tank, scale: null }])).toThrow(/^user channels\[0\]\.scale: expected a positive number$/);
    expect(() => channels.withUserChannels([{ ...tank, unit: null }])).toThrow(/^user channels\[0\]\.unit: expected a string$/);
    expect(channels.withUserChannels([{ id: 200, name: 'tank-level' }]).get(200)?.scale).toBe(1);
  });

  it('refuses a scale that is not a number before comparing it: the registry\'s error, not a conversion\'s', () => {
    // the API takes any value (not only parsed JSON): a Symbol cannot be compared with 0, and an
    // object's valueOf must not run (the check is by type, not by what the value converts to)
    let converted = false;
    const objectScale = { valueOf: () => ((converted = true), 1) };
    for (const scale of [Symbol('scale'), objectScale, 1n, true]) {
      expect(() => channels.withUserChannels([{ ...tank, scale }])).toThrow(/^user channels\[0\]\.scale: expected a positive number$/);
    }
    expect(converted).toBe(false);
  });

  it.each([['senmlName'], ['unit'], ['description']])('refuses a %s that is not a string', (key) => {
    expect(() => channels.withUserChannels([{ ...tank, [key]: 1 }])).toThrow(new RegExp(`^user channels\\[0\\]\\.${key}: expected a string$`));
  });

  it('refuses a duplicate id or name, built-in ones included', () => {
    expect(() => channels.withUserChannels([tank, { ...tank, name: 'other' }])).toThrow(/^channels: duplicate id 200$/);
    expect(() => channels.withUserChannels([tank, { ...tank, id: 201 }])).toThrow(/^channels: duplicate name "tank-level"$/);
    expect(() => channels.withUserChannels([{ ...tank, name: 'temperature' }])).toThrow(/^channels: duplicate name "temperature"$/);
    expect(() => new ChannelRegistry([channels.get(1)!, { ...channels.get(1)!, name: 'b' }])).toThrow(/duplicate id 1/);
  });

  it('lists channels in id order whatever the order of the file', () => {
    const r = channels.withUserChannels([{ id: 300, name: 'b' }, { id: 129, name: 'a' }]);
    const ids = r.list().map((c) => c.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids.slice(-2)).toEqual([129, 300]);
  });
});
