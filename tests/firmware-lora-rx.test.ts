// Single receive windows of the firmware's LoRa drivers (SX127x registers, SX126x commands) in the
// DeviceScript VM against the fake register models (firmware/src/lora-fake.ts), which deliver a
// packet only to an RX started on its frequency, SF, bandwidth and IQ polarity. Expected register
// and command bytes are computed here from the datasheets' formulas. Entry: src/lora-rx-test-main.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry } from '../firmware/scripts/build.mjs';
import { runToMarker } from '../firmware/scripts/devs-vm.mjs';

const r: Record<string, any> = {};
beforeAll(async () => {
  const { binary } = buildEntry('src/lora-rx-test-main.ts');
  const lines: string[] = await runToMarker(binary, { timeoutMs: 60_000 });
  const acc: Record<string, string> = {};
  for (const l of lines) {
    const m = /^#r (\w+)(\+?) (.*)$/.exec(l);
    if (!m) continue;
    acc[m[1]!] = (acc[m[1]!] ?? '') + m[3]!;
    if (m[2] !== '+') r[m[1]!] = JSON.parse(acc[m[1]!]!);
  }
}, 120_000);

const DOWN = '60da1b012600050001a1b2c311223344';
const heard = { payload: DOWN, rssi: -80, snr: 7.25 };
const hex = (v: number, bytes: number) => v.toString(16).padStart(2 * bytes, '0');
// SX127x: Frf = f * 2^19 / 32 MHz; SX126x: RFfreq = f * 2^25 / 32 MHz
const frf127 = (f: number) => hex(Math.round((f / 32e6) * 2 ** 19), 3);
const frf126 = (f: number) => hex(Math.round((f / 32e6) * 2 ** 25), 4);
// symbols in a window: ceil(window / Tsym), at least 6; Tsym = 2^SF / BW
const symbols = (ms: number, sf: number) => Math.max(6, Math.ceil(ms / ((2 ** sf / 125000) * 1000)));

describe('LoRa receive windows in the DeviceScript VM (fake radios)', () => {
  it('the scenario: heard with inverted IQ in RX2 and RX1; nothing with normal IQ or in the wrong window', () => {
    expect(r.sx1276.res).toEqual([heard, null, null, heard]);
    expect(r.sx1262.res).toEqual([heard, null, null, heard]);
  });

  it('SX1276: each RX single is started with the window\'s frequency, SF, symbol timeout and IQ registers', () => {
    // "frf mc1 mc2 symbTimeoutLsb RegInvertIQ RegInvertIQ2"; mc1 0x72 = BW 125 kHz, CR 4/5, explicit header;
    // mc2 = SF << 4, no CRC required, SymbTimeout bits 9..8; inverted IQ: 0x67 / 0x19, normal 0x27 / 0x1d
    const rx2 = `${frf127(869.525e6)} 72 c0`;
    expect(r.sx1276.rxLog).toEqual([
      `${rx2} ${hex(symbols(1000, 12), 1)} 67 19`,
      `${rx2} ${hex(symbols(1000, 12), 1)} 27 1d`,
      `${rx2} ${hex(symbols(20, 12), 1)} 67 19`,
      `${frf127(868.1e6)} 72 70 ${hex(symbols(20, 7), 1)} 67 19`,
    ]);
    expect(symbols(1000, 12)).toBe(31);
    expect(symbols(20, 12)).toBe(6); // LoRaWAN's minimum of 6 preamble symbols
  });

  it('SX1276: afterwards the radio is back to TX settings and normal IQ, and transmits', () => {
    expect(r.sx1276.after).toEqual({ frf: frf127(868.1e6), mc2: 0x74, iq: [0x27, 0x1d], sent: ['40010203'], opMode: 0x81 });
  });

  it('SX1262: SetRx with the window in 15.625 us steps, inverted IQ in the packet params and the 0x0736 errata bit', () => {
    // "<SetRfFrequency> <SetModulationParams: SF, BW 125 kHz, CR 4/5, LDRO> <SetPacketParams: preamble 8,
    //  explicit header, 255 bytes, no CRC, IQ> <register 0x0736> <SetRx timeout>"
    const rx2 = `${frf126(869.525e6)} 0c040101`;
    expect(r.sx1262.rxLog).toEqual([
      `${rx2} 000800ff0001 09 ${hex(1000 * 64, 3)}`,
      `${rx2} 000800ff0000 0d ${hex(1000 * 64, 3)}`,
      `${rx2} 000800ff0001 09 ${hex(20 * 64, 3)}`,
      `${frf126(868.1e6)} 07040100 000800ff0001 09 ${hex(20 * 64, 3)}`,
    ]);
  });

  it('SX1262: afterwards TX frequency, modulation, IRQ routing and normal IQ are restored, and it transmits', () => {
    expect(r.sx1262.after).toEqual({
      freq: frf126(868.1e6), mod: '07040100', pkt: '000800040100', iqReg: 0x0d, irqParams: '0201020100000000', sent: ['40010203'],
    });
  });

  it('configure (the LoRaWAN MAC, before each uplink) sets the TX frequency, SF, power and sync word, which a receive window keeps', () => {
    // US915 channel 8, 903.9 MHz, DR0 = SF10/125 kHz, 20 dBm, sync word 0x34 (LoRaWAN public)
    // SX1276: mc1 0x72 (BW 125 kHz, CR 4/5, explicit), mc2 0xa4 (SF10, CRC on); PA_BOOST, Pout 17 dBm at most: 0xff
    const set127 = { frf: frf127(903.9e6), mc1: 0x72, mc2: 0xa4, pa: 0xff, sync: 0x34 };
    expect(r.sx1276cfg.set).toEqual({ ...set127, sent: ['40010203'] });
    expect(r.sx1276cfg.afterRx).toEqual({ ...set127, sent: ['40010203', '40040506'] });
    // SX1262: SetModulationParams SF10, BW 125 kHz, CR 4/5, LDRO off; SetTxParams 20 dBm, 200 us ramp; sync word 0x34 as 0x34 0x44
    const set126 = { freq: frf126(903.9e6), mod: '0a040100', txParams: '1404', sync: '3444' };
    expect(r.sx1262cfg.set).toEqual({ ...set126, sent: ['40010203'] });
    expect(r.sx1262cfg.afterRx).toEqual({ ...set126, sent: ['40010203', '40040506'] });
  });
});
