/**
 * The MAC layer of a simulated LoRaWAN 1.0.4 class A device (`sceau sim lorawan`): the commands a
 * network server sends in a downlink (FOpts, or the FRMPayload of FPort 0), the state they change,
 * and the answers the next uplinks carry. Written from LoRaWAN L2 1.0.4 section 5 and RP002-1.0.x
 * (EU868, US915); it shares no code with the firmware's MAC (firmware/src/lorawan-mac-commands.ts),
 * only the bytes on air.
 *
 * - Parsing stops at an unknown command identifier (CID) or at a command cut short.
 * - Contiguous LinkADRReq commands are one block (section 5.3): their channel masks apply in
 *   order, DataRate, TXPower and NbTrans come from the last; each gets a LinkADRAns with the same
 *   status, and nothing changes unless the three bits are set. DataRate or TXPower 0xF keeps the
 *   current value. With ADR off, DR, TXPower and NbTrans stay (and are acknowledged when valid);
 *   the mask still applies.
 * - A data rate is accepted only when the device can send sceau datagrams at it: RP002's LoRa
 *   uplink rates that @sceau/protocol has a link profile for (EU868 DR0-5, US915 DR0-4).
 * - RXParamSetupAns, RXTimingSetupAns and DlChannelAns are sticky: repeated in every uplink until
 *   a class A downlink arrives (sections 5.4, 5.7, 5.9). Other answers go out once.
 * - NewChannelReq and DlChannelReq (US915's fixed grid) and TxParamSetupReq (EU868, US915) are read
 *   past without an answer, as RP002 says for these regions.
 * - The answers ride in FOpts when they fit there (15 bytes) beside the payload within the data
 *   rate's N; otherwise, if some were never sent, they go first in an FPort 0 uplink of their own
 *   and the payload waits for the next FCnt; repeats of sticky answers alone never delay a payload.
 */
import { type Bytes, type LinkProfile, type LoraRadio, linkProfile } from '@sceau/protocol';

export const CID = {
  LinkCheck: 0x02,
  LinkADR: 0x03,
  DutyCycle: 0x04,
  RXParamSetup: 0x05,
  DevStatus: 0x06,
  NewChannel: 0x07,
  RXTimingSetup: 0x08,
  TxParamSetup: 0x09,
  DlChannel: 0x0a,
  DeviceTime: 0x0d,
} as const;

/** Payload sizes of network-to-device commands (section 5, table 4). */
const REQUEST_BYTES: Readonly<Record<number, number>> = { 0x02: 2, 0x03: 4, 0x04: 1, 0x05: 4, 0x06: 0, 0x07: 5, 0x08: 1, 0x09: 1, 0x0a: 4, 0x0d: 5 };
/** Payload sizes of device-to-network commands. */
const ANSWER_BYTES: Readonly<Record<number, number>> = { 0x02: 0, 0x03: 1, 0x04: 0, 0x05: 1, 0x06: 2, 0x07: 1, 0x08: 0, 0x0a: 1, 0x0d: 0 };
const STICKY = new Set<number>([CID.RXParamSetup, CID.RXTimingSetup, CID.DlChannel]);

/** The device-to-network commands in `b` (an uplink's FOpts, or its decrypted FPort 0 payload), up to an unknown or cut one. */
export function uplinkCommandCount(b: Bytes): number {
  let count = 0;
  let i = 0;
  while (i < b.length) {
    const size = ANSWER_BYTES[b[i]!];
    if (size === undefined || i + 1 + size > b.length) break;
    i += 1 + size;
    count++;
  }
  return count;
}

/** FOpts holds at most 15 bytes (FOptsLen is 4 bits). */
export const MAX_FOPTS = 15;
/** ADR_ACK_LIMIT and ADR_ACK_DELAY (RP002 defaults, EU868 and US915). */
export const ADR_ACK_LIMIT = 64;
export const ADR_ACK_DELAY = 32;
/** GPS time (DeviceTimeAns) to Unix time: GPS epoch 1980-01-06 and the leap seconds since (18 since 2017-01-01). */
export const GPS_EPOCH_UNIX_MS = 315_964_800_000;
export const GPS_LEAP_SECONDS = 18;

export type MacRegionName = 'eu868' | 'us915';

interface RegionRules {
  name: MacRegionName;
  channelCount: number;
  /** Uplink data rates the device can send sceau datagrams at (a link profile exists). */
  uplinkDrs: readonly number[];
  downlinkDrs: readonly number[];
  maxTxPower: number;
  maxRx1DrOffset: number;
  rx2: { freqHz: number; dr: number };
  /** Duty-cycle sub-bands (ETSI EN 300 220 as RP002 uses them): [lowHz, highHz, divisor]; empty: none. */
  bands: ReadonlyArray<readonly [number, number, number]>;
  datr(dr: number): string | null;
  rx1Dr(upDr: number, offset: number): number;
}

const EU868: RegionRules = {
  name: 'eu868',
  channelCount: 16,
  uplinkDrs: [0, 1, 2, 3, 4, 5],
  downlinkDrs: [0, 1, 2, 3, 4, 5, 6], // LoRa only: DR7 is FSK
  maxTxPower: 7,
  maxRx1DrOffset: 5,
  rx2: { freqHz: 869_525_000, dr: 0 },
  bands: [
    [863_000_000, 864_999_999, 1000],
    [865_000_000, 868_000_000, 100],
    [868_000_001, 868_600_000, 100],
    [868_700_000, 869_200_000, 1000],
    [869_400_000, 869_650_000, 10],
    [869_700_000, 870_000_000, 100],
  ],
  datr: (dr) => (dr <= 5 ? `SF${12 - dr}BW125` : dr === 6 ? 'SF7BW250' : null),
  rx1Dr: (dr, offset) => Math.max(0, dr - offset),
};

/** RP002 US915 RX1 data rate by uplink DR (rows 0..4) and RX1DROffset (columns 0..3). */
const US915_RX1_DR = [
  [10, 9, 8, 8],
  [11, 10, 9, 8],
  [12, 11, 10, 9],
  [13, 12, 11, 10],
  [13, 13, 12, 11],
];

const US915: RegionRules = {
  name: 'us915',
  channelCount: 72,
  uplinkDrs: [0, 1, 2, 3, 4],
  downlinkDrs: [8, 9, 10, 11, 12, 13],
  maxTxPower: 14,
  maxRx1DrOffset: 3,
  rx2: { freqHz: 923_300_000, dr: 8 },
  bands: [],
  datr: (dr) => (dr <= 3 ? `SF${10 - dr}BW125` : dr === 4 ? 'SF8BW500' : dr >= 8 && dr <= 13 ? `SF${20 - dr}BW500` : null),
  rx1Dr: (dr, offset) => US915_RX1_DR[Math.min(dr, 4)]![Math.min(offset, 3)]!,
};

/** An uplink channel of a dynamic plan (EU868). */
export interface UplinkChannel {
  freqHz: number;
  minDr: number;
  maxDr: number;
  /** DlChannelReq's RX1 frequency (0: the uplink frequency). */
  dlFreqHz: number;
}

/** Where and how a downlink window listens. */
export interface RxWindow {
  freqHz: number;
  dr: number;
  datr: string;
}

/** What the next uplink carries besides its payload. */
export type UplinkMac =
  | { kind: 'none' }
  | { kind: 'fopts'; fOpts: Bytes; answers: readonly QueuedAnswer[] }
  /** A MAC-only uplink on FPort 0 first; the payload waits for the next FCnt. */
  | { kind: 'port0'; payload: Bytes; answers: readonly QueuedAnswer[] };

/** The FCtrl bits of an uplink that the MAC decides. */
export interface UplinkFlags {
  adr: boolean;
  adrAckReq: boolean;
  ack: boolean;
}

export interface LorawanMacOptions {
  /** The data rate of the run's link profile. */
  dr: number;
  /** Whether the device sets the ADR bit (the network then steers DR, TXPower and NbTrans). */
  adr: boolean;
  /** US915: the enabled sub-band (1..8; 2 is TTN's); EU868 ignores it. */
  subBand?: number;
  /** Battery level for DevStatusAns: 0 on external power, 1..254, 255 unknown. */
  battery?: () => number;
}

/** Counts of what the MAC did, for the run's summary. */
export interface MacCounts {
  /** Commands received in downlinks. */
  commands: number;
  /** Answers put in uplinks (a sticky answer repeated counts each time). */
  answers: number;
  linkChecks: number;
  timeSyncs: number;
}

function usUplinkFreqHz(ch: number): number {
  return ch < 64 ? 902_300_000 + 200_000 * ch : 903_000_000 + 1_600_000 * (ch - 64);
}

/** A device-to-network command waiting for an uplink. */
export interface QueuedAnswer {
  cid: number;
  bytes: number[];
  /** Carried by an uplink at least once (a sticky answer being repeated). */
  sent: boolean;
}

const freqOf = (b: Bytes, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) * 100;

export class LorawanMac {
  readonly region: RegionRules;
  dr: number;
  txPower = 0;
  nbTrans = 1;
  adr: boolean;
  /** EU868: the channels (null: undefined); US915: the fixed grid, all defined. */
  readonly channels: Array<UplinkChannel | null>;
  enabled: boolean[];
  rx1DrOffset = 0;
  /** RX1 delay in seconds (1..15). */
  rx1Delay = 1;
  rx2Dr: number;
  rx2FreqHz: number;
  /** DutyCycleReq: aggregated duty cycle 1 / 2^maxDutyCycle over all channels (0: no limit of its own). */
  maxDutyCycle = 0;
  /** SNR of the last downlink heard, for DevStatusAns's margin. */
  snr = 0;
  /** LinkCheckAns: the demodulation margin (dB) and how many gateways heard the request. */
  linkCheck: { margin: number; gwCnt: number } | null = null;
  /** DeviceTimeAns: the network's time at the end of the requesting uplink, Unix ms. */
  networkTimeUnixMs: number | null = null;
  /** Uplinks since the last downlink (ADR_ACK_CNT). */
  adrAckCnt = 0;
  /** A confirmed downlink was heard: the next uplink sets ACK. */
  ackDown = false;
  readonly counts: MacCounts = { commands: 0, answers: 0, linkChecks: 0, timeSyncs: 0 };
  private queued: QueuedAnswer[] = [];
  private readonly battery: () => number;
  private readonly defaults: { dr: number; enabled: boolean[] };

  constructor(region: MacRegionName, o: LorawanMacOptions) {
    this.region = region === 'eu868' ? EU868 : US915;
    const r = this.region;
    if (!r.uplinkDrs.includes(o.dr)) throw new RangeError(`dr: expected one of ${r.uplinkDrs.join(', ')} in ${region}, got ${o.dr}`);
    this.dr = o.dr;
    this.adr = o.adr;
    this.rx2Dr = r.rx2.dr;
    this.rx2FreqHz = r.rx2.freqHz;
    this.battery = o.battery ?? (() => 255);
    if (region === 'eu868') {
      this.channels = Array.from({ length: 16 }, (_, i) => (i < 3 ? { freqHz: [868_100_000, 868_300_000, 868_500_000][i]!, minDr: 0, maxDr: 5, dlFreqHz: 0 } : null));
      this.enabled = this.channels.map((c) => c !== null);
    } else {
      const sb = o.subBand ?? 2;
      if (!Number.isInteger(sb) || sb < 1 || sb > 8) throw new RangeError(`subBand: expected 1..8, got ${sb}`);
      this.channels = Array.from({ length: 72 }, (_, ch) => ({ freqHz: usUplinkFreqHz(ch), minDr: ch < 64 ? 0 : 4, maxDr: ch < 64 ? 3 : 4, dlFreqHz: 0 }));
      this.enabled = Array.from({ length: 72 }, (_, ch) => (ch < 64 ? ch >> 3 === sb - 1 : ch - 64 === sb - 1));
    }
    this.defaults = { dr: o.dr, enabled: [...this.enabled] };
  }

  /** The link profile of the current data rate: its MTU is the DR's N, its radio gives the airtime. */
  profile(): LinkProfile {
    return linkProfile(`lorawan-${this.region.name}-dr${this.dr}`);
  }

  /** The rxpk/txpk `datr` of the current uplink data rate. */
  datr(): string {
    const radio = this.profile().radio as LoraRadio;
    return `SF${radio.spreadingFactor}BW${radio.bandwidthHz / 1000}`;
  }

  /** Applies a join-accept's DLSettings, RxDelay and CFList (section 6.2.6, RP002 CFList types 0 and 1). */
  joined(dlSettings: number, rxDelay: number, cfList: Bytes | null): void {
    const offset = (dlSettings >> 4) & 7;
    const rx2Dr = dlSettings & 15;
    if (offset <= this.region.maxRx1DrOffset) this.rx1DrOffset = offset;
    if (this.region.downlinkDrs.includes(rx2Dr)) this.rx2Dr = rx2Dr;
    this.rx1Delay = (rxDelay & 15) || 1;
    if (cfList === null || cfList.length !== 16) return;
    if (this.region.name === 'eu868' && cfList[15] === 0) {
      for (let k = 0; k < 5; k++) {
        const f = freqOf(cfList, 3 * k);
        if (f !== 0 && this.bandOf(f) >= 0) {
          this.channels[3 + k] = { freqHz: f, minDr: 0, maxDr: 5, dlFreqHz: 0 };
          this.enabled[3 + k] = true;
        }
      }
    } else if (this.region.name === 'us915' && cfList[15] === 1) {
      for (let ch = 0; ch < 72; ch++) this.enabled[ch] = ((cfList[ch >> 3]! >> (ch & 7)) & 1) === 1;
    }
  }

  /** Asks the network for a LinkCheckAns or a DeviceTimeAns in the next uplink. */
  request(cid: typeof CID.LinkCheck | typeof CID.DeviceTime): void {
    this.queue(cid, []);
  }

  /**
   * A class A downlink passed its MIC and counter: its SNR is kept, sticky answers end, and its
   * commands (`cmds`: FOpts, or the FPort 0 payload) are applied in order. Returns the bytes parsed
   * (fewer than `cmds.length` when parsing stopped at an unknown or cut command).
   */
  receive(cmds: Bytes, snrDb: number, confirmed: boolean): number {
    this.snr = Math.round(snrDb);
    this.adrAckCnt = 0;
    if (confirmed) this.ackDown = true;
    this.queued = this.queued.filter((q) => !STICKY.has(q.cid));
    let i = 0;
    while (i < cmds.length) {
      const cid = cmds[i]!;
      const size = REQUEST_BYTES[cid];
      if (size === undefined || i + 1 + size > cmds.length) break;
      if (cid === CID.LinkADR) {
        const block: Bytes[] = [];
        while (i + 5 <= cmds.length && cmds[i] === CID.LinkADR) {
          block.push(cmds.subarray(i + 1, i + 5));
          i += 5;
        }
        this.counts.commands += block.length;
        const status = this.linkAdr(block);
        for (let k = 0; k < block.length; k++) this.queue(CID.LinkADR, [status]);
        continue;
      }
      this.counts.commands++;
      this.apply(cid, cmds.subarray(i + 1, i + 1 + size));
      i += 1 + size;
    }
    return i;
  }

  /** What the next uplink with a `payloadBytes`-byte application payload carries (section 4.3.1.6). */
  compose(payloadBytes: number): UplinkMac {
    if (this.queued.length === 0) return { kind: 'none' };
    const bytes = this.queuedBytes();
    const n = this.profile().mtu;
    if (bytes.length <= MAX_FOPTS && payloadBytes + bytes.length <= n) return { kind: 'fopts', fOpts: bytes, answers: [...this.queued] };
    // only repeats of sticky answers: they never delay the payload
    if (this.queued.every((q) => q.sent)) return { kind: 'none' };
    // whole commands up to N bytes
    let len = 0;
    let count = 0;
    for (const q of this.queued) {
      if (len + 1 + q.bytes.length > n) break;
      len += 1 + q.bytes.length;
      count++;
    }
    return { kind: 'port0', payload: bytes.subarray(0, len), answers: this.queued.slice(0, count) };
  }

  /**
   * The FCtrl bits of a new uplink (once per FCnt, not per repetition): ADR, ADRACKReq after
   * ADR_ACK_LIMIT uplinks without a downlink, ACK owed to a confirmed downlink. Counts the
   * uplink for the ADR back-off.
   */
  uplinkFlags(): UplinkFlags {
    const flags = { adr: this.adr, adrAckReq: this.adr && this.adrAckCnt >= ADR_ACK_LIMIT, ack: this.ackDown };
    this.ackDown = false;
    this.adrBackOff();
    return flags;
  }

  /**
   * An uplink carrying `carried` went on air: its answers are done with, except sticky ones,
   * which stay until a class A downlink (a downlink heard in its own windows already ended them).
   */
  sent(carried: UplinkMac): void {
    if (carried.kind === 'none') return;
    this.counts.answers += carried.answers.length;
    for (const q of carried.answers) q.sent = true;
    this.queued = this.queued.filter((q) => !q.sent || STICKY.has(q.cid));
  }

  /** An enabled channel that supports the current DR, chosen by `rnd` (a non-negative integer); -1 when none does. */
  pickChannel(rnd: number): number {
    const open: number[] = [];
    for (let ch = 0; ch < this.channels.length; ch++) if (this.enabled[ch] && this.supports(ch, this.dr)) open.push(ch);
    return open.length === 0 ? -1 : open[rnd % open.length]!;
  }

  uplinkFreqHz(ch: number): number {
    return this.channels[ch]!.freqHz;
  }

  rx1(ch: number): RxWindow {
    const dr = this.region.rx1Dr(this.dr, this.rx1DrOffset);
    const c = this.channels[ch]!;
    const freqHz = this.region.name === 'us915' ? 923_300_000 + 600_000 * (ch % 8) : c.dlFreqHz !== 0 ? c.dlFreqHz : c.freqHz;
    return { freqHz, dr, datr: this.region.datr(dr) ?? '' };
  }

  rx2(): RxWindow {
    return { freqHz: this.rx2FreqHz, dr: this.rx2Dr, datr: this.region.datr(this.rx2Dr) ?? '' };
  }

  /** How long the device stays silent after `airtimeMs` on channel `ch`: the sub-band's duty cycle and DutyCycleReq's, whichever is longer. */
  offTimeMs(ch: number, airtimeMs: number): number {
    const b = this.bandOf(this.channels[ch]!.freqHz);
    const band = b < 0 ? 0 : airtimeMs * this.region.bands[b]![2];
    const aggregated = this.maxDutyCycle > 0 ? airtimeMs * 2 ** this.maxDutyCycle : 0;
    return Math.max(band, aggregated);
  }

  /** The commands queued for the next uplink, as bytes (for logs and tests). */
  queuedBytes(): Bytes {
    return Uint8Array.from(this.queued.flatMap((q) => [q.cid, ...q.bytes]));
  }

  private queue(cid: number, bytes: number[]): void {
    if (ANSWER_BYTES[cid] !== bytes.length) throw new Error(`internal: answer 0x${cid.toString(16)} with ${bytes.length} bytes`);
    this.queued.push({ cid, bytes, sent: false });
  }

  private bandOf(freqHz: number): number {
    return this.region.bands.findIndex(([lo, hi]) => freqHz >= lo && freqHz <= hi);
  }

  private uplinkFreqOk(freqHz: number): boolean {
    return this.bandOf(freqHz) >= 0;
  }

  private downlinkFreqOk(freqHz: number): boolean {
    if (this.region.name === 'eu868') return this.bandOf(freqHz) >= 0;
    // US915 downlink channels: 923.3 + 0.6 k MHz, k = 0..7
    const k = (freqHz - 923_300_000) / 600_000;
    return Number.isInteger(k) && k >= 0 && k <= 7;
  }

  private supports(ch: number, dr: number): boolean {
    const c = this.channels[ch];
    return c !== null && c !== undefined && dr >= c.minDr && dr <= c.maxDr;
  }

  /** One LinkADRReq's ChMaskCntl/ChMask on `mask`; false when the region refuses it. */
  private maskStep(mask: boolean[], cntl: number, chMask: number): boolean {
    const bit = (i: number): boolean => ((chMask >> i) & 1) === 1;
    if (this.region.name === 'eu868') {
      if (cntl === 0) {
        for (let i = 0; i < 16; i++) if (bit(i) && this.channels[i] === null) return false;
        for (let i = 0; i < 16; i++) mask[i] = bit(i);
        return true;
      }
      if (cntl === 6) {
        for (let i = 0; i < 16; i++) mask[i] = this.channels[i] !== null;
        return true;
      }
      return false;
    }
    // US915 ChMaskCntl: 0..3 a block of 16 125 kHz channels; 4 the 500 kHz channels 64..71; 5 by
    // sub-band (bit n: channels 8n..8n+7 and 64+n); 6 every 125 kHz channel on, 7 all off, ChMask
    // giving the 500 kHz ones.
    if (cntl <= 3) {
      for (let i = 0; i < 16; i++) mask[16 * cntl + i] = bit(i);
    } else if (cntl === 5) {
      for (let ch = 0; ch < 72; ch++) mask[ch] = bit(ch < 64 ? ch >> 3 : ch - 64);
    } else {
      if (chMask > 0xff) return false; // channels 72.. do not exist
      for (let ch = 0; ch < 72; ch++) {
        if (ch >= 64) mask[ch] = bit(ch - 64);
        else if (cntl !== 4) mask[ch] = cntl === 6;
      }
    }
    return true;
  }

  private linkAdr(block: Bytes[]): number {
    const mask = [...this.enabled];
    let maskOk = block.every((p) => this.maskStep(mask, (p[3]! >> 4) & 7, p[1]! | (p[2]! << 8)));
    if (!mask.some(Boolean)) maskOk = false;
    const last = block[block.length - 1]!;
    const keep = !this.adr;
    const dr = keep || last[0]! >> 4 === 15 ? this.dr : last[0]! >> 4;
    const power = keep || (last[0]! & 15) === 15 ? this.txPower : last[0]! & 15;
    const nbTrans = keep ? this.nbTrans : last[3]! & 15;
    // "not possible given the channel mask": the new mask, or the current one when the new one is refused
    const effective = maskOk ? mask : this.enabled;
    const drOk = this.region.uplinkDrs.includes(dr) && effective.some((on, ch) => on && this.supports(ch, dr));
    const powerOk = power <= this.region.maxTxPower;
    const status = (powerOk ? 4 : 0) | (drOk ? 2 : 0) | (maskOk ? 1 : 0);
    if (status === 7) {
      this.enabled = mask;
      this.dr = dr;
      this.txPower = power;
      this.nbTrans = nbTrans === 0 ? 1 : nbTrans;
    }
    return status;
  }

  private apply(cid: number, p: Bytes): void {
    switch (cid) {
      case CID.LinkCheck:
        this.linkCheck = { margin: p[0]!, gwCnt: p[1]! };
        this.counts.linkChecks++;
        return;
      case CID.DeviceTime: {
        const gpsSeconds = (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0;
        this.networkTimeUnixMs = GPS_EPOCH_UNIX_MS + (gpsSeconds - GPS_LEAP_SECONDS) * 1000 + Math.round((p[4]! * 1000) / 256);
        this.counts.timeSyncs++;
        return;
      }
      case CID.DutyCycle:
        this.maxDutyCycle = p[0]! & 15;
        this.queue(CID.DutyCycle, []);
        return;
      case CID.RXParamSetup: {
        const offset = (p[0]! >> 4) & 7;
        const rx2Dr = p[0]! & 15;
        const f = freqOf(p, 1);
        const status = (offset <= this.region.maxRx1DrOffset ? 4 : 0) | (this.region.downlinkDrs.includes(rx2Dr) ? 2 : 0) | (this.downlinkFreqOk(f) ? 1 : 0);
        if (status === 7) {
          this.rx1DrOffset = offset;
          this.rx2Dr = rx2Dr;
          this.rx2FreqHz = f;
        }
        this.queue(CID.RXParamSetup, [status]);
        return;
      }
      case CID.DevStatus: {
        // margin: the last downlink's SNR, 6-bit two's complement in -32..31
        const m = Math.max(-32, Math.min(31, this.snr));
        this.queue(CID.DevStatus, [Math.max(0, Math.min(255, Math.round(this.battery()))), m & 0x3f]);
        return;
      }
      case CID.NewChannel: {
        if (this.region.name !== 'eu868') return;
        const ch = p[0]!;
        const f = freqOf(p, 1);
        const minDr = p[4]! & 15;
        const maxDr = p[4]! >> 4;
        let status: number;
        if (ch < 3 || ch >= 16) status = 0; // the default channels cannot be changed
        else if (f === 0) {
          this.channels[ch] = null;
          this.enabled[ch] = false;
          status = 3;
        } else {
          status = (minDr <= maxDr && maxDr <= 7 ? 2 : 0) | (this.uplinkFreqOk(f) ? 1 : 0);
          if (status === 3) {
            this.channels[ch] = { freqHz: f, minDr, maxDr, dlFreqHz: 0 };
            this.enabled[ch] = true;
          }
        }
        this.queue(CID.NewChannel, [status]);
        return;
      }
      case CID.RXTimingSetup:
        this.rx1Delay = (p[0]! & 15) || 1;
        this.queue(CID.RXTimingSetup, []);
        return;
      case CID.DlChannel: {
        if (this.region.name !== 'eu868') return;
        const ch = p[0]!;
        const f = freqOf(p, 1);
        const freqOk = this.downlinkFreqOk(f);
        const upOk = ch < 16 && this.channels[ch] !== null;
        if (freqOk && upOk) this.channels[ch]!.dlFreqHz = f;
        this.queue(CID.DlChannel, [(upOk ? 2 : 0) | (freqOk ? 1 : 0)]);
        return;
      }
      // TxParamSetupReq: not used in EU868 or US915 (RP002): no answer
    }
  }

  /**
   * ADR back-off (section 4.3.1.1): after ADR_ACK_LIMIT uplinks without a downlink the device sets
   * ADRACKReq; every ADR_ACK_DELAY uplinks more without one it steps back: TXPower to the
   * default, then one data rate lower, and at the lowest the default channels again.
   */
  private adrBackOff(): void {
    if (!this.adr) return;
    this.adrAckCnt++;
    const over = this.adrAckCnt - ADR_ACK_LIMIT;
    if (over < ADR_ACK_DELAY || over % ADR_ACK_DELAY !== 0) return;
    if (this.txPower !== 0) this.txPower = 0;
    else if (this.dr > this.region.uplinkDrs[0]!) this.dr--;
    else {
      this.nbTrans = 1;
      this.enabled = [...this.defaults.enabled];
    }
  }
}
