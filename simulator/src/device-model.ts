import { type Bytes, type LinkProfile, type Reading, fragment, getPublicKey, kidOf, linkProfile, sha256, toHex } from '@sceau/protocol';
import { type BatchChoice, type GroupConfig, chooseBatch } from './config.js';
import { deviceContentKey, sealVersioned } from './content-keys.js';
import { RadioScheduler } from './link-model.js';
import { Prng } from './prng.js';
import { BOOT_CHANNEL, SensorModel } from './sensors.js';
import type { FrameTrack, GroupReport } from './scoreboard.js';

/**
 * The simulator's model of a sceau device, as the firmware behaves: a key derived from the seed,
 * sensors sampled each interval into a batch, a counter reserved in flash blocks ahead of use (a
 * reboot skips the rest of the block), sealed records queued in RAM for store-and-forward, and
 * each frame sent whole or in fragments. These functions change one device's state and say what
 * happened; the clock, the link and the tally belong to the simulation.
 */

/** One group of the scenario, with what its devices share. */
export interface GroupState {
  config: GroupConfig;
  profile: LinkProfile;
  batch: BatchChoice;
  report: GroupReport;
}

/** The frame a device is sending, datagram by datagram. */
export interface Sending {
  track: FrameTrack;
  datagrams: Bytes[];
  next: number;
}

export interface Device {
  /** Its place in the fleet. */
  index: number;
  group: GroupState;
  /** Its place in its group (keys and PRNG streams are derived from it). */
  member: number;
  name: string;
  secret: Bytes;
  publicKey: Bytes;
  kid: Bytes;
  kidHex: string;
  /** The key its record version 2 readings are encrypted under (null in groups sealing version 1). */
  contentKey: Bytes | null;
  /** The transport's name for the device (`deveui:...`, `udp:...`). */
  source: string;
  /** Sensors, power and phase. */
  rng: Prng;
  /** Loss, latency and duplicates on its link. */
  linkRng: Prng;
  sensors: SensorModel;
  radio: RadioScheduler;
  /** The next counter to seal with. */
  next: number;
  /** The last counter of the block reserved in flash. */
  reservedUpTo: number;
  flashWrites: number;
  boots: number;
  /** A boot not yet reported (the boot channel rides in the next record). */
  pendingBoot: boolean;
  batch: Array<{ channel: number; value: number; at: number }>;
  rounds: number;
  /** Sealed frames waiting to be sent (store-and-forward, in RAM). */
  queue: FrameTrack[];
  current: Sending | null;
  /** The virtual time of its pending wake-up, or -1. */
  wakeAt: number;
  lastSent: Bytes | null;
  lastDelivered: Bytes | null;
  /** True when the device is the real firmware in a DeviceScript VM (firmware-vms.ts), not this model. */
  firmware: boolean;
}

/** The transport's name for a device: what a network server or a socket would tell the gateway. */
export function sourceOf(profile: LinkProfile, index: number): string {
  const hex = index.toString(16).padStart(10, '0');
  if (profile.name.startsWith('lorawan-')) return `deveui:70b3d5${hex}`;
  if (profile.name === 'sigfox') return `sigfox:${index.toString(16).padStart(8, '0')}`;
  const a = 10 + ((index >> 16) & 0xff);
  return `${profile.name === 'tcp' ? 'tcp' : 'udp'}:10.${a}.${(index >> 8) & 0xff}.${index & 0xff}:5683`;
}

/** The key of device `index` of a run: SHA-256 of the seed, group and index (never a real key). */
export function deviceSecret(seed: string, group: string, index: number): Bytes {
  return sha256(new TextEncoder().encode(`sceau-sim/v1/device-key|${seed}|${group}|${index}`));
}

export function makeGroup(config: GroupConfig): GroupState {
  const profile = linkProfile(config.link);
  const batch = chooseBatch(config);
  const report: GroupReport = { name: config.name, devices: config.devices, link: config.link, intervalMs: config.intervalMs, batch, record: config.record, recordsSealed: 0, delivered: 0, lost: 0, reboots: 0, sensorFaults: 0, flashWrites: 0 };
  return { config, profile, batch, report };
}

/** Device `i` of `group` (`index` across the fleet), powered off, with its PRNG streams drawn from the seed. */
export function makeDevice(seed: string, startUnixMs: number, group: GroupState, i: number, index: number): Device {
  const secret = deviceSecret(seed, group.config.name, i);
  const publicKey = getPublicKey(secret);
  const kid = kidOf(publicKey);
  const rng = Prng.from(seed, `device|${group.config.name}|${i}`);
  const linkRng = Prng.from(seed, `link|${group.config.name}|${i}`);
  return {
    index,
    group,
    member: i,
    name: `${group.config.name}-${i}`,
    secret,
    publicKey,
    kid,
    kidHex: toHex(kid),
    contentKey: group.config.record === 2 ? deviceContentKey(seed, group.config.name, i) : null,
    source: sourceOf(group.profile, index),
    rng,
    linkRng,
    sensors: new SensorModel(rng, group.config.sensors, group.config.faultRate, startUnixMs),
    radio: new RadioScheduler(group.profile, linkRng),
    next: 1,
    reservedUpTo: 0,
    flashWrites: 0,
    boots: 0,
    pendingBoot: false,
    batch: [],
    rounds: 0,
    queue: [],
    current: null,
    wakeAt: -1,
    lastSent: null,
    lastDelivered: null,
    firmware: i < group.config.firmwareVm,
  };
}

/** A model device boots: the counter starts above the block reserved before the power went, and the next block is reserved. */
export function reserveAtBoot(d: Device): void {
  d.next = d.reservedUpTo + 1;
  d.reservedUpTo = d.next + d.group.config.reserveAhead - 1;
  d.flashWrites++;
  d.pendingBoot = true;
}

function allocateCounter(d: Device): number {
  if (d.next > d.reservedUpTo) {
    d.reservedUpTo += d.group.config.reserveAhead;
    d.flashWrites++;
  }
  return d.next++;
}

/** One sampling round at `t`; true when the batch is full and due for sealing. */
export function takeSample(d: Device, t: number): boolean {
  d.sensors.sample(t, d.batch);
  d.rounds++;
  return d.rounds >= d.group.batch.rounds;
}

/**
 * Seals the batch (with the battery and a pending boot report) into a record frame at `t`, as
 * the group's record version, and empties it; undefined when there is nothing to seal (every sensor failed, no battery channel).
 */
export function sealBatch(d: Device, t: number, startUnixMs: number): { bytes: Bytes; counter: number } | undefined {
  const readings: Reading[] = [];
  for (const r of d.batch) {
    const age = Math.floor((t - r.at) / 1000);
    readings.push(age > 0 ? { channel: r.channel, value: r.value, age } : { channel: r.channel, value: r.value });
  }
  if (d.group.config.sensors.includes('battery')) readings.push(d.sensors.batteryReading(t, 0));
  if (d.pendingBoot) {
    readings.push({ channel: BOOT_CHANNEL, value: d.boots });
    d.pendingBoot = false;
  }
  d.batch = [];
  d.rounds = 0;
  if (readings.length === 0) return undefined;
  const counter = allocateCounter(d);
  const cfg = d.group.config;
  const time = cfg.clock ? Math.floor((startUnixMs + t) / 1000) : null;
  return { bytes: sealVersioned(cfg.record, { counter, time, readings }, d.secret, d.contentKey, { kid: cfg.kid }), counter };
}

/**
 * Queues a sealed frame for sending. Returns the frame dropped from the front when the
 * store-and-forward queue overflows its limit.
 */
export function enqueue(d: Device, t: FrameTrack): FrameTrack | undefined {
  d.queue.push(t);
  return d.queue.length > d.group.config.queueLimit ? d.queue.shift() : undefined;
}

/** The frame being sent, taking the next one from the queue (cut into the link's datagrams) when idle; null when there is none. */
export function currentSending(d: Device): Sending | null {
  if (d.current === null) {
    const track = d.queue.shift();
    if (track === undefined) return null;
    const profile = d.group.profile;
    const datagrams = track.bytes.length <= profile.mtu ? [track.bytes] : fragment(track.bytes, profile, { tag: track.counter % 8, hint: d.kid.subarray(0, 2) });
    d.current = { track, datagrams, next: 0 };
    d.lastSent = track.bytes;
  }
  return d.current;
}

/** The power goes: RAM is lost (the unsealed batch, the queue and the frame being sent); returns the frames that were in it. */
export function loseRam(d: Device): { aborted: FrameTrack | null; queued: FrameTrack[] } {
  d.batch = [];
  d.rounds = 0;
  const aborted = d.current === null ? null : d.current.track;
  d.current = null;
  const queued = d.queue;
  d.queue = [];
  return { aborted, queued };
}
