import type { LinkProfile } from '@sceau/protocol';
import type { Prng } from './prng.js';

const DAY_MS = 86_400_000;

/**
 * EU868 channels a LoRaWAN device uses once the network has added the usual five (RP002 §2.2):
 * three default channels in ETSI sub-band g1 (868.0-868.6 MHz) and five in sub-band g
 * (865-868 MHz), both limited to 1% duty cycle. The duty cycle applies per sub-band.
 */
export const EU868_CHANNELS: ReadonlyArray<{ mhz: number; subBand: number }> = [
  { mhz: 868.1, subBand: 1 },
  { mhz: 868.3, subBand: 1 },
  { mhz: 868.5, subBand: 1 },
  { mhz: 867.1, subBand: 0 },
  { mhz: 867.3, subBand: 0 },
  { mhz: 867.5, subBand: 0 },
  { mhz: 867.7, subBand: 0 },
  { mhz: 867.9, subBand: 0 },
];
export const SUB_BAND_NAMES = ['g (865.0-868.0 MHz)', 'g1 (868.0-868.6 MHz)'];

/** Number of independently duty-cycled sub-bands a device of `profile` may use. */
export function subBandCount(profile: LinkProfile): number {
  return profile.dutyCycle !== undefined ? 2 : 1;
}

/**
 * The device side of the radio budget, as LoRaWAN stacks keep it (LoRaMac-node, LMIC): after an
 * uplink of airtime A on a sub-band limited to duty cycle d, the sub-band is closed until
 * start + A / d (the regional parameters' T_off = A/d - A, counted from the end). The radio sends
 * one uplink at a time. On Sigfox, at most `dailyUplinks` uplinks in any 24 hours.
 */
export class RadioScheduler {
  private readonly bandFree: number[];
  private busyUntil = 0;
  private readonly sigfoxTimes: number[] | undefined;
  private sigfoxHead = 0;
  private sigfoxCount = 0;

  constructor(
    private readonly profile: LinkProfile,
    private readonly rng: Prng,
  ) {
    this.bandFree = new Array<number>(subBandCount(profile)).fill(-Infinity);
    this.sigfoxTimes = profile.dailyUplinks !== undefined ? new Array<number>(profile.dailyUplinks).fill(-Infinity) : undefined;
  }

  /** Earliest whole virtual millisecond >= t at which the next uplink may start. */
  earliest(t: number): number {
    let e = Math.max(t, this.busyUntil);
    if (this.profile.dutyCycle !== undefined) {
      let band = Infinity;
      for (const f of this.bandFree) band = Math.min(band, f);
      e = Math.max(e, band);
    }
    if (this.sigfoxTimes !== undefined && this.sigfoxCount >= this.sigfoxTimes.length) {
      e = Math.max(e, this.sigfoxTimes[this.sigfoxHead]! + DAY_MS);
    }
    return Math.ceil(e);
  }

  /** Takes the radio at `t` (which must be >= earliest(t)) for `airtime` ms; returns the sub-band used and channel. */
  transmit(t: number, airtime: number): { subBand: number; channel: number } {
    this.busyUntil = t + airtime;
    let subBand = 0;
    let channel = 0;
    if (this.profile.dutyCycle !== undefined) {
      // Any channel of an open sub-band, uniformly, as LoRaMac-node picks among enabled channels.
      const open: number[] = [];
      EU868_CHANNELS.forEach((c, i) => {
        if (this.bandFree[c.subBand]! <= t) open.push(i);
      });
      channel = open.length > 0 ? open[this.rng.int(open.length)]! : 0;
      subBand = EU868_CHANNELS[channel]!.subBand;
      this.bandFree[subBand] = t + airtime / this.profile.dutyCycle;
    }
    if (this.sigfoxTimes !== undefined) {
      const n = this.sigfoxTimes.length;
      if (this.sigfoxCount < n) {
        this.sigfoxTimes[(this.sigfoxHead + this.sigfoxCount) % n] = t;
        this.sigfoxCount++;
      } else {
        this.sigfoxTimes[this.sigfoxHead] = t;
        this.sigfoxHead = (this.sigfoxHead + 1) % n;
      }
    }
    return { subBand, channel };
  }
}

/** One observed violation of a link's rules. */
export interface Violation {
  device: number;
  t: number;
  rule: 'duty-cycle' | 'dwell-time' | 'daily-uplinks';
  detail: string;
}

/**
 * An independent check of every uplink against the link's rules, written apart from the
 * scheduler so a scheduler bug shows up as a violation: ETSI duty cycle per sub-band in the
 * LoRaWAN form (the next uplink on a sub-band starts no earlier than the previous start plus
 * its airtime over d), the FCC 400 ms dwell time, and the Sigfox uplinks per 24 hours.
 */
export class LinkAuditor {
  readonly violations: Violation[] = [];
  count = 0;
  private readonly lastOnBand = new Map<number, { start: number; airtime: number }>();
  private readonly uplinkTimes = new Map<number, number[]>();

  record(device: number, profile: LinkProfile, subBand: number, t: number, airtime: number): void {
    if (profile.dutyCycle !== undefined) {
      const key = device * 4 + subBand;
      const last = this.lastOnBand.get(key);
      if (last !== undefined && t + 1e-6 < last.start + last.airtime / profile.dutyCycle) {
        this.flag({ device, t, rule: 'duty-cycle', detail: `sub-band ${SUB_BAND_NAMES[subBand]}: uplink at ${t} ms, closed until ${(last.start + last.airtime / profile.dutyCycle).toFixed(1)} ms` });
      }
      this.lastOnBand.set(key, { start: t, airtime });
    }
    if (profile.maxDwellMs !== undefined && airtime > profile.maxDwellMs) {
      this.flag({ device, t, rule: 'dwell-time', detail: `${airtime.toFixed(1)} ms on air, the limit is ${profile.maxDwellMs} ms` });
    }
    if (profile.dailyUplinks !== undefined) {
      let times = this.uplinkTimes.get(device);
      if (times === undefined) this.uplinkTimes.set(device, (times = []));
      times.push(t);
      while (times.length > 0 && times[0]! <= t - DAY_MS) times.shift();
      if (times.length > profile.dailyUplinks) {
        this.flag({ device, t, rule: 'daily-uplinks', detail: `${times.length} uplinks in 24 h, the budget is ${profile.dailyUplinks}` });
      }
    }
  }

  private flag(v: Violation): void {
    this.count++;
    if (this.violations.length < 100) this.violations.push(v);
  }
}

/** Impairments of the path from a device to the gateway. */
export interface Impairments {
  /** Probability that a datagram is lost. */
  loss: number;
  /** Probability that a datagram is delivered twice (a second gateway, a retransmitting backhaul). */
  dup: number;
  /** Probability that a datagram is held back by up to `reorderMs`, so later ones overtake it. */
  reorder: number;
  /** Extra delivery delay, uniform in [0, jitterMs]. */
  jitterMs: number;
  /** Longest hold-back of a reordered datagram. */
  reorderMs: number;
}

/** Fixed part of the delivery delay after the end of the uplink (backhaul, network server). */
export const BASE_LATENCY_MS = 50;

/**
 * The fate of one datagram sent at `t` with `airtime` ms on air: the arrival times of its
 * copies at the gateway (none when lost, two when duplicated).
 */
export function deliveries(imp: Impairments, rng: Prng, t: number, airtime: number): number[] {
  if (imp.loss > 0 && rng.chance(imp.loss)) return [];
  const arrive = (): number => {
    let at = t + airtime + BASE_LATENCY_MS;
    if (imp.jitterMs > 0) at += rng.float() * imp.jitterMs;
    if (imp.reorder > 0 && rng.chance(imp.reorder)) at += rng.float() * imp.reorderMs;
    return Math.ceil(at);
  };
  const first = arrive();
  if (imp.dup > 0 && rng.chance(imp.dup)) return [first, arrive()];
  return [first];
}
