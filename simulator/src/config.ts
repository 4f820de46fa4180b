import { readFileSync } from 'node:fs';
import { type LinkProfile, airtimeMs, encodeRecord, encodeRecordV2, fragmentCapacity, frameSize, linkProfile, maxFrameBytes } from '@sceau/protocol';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from './duration.js';
import { subBandCount } from './link-model.js';
import { SENSOR_CHANNELS, SENSOR_KINDS, type SensorKind } from './sensors.js';

export const ATTACK_KINDS = ['replay', 'tamper', 'forge', 'wrong-key'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];
/** Probability, per genuine record sealed, that the attacker injects one attack of each kind. */
export type AttackRates = Record<AttackKind, number>;

/** A window of virtual time during which a group's link is down: devices keep their frames (store-and-forward). */
export interface OutageWindow {
  start: number;
  end: number;
}

export interface GroupConfig {
  name: string;
  devices: number;
  link: string;
  intervalMs: number;
  /** Sampling rounds per record; 'auto' chooses the fewest that fit the frame and the link budget. */
  batch: number | 'auto';
  sensors: SensorKind[];
  loss: number;
  dup: number;
  reorder: number;
  jitterMs: number;
  reorderMs: number;
  outages: OutageWindow[];
  /** Power cuts per device per day (Poisson). */
  rebootsPerDay: number;
  /** Probability per sample that a sensor does not answer. */
  faultRate: number;
  /** Put the kid in frames (default); without it the gateway knows the device from the transport. */
  kid: boolean;
  /** Sealed frames a device holds while it cannot send; beyond it the oldest is dropped. */
  queueLimit: number;
  /** Counters reserved ahead per flash write. */
  reserveAhead: number;
  /** Whether the device has a wall clock (record `time`); by default only IP links do. */
  clock: boolean;
  attacks: AttackRates;
  /** How many of the group's devices (its first ones) run the real firmware in a DeviceScript VM. */
  firmwareVm: number;
  /**
   * Shortest virtual time between two runs of a firmware VM (0: as often as the VM asks, its
   * runtime's 10 ms tick). A larger tick makes idle VMs cheaper and quantizes their timing.
   */
  firmwareTickMs: number;
  /**
   * The record version the group's devices seal: 1 (readings in clear) or 2 (readings other than
   * battery, boot and dropped encrypted under each device's content key, docs/privacy.md).
   */
  record: RecordVersion;
}

/** Record versions a simulated device seals (docs/protocol.md). */
export const RECORD_VERSIONS = [1, 2] as const;
export type RecordVersion = (typeof RECORD_VERSIONS)[number];

export interface SimulationConfig {
  seed: string;
  durationMs: number;
  /** After `durationMs`, sampling stops and devices get this long to empty their queues. */
  drainMs: number;
  /** Unix ms of virtual time 0. */
  startUnixMs: number;
  groups: GroupConfig[];
}

/** What a scenario file or the command line may give: durations as text, any field optional. */
export interface GroupInput {
  name?: string;
  devices?: number;
  link?: string;
  interval?: string | number;
  batch?: number | 'auto';
  sensors?: string[];
  loss?: number;
  dup?: number;
  reorder?: number;
  jitter?: string | number;
  reorderWindow?: string | number;
  outages?: Array<string | { start: string | number; end?: string | number; duration?: string | number }>;
  reboots?: number;
  faults?: number;
  kid?: boolean;
  queueLimit?: number;
  reserveAhead?: number;
  clock?: boolean;
  attacks?: string | Partial<Record<AttackKind, number>>;
  /** Devices of the group run as the real firmware in DeviceScript VMs (at the top level: per group, at most its devices). */
  firmwareVm?: number;
  firmwareTick?: string | number;
  /** 1 (default) or 2 (also `v1`, `v2`): the record version the devices seal. */
  record?: number | string;
}

export interface ScenarioInput extends GroupInput {
  seed?: string | number;
  duration?: string | number;
  drain?: string | number;
  start?: string;
  gateway?: string;
  groups?: GroupInput[];
}

export const DEFAULT_START = '2025-01-01T00:00:00Z';

export const GROUP_DEFAULTS = {
  devices: 10,
  link: 'lorawan-eu868-dr3',
  interval: '10m',
  batch: 'auto' as const,
  sensors: ['temperature', 'humidity', 'battery'],
  loss: 0,
  dup: 0,
  reorder: 0,
  jitter: '0s',
  reorderWindow: '30s',
  reboots: 0.05,
  faults: 0.001,
  queueLimit: 256,
  reserveAhead: 16,
};

const NO_ATTACKS: AttackRates = { replay: 0, tamper: 0, forge: 0, 'wrong-key': 0 };

function probability(value: unknown, what: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) throw new RangeError(`${what}: expected a probability in 0..1, got ${JSON.stringify(value)}`);
  return n;
}

function positiveInt(value: unknown, what: string, min = 1): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) throw new RangeError(`${what}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** `1`, `2`, `v1` or `v2` (a number or text) to a record version. */
export function parseRecordVersion(value: unknown, what = 'record'): RecordVersion {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim().replace(/^v/i, '') : '';
  const n = Number(text);
  if (text === '' || !(RECORD_VERSIONS as readonly number[]).includes(n)) throw new RangeError(`${what}: expected a record version, 1 or 2 (v1, v2), got ${JSON.stringify(value)}`);
  return n as RecordVersion;
}

/** `replay=0.01,tamper=0.01` (or an object) to rates; kinds left out are 0. */
export function parseAttacks(spec: string | Partial<Record<string, number>> | undefined, what = 'attack'): AttackRates {
  const rates: AttackRates = { ...NO_ATTACKS };
  if (spec === undefined || spec === '' || spec === 'none') return rates;
  const entries: Array<[string, unknown]> =
    typeof spec === 'string'
      ? spec.split(',').map((part) => {
          const [k, v] = part.split('=');
          return [k!.trim(), v === undefined ? undefined : v.trim()];
        })
      : Object.entries(spec);
  for (const [kind, value] of entries) {
    if (!(ATTACK_KINDS as readonly string[]).includes(kind)) throw new RangeError(`${what}: unknown attack ${JSON.stringify(kind)}; known: ${ATTACK_KINDS.join(', ')}`);
    rates[kind as AttackKind] = probability(value, `${what} ${kind}`);
  }
  return rates;
}

/** `6h-7h30m`, `6h+90m`, or `{start, end}` / `{start, duration}`. */
export function parseOutage(spec: GroupInput['outages'] extends Array<infer T> | undefined ? T : never, what = 'outage'): OutageWindow {
  let start: number;
  let end: number;
  if (typeof spec === 'string') {
    const m = /^\s*([^+-]+)\s*([+-])\s*(.+?)\s*$/.exec(spec);
    if (m === null) throw new RangeError(`${what}: expected START-END or START+DURATION (such as 6h-7h30m), got ${JSON.stringify(spec)}`);
    start = parseDuration(m[1]!, `${what} start`);
    const second = parseDuration(m[3]!, `${what} end`);
    end = m[2] === '+' ? start + second : second;
  } else if (spec !== null && typeof spec === 'object') {
    start = parseDuration(spec.start, `${what} start`);
    if (spec.end !== undefined) end = parseDuration(spec.end, `${what} end`);
    else if (spec.duration !== undefined) end = start + parseDuration(spec.duration, `${what} duration`);
    else throw new RangeError(`${what}: expected end or duration`);
  } else {
    throw new RangeError(`${what}: expected a string or { start, end }`);
  }
  if (!(end > start)) throw new RangeError(`${what}: end must come after start`);
  return { start, end };
}

function resolveGroup(input: GroupInput, base: GroupInput, index: number): GroupConfig {
  const g = { ...GROUP_DEFAULTS, ...base, ...input };
  const where = `group ${input.name ?? base.name ?? index}`;
  const profile = linkProfile(String(g.link));
  const sensors = (g.sensors ?? GROUP_DEFAULTS.sensors).map((s) => {
    if (!(SENSOR_KINDS as string[]).includes(s)) throw new RangeError(`${where} sensors: unknown ${JSON.stringify(s)}; known: ${SENSOR_KINDS.join(', ')}`);
    return s as SensorKind;
  });
  const batch = g.batch === 'auto' || g.batch === undefined ? 'auto' : positiveInt(g.batch, `${where} batch`);
  const group: GroupConfig = {
    name: String(g.name ?? (index === 0 ? 'fleet' : `group${index}`)),
    devices: positiveInt(g.devices, `${where} devices`, 0),
    link: profile.name,
    intervalMs: parseDuration(g.interval!, `${where} interval`),
    batch,
    sensors,
    loss: probability(g.loss, `${where} loss`),
    dup: probability(g.dup, `${where} dup`),
    reorder: probability(g.reorder, `${where} reorder`),
    jitterMs: parseDuration(g.jitter!, `${where} jitter`),
    reorderMs: parseDuration(g.reorderWindow!, `${where} reorderWindow`),
    outages: (g.outages ?? []).map((o, i) => parseOutage(o, `${where} outage ${i}`)),
    rebootsPerDay: Number(g.reboots),
    faultRate: probability(g.faults, `${where} faults`),
    kid: g.kid ?? true,
    queueLimit: positiveInt(g.queueLimit, `${where} queueLimit`),
    reserveAhead: positiveInt(g.reserveAhead, `${where} reserveAhead`),
    clock: g.clock ?? profile.radio === null,
    attacks: parseAttacks(g.attacks, `${where} attacks`),
    firmwareVm: 0,
    firmwareTickMs: parseDuration(g.firmwareTick ?? 0, `${where} firmwareTick`),
    record: parseRecordVersion(g.record ?? 1, `${where} record`),
  };
  if (input.firmwareVm !== undefined) {
    group.firmwareVm = positiveInt(input.firmwareVm, `${where} firmwareVm`, 0);
    if (group.firmwareVm > group.devices) throw new RangeError(`${where} firmwareVm: ${group.firmwareVm} firmware VMs but only ${group.devices} devices`);
  } else if (base.firmwareVm !== undefined) {
    group.firmwareVm = Math.min(positiveInt(base.firmwareVm, 'firmwareVm', 0), group.devices);
  }
  if (!(group.intervalMs >= 1000)) throw new RangeError(`${where} interval: expected at least 1s`);
  if (!(group.rebootsPerDay >= 0)) throw new RangeError(`${where} reboots: expected a non-negative rate per day`);
  if (!group.kid && !profile.identifiesSender) throw new RangeError(`${where}: frames without kid need a link that names the sender (${profile.name} does not)`);
  return group;
}

/** Resolves a scenario (from a file, the command line or both merged) into a full configuration. */
export function resolveScenario(input: ScenarioInput): SimulationConfig {
  const { seed, duration, drain, start, gateway: _gateway, groups, ...base } = input;
  const startUnixMs = Date.parse(start ?? DEFAULT_START);
  if (!Number.isFinite(startUnixMs)) throw new RangeError(`start: expected an ISO 8601 time, got ${JSON.stringify(start)}`);
  const list = groups !== undefined && groups.length > 0 ? groups : [{}];
  const names = new Set<string>();
  const resolved = list.map((g, i) => {
    const group = resolveGroup(g, base, i);
    if (names.has(group.name)) throw new RangeError(`groups: two groups are named ${JSON.stringify(group.name)}`);
    names.add(group.name);
    return group;
  });
  if ((groups === undefined || groups.length === 0) && base.firmwareVm !== undefined && resolved[0]!.firmwareVm < base.firmwareVm) {
    throw new RangeError(`firmwareVm: ${base.firmwareVm} firmware VMs but only ${resolved[0]!.devices} devices`);
  }
  return {
    seed: String(seed ?? 'sceau'),
    durationMs: parseDuration(duration ?? '24h', 'duration'),
    drainMs: parseDuration(drain ?? '2h', 'drain'),
    startUnixMs,
    groups: resolved,
  };
}

/**
 * The keys a group of a scenario file may hold (GroupInput), and those only its top level may
 * (ScenarioInput). Typed as every key of the interfaces: a field added to them without being
 * added here fails the build, rather than being refused in scenario files as unknown.
 */
const GROUP_FIELDS: { [K in keyof Required<GroupInput>]: true } = { name: true, devices: true, link: true, interval: true, batch: true, sensors: true, loss: true, dup: true, reorder: true, jitter: true, reorderWindow: true, outages: true, reboots: true, faults: true, kid: true, queueLimit: true, reserveAhead: true, clock: true, attacks: true, firmwareVm: true, firmwareTick: true, record: true };
const TOP_LEVEL_FIELDS: { [K in Exclude<keyof Required<ScenarioInput>, keyof GroupInput>]: true } = { seed: true, duration: true, drain: true, start: true, gateway: true, groups: true };
const GROUP_KEYS = Object.keys(GROUP_FIELDS);
const SCENARIO_KEYS = [...GROUP_KEYS, ...Object.keys(TOP_LEVEL_FIELDS)];

/**
 * A scenario file that cannot be used as one: not YAML or JSON, not a mapping, or a key the
 * simulator does not know (a misspelled `duraton` would otherwise be ignored and the run use the
 * default). `code` is `bad-scenario`; the CLI maps it to exit 2 (usage).
 */
export class ScenarioError extends RangeError {
  readonly code = 'bad-scenario';
  override readonly name = 'ScenarioError';
}

function checkKeys(value: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new ScenarioError(`${where}: unknown key ${JSON.stringify(key)}; known: ${known.join(', ')}`);
  }
}

/** Reads a scenario file, JSON or YAML (by extension, else by content). */
export function loadScenarioFile(path: string): ScenarioInput {
  const text = readFileSync(path, 'utf8');
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    // YAML errors span several lines (the source and a caret): the first says what and where.
    throw new ScenarioError(`scenario ${path}: not ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n', 1)[0]!.replace(/:$/, '')}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new ScenarioError(`scenario ${path}: expected a mapping at the top level`);
  const scenario = data as Record<string, unknown>;
  checkKeys(scenario, SCENARIO_KEYS, `scenario ${path}`);
  if (scenario.groups !== undefined) {
    if (!Array.isArray(scenario.groups)) throw new ScenarioError(`scenario ${path}: groups: expected a list of groups`);
    scenario.groups.forEach((group: unknown, i) => {
      if (group === null || typeof group !== 'object' || Array.isArray(group)) throw new ScenarioError(`scenario ${path}: groups[${i}]: expected a mapping`);
      checkKeys(group as Record<string, unknown>, GROUP_KEYS, `scenario ${path}: groups[${i}]`);
    });
  }
  return scenario as ScenarioInput;
}

const SIZING_KEY = new Uint8Array(32);
const SIZING_KID = new Uint8Array(8);

/** Size in bytes of the largest record a device of `group` may seal with `rounds` sampling rounds. */
export function worstRecordBytes(group: GroupConfig, rounds: number): number {
  const readings: Array<{ channel: number; value: number; age?: number }> = [];
  const sampled = group.sensors.filter((s) => s !== 'battery');
  const maxAge = Math.ceil((rounds * group.intervalMs) / 1000);
  for (let r = 0; r < rounds; r++) {
    for (const s of sampled) {
      const big = s === 'pressure' ? 110_000 : s === 'illuminance' ? 100_000 : 60_000;
      readings.push({ channel: SENSOR_CHANNELS[s], value: big, ...(r < rounds - 1 ? { age: maxAge } : {}) });
    }
  }
  readings.push({ channel: SENSOR_CHANNELS.battery, value: 3300 });
  readings.push({ channel: 32, value: 65_535 }); // the boot reading, first record after a boot
  const record = { counter: 0xfffffff0, time: group.clock ? 0xfffffff0 : null, readings };
  // AES-CCM keeps the plaintext's length: any content key and kid give the size of every v2 record
  return group.record === 2 ? encodeRecordV2(record, SIZING_KEY, SIZING_KID).length : encodeRecord({ version: 1, ...record }).length;
}

/** Datagrams and airtime of one frame of `bytes` on `profile`. */
export function frameCost(profile: LinkProfile, bytes: number): { datagrams: number; airtimeMs: number } {
  if (bytes <= profile.mtu) return { datagrams: 1, airtimeMs: airtimeMs(profile, bytes) };
  const cap = fragmentCapacity(profile);
  const n = Math.ceil(bytes / cap);
  let air = 0;
  for (let i = 0; i < n; i++) air += airtimeMs(profile, profile.mtu - cap + Math.min(cap, bytes - i * cap));
  return { datagrams: n, airtimeMs: air };
}

export interface BatchChoice {
  rounds: number;
  frameBytes: number;
  /** False when even the largest frame the link carries cannot keep up with the sampling rate. */
  sustainable: boolean;
}

/**
 * The fewest sampling rounds per record such that the frame fits the link (16 fragments at most)
 * and the device's sending stays within 90% of its long-run budget (duty cycle over all its
 * sub-bands, or the Sigfox uplinks per day): the batching the firmware does.
 */
export function chooseBatch(group: GroupConfig): BatchChoice {
  const profile = linkProfile(group.link);
  const fits = (k: number): boolean => frameSize(worstRecordBytes(group, k), { kid: group.kid }) <= maxFrameBytes(profile);
  const sustainable = (k: number, bytes: number): boolean => {
    const cost = frameCost(profile, bytes);
    const period = k * group.intervalMs;
    if (profile.dutyCycle !== undefined && cost.airtimeMs / (profile.dutyCycle * subBandCount(profile)) > 0.9 * period) return false;
    if (profile.dailyUplinks !== undefined && (cost.datagrams * 86_400_000) / period > 0.9 * profile.dailyUplinks) return false;
    return true;
  };
  if (group.batch !== 'auto') {
    if (!fits(group.batch)) {
      throw new RangeError(`group ${group.name} batch: ${group.batch} rounds make frames of up to ${frameSize(worstRecordBytes(group, group.batch), { kid: group.kid })} bytes, above the ${maxFrameBytes(profile)} bytes ${profile.name} carries`);
    }
    const bytes = frameSize(worstRecordBytes(group, group.batch), { kid: group.kid });
    return { rounds: group.batch, frameBytes: bytes, sustainable: sustainable(group.batch, bytes) };
  }
  if (!fits(1)) throw new RangeError(`group ${group.name}: even one sampling round does not fit ${profile.name}`);
  let k = 1;
  for (;;) {
    const bytes = frameSize(worstRecordBytes(group, k), { kid: group.kid });
    if (sustainable(k, bytes)) return { rounds: k, frameBytes: bytes, sustainable: true };
    if (k >= 64 || !fits(k + 1)) return { rounds: k, frameBytes: bytes, sustainable: false };
    k++;
  }
}
