// A test-side model of a LoRaWAN 1.0.4 class A device's MAC-command handling, written from the
// specification (LoRaWAN L2 1.0.4 section 5, RP002-1.0.x EU868 and US915 sections) to judge the
// firmware (firmware/src/lorawan-mac-commands.ts). It shares no code with firmware/src and keeps
// its state in a different shape (one boolean per channel, channels as objects).

export type RegionName = 'EU868' | 'US915';

/** RP002-1.0.x facts, typed in from the document's tables. */
export const RP002 = {
  EU868: {
    // DR -> [SF, bandwidth kHz]; DR7 is FSK 50 kbps
    dataRates: [[12, 125], [11, 125], [10, 125], [9, 125], [8, 125], [7, 125], [7, 250], null] as ([number, number] | null)[],
    maxPayloadN: { 0: 51, 1: 51, 2: 51, 3: 115, 4: 242, 5: 242, 6: 242, 7: 242 } as Record<number, number>,
    defaultChannels: [868.1e6, 868.3e6, 868.5e6] as [number, number, number],
    rx2: { freq: 869.525e6, dr: 0 },
    // EN 300 220 sub-bands used by RP002 EU868: [from, to] MHz and the duty cycle in percent
    subBands: [[863, 865, 0.1], [865, 868, 1], [868, 868.6, 1], [868.7, 869.2, 0.1], [869.4, 869.65, 10], [869.7, 870, 1]] as [number, number, number][],
    maxTxPowerIndex: 7,
    maxRx1DrOffset: 5,
  },
  US915: {
    dataRates: [[10, 125], [9, 125], [8, 125], [7, 125], [8, 500], null, null, null, [12, 500], [11, 500], [10, 500], [9, 500], [8, 500], [7, 500]] as ([number, number] | null)[],
    // uplinks with the 400 ms dwell limit, downlinks DR8..13
    maxPayloadN: { 0: 11, 1: 53, 2: 125, 3: 242, 4: 242, 8: 53, 9: 129, 10: 242, 11: 242, 12: 242, 13: 242 } as Record<number, number>,
    // RX1 DR for uplink DR 0..4 (rows) and RX1DROffset 0..3 (columns)
    rx1Dr: [[10, 9, 8, 8], [11, 10, 9, 8], [12, 11, 10, 9], [13, 12, 11, 10], [13, 13, 12, 11]],
    rx2: { freq: 923.3e6, dr: 8 },
    maxTxPowerIndex: 14,
    maxRx1DrOffset: 3,
  },
};

export const usUplinkFreq = (ch: number) => (ch < 64 ? 902.3e6 + 0.2e6 * ch : 903.0e6 + 1.6e6 * (ch - 64));
export const usRx1Freq = (ch: number) => 923.3e6 + 0.6e6 * (ch % 8);
const usDownlinkFreqs = Array.from({ length: 8 }, (_, k) => Math.round(923.3e6 + 0.6e6 * k));

/** EU868: the sub-band index of a frequency in Hz (ends included as in RP002's table), or -1. */
export function euSubBand(freq: number): number {
  const mhz = freq / 1e6;
  // 863-865 excludes 865 (it belongs to 865-868), 868-868.6 excludes 868 (it belongs to 865-868)
  return RP002.EU868.subBands.findIndex(([lo, hi], i) => (i === 2 ? mhz > lo : mhz >= lo) && (i === 0 ? mhz < hi : mhz <= hi));
}

export interface Channel { freq: number; minDr: number; maxDr: number; dlFreq: number | null }

export interface ModelState {
  region: RegionName;
  dr: number; txPower: number; nbTrans: number; adr: boolean;
  enabled: boolean[];
  /** EU868 only; US915 channels are the fixed grid */
  channels: (Channel | null)[];
  rx1DrOffset: number; rx1Delay: number; rx2Dr: number; rx2Freq: number;
  maxDutyCycle: number; battery: number; snr: number;
  linkMargin: number | null; gwCnt: number | null; gpsSeconds: number | null; gpsFrac: number | null;
  /** pending uplink commands: [bytes, sticky] */
  pending: { bytes: number[]; sticky: boolean }[];
}

const nChannels = (r: RegionName) => (r === 'EU868' ? 16 : 72);
const isLora = (r: RegionName, dr: number) => RP002[r].dataRates[dr] != null;

/** Default state after activation; US915 sub-band 1..8 or 0 for every channel. */
export function initial(region: RegionName, subBand = 0): ModelState {
  const n = nChannels(region);
  const channels: (Channel | null)[] = region === 'EU868'
    ? Array.from({ length: n }, (_, i) => (i < 3 ? { freq: RP002.EU868.defaultChannels[i]!, minDr: 0, maxDr: 5, dlFreq: null } : null))
    : [];
  const enabled = Array.from({ length: n }, (_, i) => {
    if (region === 'EU868') return i < 3;
    if (subBand === 0) return true;
    return i < 64 ? Math.floor(i / 8) === subBand - 1 : i - 64 === subBand - 1;
  });
  return {
    region, dr: 0, txPower: 0, nbTrans: 1, adr: true, enabled, channels,
    rx1DrOffset: 0, rx1Delay: 1, rx2Dr: RP002[region].rx2.dr, rx2Freq: RP002[region].rx2.freq,
    maxDutyCycle: 0, battery: 255, snr: 0, linkMargin: null, gwCnt: null, gpsSeconds: null, gpsFrac: null, pending: [],
  };
}

const defined = (s: ModelState, ch: number) => (s.region === 'EU868' ? s.channels[ch] != null : ch < 72);
const supports = (s: ModelState, ch: number, dr: number) => {
  if (s.region === 'US915') return ch < 64 ? dr >= 0 && dr <= 3 : dr === 4;
  const c = s.channels[ch];
  return c != null && dr >= c.minDr && dr <= c.maxDr;
};
const downFreqOk = (s: ModelState, f: number) => (s.region === 'EU868' ? euSubBand(f) >= 0 : usDownlinkFreqs.includes(f));

/** One LinkADRReq's mask part on `mask` (a copy); false if the spec says reject. */
function chMaskStep(s: ModelState, mask: boolean[], cntl: number, chMask: number): boolean {
  const bit = (i: number) => ((chMask >> i) & 1) === 1;
  if (s.region === 'EU868') {
    if (cntl === 0) {
      for (let i = 0; i < 16; i++) if (bit(i) && !defined(s, i)) return false;
      for (let i = 0; i < 16; i++) mask[i] = bit(i);
      return true;
    }
    if (cntl === 6) {
      for (let i = 0; i < 16; i++) mask[i] = defined(s, i);
      return true;
    }
    return false; // RFU
  }
  // US915 (RP002 table "ChMaskCntl"): 0..3 blocks of 16 125 kHz channels, 4 the 500 kHz ones,
  // 5 sub-band selection (bit n: channels 8n..8n+7 and 64+n), 6 all 125 kHz on, 7 all off
  if (cntl <= 3) {
    for (let i = 0; i < 16; i++) mask[16 * cntl + i] = bit(i);
    return true;
  }
  if (cntl === 5) {
    for (let n = 0; n < 8; n++) {
      for (let k = 0; k < 8; k++) mask[8 * n + k] = bit(n);
      mask[64 + n] = bit(n);
    }
    return true;
  }
  if (chMask > 0xff) return false; // channels 72.. do not exist
  if (cntl === 6 || cntl === 7) for (let i = 0; i < 64; i++) mask[i] = cntl === 6;
  for (let n = 0; n < 8; n++) mask[64 + n] = bit(n);
  return true;
}

const DOWN_SIZE: Record<number, number> = { 0x02: 2, 0x03: 4, 0x04: 1, 0x05: 4, 0x06: 0, 0x07: 5, 0x08: 1, 0x09: 1, 0x0a: 4, 0x0d: 5 };
const freqOf = (b: number[], o: number) => (b[o]! + 256 * b[o + 1]! + 65536 * b[o + 2]!) * 100;

/** A class A downlink's commands: sticky answers end, then each command in order. Returns bytes parsed. */
export function downlink(s: ModelState, cmds: number[]): number {
  s.pending = s.pending.filter(p => !p.sticky);
  const add = (bytes: number[], sticky = false) => s.pending.push({ bytes, sticky });
  let i = 0;
  while (i < cmds.length) {
    const cid = cmds[i]!;
    const size = DOWN_SIZE[cid];
    if (size === undefined || i + 1 + size > cmds.length) break;
    const p = cmds.slice(i + 1, i + 1 + size);
    if (cid === 0x03) {
      // the contiguous block
      const reqs = [p];
      i += 5;
      while (i + 5 <= cmds.length && cmds[i] === 0x03) {
        reqs.push(cmds.slice(i + 1, i + 5));
        i += 5;
      }
      const mask = [...s.enabled];
      let maskOk = reqs.every(q => chMaskStep(s, mask, (q[3]! >> 4) & 7, q[1]! | (q[2]! << 8)));
      if (!mask.some(Boolean)) maskOk = false;
      const last = reqs[reqs.length - 1]!;
      const keep = !s.adr;
      const dr = keep || last[0]! >> 4 === 15 ? s.dr : last[0]! >> 4;
      const pw = keep || (last[0]! & 15) === 15 ? s.txPower : last[0]! & 15;
      const nb = keep ? s.nbTrans : last[3]! & 15;
      const maxUp = s.region === 'EU868' ? 7 : 4;
      // "not possible given the channel mask": the new mask, or the current one when the new one is refused
      const effective = maskOk ? mask : s.enabled;
      const drOk = dr <= maxUp && isLora(s.region, dr) && effective.some((on, ch) => on && supports(s, ch, dr));
      const pwOk = pw <= RP002[s.region].maxTxPowerIndex;
      const status = (pwOk ? 4 : 0) | (drOk ? 2 : 0) | (maskOk ? 1 : 0);
      if (status === 7) Object.assign(s, { enabled: mask, dr, txPower: pw, nbTrans: nb === 0 ? 1 : nb });
      for (const _ of reqs) add([0x03, status]);
      continue;
    }
    i += 1 + size;
    switch (cid) {
      case 0x02:
        s.linkMargin = p[0]!;
        s.gwCnt = p[1]!;
        break;
      case 0x0d:
        s.gpsSeconds = Buffer.from(p.slice(0, 4)).readUInt32LE(0);
        s.gpsFrac = p[4]!;
        break;
      case 0x04:
        s.maxDutyCycle = p[0]! & 15;
        add([0x04]);
        break;
      case 0x05: {
        const off = (p[0]! >> 4) & 7;
        const dr2 = p[0]! & 15;
        const f = freqOf(p, 1);
        const downDrs = s.region === 'EU868' ? [0, 1, 2, 3, 4, 5, 6] : [8, 9, 10, 11, 12, 13];
        const st = (off <= RP002[s.region].maxRx1DrOffset ? 4 : 0) | (downDrs.includes(dr2) ? 2 : 0) | (downFreqOk(s, f) ? 1 : 0);
        if (st === 7) Object.assign(s, { rx1DrOffset: off, rx2Dr: dr2, rx2Freq: f });
        add([0x05, st], true);
        break;
      }
      case 0x06: {
        const m = Math.max(-32, Math.min(31, s.snr));
        add([0x06, s.battery, m < 0 ? m + 64 : m]);
        break;
      }
      case 0x07: {
        if (s.region !== 'EU868') break; // not in US915
        const ch = p[0]!;
        const f = freqOf(p, 1);
        const min = p[4]! & 15;
        const max = p[4]! >> 4;
        let st: number;
        if (ch < 3 || ch >= 16) st = 0;
        else if (f === 0) {
          s.channels[ch] = null;
          s.enabled[ch] = false;
          st = 3;
        } else {
          const fOk = euSubBand(f) >= 0;
          const dOk = min <= max && max <= 7;
          st = (dOk ? 2 : 0) | (fOk ? 1 : 0);
          if (st === 3) {
            s.channels[ch] = { freq: f, minDr: min, maxDr: max, dlFreq: null };
            s.enabled[ch] = true;
          }
        }
        add([0x07, st]);
        break;
      }
      case 0x08:
        s.rx1Delay = (p[0]! & 15) || 1;
        add([0x08], true);
        break;
      case 0x0a: {
        if (s.region !== 'EU868') break;
        const ch = p[0]!;
        const f = freqOf(p, 1);
        const fOk = euSubBand(f) >= 0;
        const upOk = ch < 16 && s.channels[ch] != null;
        if (fOk && upOk) s.channels[ch]!.dlFreq = f;
        add([0x0a, (upOk ? 2 : 0) | (fOk ? 1 : 0)], true);
        break;
      }
      // 0x09 TxParamSetupReq: not for EU868 or US915, no answer
    }
  }
  return i;
}

/** The commands of the next uplink; afterwards only sticky answers stay. */
export function uplink(s: ModelState): string {
  const out = Buffer.from(s.pending.flatMap(p => p.bytes)).toString('hex');
  s.pending = s.pending.filter(p => p.sticky);
  return out;
}

/** Converts the firmware's state (mac-init / mac-commands output) to the model's, to compare. */
export function fromFirmware(region: RegionName, f: any): ModelState {
  const n = nChannels(region);
  const enabled = Array.from({ length: n }, (_, i) => ((f.chMask[i >> 4] >> (i & 15)) & 1) === 1);
  const channels = region === 'EU868'
    ? Array.from({ length: n }, (_, i) => (f.freqs[i] === 0 ? null : { freq: f.freqs[i], minDr: f.drMin[i], maxDr: f.drMax[i], dlFreq: f.dlFreqs[i] === 0 ? null : f.dlFreqs[i] }))
    : [];
  const opt = (v: number) => (v === -1 ? null : v);
  const q = Buffer.from(f.queued, 'hex');
  const upSize: Record<number, number> = { 0x02: 0, 0x03: 1, 0x04: 0, 0x05: 1, 0x06: 2, 0x07: 1, 0x08: 0, 0x0a: 1, 0x0d: 0 };
  const pending: ModelState['pending'] = [];
  for (let i = 0; i < q.length; i += 1 + upSize[q[i]!]!) pending.push({ bytes: [...q.subarray(i, i + 1 + upSize[q[i]!]!)], sticky: [0x05, 0x08, 0x0a].includes(q[i]!) });
  return {
    region, dr: f.dr, txPower: f.txPower, nbTrans: f.nbTrans, adr: f.adr, enabled, channels,
    rx1DrOffset: f.rx1DrOffset, rx1Delay: f.rx1Delay, rx2Dr: f.rx2Dr, rx2Freq: f.rx2Freq, maxDutyCycle: f.maxDutyCycle,
    battery: f.battery, snr: f.snr, linkMargin: opt(f.linkMargin), gwCnt: opt(f.gwCnt), gpsSeconds: opt(f.gpsSeconds), gpsFrac: opt(f.gpsFrac), pending,
  };
}

/** The model's state in the firmware's shape (to feed mac-commands). */
export function toFirmware(s: ModelState): Record<string, unknown> {
  const n = nChannels(s.region);
  const chMask = Array.from({ length: Math.ceil(n / 16) }, (_, w) => s.enabled.slice(16 * w, 16 * w + 16).reduce((m, on, k) => m | (on ? 1 << k : 0), 0));
  const eu = s.region === 'EU868';
  const col = (pick: (c: Channel) => number) => (eu ? s.channels.map(c => (c == null ? 0 : pick(c))) : []);
  return {
    dr: s.dr, txPower: s.txPower, nbTrans: s.nbTrans, adr: s.adr, chMask,
    freqs: col(c => c.freq), drMin: col(c => c.minDr), drMax: col(c => c.maxDr), dlFreqs: col(c => c.dlFreq ?? 0),
    rx1DrOffset: s.rx1DrOffset, rx1Delay: s.rx1Delay, rx2Dr: s.rx2Dr, rx2Freq: s.rx2Freq, maxDutyCycle: s.maxDutyCycle,
    battery: s.battery, snr: s.snr, linkMargin: s.linkMargin ?? -1, gwCnt: s.gwCnt ?? -1, gpsSeconds: s.gpsSeconds ?? -1, gpsFrac: s.gpsFrac ?? -1,
    queued: Buffer.from(s.pending.flatMap(p => p.bytes)).toString('hex'),
  };
}

/** Device-initiated requests. */
export const requestLinkCheck = (s: ModelState) => s.pending.push({ bytes: [0x02], sticky: false });
export const requestDeviceTime = (s: ModelState) => s.pending.push({ bytes: [0x0d], sticky: false });
