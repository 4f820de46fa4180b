import { type Bytes, airtimeMs } from '@sceau/protocol';
import type { WrappedContentKey } from '@sceau/host-tools';
import type { AttackKind, GroupConfig, RecordVersion, SimulationConfig } from './config.js';
import { EventQueue } from './event-queue.js';
import type { DeviceRegistration, FrameSink } from './frame-sink.js';
import { LinkAuditor, type Violation, deliveries } from './link-model.js';
import { Prng } from './prng.js';
import { Attacker, drawAttacks } from './attacks.js';
import { CaptureWriter } from './capture.js';
import { type Device, type GroupState, currentSending, enqueue, loseRam, makeDevice, makeGroup, reserveAtBoot, sealBatch, takeSample } from './device-model.js';
import type { FirmwareReport } from './firmware-vm.js';
import { FirmwareVms } from './firmware-vms.js';
import { type Arrival, type AttackStats, type ByRecordVersion, type GroupReport, type Role, type Summary, Scoreboard, newFrameTrack } from './scoreboard.js';

const DAY_MS = 86_400_000;
const BOOT_MS = 3000;

export interface RunResult {
  summary: Summary;
  /** Delivered genuine frames the gateway rejected (must be 0), by code. */
  genuineRejected: Record<string, number>;
  /** Injected attacks by kind, and how many of each were detected. */
  attacks: AttackStats;
  violations: Violation[];
  groups: GroupReport[];
  /** Each reason the run fails (empty when it passes). */
  failures: string[];
  gateway: string;
  seed: string;
  /** Real-firmware devices: what the VMs did and what they cost (null without --firmware-vm). */
  firmware: FirmwareReport | null;
  /** Genuine records' bytes and airtime by record version (in the summary too when a group seals version 2). */
  byRecordVersion: ByRecordVersion;
}

export interface RunOptions {
  sink: FrameSink;
  /** NDJSON file receiving every datagram as sent. */
  capture?: string;
  /** Called now and then with the virtual time reached. */
  onProgress?: (simulatedMs: number, totalMs: number) => void;
  /** Wall-clock source (tests pin it). */
  now?: () => number;
  /** Content keys wrapped for the data owner (`--owner`), registered with the devices. */
  wrappedKeys?: readonly WrappedContentKey[];
}

/** What happens on the virtual clock. */
type SimEvent =
  /** A model device samples its sensors (and seals when its batch is full). */
  | { kind: 'sample'; device: Device }
  /** A device's radio is free: send its next datagram. */
  | { kind: 'wake'; device: Device }
  /** A datagram reaches the gateway; `from` is the genuine sender (null for the attacker). */
  | { kind: 'arrive'; arrival: Arrival; from: Device | null }
  | { kind: 'power-cut'; device: Device }
  /** The attacker builds an attack of `attack` on `victim`. */
  | { kind: 'attack'; attack: AttackKind; victim: Device }
  /** The attacker puts one datagram of an attack on the air. */
  | { kind: 'attack-tx'; arrival: Arrival; kid: string; attack: AttackKind; airtimeMs: number }
  /** A firmware VM powers on, or runs; ignored when the device lost power since (`generation`). */
  | { kind: 'vm-boot'; device: Device; generation: number }
  | { kind: 'vm-step'; device: Device; generation: number };

/**
 * One simulated fleet on virtual time. Everything random comes from PRNG streams derived from
 * the seed (one per device for its sensors and power, one per device for its link, one for the
 * attacker), and simultaneous events run in the order they were scheduled: the same seed and
 * configuration give the same datagrams at the same virtual times, byte for byte.
 *
 * This module is the clock and the wiring: devices (device-model.ts, firmware-vms.ts) seal and
 * send, the link model (link-model.ts) decides arrivals, the sink is the gateway, the attacker
 * (attacks.ts) injects, the scoreboard (scoreboard.ts) counts, the capture (capture.ts) records.
 */
export class Simulation {
  readonly devices: Device[] = [];
  private readonly groups: GroupState[] = [];
  private readonly queue = new EventQueue<SimEvent>();
  private readonly auditor = new LinkAuditor();
  private readonly attacker: Attacker;
  private readonly attackRng: Prng;
  private readonly board: Scoreboard;
  private readonly vms: FirmwareVms;
  private capture: CaptureWriter | undefined;
  private sink!: FrameSink;

  constructor(readonly config: SimulationConfig) {
    this.attackRng = Prng.from(config.seed, 'attacker');
    this.attacker = new Attacker(Prng.from(config.seed, 'attacker-keys'));
    let index = 0;
    for (const groupConfig of this.config.groups) {
      const group = makeGroup(groupConfig);
      this.groups.push(group);
      for (let i = 0; i < groupConfig.devices; i++, index++) this.devices.push(makeDevice(config.seed, config.startUnixMs, group, i, index));
    }
    this.vms = new FirmwareVms(config.seed, this.devices);
    const versions = [...new Set(this.config.groups.map((g) => g.record))].sort();
    this.board = new Scoreboard(this.devices.length, this.vms.report.devices, versions);
  }

  /** The fleet's keys and transport names, as a gateway registers them, with the content keys `wrapped` for the owner (by kid). */
  registrations(wrapped: readonly WrappedContentKey[] = []): DeviceRegistration[] {
    const byKid = new Map(wrapped.map((w) => [w.kid, w]));
    return this.devices.map((d) => {
      const w = byKid.get(d.kidHex);
      return {
        name: d.name,
        publicKey: d.publicKey,
        kid: d.kidHex,
        deviceIds: d.group.profile.identifiesSender ? [d.source] : [],
        ...(w !== undefined ? { wrappedContentKey: w } : {}),
      };
    });
  }

  /** The devices sealing record version 2, with their content keys (to wrap for the owner: content-keys.ts). */
  contentKeyHolders(): Array<{ kidHex: string; contentKey: Bytes }> {
    return this.devices.flatMap((d) => (d.contentKey === null ? [] : [{ kidHex: d.kidHex, contentKey: d.contentKey }]));
  }

  async run(options: RunOptions): Promise<RunResult> {
    const now = options.now ?? (() => performance.now());
    const wallStart = now();
    this.sink = options.sink;
    await this.sink.register(this.registrations(options.wrappedKeys));
    await this.vms.prepare(this.groups);
    this.capture = options.capture === undefined ? undefined : new CaptureWriter(options.capture);
    let last = 0;
    try {
      for (const d of this.devices) this.boot(d, 0);
      const q = this.queue;
      const duration = this.config.durationMs;
      const sendUntil = duration + this.config.drainMs;
      let n = 0;
      let inflight: Array<Promise<void>> = [];
      const maxInFlight = this.sink.maxInFlight ?? 1;
      for (let next = q.pop(); next !== undefined; next = q.pop()) {
        const t = next.t;
        const ev = next.event;
        switch (ev.kind) {
          case 'sample':
            if (t < duration) {
              this.sample(ev.device, t);
              last = t;
            }
            break;
          case 'wake':
            if (ev.device.wakeAt === t) {
              ev.device.wakeAt = -1;
              if (t <= sendUntil) {
                this.transmit(ev.device, t);
                last = t;
              }
            }
            break;
          case 'arrive': {
            const inFlight = this.arrive(ev.arrival, ev.from, t);
            if (inFlight !== undefined) {
              inflight.push(inFlight);
              if (inflight.length >= maxInFlight) {
                await Promise.all(inflight);
                inflight = [];
              }
            }
            last = t;
            break;
          }
          case 'power-cut':
            if (t < duration) this.powerCut(ev.device, t);
            break;
          case 'attack':
            this.attack(ev.attack, ev.victim, t);
            break;
          case 'attack-tx':
            this.onAir(t, ev.kid, ev.arrival.datagram, ev.airtimeMs, ev.attack, null);
            this.queue.schedule(Math.ceil(t + ev.airtimeMs) + 50, { kind: 'arrive', arrival: ev.arrival, from: null });
            break;
          case 'vm-boot':
            if (t < duration && ev.generation === this.vms.generation(ev.device)) {
              await this.vms.boot(ev.device, t);
              this.queue.schedule(t, { kind: 'vm-step', device: ev.device, generation: ev.generation });
            }
            break;
          case 'vm-step':
            if (ev.generation === this.vms.generation(ev.device)) {
              if (t < duration) {
                this.vmStep(ev.device, t);
                last = t;
              } else this.vms.off(ev.device);
            }
            break;
        }
        if ((++n & 0xffff) === 0) options.onProgress?.(t, sendUntil);
      }
      await Promise.all(inflight);
      this.vms.offAll();
      for (const d of this.devices) {
        const { aborted, queued } = loseRam(d);
        if (aborted !== null) this.board.lose(aborted, 'unsent');
        for (const f of queued) this.board.lose(f, 'unsent');
      }
    } finally {
      this.capture?.close();
    }
    await this.sink.close();
    for (const g of this.groups) g.report.lost = g.report.recordsSealed - g.report.delivered;
    for (const d of this.devices) {
      d.group.report.sensorFaults += d.sensors.faults;
      d.group.report.flashWrites += d.flashWrites;
      d.group.report.reboots += d.boots - 1;
    }
    const score = this.board.result({
      observable: this.sink.observable,
      dutyCycleViolations: this.auditor.count,
      simulatedMs: Math.max(last, this.config.durationMs),
      wallMs: Math.round(now() - wallStart),
    });
    return {
      ...score,
      violations: this.auditor.violations,
      groups: this.groups.map((g) => g.report),
      gateway: this.sink.name,
      seed: this.config.seed,
      firmware: this.vms.report.devices > 0 ? this.vms.summary() : null,
      byRecordVersion: this.board.byRecordVersion(),
    };
  }

  // --- devices -----------------------------------------------------------------------------------

  private boot(d: Device, t: number): void {
    d.boots++;
    const cfg = d.group.config;
    if (d.firmware) {
      // The real firmware keeps its own counter in its flash; it powers on at a random phase
      // of its interval like the model devices.
      const at = t === 0 ? Math.floor(d.rng.float() * cfg.intervalMs) : t;
      this.queue.schedule(at, { kind: 'vm-boot', device: d, generation: this.vms.generation(d) });
    } else {
      reserveAtBoot(d);
      // Devices start at a random phase of their interval, as a fleet switched on over time does.
      if (t === 0) this.queue.schedule(Math.floor(d.rng.float() * cfg.intervalMs), { kind: 'sample', device: d });
    }
    if (cfg.rebootsPerDay > 0) this.queue.schedule(t + Math.ceil(d.rng.exponential(DAY_MS / cfg.rebootsPerDay)), { kind: 'power-cut', device: d });
  }

  private powerCut(d: Device, t: number): void {
    const { aborted, queued } = loseRam(d);
    if (aborted !== null) {
      aborted.aborted = true;
      aborted.sendDone = true;
      this.board.settle(aborted);
    }
    for (const f of queued) this.board.lose(f, 'powerCut');
    if (d.firmware) this.vms.off(d);
    this.boot(d, t + BOOT_MS);
  }

  private sample(d: Device, t: number): void {
    this.queue.schedule(t + d.group.config.intervalMs, { kind: 'sample', device: d });
    if (!takeSample(d, t)) return;
    const sealed = sealBatch(d, t, this.config.startUnixMs);
    if (sealed !== undefined) this.sealed(d, t, sealed.bytes, sealed.counter);
  }

  private vmStep(d: Device, t: number): void {
    const { next, frames } = this.vms.step(d, t);
    for (const f of frames) {
      d.next = f.counter + 1;
      this.sealed(d, f.t, f.bytes, f.counter);
    }
    this.queue.schedule(next, { kind: 'vm-step', device: d, generation: this.vms.generation(d) });
  }

  /** A genuine frame sealed at `t` (by the model or by a firmware VM): queue it, maybe attack it, send. */
  private sealed(d: Device, t: number, bytes: Bytes, counter: number): void {
    const track = newFrameTrack(bytes, counter, d.group.report);
    this.board.sealed(track);
    const dropped = enqueue(d, track);
    if (dropped !== undefined) this.board.lose(dropped, 'queueOverflow');
    for (const a of drawAttacks(d.group.config.attacks, this.attackRng, t)) this.queue.schedule(a.at, { kind: 'attack', attack: a.kind, victim: d });
    if (d.current === null) this.wake(d, t);
  }

  private wake(d: Device, t: number): void {
    if (d.wakeAt !== -1 && d.wakeAt <= t) return;
    d.wakeAt = t;
    this.queue.schedule(t, { kind: 'wake', device: d });
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
    const cur = currentSending(d);
    if (cur === null) return;
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
    this.onAir(t, d.kidHex, datagram, air, null, d.group.config.record);
    d.sensors.drainForAirtime(air);
    const track = cur.track;
    const arrivals = deliveries(d.group.config, d.linkRng, t, air);
    if (arrivals.length === 0) track.dropped++;
    for (const at of arrivals) {
      track.outstanding++;
      this.queue.schedule(at, { kind: 'arrive', arrival: { datagram, source: d.source, link: profile.name, track, attack: null }, from: d });
    }
    cur.next++;
    if (cur.next >= cur.datagrams.length) {
      track.sendDone = true;
      d.current = null;
      this.board.settle(track);
    }
    if (d.current !== null || d.queue.length > 0) this.wake(d, Math.ceil(t + air));
  }

  private onAir(t: number, kidHex: string, datagram: Bytes, air: number, attack: AttackKind | null, version: RecordVersion | null): void {
    this.board.onAir(datagram, air, version);
    this.capture?.write(t, kidHex, datagram, attack);
  }

  // --- gateway side ------------------------------------------------------------------------------

  /**
   * Hands a datagram to the gateway at `t`. Its role is decided now, whatever the sink; an
   * asynchronous sink's verdict is counted when it comes (the returned promise).
   */
  private arrive(a: Arrival, from: Device | null, t: number): Promise<void> | undefined {
    const out = this.sink.deliver(a.datagram, { source: a.source, link: a.link, t, unixMs: this.config.startUnixMs + t });
    const observable = this.sink.observable;
    if (out instanceof Promise) {
      const role = this.identify(a, from, undefined, t);
      return out.then((o) => this.board.judge(a, role, o, observable));
    }
    const role = this.identify(a, from, out.kind === 'accepted' || out.kind === 'rejected' ? (out.frame ?? null) : undefined, t);
    this.board.judge(a, role, out, observable);
    return undefined;
  }

  /** The scoreboard decides the datagram's role; a frame delivered for the first time becomes what a replay attack re-sends. */
  private identify(a: Arrival, from: Device | null, frame: Bytes | null | undefined, t: number): Role {
    const role = this.board.identify(a, frame, t);
    if (role === 'first' && from !== null && a.track !== null) from.lastDelivered = a.track.bytes;
    return role;
  }

  // --- attacker ----------------------------------------------------------------------------------

  private attack(kind: AttackKind, v: Device, t: number): void {
    const other = this.devices[(v.index + 1) % this.devices.length]!;
    const cfg = v.group.config;
    const time = cfg.clock ? Math.floor((this.config.startUnixMs + t) / 1000) : null;
    const built = this.attacker.build(kind, { kid: v.kid, lastSent: v.lastSent, lastDelivered: v.lastDelivered, nextCounter: v.next, withKid: cfg.kid }, other.secret, time);
    if (built === undefined) {
      this.board.attackSkipped(kind);
      return;
    }
    const attack = this.board.attackInjected(kind);
    const profile = v.group.profile;
    const { source, sends } = this.attacker.transmissions(built.frame, profile, t);
    for (const s of sends) {
      const arrival: Arrival = { datagram: s.datagram, source, link: profile.name, track: null, attack };
      this.queue.schedule(s.at, { kind: 'attack-tx', arrival, kid: built.kid, attack: kind, airtimeMs: s.airtimeMs });
    }
  }
}

/** Runs a configuration against a sink: the library form of `sceau-sim run`. */
export async function runSimulation(config: SimulationConfig, options: RunOptions): Promise<RunResult> {
  return new Simulation(config).run(options);
}
