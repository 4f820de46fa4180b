// The firmware's LoRaWAN 1.0.4 MAC foundations run in the DeviceScript VM (through
// `npm run -w firmware lorawan-vectors` ops region, mac-init, mac-commands, fcnt-down):
// - regional data against RP002-1.0.x values typed into tests/helpers/lorawan-mac-model.ts;
// - MAC commands: hand-checked cases whose expected bytes come from the specification text, and
//   a differential test of random command streams against the test-side model (no shared code);
// - the 32-bit downlink counter: downlinks built by tests/helpers/lorawan-reference.ts, replays refused.
import { beforeAll, describe, expect, it } from 'vitest';
import { runLorawanVectors } from '../firmware/scripts/lorawan-vectors.mjs';
import * as model from './helpers/lorawan-mac-model.js';
import * as ref from './helpers/lorawan-reference.js';
import { xorshift32 } from './helpers/xorshift.js';

/** One result line of the VM: JSON shaped by its op (firmware/README.md, "LoRaWAN vectors"), read field by field. */
type VmResult = Record<string, any>;
/** Runs `items` in the VM: one result per item (a tuple when `items` is written out). */
async function vm<const I extends readonly unknown[]>(items: I, options?: { detail?: boolean }): Promise<{ [K in keyof I]: VmResult }> {
  const out = await runLorawanVectors(items, options);
  expect(out).toHaveLength(items.length);
  return out as { [K in keyof I]: VmResult };
}

const next = xorshift32(0x11ac0004);
const int = (n: number) => next() % n;
const pick = <T>(a: T[]): T => a[int(a.length)]!;
const hexOf = (b: number[]) => Buffer.from(b).toString('hex');
const f24 = (hz: number) => {
  const v = Math.round(hz / 100);
  return [v & 255, (v >> 8) & 255, (v >> 16) & 255];
};

// ---- random MAC command streams -------------------------------------------------------------
const FREQS = [
  868.1e6, 868.3e6, 867.1e6, 867.9e6, 869.525e6, 863e6, 865e6, 868e6, 868.65e6, 869.3e6, 870.1e6, 862.9e6, // EU868 edges
  923.3e6, 923.9e6, 927.5e6, 928.1e6, 923.4e6, 902.3e6, // US915 downlink grid and off-grid
];
const freq = () => (int(8) === 0 ? 100 * int(0x1000000) : pick(FREQS));
function command(): number[] {
  switch (int(13)) {
    case 0: case 1: case 2: { // LinkADRReq, often valid-looking
      const dr = pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 15, int(16)]);
      const pw = pick([0, 1, 5, 7, 14, 15, 15, int(16)]);
      const mask = pick([0, 0xffff, 0x0007, 0x00ff, 0xff00, 0x0002, 0x0001 << int(16), int(0x10000)]);
      const cntl = pick([0, 0, 5, 6, 7, 4, int(8)]);
      return [0x03, (dr << 4) | pw, mask & 255, mask >> 8, (cntl << 4) | pick([0, 1, 2, 3, 15, int(16)])];
    }
    case 3: return [0x05, (int(8) << 4) | pick([0, 3, 8, 13, int(16)]), ...f24(freq())];
    case 4: return [0x06];
    case 5: return [0x07, pick([2, 3, 4, 7, 15, 16, int(256)]), ...f24(int(5) === 0 ? 0 : freq()), (int(16) << 4) | int(8)];
    case 6: return [0x08, int(256)];
    case 7: return [0x0a, pick([0, 1, 3, 5, 15, 16, int(256)]), ...f24(freq())];
    case 8: return [0x04, int(256)];
    case 9: return [0x02, int(256), int(256)];
    case 10: return [0x0d, int(256), int(256), int(256), int(256), int(256)];
    case 11: return [0x09, int(256)];
    default: return int(3) === 0 ? [pick([0x01, 0x0b, 0x0c, 0x0e, 0x20, 0x80, 0xff]), int(256)] : [0x06];
  }
}
function downlinkCommands(): number[] {
  const out: number[] = [];
  const n = int(6);
  for (let i = 0; i < n; i++) out.push(...command());
  if (int(10) === 0 && out.length > 0) out.length -= 1 + int(out.length); // cut short
  return out;
}

type Step = string;
interface MacCase { region: model.RegionName; start: model.ModelState; steps: Step[] }
function macCase(): MacCase {
  const region: model.RegionName = int(2) === 0 ? 'EU868' : 'US915';
  const start = model.initial(region, region === 'US915' ? int(9) : 0);
  start.adr = int(4) !== 0;
  start.dr = region === 'EU868' ? int(6) : int(4);
  start.txPower = int(8);
  start.battery = pick([0, 1, 128, 254, 255]);
  start.snr = int(80) - 40;
  const steps: Step[] = [];
  const n = 2 + int(8);
  for (let i = 0; i < n; i++) {
    const k = int(10);
    steps.push(k < 5 ? `down:${hexOf(downlinkCommands())}` : k < 8 ? 'up' : k === 8 ? 'link-check' : 'device-time');
  }
  steps.push('up');
  return { region, start, steps };
}

function runModel(c: MacCase) {
  const s: model.ModelState = structuredClone(c.start);
  const uplinks: string[] = [];
  const parsed: number[] = [];
  for (const step of c.steps) {
    if (step === 'up') uplinks.push(model.uplink(s));
    else if (step === 'link-check') model.requestLinkCheck(s);
    else if (step === 'device-time') model.requestDeviceTime(s);
    else parsed.push(model.downlink(s, [...Buffer.from(step.slice(5), 'hex')]));
  }
  return { uplinks, parsed, state: s };
}

const N = Number(process.env.LORAWAN_MAC_N ?? 400);
const randomCases = Array.from({ length: N }, macCase);

// ---- hand-checked cases (expected values from the specification, not from the model) ------------
const adr = (dr: number, pw: number, mask: number, cntl: number, nb: number) => [0x03, (dr << 4) | pw, mask & 255, mask >> 8, (cntl << 4) | nb];
const down = (...cmds: number[][]) => `down:${hexOf(cmds.flat())}`;

describe('firmware LoRaWAN MAC in the DeviceScript VM', () => {
  let init: Record<string, any>;
  const mac = async (region: model.RegionName, state: unknown, steps: Step[]) =>
    (await vm([{ op: 'mac-commands', region, state, steps }]))[0] as { uplinks: string[]; parsed: number[]; state: any };

  beforeAll(async () => {
    const out = await vm([
      { op: 'mac-init', region: 'EU868', subBand: 0, dlSettings: null, cfList: null },
      { op: 'mac-init', region: 'US915', subBand: 2, dlSettings: null, cfList: null },
      { op: 'mac-init', region: 'US915', subBand: 0, dlSettings: null, cfList: null },
    ]);
    init = { eu: out[0].state, us2: out[1].state, usAll: out[2].state };
  }, 120_000);

  it('regions: channels, RX1/RX2, max payload per DR, duty-cycle bands and dwell are RP002 values', async () => {
    const euFreqs = [863e6, 864.9e6, 865e6, 868e6, 868.1e6, 868.6e6, 868.65e6, 868.7e6, 869.2e6, 869.3e6, 869.4e6, 869.525e6, 869.65e6, 869.7e6, 870e6, 870.1e6, 862.9e6];
    const usFreqs = [923.3e6, 923.9e6, 927.5e6, 928.1e6, 923.4e6, 902.3e6, 901e6];
    const [eu, us] = await vm([
      { op: 'region', region: 'EU868', freqs: euFreqs, airtimeMs: 1000 },
      { op: 'region', region: 'US915', freqs: usFreqs, airtimeMs: 1000 },
    ]);
    // EU868: the three default channels, RX1 on the uplink channel, DR = max(DR - offset, 0)
    expect(eu.channels).toEqual([868.1e6, 868.3e6, 868.5e6, ...Array(13).fill(0)]);
    expect(eu.rx1Freqs.slice(0, 3)).toEqual([868.1e6, 868.3e6, 868.5e6]);
    const euRx1 = [];
    for (let dr = 0; dr <= 7; dr++) for (let off = 0; off <= 5; off++) euRx1.push(Math.max(dr - off, 0));
    expect(eu.rx1Dr).toEqual(euRx1);
    expect(eu.rx2).toEqual([869.525e6, 0]);
    expect(eu.dwellMs).toBe(0);
    for (let dr = 0; dr < 16; dr++) expect(eu.maxPayload[dr], `EU868 DR${dr}`).toBe(model.RP002.EU868.maxPayloadN[dr] ?? 0);
    euFreqs.forEach((f, i) => {
      const b = model.euSubBand(f);
      expect(eu.band[i], `${f}`).toBe(b);
      expect(eu.uplinkOk[i], `${f}`).toBe(b >= 0 ? 1 : 0);
      // T_off = T_air / dc - T_air for 1 s on air
      expect(eu.timeOffMs[i], `${f}`).toBe(b < 0 ? 0 : Math.round(1000 * (100 / (model.RP002.EU868.subBands[b]![2]) - 1)));
    });
    expect(eu.timeOffMs[euFreqs.indexOf(868.1e6)]).toBe(99_000); // 1 %
    expect(eu.timeOffMs[euFreqs.indexOf(869.525e6)]).toBe(9_000); // 10 %
    expect(eu.timeOffMs[euFreqs.indexOf(868.7e6)]).toBe(999_000); // 0.1 %
    // US915: 64 + 8 channels, RX1 at 923.3 + 0.6 (ch mod 8) MHz, the RP002 RX1 DR table, RX2 923.3 MHz DR8
    expect(us.channels).toEqual(Array.from({ length: 72 }, (_, ch) => Math.round(model.usUplinkFreq(ch))));
    expect(us.rx1Freqs).toEqual(Array.from({ length: 72 }, (_, ch) => Math.round(model.usRx1Freq(ch))));
    expect(us.rx1Dr).toEqual(model.RP002.US915.rx1Dr.flat());
    expect(us.rx2).toEqual([923.3e6, 8]);
    expect(us.dwellMs).toBe(400);
    for (let dr = 0; dr < 16; dr++) expect(us.maxPayload[dr], `US915 DR${dr}`).toBe(model.RP002.US915.maxPayloadN[dr] ?? 0);
    expect(us.downlinkOk).toEqual([1, 1, 1, 0, 0, 0, 0]);
    expect(us.timeOffMs).toEqual(Array(usFreqs.length).fill(0));
  }, 120_000);

  it('activation: CFList type 0 adds EU868 channels, type 1 sets the US915 mask, DLSettings and RxDelay apply', async () => {
    const cf0 = [...f24(867.1e6), ...f24(867.3e6), ...f24(0), ...f24(867.7e6), ...f24(871e6), 0];
    const mask = [0x00, 0xff, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0, 0, 0, 0, 0, 1]; // sub-band 2: channels 8..15 and 65
    const out = await vm([
      { op: 'mac-init', region: 'EU868', subBand: 0, dlSettings: 0x23, rxDelay: 0, cfList: hexOf(cf0) },
      { op: 'mac-init', region: 'US915', subBand: 0, dlSettings: 0x0a, rxDelay: 5, cfList: hexOf(mask) },
      { op: 'mac-init', region: 'EU868', subBand: 0, dlSettings: null, cfList: hexOf(mask) }, // type 1 in EU868: ignored
    ]);
    const eu = out[0].state;
    expect(out[0].cfListApplied).toBe(true);
    expect(eu.freqs.slice(0, 8)).toEqual([868.1e6, 868.3e6, 868.5e6, 867.1e6, 867.3e6, 0, 867.7e6, 0]); // 871 MHz is outside EU868
    expect(eu.chMask).toEqual([0b1011111]);
    expect([eu.rx1DrOffset, eu.rx2Dr, eu.rx1Delay]).toEqual([2, 3, 1]); // RxDelay 0 means 1 s
    expect(out[1].state.chMask).toEqual([0xff00, 0, 0, 0, 0x0002]);
    expect(out[1].state.chMask).toEqual(init.us2.chMask); // the same as sub-band 2 selected on the device
    expect([out[1].state.rx2Dr, out[1].state.rx1Delay]).toEqual([10, 5]);
    expect(out[2].cfListApplied).toBe(false);
    expect(out[2].state.chMask).toEqual([7]);
  }, 120_000);

  it('LinkADRReq blocks (1.0.4): US915 sub-band via ChMaskCntl 7 + 0 or 5, one status for the block, rejected blocks change nothing', async () => {
    const all = init.usAll;
    // TTN-style FSB 2: all 125 kHz off and 500 kHz channel 65 on, then channels 8..15; DR3, power 2, NbTrans 2
    let r = await mac('US915', all, [down(adr(3, 2, 0x0002, 7, 0), adr(3, 2, 0xff00, 0, 2)), 'up']);
    expect(r.uplinks).toEqual(['03070307']);
    expect(r.state).toMatchObject({ chMask: [0xff00, 0, 0, 0, 0x0002], dr: 3, txPower: 2, nbTrans: 2 });
    // ChMaskCntl 5: bit 1 = sub-band 2 (and channel 65)
    r = await mac('US915', all, [down(adr(15, 15, 0x0002, 5, 0)), 'up']);
    expect(r.uplinks).toEqual(['0307']);
    expect(r.state).toMatchObject({ chMask: [0xff00, 0, 0, 0, 0x0002], dr: 0, txPower: 0, nbTrans: 1 }); // 0xF keeps, NbTrans 0 -> 1
    // the same block with DR5 (RFU in US915) in its last command: DR NACK for both, nothing applied
    r = await mac('US915', all, [down(adr(3, 2, 0x0002, 7, 0), adr(5, 2, 0xff00, 0, 2)), 'up']);
    expect(r.uplinks).toEqual(['03050305']);
    expect(r.state).toMatchObject({ chMask: all.chMask, dr: 0, txPower: 0, nbTrans: 1 });
    // a block that disables every channel: ChMask NACK (the DR is judged on the current mask)
    r = await mac('US915', all, [down(adr(0, 0, 0x0000, 7, 1)), 'up']);
    expect(r.uplinks).toEqual(['0306']);
    expect(r.state.chMask).toEqual(all.chMask);
    // DR4 needs a 500 kHz channel: FSB2 without channel 65 cannot take DR4
    r = await mac('US915', all, [down(adr(4, 0, 0x0000, 7, 1), adr(4, 0, 0xff00, 0, 1)), 'up']);
    expect(r.uplinks).toEqual(['03050305']);
  }, 120_000);

  it('LinkADRReq with ADR off: the mask applies, DR/TXPower/NbTrans are kept and acknowledged', async () => {
    const st = { ...init.us2, adr: false, dr: 2, txPower: 1, nbTrans: 1 };
    const r = await mac('US915', st, [down(adr(3, 5, 0x0004, 5, 3)), 'up']);
    expect(r.uplinks).toEqual(['0307']);
    expect(r.state).toMatchObject({ chMask: [0, 0x00ff, 0, 0, 0x0004], dr: 2, txPower: 1, nbTrans: 1 });
    // EU868: ADR on, a channel that is not defined (bit 5) is a ChMask NACK; power index 8 does not exist
    const e = await mac('EU868', init.eu, [down(adr(5, 8, 0x0027, 0, 1)), 'up']);
    expect(e.uplinks).toEqual(['0302']);
    expect(e.state.chMask).toEqual([7]);
  }, 120_000);

  it('sticky answers repeat in every uplink until a class A downlink; other answers go once; parsing stops at an unknown CID', async () => {
    const rxParam = [0x05, 0x13, ...f24(869.525e6)]; // RX1DROffset 1, RX2 DR3 (SF9), 869.525 MHz
    const timing = [0x08, 0x05];
    const r = await mac('EU868', { ...init.eu, battery: 200, snr: -7 }, [
      down(rxParam, timing, [0x06], [0x04, 0x03]),
      'up', 'up', 'link-check', 'up',
      'down:', // a downlink without commands ends the repetition
      'up',
      down([0x06], [0x01, 0x00], [0x06], [0x0d, 0, 0, 0, 0, 0]), // 0x01 is not a 1.0.4 device-bound CID
      'up',
      down([0x0d, 0x8a, 0x3d, 0xa8, 0x52, 0x80], [0x02, 20, 3]), // DeviceTimeAns and LinkCheckAns
      'up',
    ]);
    expect(r.uplinks).toEqual([
      '0507' + '08' + '06c839' + '04', // DevStatusAns: battery 200, margin -7 as 6-bit two's complement
      '050708',
      '05070802',
      '',
      '06c839',
      '',
    ]);
    expect(r.parsed).toEqual([10, 0, 1, 9]);
    expect(r.state).toMatchObject({ rx1DrOffset: 1, rx2Dr: 3, rx2Freq: 869.525e6, rx1Delay: 5, maxDutyCycle: 3 });
    expect(r.state).toMatchObject({ gpsSeconds: 0x52a83d8a, gpsFrac: 128, linkMargin: 20, gwCnt: 3 });
  }, 120_000);

  it('EU868 NewChannelReq, DlChannelReq and RXParamSetupReq statuses', async () => {
    const r = await mac('EU868', init.eu, [
      down(
        [0x07, 3, ...f24(867.1e6), 0x50], // channel 3, DR0..5: accepted
        [0x07, 1, ...f24(867.3e6), 0x50], // a default channel: refused
        [0x07, 4, ...f24(871e6), 0x50], // outside the band: frequency NACK
        [0x07, 5, ...f24(867.5e6), 0x05], // DR range max < min: DR NACK
        [0x0a, 3, ...f24(869.525e6)], // DlChannelReq on channel 3: accepted
        [0x0a, 9, ...f24(869.525e6)], // channel 9 undefined
        [0x05, 0x68, ...f24(869.525e6)], // RX1DROffset 6 and RX2 DR8 do not exist in EU868
        adr(5, 0, 0x000f, 0, 1), // now channel 3 is defined
      ),
      'up',
    ]);
    expect(r.uplinks).toEqual(['0703' + '0700' + '0702' + '0701' + '0a03' + '0a01' + '0501' + '0307']);
    expect(r.state.freqs.slice(0, 6)).toEqual([868.1e6, 868.3e6, 868.5e6, 867.1e6, 0, 0]);
    expect(r.state.dlFreqs[3]).toBe(869.525e6);
    expect(r.state.chMask).toEqual([15]);
    expect(r.state.dr).toBe(5);
  }, 120_000);

  it('RX windows: RX1 after RxDelay (5 s for a join) on the RX1 channel and DR, RX2 1 s later, widened by the timing error', async () => {
    const tsym = (sf: number, bwKHz: number) => (2 ** sf / (bwKHz * 1000)) * 1000;
    // open `error` ms early, listen 2 * error + 6 symbols (LoRaWAN's minimum preamble detection)
    const w = (nominal: number, freqHz: number, dr: number, sf: number, bwKHz: number, error = 10) =>
      ({ openMs: nominal - error, windowMs: 2 * error + 6 * tsym(sf, bwKHz), freqHz, dr, sf, bwHz: bwKHz * 1000 });
    const ttn = { ...init.eu, rx1DrOffset: 2, rx1Delay: 5, rx2Dr: 3 }; // what a TTN join-accept sets
    const cases: [string, unknown, number, number, boolean, ReturnType<typeof w>[]][] = [
      ['EU868', init.eu, 1, 5, false, [w(1000, 868.3e6, 5, 7, 125), w(2000, 869.525e6, 0, 12, 125)]],
      ['EU868', init.eu, 0, 0, true, [w(5000, 868.1e6, 0, 12, 125), w(6000, 869.525e6, 0, 12, 125)]],
      ['EU868', ttn, 2, 5, false, [w(5000, 868.5e6, 3, 9, 125), w(6000, 869.525e6, 3, 9, 125)]],
      ['EU868', ttn, 2, 5, true, [w(5000, 868.5e6, 5, 7, 125), w(6000, 869.525e6, 3, 9, 125)]], // a join uses offset 0
      ['US915', init.us2, 9, 3, false, [w(1000, 923.9e6, 13, 7, 500), w(2000, 923.3e6, 8, 12, 500)]],
      ['US915', init.us2, 65, 4, false, [w(1000, 923.9e6, 13, 7, 500), w(2000, 923.3e6, 8, 12, 500)]],
      ['US915', { ...init.us2, rx1DrOffset: 3 }, 15, 0, false, [w(1000, 927.5e6, 8, 12, 500), w(2000, 923.3e6, 8, 12, 500)]],
    ];
    const out = await vm(cases.map(([region, state, channel, dr, join]) => ({ op: 'rx-windows', region, state, channel, dr, join, errorMs: 10 })));
    cases.forEach((c, i) => {
      const got = out[i]!.windows;
      expect(got).toHaveLength(2);
      c[5].forEach((want, k) => {
        const { windowMs, ...rest } = got[k];
        const { windowMs: wantMs, ...wantRest } = want;
        expect(rest, `case ${i} window ${k}`).toEqual(wantRest);
        expect(windowMs, `case ${i} window ${k}`).toBeCloseTo(wantMs, 6);
      });
    });
  }, 120_000);

  it('channel choice: EU868 duty cycle per sub-band (T_off = T_air / dc - T_air), DutyCycleReq aggregate, US915 sub-band and DR4 on 500 kHz', async () => {
    const cf0 = [...f24(867.1e6), ...f24(867.3e6), ...f24(867.5e6), ...f24(867.7e6), ...f24(867.9e6), 0];
    const [withCf] = await vm([{ op: 'mac-init', region: 'EU868', subBand: 0, dlSettings: null, cfList: hexOf(cf0) }]);
    const send = (now: number, dr: number, rnd: number, airtimeMs: number) => ({ now, dr, rnd, airtimeMs });
    const out = await vm([
      // default channels, all in 868.0-868.6 MHz (1 %): 100 ms on air closes them for 10 s from the start
      { op: 'channels', region: 'EU868', state: init.eu, sends: [send(0, 5, 1, 100), send(5000, 5, 0, 100), send(10000, 5, 2, 100), send(10000, 6, 0, 100)] },
      // CFList channels 3-7 are in 865-868 MHz, another 1 % sub-band: open while the first is closed
      { op: 'channels', region: 'EU868', state: withCf.state, sends: [send(0, 0, 0, 1000), send(1000, 0, 7, 1000), send(2000, 0, 0, 1000)] },
      // DutyCycleReq MaxDCycle 4: 1/16 over all channels
      { op: 'channels', region: 'EU868', state: { ...withCf.state, maxDutyCycle: 4 }, sends: [send(0, 0, 0, 1000), send(1000, 0, 0, 1000), send(16000, 0, 0, 1000)] },
      // US915 sub-band 2: DR0-3 on channels 8-15, DR4 on channel 65; no duty cycle
      { op: 'channels', region: 'US915', state: init.us2, sends: [send(0, 3, 13, 400), send(0, 4, 5, 100), send(0, 0, 0, 400)] },
    ]);
    const got = out.map((o: any) => o.sends.map((x: any) => [x.channel, x.freqHz, x.waitMs]));
    expect(got[0]).toEqual([[1, 868.3e6, 0], [-1, 0, 5000], [2, 868.5e6, 0], [-1, 0, -1]]); // DR6 is on no channel
    expect(got[1]).toEqual([[0, 868.1e6, 0], [5, 867.5e6, 0], [-1, 0, 98000]]); // rnd 7 among channels 3-7
    expect(got[2]).toEqual([[0, 868.1e6, 0], [-1, 0, 15000], [3, 867.1e6, 0]]);
    expect(got[3]).toEqual([[13, 904.9e6, 0], [65, 904.6e6, 0], [8, 903.9e6, 0]]);
  }, 120_000);

  it('duty-cycle time-off across reboots: what a settings write stores, whether it covers a send, and a boot that resumes it', async () => {
    // EU868 slots: the six sub-bands of RP002 (863-865 0.1 %, 865-868 1 %, 868.0-868.6 1 %, 868.7-869.2 0.1 %,
    // 869.4-869.65 10 %, 869.7-870 1 %), then DutyCycleReq's aggregate. Stored per band: the larger of the
    // time-off owed and reserveAirMs times the band's divisor, only for bands with an enabled channel.
    const cf0 = [...f24(867.1e6), ...f24(867.3e6), ...f24(867.5e6), ...f24(867.7e6), ...f24(867.9e6), 0];
    const [withCf] = await vm([{ op: 'mac-init', region: 'EU868', subBand: 0, dlSettings: null, cfList: hexOf(cf0) }]);
    const none = [0, 0, 0, 0, 0, 0, 0];
    const g1 = (v: number) => [0, 0, v, 0, 0, 0, 0];
    const send = (now: number, dr: number, rnd: number, airtimeMs: number, stored?: number[], reserveAirMs?: number) => ({ now, dr, rnd, airtimeMs, stored, reserveAirMs });
    const out = await vm([
      { op: 'channels', region: 'EU868', state: init.eu, sends: [
        send(0, 5, 1, 100, none, 400), // nothing stored: not covered; then 40 s reserved (400 ms x 100) on the default channels' band
        send(10000, 5, 0, 100, g1(40000), 100), // covered; a write now stores max(owed 10 s, 100 ms x 100)
        send(15000, 5, 0, 300, undefined, 0), // closed for 5 s more: a write stores what is owed
        send(20000, 5, 2, 300, g1(10000)), // 300 ms owes 30 s: 10 s stored does not cover it
      ] },
      // CFList channels in 865-868 MHz and DutyCycleReq 1/16: one ms short on the aggregate is not covered
      { op: 'channels', region: 'EU868', state: { ...withCf.state, maxDutyCycle: 4 }, sends: [send(0, 0, 0, 1000, [0, 0, 100000, 0, 0, 0, 15999], 1000)] },
      // a boot that found 30 s stored for the default channels' band, then one with 5 s on the aggregate
      { op: 'channels', region: 'EU868', state: init.eu, resume: g1(30000), sends: [send(0, 5, 0, 100), send(29999, 5, 0, 100), send(30000, 5, 0, 100)] },
      { op: 'channels', region: 'EU868', state: init.eu, resume: [0, 0, 0, 0, 0, 0, 5000], sends: [send(0, 5, 0, 100), send(5000, 5, 0, 100)] },
      // US915: no duty-cycle band, only the aggregate slot
      { op: 'channels', region: 'US915', state: init.us2, sends: [send(0, 3, 13, 400, [0], 400)] },
      { op: 'channels', region: 'US915', state: { ...init.us2, maxDutyCycle: 2 }, sends: [send(0, 3, 13, 400, [1599], 500)] },
    ]);
    expect(out.map((o: any) => o.slots)).toEqual([7, 7, 7, 7, 1, 1]);
    const [a, b, c, d, e, f] = out.map((o: any) => o.sends);
    expect(a.map((x: any) => [x.channel >= 0, x.covered, x.timeOff])).toEqual([
      [true, false, g1(40000)],
      [true, true, g1(10000)],
      [false, undefined, g1(5000)],
      [true, false, undefined],
    ]);
    expect(a[2].waitMs).toBe(5000);
    // band 1 (CFList channels) reserved though unused so far; band 2 owes 100 s; the aggregate 16 s
    expect([b[0].channel, b[0].covered, b[0].timeOff]).toEqual([0, false, [0, 100000, 100000, 0, 0, 0, 16000]]);
    expect(c.map((x: any) => [x.channel, x.waitMs])).toEqual([[-1, 30000], [-1, 1], [0, 0]]);
    expect(d.map((x: any) => [x.channel, x.waitMs])).toEqual([[-1, 5000], [0, 0]]);
    expect([e[0].channel, e[0].covered, e[0].timeOff]).toEqual([13, true, [0]]);
    expect([f[0].channel, f[0].covered, f[0].timeOff]).toEqual([13, false, [2000]]);
  }, 120_000);

  let randomOut: any[] | undefined;
  it(`matches the test-side model on ${N} random command streams (EU868 and US915)`, async () => {
    const out = await vm(randomCases.map(c => ({ op: 'mac-commands', region: c.region, state: model.toFirmware(c.start), steps: c.steps })));
    randomOut = out;
    const seen = new Set<string>();
    randomCases.forEach((c, i) => {
      const want = runModel(c);
      const got = out[i]!;
      const label = `case ${i} ${c.region} ${JSON.stringify(c.steps)}`;
      expect(got.uplinks, label).toEqual(want.uplinks);
      expect(got.parsed, label).toEqual(want.parsed);
      expect(model.fromFirmware(c.region, got.state), label).toEqual(want.state);
      for (const u of want.uplinks) for (let k = 0; k + 1 < u.length; k += 2) seen.add(u.slice(k, k + 2));
    });
    // the streams reached every kind of answer and status
    for (const b of ['03', '07', '05', '06', '04', '08', '0a', '02', '0d']) expect(seen.has(b), b).toBe(true);
  }, 600_000);

  it('ABP record of the MAC settings (src/lorawan-macstore.ts): every state the random streams reached comes back from it; other versions, regions and values are refused', async () => {
    const out = randomOut ?? (await vm(randomCases.map(c => ({ op: 'mac-commands', region: c.region, state: model.toFirmware(c.start), steps: c.steps }))));
    const KEPT = ['dr', 'txPower', 'nbTrans', 'chMask', 'freqs', 'drMin', 'drMax', 'dlFreqs', 'rx1DrOffset', 'rx1Delay', 'rx2Dr', 'rx2Freq', 'maxDutyCycle'] as const;
    const kept = (st: any) => Object.fromEntries(KEPT.map(k => [k, st[k]]));
    // restored onto the other region's default state of a fresh boot (US915: another sub-band)
    const stores = await vm(randomCases.map((c, i) => ({ op: 'mac-store', region: c.region, state: out[i]!.state, subBand: c.region === 'US915' ? 5 : 0 })));
    const le16 = (b: Buffer, o: number) => b[o]! | (b[o + 1]! << 8);
    const le24 = (b: Buffer, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) * 100;
    randomCases.forEach((c, i) => {
      const st = out[i]!.state;
      const { record, restored } = stores[i]!;
      const label = `case ${i} ${c.region}`;
      expect(restored, label).not.toBeNull();
      expect(kept(restored), label).toEqual(kept(st));
      // the layout of the file's header, decoded here
      const b = Buffer.from(record, 'hex');
      const words = c.region === 'EU868' ? 1 : 5;
      const base = init[c.region === 'EU868' ? 'eu' : 'usAll'];
      const added = c.region === 'EU868' ? st.freqs.map((_: number, k: number) => k).filter((k: number) => ['freqs', 'drMin', 'drMax', 'dlFreqs'].some(f => st[f][k] !== base[f][k])) : [];
      expect(b.length, label).toBe(9 + 2 * words + 8 * added.length);
      expect([b[0], b[1], b[2]! & 15, b[2]! >> 4, b[3]! & 15, b[3]! >> 4, b[4]! & 15, b[4]! >> 4, le24(b, 5), b[8]], label).toEqual([
        1, c.region === 'EU868' ? 16 : 72, st.dr, st.txPower, st.nbTrans, st.rx1Delay, st.rx2Dr, st.rx1DrOffset, st.rx2Freq, st.maxDutyCycle,
      ]);
      expect(Array.from({ length: words }, (_, w) => le16(b, 9 + 2 * w)), label).toEqual(st.chMask);
      added.forEach((k: number, j: number) => {
        const o = 9 + 2 * words + 8 * j;
        expect([b[o], le24(b, o + 1), b[o + 4]! & 15, b[o + 4]! >> 4, le24(b, o + 5)], label).toEqual([k, st.freqs[k], st.drMin[k], st.drMax[k], st.dlFreqs[k]]);
      });
    });
    // some streams added EU868 channels and moved RX2: the cases above covered more than the defaults
    expect(randomCases.some((c, i) => c.region === 'EU868' && Buffer.from(stores[i]!.record, 'hex').length > 11)).toBe(true);
    expect(randomCases.some((c, i) => out[i]!.state.rx2Freq !== init[c.region === 'EU868' ? 'eu' : 'usAll'].rx2Freq)).toBe(true);

    // refused records: the state stays the fresh boot's
    const eu = { ...init.eu, rx1Delay: 3, rx2Dr: 3, rx2Freq: 869.1e6 };
    const [{ record }] = await vm([{ op: 'mac-store', region: 'EU868', state: eu, subBand: 0 }] as const);
    const bad = (f: (b: Buffer) => void) => {
      const b = Buffer.from(record, 'hex');
      f(b);
      return b.toString('hex');
    };
    const cases: [string, string, string][] = [
      ['EU868', record, 'ok'],
      ['EU868', bad(b => (b[0] = 2)), 'another version'],
      ['US915', record, 'another region'],
      ['EU868', record.slice(0, -2), 'cut short'],
      ['EU868', record + '00', 'a byte too many'],
      ['EU868', bad(b => (b[2] = (b[2]! & 0xf0) | 7)), 'DR7 (FSK)'],
      ['EU868', bad(b => (b[3] = b[3]! & 15)), 'RX1 delay 0'],
      ['EU868', bad(b => (b[3] = b[3]! & 0xf0)), 'NbTrans 0'],
      ['EU868', bad(b => b.writeUIntLE(9_000_000, 5, 3)), 'RX2 at 900 MHz'],
      ['EU868', bad(b => b.writeUInt16LE(0, 9)), 'no channel enabled'],
      ['EU868', record.replace(/.$/, 'z'), 'not hex'],
      ['EU868', '', 'empty'],
    ];
    const res = await vm(cases.map(([region, rec]) => ({ op: 'mac-store', region, state: region === 'EU868' ? eu : init.usAll, subBand: 0, record: rec })));
    expect(kept(res[0]!.restored)).toEqual(kept(eu));
    for (let k = 1; k < cases.length; k++) expect(res[k]!.restored, cases[k]![2]).toBeNull();
  }, 600_000);
});

describe('firmware class A downlink handling in the DeviceScript VM', () => {
  it('a confirmed FPort 0 downlink with a LinkADRReq block, RXParamSetupReq and DevStatusReq, then DeviceTimeAns in FOpts; replays change nothing', async () => {
    const keys = { nwkSKey: '000102030405060708090a0b0c0d0e0f', appSKey: 'f0e0d0c0b0a090807060504030201000', devAddr: '260b1234' };
    const [us] = await vm([{ op: 'mac-init', region: 'US915', subBand: 0, dlSettings: null, cfList: null }]);
    const cmds = hexOf([...adr(3, 2, 0x0002, 7, 0), ...adr(3, 2, 0xff00, 0, 1), 0x05, 0x0a, ...f24(923.3e6), 0x06]);
    const d0 = ref.encodeData(1, { ...keys, fCnt: 0, fPort: 0, payload: cmds, confirmed: true });
    const d1 = ref.encodeData(1, { ...keys, fCnt: 1, fPort: 10, payload: 'aa55', confirmed: false, fOpts: hexOf([0x0d, 0x8a, 0x3d, 0xa8, 0x52, 0x40]) });
    const d2 = ref.encodeData(1, { ...keys, fCnt: 2, fPort: null, payload: '', confirmed: false, fOpts: '0802' });
    const [r] = await vm([{
      op: 'mac-downlinks', region: 'US915', state: { ...us.state, battery: 254 }, ...keys, last: null,
      steps: [{ phy: d0, snr: -3 }, 'up', 'up', { phy: d1, snr: 5 }, 'up', { phy: d2, snr: 5 }, 'up', { phy: d2, snr: 5 }, { phy: d0, snr: 5 }, 'up'],
    }]);
    expect(r.results).toEqual([
      { ok: true, fCnt: 0, fPort: 0, payload: cmds },
      // one status per LinkADRReq of the block; RXParamSetupAns (RX1DROffset 0, RX2 DR10, 923.3 MHz) OK; battery 254, margin -3
      { up: '0307' + '0307' + '0507' + '06fe3d', ack: true },
      { up: '0507', ack: false }, // sticky until a downlink
      { ok: true, fCnt: 1, fPort: 10, payload: 'aa55' },
      { up: '', ack: false },
      { ok: true, fCnt: 2, fPort: -1, payload: '' },
      { up: '08', ack: false },
      { ok: false, error: 'mic' }, // replay of FCnt 2
      { ok: false, error: 'mic' }, // replay of FCnt 0
      { up: '08', ack: false }, // refused frames did not end the repetition
    ]);
    expect(r.last).toBe(2);
    expect(r.state).toMatchObject({ chMask: [0xff00, 0, 0, 0, 0x0002], dr: 3, txPower: 2, nbTrans: 1, rx2Dr: 10, rx1Delay: 2, gpsSeconds: 0x52a83d8a, gpsFrac: 0x40, snr: 5 });
  }, 120_000);
});

describe('firmware class A uplinks with MAC commands in the DeviceScript VM', () => {
  it('answers ride in FOpts when they fit beside the payload within N, else first in their own FPort 0 uplink; sticky repeats never hold the payload back', async () => {
    const keys = { nwkSKey: '2b7e151628aed2a6abf7158809cf4f3c', appSKey: '3c4fcf098815f7aba6d2ae2816157e2b', devAddr: '26011f2a' };
    const [eu] = await vm([{ op: 'mac-init', region: 'EU868', subBand: 0, dlSettings: null, cfList: null }]);
    const state = { ...eu.state, dr: 0 }; // EU868 DR0: N = 51
    const rxParam = [0x05, 0x03, ...f24(869.525e6)]; // RX2 DR3 (SF9), offset 0
    const d0 = ref.encodeData(1, { ...keys, fCnt: 0, fPort: null, payload: '', confirmed: true, fOpts: hexOf([...rxParam, 0x06]) });
    const d1 = ref.encodeData(1, { ...keys, fCnt: 1, fPort: 1, payload: 'aa', confirmed: false });
    const big = 'ab'.repeat(50);
    const small = 'cd'.repeat(10);
    const app = (fCnt: number, payload: string) => ({ fCnt, fPort: 1, payload, confirmed: false });
    const [r] = await vm([{
      op: 'mac-downlinks', region: 'EU868', state, ...keys, last: null,
      steps: [{ phy: d0, snr: 4 }, app(0, big), app(1, big), app(2, small), app(3, small), { phy: d1, snr: 4 }, app(4, small)],
    }]);
    const answers = '0507' + '06ff04'; // RXParamSetupAns OK, DevStatusAns (battery unknown, margin 4 dB)
    const up = (f: Partial<ref.DataFrame>) => ref.encodeData(0, { ...keys, confirmed: false, adr: true, ...f } as ref.DataFrame);
    expect(r.results).toEqual([
      { ok: true, fCnt: 0, fPort: -1, payload: '' },
      // 50 + 5 > 51: the answers go alone on FPort 0 (encrypted with NwkSKey), with the ACK owed
      { phy: up({ fCnt: 0, fPort: 0, payload: answers, ack: true }), carriedApp: false, carriedMac: true },
      // only the sticky RXParamSetupAns is left and 50 + 2 > 51: the payload goes without it
      { phy: up({ fCnt: 1, fPort: 1, payload: big }), carriedApp: true, carriedMac: false },
      { phy: up({ fCnt: 2, fPort: 1, payload: small, fOpts: '0507' }), carriedApp: true, carriedMac: true },
      { phy: up({ fCnt: 3, fPort: 1, payload: small, fOpts: '0507' }), carriedApp: true, carriedMac: true },
      { ok: true, fCnt: 1, fPort: 1, payload: 'aa' },
      { phy: up({ fCnt: 4, fPort: 1, payload: small }), carriedApp: true, carriedMac: false },
    ]);
    expect(r.state).toMatchObject({ rx2Dr: 3, queued: '', ackDown: false });
  }, 120_000);
});

describe('firmware ADR acknowledgement back-off in the DeviceScript VM', () => {
  it('ADRACKReq after ADR_ACK_LIMIT (64) uplinks without downlink; every ADR_ACK_DELAY (32) more: default power, lower DR, default channels', async () => {
    const keys = { nwkSKey: '2b7e151628aed2a6abf7158809cf4f3c', appSKey: '3c4fcf098815f7aba6d2ae2816157e2b', devAddr: '26011f2b' };
    const [eu] = await vm([{ op: 'mac-init', region: 'EU868', subBand: 0, dlSettings: null, cfList: null }]);
    const app = (fCnt: number) => ({ fCnt, fPort: 1, payload: 'd2', confirmed: false });
    const up = (fCnt: number, adrAckReq: boolean, adr = true) => ({
      phy: ref.encodeData(0, { ...keys, fCnt, fPort: 1, payload: 'd2', confirmed: false, adr, adrAckReq }), carriedApp: true, carriedMac: false,
    });
    const down = ref.encodeData(1, { ...keys, fCnt: 0, fPort: 1, payload: '00', confirmed: false });
    const item = (state: Record<string, unknown>, steps: unknown[]) => ({ op: 'mac-downlinks', region: 'EU868', state: { ...eu.state, ...state }, ...keys, last: null, steps });
    const out = await vm([
      item({ dr: 5, txPower: 3, adrAckCnt: 62 }, [app(0), app(1), { phy: down, snr: 0 }, app(2)]),
      item({ dr: 5, txPower: 3, adrAckCnt: 95 }, [app(0)]), // the 96th: power back to default
      item({ dr: 5, txPower: 0, adrAckCnt: 126 }, [app(0), app(1)]), // 127th: nothing; 128th: DR5 -> DR4
      item({ dr: 0, txPower: 0, adrAckCnt: 159, chMask: [1] }, [app(0)]), // lowest DR: default channels back
      item({ dr: 5, txPower: 3, adrAckCnt: 0, adr: false }, [app(0)]), // ADR off: no counting, no back-off
    ]);
    expect(out[0].results).toEqual([up(0, false), up(1, true), { ok: true, fCnt: 0, fPort: 1, payload: '00' }, up(2, false)]);
    expect(out[0].state.adrAckCnt).toBe(1);
    expect(out[1].results).toEqual([up(0, true)]);
    expect(out[1].state).toMatchObject({ adrAckCnt: 96, txPower: 0, dr: 5 });
    expect(out[2].results).toEqual([up(0, true), up(1, true)]);
    expect(out[2].state).toMatchObject({ adrAckCnt: 128, txPower: 0, dr: 4 });
    expect(out[3].state).toMatchObject({ adrAckCnt: 160, dr: 0, chMask: [7] });
    expect(out[4].results).toEqual([up(0, false, false)]);
    expect(out[4].state).toMatchObject({ adrAckCnt: 0, txPower: 3, dr: 5 });
  }, 120_000);
});

describe('firmware downlink counter (32 bits from 16 on air) in the DeviceScript VM', () => {
  const keys = { nwkSKey: '2b7e151628aed2a6abf7158809cf4f3c', appSKey: '000102030405060708090a0b0c0d0e0f', devAddr: '26011bda' };
  const frame = (fCnt: number, fOpts = '') => ref.encodeData(1, { ...keys, fCnt, fPort: fOpts === '' ? 1 : null, payload: fOpts === '' ? 'aa' : '', confirmed: false, fOpts });

  it('rebuilds counters across 16-bit roll-overs and refuses replays, old frames and gaps beyond MAX_FCNT_GAP', async () => {
    const [a, b, c] = await vm([
      {
        op: 'fcnt-down', ...keys, last: null,
        // 16384 ahead is accepted, 16385 or more is a lost session (1.0.3's MAX_FCNT_GAP): refused, the counter stays
        frames: [frame(0), frame(0), frame(5), frame(3), frame(16389), frame(32773), frame(49157), frame(65537, '0600'), frame(70000), frame(65537), frame(86385), frame(200000)],
      },
      { op: 'fcnt-down', ...keys, last: null, frames: [frame(65540)] }, // a new session starts near 0
      { op: 'fcnt-down', ...keys, last: 0xfffffffd, frames: [frame(0xffffffff), frame(0xffffffff), frame(1)] },
    ], { detail: true });
    expect(a.results.map((x: any) => (x.ok ? x.fCnt : x.error))).toEqual([0, 'mic', 5, 'mic', 16389, 32773, 49157, 65537, 70000, 'mic', 'fcnt-gap', 'mic']);
    expect(a.results[7]).toMatchObject({ fOpts: '0600', fPort: -1 });
    expect(a.last).toBe(70000);
    expect(b.results[0]).toMatchObject({ ok: false, error: 'mic' });
    expect(b.last).toBeNull();
    expect(c.results.map((x: any) => (x.ok ? x.fCnt : x.error))).toEqual([0xffffffff, 'fcnt', 'fcnt']);
    expect(c.last).toBe(0xffffffff);
  }, 120_000);
});
