/**
 * The channel registry: what a reading's `channel` number means. A value on the wire is an
 * integer; its real value is `value * scale` in `unit` (SenML units, RFC 8428 §12.1).
 * Ids 0..127 are sceau's; ids 128 and above are the user's, loaded from a local registry file.
 */
export interface Channel {
  readonly id: number;
  /** Short name used on the command line (`temperature=21.5`). */
  readonly name: string;
  /** SenML record name suffix (`n`) used in exports. */
  readonly senmlName: string;
  /** SenML unit (`u`), or '' for a count or index without unit. */
  readonly unit: string;
  /** Multiply the wire integer by this to get the value in `unit`. */
  readonly scale: number;
  readonly description: string;
}

/** The first channel id reserved for users. */
export const FIRST_USER_CHANNEL = 128;

const BUILT_IN: readonly Channel[] = [
  { id: 1, name: 'temperature', senmlName: 'temperature', unit: 'Cel', scale: 0.01, description: 'air temperature' },
  { id: 2, name: 'humidity', senmlName: 'humidity', unit: '%RH', scale: 0.01, description: 'relative humidity' },
  { id: 3, name: 'pressure', senmlName: 'pressure', unit: 'Pa', scale: 1, description: 'barometric pressure' },
  { id: 4, name: 'co2', senmlName: 'co2', unit: 'ppm', scale: 1, description: 'CO2 concentration' },
  { id: 5, name: 'battery', senmlName: 'battery', unit: 'V', scale: 0.001, description: 'battery voltage' },
  { id: 6, name: 'illuminance', senmlName: 'illuminance', unit: 'lx', scale: 1, description: 'illuminance' },
  { id: 7, name: 'pm2.5', senmlName: 'pm2.5', unit: 'ug/m3', scale: 0.1, description: 'PM2.5 mass concentration' },
  { id: 8, name: 'pm10', senmlName: 'pm10', unit: 'ug/m3', scale: 0.1, description: 'PM10 mass concentration' },
  { id: 9, name: 'voc-index', senmlName: 'voc-index', unit: '', scale: 1, description: 'VOC index (1..500)' },
  { id: 10, name: 'uv-index', senmlName: 'uv-index', unit: '', scale: 0.01, description: 'UV index' },
  { id: 11, name: 'sound-level', senmlName: 'sound-level', unit: 'dB', scale: 0.1, description: 'sound pressure level' },
  { id: 12, name: 'occupancy', senmlName: 'occupancy', unit: '', scale: 1, description: 'occupancy count' },
  { id: 13, name: 'contact', senmlName: 'contact', unit: '/', scale: 1, description: 'contact closed (1) or open (0)' },
  { id: 14, name: 'water-leak', senmlName: 'water-leak', unit: '/', scale: 1, description: 'water detected (1) or not (0)' },
  { id: 15, name: 'soil-moisture', senmlName: 'soil-moisture', unit: '%', scale: 0.01, description: 'volumetric soil moisture' },
  { id: 32, name: 'boot', senmlName: 'boot', unit: '', scale: 1, description: 'boot count, sent once after each reset' },
  { id: 33, name: 'readings-dropped', senmlName: 'readings-dropped', unit: '', scale: 1, description: 'readings the device dropped (store-and-forward queue full) since its previous report' },
];

/** A set of channels, looked up by id or name. Immutable: `withUserChannels` returns a new one. */
export class ChannelRegistry {
  private readonly byId = new Map<number, Channel>();
  private readonly byName = new Map<string, Channel>();

  constructor(list: readonly Channel[]) {
    for (const channel of list) {
      if (this.byId.has(channel.id)) throw new RangeError(`channels: duplicate id ${channel.id}`);
      if (this.byName.has(channel.name)) throw new RangeError(`channels: duplicate name ${JSON.stringify(channel.name)}`);
      const frozen = Object.freeze({ ...channel });
      this.byId.set(channel.id, frozen);
      this.byName.set(channel.name, frozen);
    }
  }

  get(idOrName: number | string): Channel | undefined {
    return typeof idOrName === 'number' ? this.byId.get(idOrName) : this.byName.get(idOrName);
  }

  list(): Channel[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  /** The value in the channel's unit (`2150` on temperature is 21.5), or the raw value for an unknown channel. */
  toUnit(channel: number, value: number): number {
    const scale = this.byId.get(channel)?.scale ?? 1;
    // Every reading of every frame comes here: the common cases skip roundScaled's string round
    // trip with the same result. An integer over 10^d, d = 0..15, divided as doubles is the
    // double nearest to the exact decimal, which is what toFixed(d) then Number gives.
    if (Number.isSafeInteger(value) && Math.abs(value) < 1e15) {
      if (scale === 1) return value === 0 ? 0 : value;
      const power = POWERS_OF_TEN.get(scale);
      if (power !== undefined) return value === 0 ? 0 : value / power;
    }
    return roundScaled(value * scale, scale);
  }

  /** The wire integer for a value in the channel's unit; `RangeError` when it is not a whole number of steps. */
  fromUnit(channel: number, value: number): number {
    const c = this.byId.get(channel);
    if (c === undefined) throw new RangeError(`channel: unknown channel ${channel}`);
    const raw = Math.round(value / c.scale);
    if (Math.abs(raw * c.scale - value) > c.scale * 1e-6) {
      throw new RangeError(`${c.name}: ${value} ${c.unit} is not a multiple of the channel's step ${c.scale}`);
    }
    return raw;
  }

  /**
   * A registry with the user's channels added. `definitions` is the parsed local registry file:
   * an array of `{ id, name, senmlName?, unit?, scale?, description? }` with ids >= 128.
   */
  withUserChannels(definitions: unknown): ChannelRegistry {
    if (!Array.isArray(definitions)) throw new TypeError('user channels: expected an array of channel definitions');
    const added = definitions.map((d, i) => parseUserChannel(d, i));
    return new ChannelRegistry([...this.list(), ...added]);
  }
}

function parseUserChannel(d: unknown, index: number): Channel {
  const where = `user channels[${index}]`;
  if (d === null || typeof d !== 'object') throw new TypeError(`${where}: expected an object`);
  const o = d as Record<string, unknown>;
  if (!Number.isInteger(o.id) || (o.id as number) < FIRST_USER_CHANNEL || (o.id as number) > 0xffffffff) {
    throw new RangeError(`${where}.id: expected an integer in ${FIRST_USER_CHANNEL}..2^32-1, got ${String(o.id)}`);
  }
  if (typeof o.name !== 'string' || !/^[a-z][a-z0-9.\-_]*$/.test(o.name)) {
    throw new TypeError(`${where}.name: expected a lower-case name such as "tank-level"`);
  }
  // only a missing scale means 1: `"scale": null` is refused below, as null is for the other keys
  const scale = o.scale === undefined ? 1 : o.scale;
  if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`${where}.scale: expected a positive number`);
  }
  for (const key of ['senmlName', 'unit', 'description'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') throw new TypeError(`${where}.${key}: expected a string`);
  }
  return {
    id: o.id as number,
    name: o.name,
    senmlName: (o.senmlName as string | undefined) ?? o.name,
    unit: (o.unit as string | undefined) ?? '',
    scale,
    description: (o.description as string | undefined) ?? '',
  };
}

/** 10^d by the scale 10^-d it undoes (d = 1..15). */
const POWERS_OF_TEN = new Map<number, number>(Array.from({ length: 15 }, (_, i) => [1 / 10 ** (i + 1), 10 ** (i + 1)]));

/** Rounds away binary noise (21.5 rather than 21.500000000000004) to the scale's decimals. */
function roundScaled(value: number, scale: number): number {
  const decimals = Math.max(0, Math.ceil(-Math.log10(scale)));
  return Number(value.toFixed(decimals));
}

/** The built-in channels of protocol v1. */
export const channels: ChannelRegistry = new ChannelRegistry(BUILT_IN);
