// Class A cycles in the DeviceScript VM through the SX1276 fake radio (firmware/src/lorawan-join.ts
// classACycle), ABP session: the network side is this test's model (tests/helpers/lorawan-reference.ts):
// its downlink in RX1 carries a LinkADRReq, an RXParamSetupReq and a DevStatusReq in FOpts and an
// application payload; the device's next uplinks must be byte-equal to the model's frames with the
// answers (the sticky RXParamSetupAns repeated), on stored FCnts, with RX2 moved as requested.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry } from '../firmware/scripts/build.mjs';
import { runToMarker } from '../firmware/scripts/devs-vm.mjs';
import * as ref from './helpers/lorawan-reference.js';

const keys = { nwkSKey: '99d58493d1205b43eff938f0f66c339e', appSKey: '0a501524f8ea5fcbf9bdb5ad7d126f75', devAddr: '26012e43' };
const f24 = (hz: number) => {
  const v = hz / 100;
  return [v & 255, (v >> 8) & 255, (v >> 16) & 255];
};
// LinkADRReq DR5, TXPower 2, channels 0-2, NbTrans 1; RXParamSetupReq RX1DROffset 0, RX2 DR3 at 869.525 MHz; DevStatusReq
const fOpts = Buffer.from([0x03, 0x52, 0x07, 0x00, 0x01, 0x05, 0x03, ...f24(869.525e6), 0x06]).toString('hex');
const downlink = ref.encodeData(1, { ...keys, fCnt: 0, fPort: 10, payload: '0102', confirmed: false, fOpts });
const frf127 = (f: number) => Math.round((f / 32e6) * 2 ** 19).toString(16).padStart(6, '0');

let lines: string[] = [];
beforeAll(async () => {
  const { binary } = buildEntry('src/lorawan-classa-test-main.ts', {
    'src/vector-input.ts': `export const CASES: string[] = [${JSON.stringify(JSON.stringify({ ...keys, downlink, cycles: 3 }))}]\n`,
  });
  lines = await runToMarker(binary, { timeoutMs: 90_000, flash: {} });
}, 150_000);
const tagged = (tag: string) => lines.filter(l => l.startsWith(`#${tag} `)).map(l => l.slice(tag.length + 2));

describe('class A cycles in the DeviceScript VM (fake SX1276, network model in the test)', () => {
  it('hears the downlink in RX1 and hands its application payload over', () => {
    expect(tagged('down')).toEqual(['10 0102', 'none', 'none']);
  });

  it('answers in the next uplinks, byte-equal to the model: LinkADRAns, RXParamSetupAns (sticky), DevStatusAns', () => {
    const up = (fCnt: number, fOpts: string | null) => ref.encodeData(0, { ...keys, fCnt, fPort: 1, payload: 'd201', confirmed: false, adr: true, fOpts });
    // DevStatusAns: battery 200 (0xc8), margin = the downlink's SNR 7.25 dB rounded to 7
    expect(tagged('sent')).toEqual([up(0, null), up(1, '0307' + '0507' + '06c807'), up(2, '0507')]);
    expect(tagged('state')).toEqual(['2 3 7']);
  });

  it('says on the console which MAC commands it applied: one line per accepted downlink, one CID each (sceau sim lorawan counts them)', () => {
    expect(lines.filter(l => l.startsWith('sceau-lorawan mac'))).toEqual(['sceau-lorawan mac 030506']);
    // the test entry waits out the duty cycle between cycles itself: classACycle waited nothing
    expect(lines.filter(l => l.startsWith('sceau-lorawan wait'))).toEqual([]);
  });

  it('opens RX1 on the uplink channel at DR5, and RX2 at 869.525 MHz DR3 once RXParamSetupReq moved it', () => {
    const rx = tagged('rx');
    // first cycle: RX1 only (a downlink there ends the cycle); then RX1 and RX2 each time
    expect(rx).toHaveLength(5);
    for (const i of [0, 1, 3]) expect(rx[i]).toMatch(/^[0-9a-f]{6} 72 70 1a 67 19$/);
    expect(rx[0]!.slice(0, 6)).toBe(frf127(868.1e6));
    expect(rx[2]).toBe(`${frf127(869.525e6)} 72 90 0b 67 19`); // SF9: 20 ms + 6 x 4.096 ms = 11 symbols
    expect(rx[4]).toBe(rx[2]);
  });
});

describe('NbTrans in the DeviceScript VM (fake SX1276, network model in the test)', () => {
  // LinkADRReq with NbTrans 2: each later unconfirmed uplink goes twice, the same frame (same FCnt)
  const fOpts2 = Buffer.from([0x03, 0x50, 0x07, 0x00, 0x02]).toString('hex');
  const down2 = ref.encodeData(1, { ...keys, fCnt: 0, fPort: null, payload: '', confirmed: false, fOpts: fOpts2 });
  let out: string[] = [];
  beforeAll(async () => {
    const { binary } = buildEntry('src/lorawan-classa-test-main.ts', {
      'src/vector-input.ts': `export const CASES: string[] = [${JSON.stringify(JSON.stringify({ ...keys, downlink: down2, cycles: 2 }))}]\n`,
    });
    out = await runToMarker(binary, { timeoutMs: 120_000, flash: {} });
  }, 180_000);

  it('repeats the next uplink NbTrans times with the same FCnt, answering once', () => {
    const sent = out.filter(l => l.startsWith('#sent ')).map(l => l.slice(6));
    const up = (fCnt: number, fOpts: string | null) => ref.encodeData(0, { ...keys, fCnt, fPort: 1, payload: 'd201', confirmed: false, adr: true, fOpts });
    expect(sent).toEqual([up(0, null), up(1, '0307'), up(1, '0307')]);
    expect(out.filter(l => l.startsWith('#down '))).toEqual(['#down -1 ', '#down none']);
    // 1 + 2 + 2 windows: RX1 only in the first cycle, then RX1 and RX2 after each transmission
    expect(out.filter(l => l.startsWith('#rx '))).toHaveLength(5);
    expect(out.filter(l => l.startsWith('sceau-lorawan mac'))).toEqual(['sceau-lorawan mac 03']);
  });

  it('says on the console that the repetition waited for the duty cycle (1 % at EU868: its first copy owes ~5 s, its windows took 2)', () => {
    const waits = out.filter(l => l.startsWith('sceau-lorawan wait')).map(l => /^sceau-lorawan wait (\d+)$/.exec(l));
    expect(waits).toHaveLength(1);
    expect(Number(waits[0]![1])).toBeGreaterThan(0);
    expect(Number(waits[0]![1])).toBeLessThanOrEqual(5200);
  });
});
