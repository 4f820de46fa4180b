import { closeSync, openSync, writeSync } from 'node:fs';
import {
  type Bytes,
  type LinkProfile,
  type Reading,
  Reassembler,
  airtimeMs,
  decodeRecord,
  equalBytes,
  fromHex,
  fragment,
  getPublicKey,
  kidOf,
  linkProfile,
  sealRecord,
  sha256,
  toHex,
  verifySign1,
} from '@sceau/protocol';
import { ATTACK_KINDS, type AttackKind, type BatchChoice, type GroupConfig, type SimulationConfig, chooseBatch } from './config.js';
import { EventQueue } from './event-queue.js';
import type { DeviceRegistration, FrameSink, SinkOutcome } from './frame-sink.js';
import { LinkAuditor, RadioScheduler, type Violation, deliveries } from './link-model.js';
import { Prng } from './prng.js';
import { BOOT_CHANNEL, SensorModel } from './sensors.js';
import { Attacker } from './attacks.js';
import { type FirmwareReport, type FirmwareVmDevice, type FirmwareVmModule, loadFirmwareVm } from './firmware-vm.js';

const DAY_MS = 86_400_000;
const BOOT_MS = 3000;

/** Why genuine frames did not reach the gateway whole, in records. */
export interface LostBreakdown {
  total: number;
  /** A datagram (the frame or one of its fragments) lost on the link. */
  radio: number;
  /** All fragments arrived but did not rebuild the frame (expired, or mixed with another message of the same tag). */
  fragments: number;
  /** Dropped from a full store-and-forward queue (long outage, or more data than the link budget carries). */
  queueOverflow: number;
  /** Held in RAM when the device lost power. */
  powerCut: number;
  /** Still queued when the drain time after the run ended. */
  unsent: number;
}

/** The run's summary: exactly the keys of issue 5. */
export interface Summary {
  devices: number;
  /**
   * Of `devices`, how many ran the real firmware bytecode in DeviceScript VMs (--firmware-vm);
   * present only in runs that have some, so a model-only summary keeps exactly issue 5's keys.
   */
  firmwareDevices?: number;
  recordsSealed: number;
  datagrams: number;
  bytesOnAir: number;
  airtimeMs: number;
  dutyCycleViolations: number;
  delivered: number;
  /** Genuine frames accepted; null when the gateway's answers are not observable (UDP). */
  verified: number | null;
  rejected: Record<string, number>;
  lost: LostBreakdown;
  duplicatesSuppressed: number;
  attacksInjected: number;
  attacksDetected: number;
  falseAccepts: number;
  wallMs: number;
  simulatedMs: number;
}

export interface GroupReport {
  name: string;
  devices: number;
  link: string;
  intervalMs: number;
  batch: BatchChoice;
  recordsSealed: number;
  delivered: number;
  lost: number;
  reboots: number;
  sensorFaults: number;
  flashWrites: number;
}

export interface RunResult {
  summary: Summary;
  /** Delivered genuine frames the gateway rejected (must be 0), by code. */
  genuineRejected: Record<string, number>;
  /** Injected attacks by kind, and how many of each were detected. */
  attacks: Record<AttackKind, { injected: number; detected: number; skipped: number }>;
  violations: Violation[];
  groups: GroupReport[];
  /** Each reason the run fails (empty when it passes). */
  failures: string[];
  gateway: string;
  seed: string;
  /** Real-firmware devices: what the VMs did and what they cost (null without --firmware-vm). */
  firmware: FirmwareReport | null;
}

export interface RunOptions {
  sink: FrameSink;
  /** NDJSON file receiving every datagram as sent. */
  capture?: string;
  /** Called now and then with the virtual time reached. */
  onProgress?: (simulatedMs: number, totalMs: number) => void;
  /** Wall-clock source (tests pin it). */
  now?: () => number;
}

interface FrameTrack {
  bytes: Bytes;
  counter: number;
  device: Device;
  /** Copies of its datagrams still travelling to the gateway. */
  outstanding: number;
  dropped: number;
  sendDone: boolean;
  aborted: boolean;
  delivered: boolean;
  resolved: boolean;
}

interface AttackTrack {
  kind: AttackKind;
  resolved: boolean;
}

interface Sending {
  track: FrameTrack;
  datagrams: Bytes[];
  next: number;
}

interface Device {
  index: number;
  group: GroupState;
  name: string;
  secret: Bytes;
  publicKey: Bytes;
  kid: Bytes;
  kidHex: string;
  source: string;
  rng: Prng;
  linkRng: Prng;
  sensors: SensorModel;
  radio: RadioScheduler;
  next: number;
  reservedUpTo: number;
  flashWrites: number;
  boots: number;
  pendingBoot: boolean;
  batch: Array<{ channel: number; value: number; at: number }>;
  rounds: number;
  queue: FrameTrack[];
  current: Sending | null;
  wakeAt: number;
  lastSent: Bytes | null;
  lastDelivered: Bytes | null;
  /** Set when the device is the real firmware in a DeviceScript VM. */
  vm: VmState | null;
}

/** A real-firmware device: its VM (null while powered off), its flash, and the sensor round it is reading. */
interface VmState {
  dev: FirmwareVmDevice | null;
  /** Bumped at every power cut: steps scheduled for an earlier boot are ignored. */
  generation: number;
  flash: { data?: Uint8Array };
  random: Prng;
  deviceId: string;
  sensorId: string;
  /** The sampling round the firmware is reading (temperature then humidity), from the sensor model. */
  round: Array<{ channel: number; value: number; at: number }> | null;
  humidityTaken: boolean;
  keyChecked: boolean;
  provisioned: boolean;
}

interface GroupState {
  config: GroupConfig;
  profile: LinkProfile;
  batch: BatchChoice;
  report: GroupReport;
}

type Role = 'attack' | 'first' | 'copy' | 'garbled' | 'none';

interface Arrival {
  datagram: Bytes;
  source: string;
  link: string;
  track: FrameTrack | null;
  attack: AttackTrack | null;
}

const SAMPLE = 0;
const WAKE = 1;
const ARRIVE = 2;
const REBOOT = 3;
const ATTACK = 4;
const ATTACK_TX = 5;
const VM_BOOT = 6;
const VM_STEP = 7;

/** The transport's name for a device: what a network server or a socket would tell the gateway. */
function sourceOf(profile: LinkProfile, index: number): string {
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

/** Buffered NDJSON writer for the capture file. */
class CaptureWriter {
  private readonly fd: number;
  private buf = '';
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  write(t: number, kid: string, datagram: Bytes, attack: AttackKind | null): void {
    this.buf += `{"t":${t},"kid":"${kid}","datagram":"${toHex(datagram)}","attack":${attack === null ? 'null' : `"${attack}"`}}\n`;
    if (this.buf.length > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buf.length > 0) writeSync(this.fd, this.buf);
    this.buf = '';
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/**
 * One simulated fleet on virtual time. Everything random comes from PRNG streams derived from
 * the seed (one per device for its sensors and power, one per device for its link, one for the
 * attacker), and simultaneous events run in the order they were scheduled: the same seed and
 * configuration give the same datagrams at the same virtual times, byte for byte.
 */
export class Simulation {
  readonly devices: Device[] = [];
  private readonly groups: GroupState[] = [];
  private readonly queue = new EventQueue();
  private readonly auditor = new LinkAuditor();
  private readonly attacker: Attacker;
  private readonly attackRng: Prng;
  private capture: CaptureWriter | undefined;
  private readonly shadow = new Map<boolean, Reassembler>();
  private s: Summary;
  private readonly genuineRejected: Record<string, number> = {};
  private readonly attackStats = Object.fromEntries(ATTACK_KINDS.map((k) => [k, { injected: 0, detected: 0, skipped: 0 }])) as RunResult['attacks'];
  private sink!: FrameSink;
  private firmwareVm: FirmwareVmModule | undefined;
  private readonly vmImages = new Map<GroupState, Uint8Array>();
  private readonly fw: FirmwareReport = { devices: 0, frames: 0, boots: 0, steps: 0, sensorReads: 0, buildMs: 0, vmMs: 0 };

  constructor(readonly config: SimulationConfig) {
    this.attackRng = Prng.from(config.seed, 'attacker');
    this.attacker = new Attacker(Prng.from(config.seed, 'attacker-keys'));
    this.s = {
      devices: 0,
      recordsSealed: 0,
      datagrams: 0,
      bytesOnAir: 0,
      airtimeMs: 0,
      dutyCycleViolations: 0,
      delivered: 0,
      verified: 0,
      rejected: {},
      lost: { total: 0, radio: 0, fragments: 0, queueOverflow: 0, powerCut: 0, unsent: 0 },
      duplicatesSuppressed: 0,
      attacksInjected: 0,
      attacksDetected: 0,
      falseAccepts: 0,
      wallMs: 0,
      simulatedMs: 0,
    };
    let index = 0;
    for (const config of this.config.groups) {
      const profile = linkProfile(config.link);
      const batch = chooseBatch(config);
      const report: GroupReport = { name: config.name, devices: config.devices, link: config.link, intervalMs: config.intervalMs, batch, recordsSealed: 0, delivered: 0, lost: 0, reboots: 0, sensorFaults: 0, flashWrites: 0 };
      const group: GroupState = { config, profile, batch, report };
      this.groups.push(group);
      for (let i = 0; i < config.devices; i++, index++) this.devices.push(this.makeDevice(group, i, index));
    }
    this.s.devices = this.devices.length;
    this.fw.devices = this.devices.filter((d) => d.vm !== null).length;
    if (this.fw.devices > 0) {
      // right after `devices` in the summary's key order
      const { devices, ...rest } = this.s;
      this.s = { devices, firmwareDevices: this.fw.devices, ...rest };
    }
  }

  private makeDevice(group: GroupState, i: number, index: number): Device {
    const seed = this.config.seed;
    const secret = deviceSecret(seed, group.config.name, i);
    const publicKey = getPublicKey(secret);
    const kid = kidOf(publicKey);
    const rng = Prng.from(seed, `device|${group.config.name}|${i}`);
    const linkRng = Prng.from(seed, `link|${group.config.name}|${i}`);
    const vm: VmState | null =
      i < group.config.firmwareVm
        ? {
            dev: null,
            generation: 0,
            flash: {},
            random: Prng.from(seed, `firmware-vm|${group.config.name}|${i}`),
            deviceId: `5ce0${index.toString(16).padStart(12, '0')}`,
            sensorId: `5ce1${index.toString(16).padStart(12, '0')}`,
            round: null,
            humidityTaken: false,
            keyChecked: false,
            provisioned: false,
          }
        : null;
    return {
      index,
      group,
      name: `${group.config.name}-${i}`,
      secret,
      publicKey,
      kid,
      kidHex: toHex(kid),
      source: sourceOf(group.profile, index),
      rng,
      linkRng,
      sensors: new SensorModel(rng, group.config.sensors, group.config.faultRate, this.config.startUnixMs),
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
      vm,
    };
  }

  /** The fleet's keys and transport names, as a gateway registers them. */
  registrations(): DeviceRegistration[] {
    return this.devices.map((d) => ({
      name: d.name,
      publicKey: d.publicKey,
      kid: d.kidHex,
      deviceIds: d.group.profile.identifiesSender ? [d.source] : [],
    }));
  }

  async run(options: RunOptions): Promise<RunResult> {
    const now = options.now ?? (() => performance.now());
    const wallStart = now();
    this.sink = options.sink;
    this.shadow.set(false, new Reassembler({ senderHint: false, maxPending: 1_000_000 }));
    this.shadow.set(true, new Reassembler({ senderHint: true, maxPending: 1_000_000 }));
    await this.sink.register(this.registrations());
    if (this.fw.devices > 0) await this.prepareFirmware();
    this.capture = options.capture === undefined ? undefined : new CaptureWriter(options.capture);
    try {
      for (const d of this.devices) this.boot(d, 0);
      const q = this.queue;
      const duration = this.config.durationMs;
      const sendUntil = duration + this.config.drainMs;
      let n = 0;
      let last = 0;
      let inflight: Array<Promise<void>> = [];
      const maxInFlight = this.sink.maxInFlight ?? 1;
      for (let ev = q.pop(); ev !== undefined; ev = q.pop()) {
        const t = ev.t;
        const d = this.devices[ev.device];
        switch (ev.kind) {
          case SAMPLE:
            if (t < duration) {
              this.sample(d!, t);
              last = t;
            }
            break;
          case WAKE:
            if (d!.wakeAt === t) {
              d!.wakeAt = -1;
              if (t <= sendUntil) {
                this.transmit(d!, t);
                last = t;
              }
            }
            break;
          case ARRIVE: {
            const a = ev.data as Arrival;
            const meta = { source: a.source, link: a.link, t, unixMs: this.config.startUnixMs + t };
            let out = this.sink.deliver(a.datagram, meta);
            if (out instanceof Promise) {
              const role = this.identify(a, undefined, t);
              inflight.push(out.then((o) => this.judge(a, role, o)));
              if (inflight.length >= maxInFlight) {
                await Promise.all(inflight);
                inflight = [];
              }
            } else {
              const o: SinkOutcome = out;
              const role = this.identify(a, o.kind === 'accepted' || o.kind === 'rejected' ? (o.frame ?? null) : undefined, t);
              this.judge(a, role, o);
            }
            last = t;
            break;
          }
          case REBOOT:
            if (t < duration) this.powerCut(d!, t);
            break;
          case ATTACK:
            this.attack(ev.data as { kind: AttackKind; victim: Device }, t);
            break;
          case ATTACK_TX: {
            const x = ev.data as { arrival: Arrival; kid: string; kind: AttackKind; air: number };
            this.onAir(t, x.kid, x.arrival.datagram, x.air, x.kind);
            // The attacker sits next to the gateway: no loss, no duty cycle of the victim's.
            this.queue.schedule(Math.ceil(t + x.air) + 50, ARRIVE, ev.device, x.arrival);
            break;
          }
          case VM_BOOT:
            if (t < duration && (ev.data as number) === d!.vm!.generation) await this.vmBoot(d!, t);
            break;
          case VM_STEP:
            if ((ev.data as number) === d!.vm!.generation) {
              if (t < duration) {
                this.vmStep(d!, t);
                last = t;
              } else this.vmOff(d!);
            }
            break;
        }
        if ((++n & 0xffff) === 0) options.onProgress?.(t, sendUntil);
      }
      await Promise.all(inflight);
      for (const d of this.devices) if (d.vm !== null) this.vmOff(d);
      this.s.simulatedMs = Math.max(last, duration);
      for (const d of this.devices) {
        if (d.current !== null) this.lose(d.current.track, 'unsent');
        for (const f of d.queue) this.lose(f, 'unsent');
        d.current = null;
        d.queue = [];
      }
    } finally {
      this.capture?.close();
    }
    await this.sink.close();
    this.s.dutyCycleViolations = this.auditor.count;
    if (!this.sink.observable) this.s.verified = null;
    for (const g of this.groups) {
      g.report.lost = g.report.recordsSealed - g.report.delivered;
    }
    for (const d of this.devices) {
      d.group.report.sensorFaults += d.sensors.faults;
      d.group.report.flashWrites += d.flashWrites;
      d.group.report.reboots += d.boots - 1;
    }
    this.s.wallMs = Math.round(now() - wallStart);
    return this.result();
  }

  private result(): RunResult {
    const s = this.s;
    const failures: string[] = [];
    if (s.dutyCycleViolations > 0) failures.push(`${s.dutyCycleViolations} uplinks broke the link's duty cycle, dwell time or daily budget`);
    if (s.falseAccepts > 0) failures.push(`${s.falseAccepts} attack or duplicate frames were accepted`);
    const genuine = Object.values(this.genuineRejected).reduce((a, b) => a + b, 0);
    if (genuine > 0) failures.push(`${genuine} delivered genuine frames were rejected: ${JSON.stringify(this.genuineRejected)}`);
    const undetected = s.attacksInjected - s.attacksDetected - s.falseAccepts;
    if (this.sink.observable && undetected > 0) failures.push(`${undetected} injected attacks got no verdict from the gateway`);
    // Records still queued at the end were never sent, so never tested: a run with any does not pass.
    if (s.lost.unsent > 0) failures.push(`${s.lost.unsent} records were never sent (still queued when the drain time ended): lengthen --drain, or send less (a longer --interval, fewer sensors, a faster link)`);
    if (s.delivered + s.lost.total !== s.recordsSealed) failures.push(`internal: ${s.recordsSealed} records sealed but ${s.delivered} delivered + ${s.lost.total} lost`);
    return {
      summary: { ...s, airtimeMs: Math.round(s.airtimeMs * 1000) / 1000, rejected: { ...s.rejected }, lost: { ...s.lost } },
      genuineRejected: { ...this.genuineRejected },
      attacks: this.attackStats,
      violations: this.auditor.violations,
      groups: this.groups.map((g) => g.report),
      failures,
      gateway: this.sink.name,
      seed: this.config.seed,
      firmware: this.fw.devices > 0 ? { ...this.fw, vmMs: Math.round(this.fw.vmMs) } : null,
    };
  }

  // --- devices -----------------------------------------------------------------------------------

  private boot(d: Device, t: number): void {
    // The counter block reserved before the power went: start above it, reserve the next block.
    d.boots++;
    const cfg = d.group.config;
    if (d.vm !== null) {
      // The real firmware keeps its own counter in its flash; it powers on at a random phase
      // of its interval like the model devices.
      const at = t === 0 ? Math.floor(d.rng.float() * cfg.intervalMs) : t;
      this.queue.schedule(at, VM_BOOT, d.index, d.vm.generation);
      if (cfg.rebootsPerDay > 0) this.queue.schedule(t + Math.ceil(d.rng.exponential(DAY_MS / cfg.rebootsPerDay)), REBOOT, d.index);
      return;
    }
    d.next = d.reservedUpTo + 1;
    d.reservedUpTo = d.next + d.group.config.reserveAhead - 1;
    d.flashWrites++;
    d.pendingBoot = true;
    if (t === 0) {
      // Devices start at a random phase of their interval, as a fleet switched on over time does.
      this.queue.schedule(Math.floor(d.rng.float() * cfg.intervalMs), SAMPLE, d.index);
    }
    if (cfg.rebootsPerDay > 0) this.queue.schedule(t + Math.ceil(d.rng.exponential(DAY_MS / cfg.rebootsPerDay)), REBOOT, d.index);
  }

  private powerCut(d: Device, t: number): void {
    // RAM is gone: the unsealed batch, the store-and-forward queue and the frame being sent.
    d.batch = [];
    d.rounds = 0;
    if (d.current !== null) {
      d.current.track.aborted = true;
      d.current.track.sendDone = true;
      this.settle(d.current.track);
      d.current = null;
    }
    for (const f of d.queue) this.lose(f, 'powerCut');
    d.queue = [];
    if (d.vm !== null) this.vmOff(d);
    this.boot(d, t + BOOT_MS);
  }

  private sample(d: Device, t: number): void {
    this.queue.schedule(t + d.group.config.intervalMs, SAMPLE, d.index);
    d.sensors.sample(t, d.batch);
    d.rounds++;
    if (d.rounds >= d.group.batch.rounds) this.seal(d, t);
  }

  private allocateCounter(d: Device): number {
    if (d.next > d.reservedUpTo) {
      d.reservedUpTo += d.group.config.reserveAhead;
      d.flashWrites++;
    }
    return d.next++;
  }

  private seal(d: Device, t: number): void {
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
    if (readings.length === 0) return; // every sensor failed and there is no battery channel
    const counter = this.allocateCounter(d);
    const cfg = d.group.config;
    const time = cfg.clock ? Math.floor((this.config.startUnixMs + t) / 1000) : null;
    const bytes = sealRecord({ version: 1, counter, time, readings }, d.secret, { kid: cfg.kid });
    this.sealed(d, t, bytes, counter);
  }

  /** A genuine frame sealed at `t` (by the model or by a firmware VM): queue it, maybe attack it, send. */
  private sealed(d: Device, t: number, bytes: Bytes, counter: number): void {
    const cfg = d.group.config;
    const track: FrameTrack = { bytes, counter, device: d, outstanding: 0, dropped: 0, sendDone: false, aborted: false, delivered: false, resolved: false };
    this.s.recordsSealed++;
    d.group.report.recordsSealed++;
    d.queue.push(track);
    if (d.queue.length > cfg.queueLimit) this.lose(d.queue.shift()!, 'queueOverflow');
    const rates = cfg.attacks;
    for (const kind of ATTACK_KINDS) {
      if (rates[kind] > 0 && this.attackRng.chance(rates[kind])) {
        this.queue.schedule(t + 1000 + Math.floor(this.attackRng.float() * 600_000), ATTACK, d.index, { kind, victim: d });
      }
    }
    if (d.current === null) this.wake(d, t);
  }

  private wake(d: Device, t: number): void {
    if (d.wakeAt !== -1 && d.wakeAt <= t) return;
    d.wakeAt = t;
    this.queue.schedule(t, WAKE, d.index);
  }

  private outageEnd(cfg: GroupConfig, t: number): number {
    for (const o of cfg.outages) if (t >= o.start && t < o.end) return o.end;
    return -1;
  }

  private transmit(d: Device, t: number): void {
    const down = this.outageEnd(d.group.config, t);
    if (down >= 0) {
      if (d.current !== null || d.queue.length > 0) this.wake(d, down);
      return;
    }
    if (d.current === null) {
      const track = d.queue.shift();
      if (track === undefined) return;
      const profile = d.group.profile;
      const datagrams = track.bytes.length <= profile.mtu ? [track.bytes] : fragment(track.bytes, profile, { tag: track.counter % 8, hint: d.kid.subarray(0, 2) });
      d.current = { track, datagrams, next: 0 };
      d.lastSent = track.bytes;
    }
    const cur = d.current;
    const datagram = cur.datagrams[cur.next]!;
    const profile = d.group.profile;
    const earliest = d.radio.earliest(t);
    if (earliest > t) {
      this.wake(d, earliest);
      return;
    }
    const air = airtimeMs(profile, datagram.length);
    const { subBand } = d.radio.transmit(t, air);
    this.auditor.record(d.index, profile, subBand, t, air);
    this.onAir(t, d.kidHex, datagram, air, null);
    d.sensors.drainForAirtime(air);
    const track = cur.track;
    const cfg = d.group.config;
    const arrivals = deliveries(cfg, d.linkRng, t, air);
    if (arrivals.length === 0) track.dropped++;
    for (const at of arrivals) {
      track.outstanding++;
      const a: Arrival = { datagram, source: d.source, link: profile.name, track, attack: null };
      this.queue.schedule(at, ARRIVE, d.index, a);
    }
    cur.next++;
    if (cur.next >= cur.datagrams.length) {
      track.sendDone = true;
      d.current = null;
      this.settle(track);
    }
    if (d.current !== null || d.queue.length > 0) this.wake(d, Math.ceil(t + air));
  }

  private onAir(t: number, kidHex: string, datagram: Bytes, air: number, attack: AttackKind | null): void {
    this.s.datagrams++;
    this.s.bytesOnAir += datagram.length;
    this.s.airtimeMs += air;
    this.capture?.write(t, kidHex, datagram, attack);
  }

  // --- real-firmware devices ------------------------------------------------------------------

  /** Loads the VM host and builds (or takes from the cache) one firmware image per group with VMs. */
  private async prepareFirmware(): Promise<void> {
    this.firmwareVm = await loadFirmwareVm();
    for (const g of this.groups) {
      if (g.config.firmwareVm === 0) continue;
      const built = this.firmwareVm.buildSimFirmware({ intervalMs: g.config.intervalMs, batch: g.batch.rounds, withKid: g.config.kid });
      this.fw.buildMs += built.buildMs;
      this.vmImages.set(g, built.binary);
    }
  }

  /** Powers the firmware on at `t`: a new VM on the device's flash (seed provisioned at the first boot). */
  private async vmBoot(d: Device, t: number): Promise<void> {
    const vm = d.vm!;
    const w0 = performance.now();
    const generation = vm.generation;
    vm.dev = await this.firmwareVm!.SimFirmwareDevice.start(this.vmImages.get(d.group)!, {
      deviceId: vm.deviceId,
      sensorId: vm.sensorId,
      // provisioning writes the device's seed into its settings once, as a provisioning tool would
      seed: vm.provisioned ? null : d.secret,
      random: (n) => vm.random.bytes(n),
      read: (kind, tMs) => this.vmRead(d, kind, tMs),
      flash: vm.flash,
      t0: t,
    });
    vm.provisioned = true;
    vm.keyChecked = false;
    vm.round = null;
    this.fw.boots++;
    this.fw.vmMs += performance.now() - w0;
    this.queue.schedule(t, VM_STEP, d.index, generation);
  }

  private vmStep(d: Device, t: number): void {
    const vm = d.vm!;
    const dev = vm.dev!;
    const w0 = performance.now();
    const next = Math.max(dev.step(t), t + d.group.config.firmwareTickMs);
    this.fw.steps++;
    if (!vm.keyChecked && dev.keyLine !== null) {
      const m = /^sceau-key v1 kid=([0-9a-f]{16}) pub=([0-9a-f]{64})( new)?$/.exec(dev.keyLine);
      if (m === null || m[2] !== toHex(d.publicKey) || m[1] !== d.kidHex || m[3] !== undefined) {
        throw new Error(`firmware VM ${d.name}: key line ${JSON.stringify(dev.keyLine)} is not the provisioned key (kid ${d.kidHex})`);
      }
      vm.keyChecked = true;
    }
    for (const f of dev.takeFrames()) {
      if (f.kind !== 'frame') throw new Error(`firmware VM ${d.name}: printed a fragment; its image sends whole frames`);
      const bytes = fromHex(f.hex);
      // A sanity check of the VM's output against the registered key (the gateway checks again).
      const v = verifySign1(bytes, d.publicKey);
      const rec = v.ok ? decodeRecord(v.payload) : undefined;
      if (!v.ok || rec === undefined || !rec.ok) throw new Error(`firmware VM ${d.name}: sealed a frame that does not verify under its key: ${f.hex}`);
      d.next = rec.record.counter + 1;
      this.fw.frames++;
      this.sealed(d, f.t, bytes, rec.record.counter);
    }
    this.fw.vmMs += performance.now() - w0;
    this.queue.schedule(next, VM_STEP, d.index, vm.generation);
  }

  /** The firmware reads a sensor: one sampling round of the device's sensor model per temperature read. */
  private vmRead(d: Device, kind: 'temperature' | 'humidity', t: number): number | null {
    const vm = d.vm!;
    this.fw.sensorReads++;
    if (kind === 'temperature' || vm.round === null || vm.humidityTaken) {
      vm.round = [];
      vm.humidityTaken = false;
      d.sensors.sample(t, vm.round);
    }
    if (kind === 'humidity') vm.humidityTaken = true;
    const channel = kind === 'temperature' ? 1 : 2;
    return vm.round.find((r) => r.channel === channel)?.value ?? null;
  }

  /** Powers the VM off (power cut, or sampling is over); its flash is kept. */
  private vmOff(d: Device): void {
    const vm = d.vm!;
    if (vm.dev !== null) {
      vm.dev.stop();
      vm.dev = null;
    }
    vm.generation++;
  }

  // --- gateway side ------------------------------------------------------------------------------

  /** Marks a genuine frame lost for `reason` unless it was delivered. */
  private lose(track: FrameTrack, reason: Exclude<keyof LostBreakdown, 'total'>): void {
    if (track.resolved || track.delivered) return;
    track.resolved = true;
    this.s.lost[reason]++;
    this.s.lost.total++;
  }

  /** A frame fully sent whose copies have all arrived (or were lost) and that never came whole: lost. */
  private settle(track: FrameTrack): void {
    if (!track.sendDone || track.outstanding > 0 || track.delivered || track.resolved) return;
    this.lose(track, track.aborted ? 'powerCut' : track.dropped > 0 ? 'radio' : 'fragments');
  }

  /**
   * What a datagram did at the gateway, decided when it arrives (so it never depends on when an
   * asynchronous gateway answers): completed a genuine frame for the first time, completed a
   * copy of one already delivered, completed a frame nobody sent (fragments of two messages
   * mixed), or completed nothing. `frame` is the gateway's own reassembled frame when it reports
   * it (null: it completed none); otherwise the simulator's shadow reassembler decides.
   */
  private identify(a: Arrival, frame: Bytes | null | undefined, t: number): Role {
    if (frame === undefined) {
      const pushed = this.shadow.get(!linkProfile(a.link).identifiesSender)!.push(a.datagram, t, a.source);
      frame = pushed.kind === 'frame' ? pushed.frame : null;
    }
    if (a.attack !== null) return 'attack';
    const track = a.track!;
    track.outstanding--;
    let role: Role = 'none';
    if (frame !== null) {
      const mine = frame === track.bytes || equalBytes(frame, track.bytes);
      if (!mine) role = 'garbled';
      else if (track.delivered) role = 'copy';
      else {
        role = 'first';
        track.delivered = true;
        this.s.delivered++;
        track.device.group.report.delivered++;
        track.device.lastDelivered = track.bytes;
      }
    }
    this.settle(track);
    return role;
  }

  /** Counts the gateway's verdict on a datagram whose role `identify` decided. */
  private judge(a: Arrival, role: Role, out: SinkOutcome): void {
    const observable = this.sink.observable;
    const reject = (code: string, genuine: boolean): void => {
      this.s.rejected[code] = (this.s.rejected[code] ?? 0) + 1;
      if (genuine) this.genuineRejected[code] = (this.genuineRejected[code] ?? 0) + 1;
    };
    if (out.kind === 'duplicate') {
      // A replay's fragments, met by a gateway that still remembers the message they completed
      // (a gateway on real time, over HTTP): dropped as copies, so not accepted twice: detected.
      if (role === 'attack' && a.attack!.kind === 'replay' && !a.attack!.resolved) {
        a.attack!.resolved = true;
        this.s.attacksDetected++;
        this.attackStats.replay.detected++;
        reject('duplicate', false);
        return;
      }
      this.s.duplicatesSuppressed++;
      return;
    }
    // Sent over a link that gives no answer (UDP): the simulator cannot know whether the gateway
    // stored it, so it is neither verified nor lost (the shadow reassembler's verdict stands).
    if (out.kind === 'unknown') return;
    if (out.kind !== 'accepted' && out.kind !== 'rejected') {
      if (role === 'first' && a.track !== null) {
        // The shadow reassembler rebuilt the frame, the gateway did not (its reassembly expired
        // or dropped the message): not delivered after all.
        const track = a.track;
        track.delivered = false;
        this.s.delivered--;
        track.device.group.report.delivered--;
        this.lose(track, 'fragments');
      }
      return;
    }
    if (role === 'attack') {
      const attack = a.attack!;
      if (attack.resolved) return;
      attack.resolved = true;
      // A replay of the exact bytes is answered as a duplicate delivery of the accepted frame: not
      // accepted twice, so detected all the same (counted as `duplicate` among the refusals).
      const duplicate = out.kind === 'accepted' && out.delivery === 'duplicate';
      if (out.kind === 'rejected' || duplicate) {
        this.s.attacksDetected++;
        this.attackStats[attack.kind].detected++;
        reject(out.kind === 'rejected' ? out.code : 'duplicate', false);
      } else if (observable) {
        this.s.falseAccepts++;
      }
      return;
    }
    switch (role) {
      case 'first':
        if (out.kind === 'accepted') {
          if (observable) this.s.verified!++;
        } else reject(out.code, true);
        break;
      case 'copy':
        if ((out.kind === 'rejected' && out.code === 'replay') || (out.kind === 'accepted' && out.delivery === 'duplicate')) this.s.duplicatesSuppressed++;
        else if (out.kind === 'accepted') this.s.falseAccepts++; // a link duplicate accepted twice: the replay window failed
        else reject(out.code, true);
        break;
      case 'garbled':
        // Fragments of two messages with the same tag rebuilt a frame nobody sent: the signature
        // catches it, and both messages count as lost in reassembly.
        if (out.kind === 'rejected') reject(out.code, false);
        else this.s.falseAccepts++;
        break;
      case 'none':
        // The gateway completed a frame where the shadow reassembler did not: its reassembly
        // differs from the protocol's; count the verdict, and any rejection as a failure.
        if (out.kind === 'rejected') reject(out.code, true);
        break;
    }
  }

  // --- attacker ----------------------------------------------------------------------------------

  private attack(e: { kind: AttackKind; victim: Device }, t: number): void {
    const v = e.victim;
    const other = this.devices[(v.index + 1) % this.devices.length]!;
    const cfg = v.group.config;
    const time = cfg.clock ? Math.floor((this.config.startUnixMs + t) / 1000) : null;
    const built = this.attacker.build(e.kind, { kid: v.kid, lastSent: v.lastSent, lastDelivered: v.lastDelivered, nextCounter: v.next, withKid: cfg.kid }, other.secret, time);
    if (built === undefined) {
      this.attackStats[e.kind].skipped++;
      return;
    }
    this.s.attacksInjected++;
    this.attackStats[e.kind].injected++;
    const track: AttackTrack = { kind: e.kind, resolved: false };
    const profile = v.group.profile;
    const source = this.attacker.nextSource();
    const kidBytes = built.frame.subarray(9, 17);
    let at = t;
    for (const datagram of this.attacker.datagrams(built.frame, profile.name, kidBytes)) {
      const air = airtimeMs(profile, datagram.length);
      const arrival: Arrival = { datagram, source, link: profile.name, track: null, attack: track };
      this.queue.schedule(at, ATTACK_TX, v.index, { arrival, kid: built.kid, kind: e.kind, air });
      at = Math.ceil(at + air) + 1;
    }
  }
}

/** Runs a configuration against a sink: the library form of `sceau-sim run`. */
export async function runSimulation(config: SimulationConfig, options: RunOptions): Promise<RunResult> {
  return new Simulation(config).run(options);
}
