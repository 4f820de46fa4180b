// The simulated devices' LoRaWAN 1.0.4 MAC (simulator/src/lorawan-mac.ts):
// - hand-checked cases whose expected bytes come from the specification text;
// - a differential test of random downlink command streams against tests/helpers/lorawan-mac-model.ts,
//   the test-side model written from the specification that also judges the firmware (no shared code).
// The end-to-end path (a downlink through GWMP, answers in the next uplink) is in
// simulator-lorawan-gwmp.test.ts.
import { describe, expect, it } from 'vitest';
import { ADR_ACK_DELAY, ADR_ACK_LIMIT, CID, GPS_EPOCH_UNIX_MS, LorawanMac, type UplinkMac } from '@sceau/simulator';
import * as model from './helpers/lorawan-mac-model.js';
import { xorshift32 } from './helpers/xorshift.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const f24 = (hz: number): number[] => {
  const v = Math.round(hz / 100);
  return [v & 255, (v >> 8) & 255, (v >> 16) & 255];
};
const linkAdr = (dr: number, power: number, mask: number, cntl: number, nbTrans: number): number[] => [0x03, (dr << 4) | power, mask & 255, mask >> 8, (cntl << 4) | nbTrans];

/** Sends every answer that was never sent (the way a device's next uplinks would), then returns what stays queued. */
function drain(mac: LorawanMac, payloadBytes = 0): UplinkMac[] {
  const sent: UplinkMac[] = [];
  for (;;) {
    const c = mac.compose(payloadBytes);
    mac.sent(c);
    sent.push(c);
    if (c.kind !== 'port0') return sent;
  }
}

describe('simulated device MAC: hand-checked (LoRaWAN L2 1.0.4 section 5, RP002-1.0.x)', () => {
  it('LinkADRReq: a block applies its masks in order and the last DR/TXPower/NbTrans; one LinkADRAns per request', () => {
    const mac = new LorawanMac('us915', { dr: 0, adr: true, subBand: 2 });
    // ChMaskCntl 7 (all 125 kHz off, ChMask for 64..71 = none), then channels 16..31 on: DR3, TXPower 2, NbTrans 3
    const parsed = mac.receive(Uint8Array.from([...linkAdr(1, 1, 0x0000, 7, 1), ...linkAdr(3, 2, 0xffff, 1, 3)]), 0, false);
    expect(parsed).toBe(10);
    expect(hex(mac.queuedBytes())).toBe('03070307');
    expect(mac.enabled.map((on, ch) => (on ? ch : -1)).filter((ch) => ch >= 0)).toEqual(Array.from({ length: 16 }, (_, i) => 16 + i));
    expect({ dr: mac.dr, txPower: mac.txPower, nbTrans: mac.nbTrans }).toEqual({ dr: 3, txPower: 2, nbTrans: 3 });
    expect(mac.profile().name).toBe('lorawan-us915-dr3');
  });

  it('LinkADRReq: all or nothing; a mask naming an undefined EU868 channel is refused, DR 0xF and TXPower 0xF keep the current ones', () => {
    const mac = new LorawanMac('eu868', { dr: 2, adr: true });
    mac.receive(Uint8Array.from(linkAdr(5, 1, 0x0008, 0, 1)), 0, false); // channel 3 is not defined
    expect(hex(mac.queuedBytes())).toBe('0306');
    expect(mac.dr).toBe(2);
    drain(mac);
    mac.receive(Uint8Array.from(linkAdr(15, 15, 0x0003, 0, 0)), 0, false);
    expect(hex(mac.queuedBytes())).toBe('0307');
    expect({ dr: mac.dr, txPower: mac.txPower, nbTrans: mac.nbTrans, on: mac.enabled.slice(0, 3) }).toEqual({ dr: 2, txPower: 0, nbTrans: 1, on: [true, true, false] });
    // a DR the device cannot send sceau datagrams at (DR6, SF7/250 kHz, has no link profile): DR NACK
    drain(mac);
    mac.receive(Uint8Array.from([...bytes(`0706${hex(Uint8Array.from(f24(868_800_000)))}70`), ...linkAdr(6, 0, 0x0040, 0, 1)]), 0, false);
    expect(hex(mac.queuedBytes())).toBe('07030305');
  });

  it('NewChannelReq, DlChannelReq, RXParamSetupReq, RXTimingSetupReq set the windows; sticky answers repeat until a downlink', () => {
    const mac = new LorawanMac('eu868', { dr: 5, adr: false });
    const cmds = Uint8Array.from([0x07, 3, ...f24(867_100_000), 0x50, 0x0a, 3, ...f24(869_525_000), 0x05, 0x12, ...f24(869_525_000), 0x08, 0x05]);
    expect(mac.receive(cmds, 4, false)).toBe(cmds.length);
    expect(hex(mac.queuedBytes())).toBe('0703' + '0a03' + '0507' + '08');
    expect(mac.rx1(3)).toEqual({ freqHz: 869_525_000, dr: 4, datr: 'SF8BW125' }); // DlChannel frequency, DR5 - offset 1
    expect(mac.rx2()).toEqual({ freqHz: 869_525_000, dr: 2, datr: 'SF10BW125' });
    expect(mac.rx1Delay).toBe(5);
    drain(mac);
    expect(hex(mac.queuedBytes())).toBe('0a03050708'); // sticky ones stay
    expect(drain(mac)[0]).toMatchObject({ kind: 'fopts' }); // and go out again
    mac.receive(new Uint8Array(0), 0, false); // any class A downlink ends them
    expect(hex(mac.queuedBytes())).toBe('');
    // refused values change nothing: RX1DROffset 6, RX2 DR7 (FSK), a frequency outside the band
    mac.receive(Uint8Array.from([0x05, 0x67, ...f24(870_500_000)]), 0, false);
    expect(hex(mac.queuedBytes())).toBe('0500');
    expect(mac.rx2().freqHz).toBe(869_525_000);
  });

  it('DevStatusAns: battery as given, margin as 6-bit two\'s complement of the last downlink SNR, clamped to -32..31', () => {
    const mac = new LorawanMac('eu868', { dr: 0, adr: false, battery: () => 200 });
    mac.receive(Uint8Array.from([0x06]), -7.4, false);
    expect(hex(mac.queuedBytes())).toBe('06c839'); // -7 = 0b111001
    drain(mac);
    mac.receive(Uint8Array.from([0x06]), 40, false);
    expect(hex(mac.queuedBytes())).toBe('06c81f');
  });

  it('answers go in FOpts beside the payload when they fit, else first in an FPort 0 uplink of their own', () => {
    const mac = new LorawanMac('us915', { dr: 1, adr: false }); // N = 53
    mac.receive(Uint8Array.from([0x06, 0x04, 0x01]), 0, false); // DevStatusAns (3 bytes) + DutyCycleAns (1)
    expect(mac.compose(49)).toMatchObject({ kind: 'fopts' });
    const c = mac.compose(50); // 50 + 4 > 53
    expect(c.kind).toBe('port0');
    expect(hex((c as { payload: Uint8Array }).payload)).toBe('06ff0004');
    mac.sent(c);
    expect(mac.compose(50)).toEqual({ kind: 'none' });
    // sticky repeats alone never take an uplink of their own
    mac.receive(Uint8Array.from([0x08, 0x01]), 0, false);
    mac.sent(mac.compose(0));
    expect(mac.compose(53)).toEqual({ kind: 'none' });
    expect(mac.compose(52)).toMatchObject({ kind: 'fopts' });
    expect(mac.counts).toMatchObject({ commands: 3, answers: 3 });
  });

  it('an uplink sent while a downlink arrived keeps the new answers the downlink queued', () => {
    const mac = new LorawanMac('eu868', { dr: 3, adr: false });
    mac.request(CID.LinkCheck);
    const c = mac.compose(10);
    mac.receive(Uint8Array.from([0x02, 12, 1, 0x06]), 0, false); // in this uplink's RX1
    mac.sent(c);
    expect(hex(mac.queuedBytes())).toBe('06ff00');
    expect(mac.linkCheck).toEqual({ margin: 12, gwCnt: 1 });
  });

  it('DeviceTimeAns: GPS seconds and 1/256 s to Unix time (18 leap seconds)', () => {
    const mac = new LorawanMac('eu868', { dr: 0, adr: false });
    // 2026-01-01T00:00:00Z = Unix 1767225600 = GPS 1451260818
    const gps = 1_767_225_600 - GPS_EPOCH_UNIX_MS / 1000 + 18;
    expect(gps).toBe(1_451_260_818);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(gps);
    mac.receive(Uint8Array.from([0x0d, ...b, 128]), 0, false);
    expect(mac.networkTimeUnixMs).toBe(Date.UTC(2026, 0, 1) + 500);
    expect(mac.counts.timeSyncs).toBe(1);
  });

  it('ADR: ADRACKReq after ADR_ACK_LIMIT uplinks without a downlink; every ADR_ACK_DELAY more it steps back (TXPower, then DR, then default channels)', () => {
    const mac = new LorawanMac('eu868', { dr: 3, adr: true });
    mac.receive(Uint8Array.from(linkAdr(5, 3, 0x0001, 0, 1)), 0, false);
    drain(mac);
    const flags = Array.from({ length: ADR_ACK_LIMIT + 3 * ADR_ACK_DELAY + 1 }, () => mac.uplinkFlags());
    expect(flags.findIndex((f) => f.adrAckReq)).toBe(ADR_ACK_LIMIT);
    expect({ dr: mac.dr, txPower: mac.txPower }).toEqual({ dr: 3, txPower: 0 }); // power reset, then DR5 -> DR4 -> DR3
    mac.receive(new Uint8Array(0), 0, false);
    expect(mac.uplinkFlags().adrAckReq).toBe(false);
    const off = new LorawanMac('eu868', { dr: 3, adr: false });
    expect(Array.from({ length: 200 }, () => off.uplinkFlags()).some((f) => f.adrAckReq || f.adr)).toBe(false);
  });

  it('a confirmed downlink makes the next uplink (only) set ACK', () => {
    const mac = new LorawanMac('eu868', { dr: 5, adr: false });
    expect(mac.uplinkFlags().ack).toBe(false);
    mac.receive(new Uint8Array(0), 0, true);
    expect(mac.uplinkFlags()).toEqual({ adr: false, adrAckReq: false, ack: true });
    expect(mac.uplinkFlags().ack).toBe(false);
  });

  it('a join-accept\'s DLSettings, RxDelay and CFList (EU868 frequencies, US915 channel mask)', () => {
    const eu = new LorawanMac('eu868', { dr: 0, adr: false });
    eu.joined(0x23, 0, Uint8Array.from([...f24(867_100_000), ...f24(867_300_000), 0, 0, 0, ...f24(900_000_000), ...f24(867_900_000), 0]));
    expect({ offset: eu.rx1DrOffset, rx2: eu.rx2Dr, delay: eu.rx1Delay }).toEqual({ offset: 2, rx2: 3, delay: 1 });
    expect(eu.channels.slice(3, 8).map((c) => c?.freqHz ?? null)).toEqual([867_100_000, 867_300_000, null, null, 867_900_000]);
    const us = new LorawanMac('us915', { dr: 0, adr: false });
    us.joined(0x08, 3, Uint8Array.from([0x00, 0xff, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 1]));
    expect(us.enabled.map((on, ch) => (on ? ch : -1)).filter((ch) => ch >= 0)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 65]);
    expect({ rx2: us.rx2Dr, delay: us.rx1Delay }).toEqual({ rx2: 8, delay: 3 });
  });
});

// ---- differential: random command streams against the test-side model ------------------------

const next = xorshift32(0x5ce0_0104);
const below = (n: number): number => next() % n;
const oneOf = <T>(xs: readonly T[]): T => xs[below(xs.length)]!;
const anyFreq = (): number => (below(6) === 0 ? 100 * below(0x1000000) : oneOf([868.1e6, 868.3e6, 867.5e6, 863e6, 864.9e6, 865e6, 868e6, 868.65e6, 869.525e6, 870.1e6, 923.3e6, 923.9e6, 927.5e6, 923.4e6, 902.3e6]));

function randomCommand(region: model.RegionName): number[] {
  switch (below(12)) {
    case 0:
    case 1: {
      // DR6 is left out in EU868: the model accepts it, this device refuses rates it has no link profile for
      const dr = region === 'EU868' ? oneOf([0, 1, 2, 3, 4, 5, 7, 15, 15]) : oneOf([0, 1, 2, 3, 4, 5, 8, 15, 15]);
      return linkAdr(dr, oneOf([0, 1, 5, 7, 14, 15, below(16)]), oneOf([0, 0xffff, 0x0007, 0x00ff, 0xff00, 1 << below(16), below(0x10000)]), oneOf([0, 0, 5, 6, 7, 4, below(8)]), below(16));
    }
    case 2:
      return [0x05, (below(8) << 4) | oneOf([0, 3, 6, 7, 8, 13, below(16)]), ...f24(anyFreq())];
    case 3:
      return [0x06];
    case 4:
      return [0x07, oneOf([2, 3, 5, 15, 16, below(256)]), ...f24(below(5) === 0 ? 0 : anyFreq()), (below(16) << 4) | below(8)];
    case 5:
      return [0x08, below(256)];
    case 6:
      return [0x0a, oneOf([0, 1, 3, 5, 16, below(256)]), ...f24(anyFreq())];
    case 7:
      return [0x04, below(256)];
    case 8:
      return [0x02, below(256), below(256)];
    case 9:
      return [0x0d, below(256), below(256), below(256), below(256), below(256)];
    case 10:
      return [0x09, below(256)];
    default:
      return below(3) === 0 ? [oneOf([0x01, 0x0b, 0x0e, 0x80]), below(256)] : [0x06];
  }
}

function project(mac: LorawanMac): Record<string, unknown> {
  return {
    dr: mac.dr, txPower: mac.txPower, nbTrans: mac.nbTrans, enabled: mac.enabled,
    channels: mac.region.name === 'eu868' ? mac.channels.map((c) => (c === null ? null : { freq: c.freqHz, minDr: c.minDr, maxDr: c.maxDr, dlFreq: c.dlFreqHz === 0 ? null : c.dlFreqHz })) : [],
    rx1DrOffset: mac.rx1DrOffset, rx1Delay: mac.rx1Delay, rx2Dr: mac.rx2Dr, rx2Freq: mac.rx2FreqHz, maxDutyCycle: mac.maxDutyCycle,
    linkMargin: mac.linkCheck?.margin ?? null, gwCnt: mac.linkCheck?.gwCnt ?? null, networkTime: mac.networkTimeUnixMs,
  };
}

function projectModel(s: model.ModelState): Record<string, unknown> {
  return {
    dr: s.dr, txPower: s.txPower, nbTrans: s.nbTrans, enabled: s.enabled, channels: s.channels,
    rx1DrOffset: s.rx1DrOffset, rx1Delay: s.rx1Delay, rx2Dr: s.rx2Dr, rx2Freq: s.rx2Freq, maxDutyCycle: s.maxDutyCycle,
    linkMargin: s.linkMargin, gwCnt: s.gwCnt,
    networkTime: s.gpsSeconds === null ? null : GPS_EPOCH_UNIX_MS + (s.gpsSeconds - 18) * 1000 + Math.round((s.gpsFrac! * 1000) / 256),
  };
}

describe('simulated device MAC: random command streams against the specification model', () => {
  it('gives the model\'s answers, bytes parsed and state on 500 random downlink sequences (EU868, US915)', () => {
    for (let n = 0; n < 500; n++) {
      const region: model.RegionName = below(2) === 0 ? 'EU868' : 'US915';
      const subBand = 1 + below(8);
      const adr = below(4) !== 0;
      const dr = region === 'EU868' ? below(6) : below(4);
      const txPower = below(8);
      const battery = oneOf([0, 1, 128, 254, 255]);
      const snr = below(80) - 40;
      const s = model.initial(region, subBand);
      Object.assign(s, { adr, dr, txPower, battery, snr });
      const mac = new LorawanMac(region === 'EU868' ? 'eu868' : 'us915', { dr, adr, subBand, battery: () => battery });
      mac.txPower = txPower;
      const steps = 2 + below(8);
      for (let k = 0; k < steps; k++) {
        const what = below(10);
        const where = `case ${n} step ${k}`;
        if (what < 5) {
          const cmds: number[] = [];
          for (let c = below(6); c > 0; c--) cmds.push(...randomCommand(region));
          if (below(10) === 0 && cmds.length > 0) cmds.length -= 1 + below(cmds.length); // cut short
          expect(mac.receive(Uint8Array.from(cmds), snr, false), where).toBe(model.downlink(s, cmds));
          expect(hex(mac.queuedBytes()), where).toBe(Buffer.from(s.pending.flatMap((p) => p.bytes)).toString('hex'));
          expect(project(mac), where).toEqual(projectModel(s));
        } else if (what < 8) {
          const n = mac.profile().mtu;
          const sent = drain(mac).flatMap((c) => (c.kind === 'fopts' ? [...c.fOpts] : c.kind === 'port0' ? [...c.payload] : []));
          const modelSent = model.uplink(s);
          // what fits in FOpts goes in one uplink, as in the model; more goes on FPort 0, in as many uplinks as N needs
          if (modelSent.length / 2 <= Math.min(15, n)) expect(hex(Uint8Array.from(sent)), where).toBe(modelSent);
          expect(hex(mac.queuedBytes()), where).toBe(Buffer.from(s.pending.flatMap((p) => p.bytes)).toString('hex'));
        } else if (what === 8) {
          mac.request(CID.LinkCheck);
          model.requestLinkCheck(s);
        } else {
          mac.request(CID.DeviceTime);
          model.requestDeviceTime(s);
        }
      }
    }
  });
});
