import { type Bytes, Reassembler, equalBytes, linkProfile } from '@sceau/protocol';
import { ATTACK_KINDS, type AttackKind, type BatchChoice, type RecordVersion } from './config.js';
import type { SinkOutcome } from './frame-sink.js';

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

export type LostReason = Exclude<keyof LostBreakdown, 'total'>;

/**
 * What the genuine records of one record version cost on the air (the attacker's datagrams are
 * in the summary's totals only): a run of a scenario as version 1 and as version 2 shows the
 * overhead of encrypting the readings.
 */
export interface RecordVersionTally {
  records: number;
  /** Bytes of the sealed frames (COSE_Sign1), before any fragmentation. */
  frameBytes: number;
  /** Datagrams put on the air (frames or fragments), and their bytes and airtime. */
  datagrams: number;
  bytesOnAir: number;
  airtimeMs: number;
}

/** Tallies by record version: `v1`, `v2`, each present when a group of the run seals that version. */
export type ByRecordVersion = Partial<Record<`v${RecordVersion}`, RecordVersionTally>>;

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
  /**
   * Genuine records' bytes and airtime by record version; present only in runs where a group
   * seals version 2 (--record 2), so a version 1 summary keeps exactly issue 5's keys.
   */
  byRecordVersion?: ByRecordVersion;
}

export interface GroupReport {
  name: string;
  devices: number;
  link: string;
  intervalMs: number;
  batch: BatchChoice;
  /** The record version its devices seal. */
  record: RecordVersion;
  recordsSealed: number;
  delivered: number;
  lost: number;
  reboots: number;
  sensorFaults: number;
  flashWrites: number;
}

export type AttackStats = Record<AttackKind, { injected: number; detected: number; skipped: number }>;

/** A genuine frame on its way: sealed, queued, sent as datagrams, each arriving (or not). */
export interface FrameTrack {
  bytes: Bytes;
  counter: number;
  /** The tally of the sender's group. */
  group: GroupReport;
  /** Copies of its datagrams still travelling to the gateway. */
  outstanding: number;
  dropped: number;
  sendDone: boolean;
  aborted: boolean;
  delivered: boolean;
  resolved: boolean;
}

/** An injected attack frame: resolved at its first verdict. */
export interface AttackTrack {
  kind: AttackKind;
  resolved: boolean;
}

/** A datagram reaching the gateway: a piece of a genuine frame (`track`) or of an attack. */
export type Arrival = {
  datagram: Bytes;
  source: string;
  link: string;
} & ({ track: FrameTrack; attack: null } | { track: null; attack: AttackTrack });

/**
 * What a datagram did at the gateway: completed a genuine frame for the first time, completed a
 * copy of one already delivered, completed a frame nobody sent (fragments of two messages mixed),
 * completed nothing, or belongs to an attack.
 */
export type Role = 'attack' | 'first' | 'copy' | 'garbled' | 'none';

/** What only the end of a run knows. */
export interface Closing {
  /** Whether the gateway's answers could be seen (false over UDP: `verified` is null). */
  observable: boolean;
  dutyCycleViolations: number;
  simulatedMs: number;
  wallMs: number;
}

export interface Score {
  summary: Summary;
  /** Delivered genuine frames the gateway rejected (must be 0), by code. */
  genuineRejected: Record<string, number>;
  attacks: AttackStats;
  /** Each reason the run fails (empty when it passes). */
  failures: string[];
}

export function newFrameTrack(bytes: Bytes, counter: number, group: GroupReport): FrameTrack {
  return { bytes, counter, group, outstanding: 0, dropped: 0, sendDone: false, aborted: false, delivered: false, resolved: false };
}

/**
 * The run's tally, kept apart from the fleet and the clock: what was sealed and put on the air,
 * what the gateway answered for each datagram, why genuine frames were lost, and which attacks it
 * caught. Every genuine record ends either delivered or lost for one reason (`result` checks it).
 */
export class Scoreboard {
  private s: Summary;
  private readonly genuineRejected: Record<string, number> = {};
  private readonly versions: ByRecordVersion = {};
  private readonly attackStats = Object.fromEntries(ATTACK_KINDS.map((k) => [k, { injected: 0, detected: 0, skipped: 0 }])) as AttackStats;
  /** The protocol's reassembly, by whether the link names the sender: decides roles when the gateway does not report its frame. */
  private readonly shadow = new Map<boolean, Reassembler>([
    [false, new Reassembler({ senderHint: false, maxPending: 1_000_000 })],
    [true, new Reassembler({ senderHint: true, maxPending: 1_000_000 })],
  ]);

  /** `recordVersions`: the versions the run's groups seal (each gets a tally). */
  constructor(devices: number, firmwareDevices = 0, recordVersions: readonly RecordVersion[] = [1]) {
    for (const v of recordVersions) this.versions[`v${v}`] = { records: 0, frameBytes: 0, datagrams: 0, bytesOnAir: 0, airtimeMs: 0 };
    this.s = {
      devices,
      ...(firmwareDevices > 0 ? { firmwareDevices } : {}),
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
  }

  /** A genuine record sealed into `track`. */
  sealed(track: FrameTrack): void {
    this.s.recordsSealed++;
    track.group.recordsSealed++;
    const v = this.tally(track.group.record);
    v.records++;
    v.frameBytes += track.bytes.length;
  }

  /** A datagram put on the air: of a genuine record of `version`, or injected (null). */
  onAir(datagram: Bytes, airtimeMs: number, version: RecordVersion | null): void {
    this.s.datagrams++;
    this.s.bytesOnAir += datagram.length;
    this.s.airtimeMs += airtimeMs;
    if (version === null) return;
    const v = this.tally(version);
    v.datagrams++;
    v.bytesOnAir += datagram.length;
    v.airtimeMs += airtimeMs;
  }

  private tally(version: RecordVersion): RecordVersionTally {
    const v = this.versions[`v${version}`];
    if (v === undefined) throw new Error(`internal: record version ${version} is not among the run's`);
    return v;
  }

  /** The tallies by record version, airtime rounded to the microsecond as the summary's. */
  byRecordVersion(): ByRecordVersion {
    const out: ByRecordVersion = {};
    for (const [k, v] of Object.entries(this.versions) as Array<[keyof ByRecordVersion, RecordVersionTally]>) out[k] = { ...v, airtimeMs: Math.round(v.airtimeMs * 1000) / 1000 };
    return out;
  }

  /** The attacker found nothing to build `kind` from (no frame of the victim sent or delivered yet). */
  attackSkipped(kind: AttackKind): void {
    this.attackStats[kind].skipped++;
  }

  /** An attack of `kind` injected: its track, to put on its arrivals. */
  attackInjected(kind: AttackKind): AttackTrack {
    this.s.attacksInjected++;
    this.attackStats[kind].injected++;
    return { kind, resolved: false };
  }

  /** Marks a genuine frame lost for `reason` unless it was delivered. */
  lose(track: FrameTrack, reason: LostReason): void {
    if (track.resolved || track.delivered) return;
    track.resolved = true;
    this.s.lost[reason]++;
    this.s.lost.total++;
  }

  /** A frame fully sent whose copies have all arrived (or were lost) and that never came whole: lost. */
  settle(track: FrameTrack): void {
    if (!track.sendDone || track.outstanding > 0 || track.delivered || track.resolved) return;
    this.lose(track, track.aborted ? 'powerCut' : track.dropped > 0 ? 'radio' : 'fragments');
  }

  /**
   * Decides a datagram's role when it arrives (so it never depends on when an asynchronous
   * gateway answers). `frame` is the gateway's own reassembled frame when it reports it (null: it
   * completed none); undefined lets the simulator's shadow reassembler decide.
   */
  identify(a: Arrival, frame: Bytes | null | undefined, t: number): Role {
    if (frame === undefined) {
      const pushed = this.shadow.get(!linkProfile(a.link).identifiesSender)!.push(a.datagram, t, a.source);
      frame = pushed.kind === 'frame' ? pushed.frame : null;
    }
    if (a.track === null) return 'attack';
    const track = a.track;
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
        track.group.delivered++;
      }
    }
    this.settle(track);
    return role;
  }

  private reject(code: string, genuine: boolean): void {
    this.s.rejected[code] = (this.s.rejected[code] ?? 0) + 1;
    if (genuine) this.genuineRejected[code] = (this.genuineRejected[code] ?? 0) + 1;
  }

  private detected(attack: AttackTrack, code: string): void {
    attack.resolved = true;
    this.s.attacksDetected++;
    this.attackStats[attack.kind].detected++;
    this.reject(code, false);
  }

  /** Counts the gateway's verdict `out` on a datagram whose role `identify` decided. */
  judge(a: Arrival, role: Role, out: SinkOutcome, observable: boolean): void {
    if (out.kind === 'duplicate') {
      // A replay's fragments, met by a gateway that still remembers the message they completed
      // (a gateway on real time, over HTTP): dropped as copies, so not accepted twice: detected.
      if (a.attack !== null && a.attack.kind === 'replay' && !a.attack.resolved) this.detected(a.attack, 'duplicate');
      else this.s.duplicatesSuppressed++;
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
        track.group.delivered--;
        this.lose(track, 'fragments');
      }
      return;
    }
    if (a.attack !== null) {
      const attack = a.attack;
      if (attack.resolved) return;
      // A replay of the exact bytes is answered as a duplicate delivery of the accepted frame: not
      // accepted twice, so detected all the same (counted as `duplicate` among the refusals).
      if (out.kind === 'rejected') this.detected(attack, out.code);
      else if (out.delivery === 'duplicate') this.detected(attack, 'duplicate');
      else {
        attack.resolved = true;
        if (observable) this.s.falseAccepts++;
      }
      return;
    }
    switch (role) {
      case 'first':
        if (out.kind === 'accepted') {
          if (observable) this.s.verified!++;
        } else this.reject(out.code, true);
        break;
      case 'copy':
        if ((out.kind === 'rejected' && out.code === 'replay') || (out.kind === 'accepted' && out.delivery === 'duplicate')) this.s.duplicatesSuppressed++;
        else if (out.kind === 'accepted') this.s.falseAccepts++; // a link duplicate accepted twice: the replay window failed
        else this.reject(out.code, true);
        break;
      case 'garbled':
        // Fragments of two messages with the same tag rebuilt a frame nobody sent: the signature
        // catches it, and both messages count as lost in reassembly.
        if (out.kind === 'rejected') this.reject(out.code, false);
        else this.s.falseAccepts++;
        break;
      case 'none':
        // The gateway completed a frame where the shadow reassembler did not: its reassembly
        // differs from the protocol's; count the verdict, and any rejection as a failure.
        if (out.kind === 'rejected') this.reject(out.code, true);
        break;
      case 'attack':
        break; // handled above (an arrival with an attack track)
    }
  }

  /** The summary and the verdict on the run, once the clock has stopped. */
  result(end: Closing): Score {
    const s = this.s;
    s.dutyCycleViolations = end.dutyCycleViolations;
    s.simulatedMs = end.simulatedMs;
    s.wallMs = end.wallMs;
    if (!end.observable) s.verified = null;
    const failures: string[] = [];
    if (s.dutyCycleViolations > 0) failures.push(`${s.dutyCycleViolations} uplinks broke the link's duty cycle, dwell time or daily budget`);
    if (s.falseAccepts > 0) failures.push(`${s.falseAccepts} attack or duplicate frames were accepted`);
    const genuine = Object.values(this.genuineRejected).reduce((a, b) => a + b, 0);
    if (genuine > 0) failures.push(`${genuine} delivered genuine frames were rejected: ${JSON.stringify(this.genuineRejected)}`);
    const undetected = s.attacksInjected - s.attacksDetected - s.falseAccepts;
    if (end.observable && undetected > 0) failures.push(`${undetected} injected attacks got no verdict from the gateway`);
    // Records still queued at the end were never sent, so never tested: a run with any does not pass.
    if (s.lost.unsent > 0) failures.push(`${s.lost.unsent} records were never sent (still queued when the drain time ended): lengthen --drain, or send less (a longer --interval, fewer sensors, a faster link)`);
    if (s.delivered + s.lost.total !== s.recordsSealed) failures.push(`internal: ${s.recordsSealed} records sealed but ${s.delivered} delivered + ${s.lost.total} lost`);
    return {
      summary: { ...s, airtimeMs: Math.round(s.airtimeMs * 1000) / 1000, rejected: { ...s.rejected }, lost: { ...s.lost }, ...(this.versions.v2 !== undefined ? { byRecordVersion: this.byRecordVersion() } : {}) },
      genuineRejected: { ...this.genuineRejected },
      attacks: this.attackStats,
      failures,
    };
  }
}
