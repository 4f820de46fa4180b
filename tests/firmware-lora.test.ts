// The firmware's LoRa drivers (SX127x registers, SX126x commands) run in the DeviceScript VM
// against fake register models (SPI does not exist in the simulator): configuration written as
// the datasheets say, packets handed over byte for byte, time on air per Semtech AN1200.13, and
// the duty cycle refusing to send until the band is open again.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry } from '../firmware/scripts/build.mjs';
import { runToMarker } from '../firmware/scripts/devs-vm.mjs';

const r: Record<string, any> = {};

beforeAll(async () => {
  const { binary } = buildEntry('src/lora-test-main.ts');
  const lines: string[] = await runToMarker(binary, { timeoutMs: 30_000 });
  // long results come as "#r name+ chunk" lines, then "#r name last-chunk"
  const acc: Record<string, string> = {};
  for (const l of lines) {
    const m = /^#r (\w+)(\+?) (.*)$/.exec(l);
    if (!m) continue;
    acc[m[1]!] = (acc[m[1]!] ?? '') + m[3]!;
    if (m[2] !== '+') r[m[1]!] = JSON.parse(acc[m[1]!]!);
  }
}, 60_000);

describe('LoRa in the DeviceScript VM (fake radios)', () => {
  it('time on air matches AN1200.13 published values', () => {
    // SF7/125 kHz, 10-byte PHY payload; SF12/125 kHz, 51-byte LoRaWAN payload (64-byte PHY)
    expect(r.airtime[0]).toBeCloseTo(41.216, 3);
    expect(r.airtime[1]).toBeCloseTo(2793.472, 3);
  });

  it('SX1276: registers for EU868 DR0 (868.1 MHz, SF12, 125 kHz, 4/5, CRC, LDRO)', () => {
    const s = r.sx1276;
    expect(s.resets).toBe(1);
    expect(s.frf).toBe('d90666'); // 868.1 MHz * 2^19 / 32 MHz
    expect(s.mc1).toBe(0x72); // BW 125 kHz, CR 4/5, explicit header
    expect(s.mc2).toBe(0xc4); // SF12, CRC on
    expect(s.mc3).toBe(0x0c); // low data rate optimize, AGC auto
    expect(s.pa).toBe(0xfc); // PA_BOOST, 14 dBm
    expect(s.preamble).toBe(8);
    expect(s.sync).toBe(0x34);
    expect(s.opMode).toBe(0x81); // LoRa standby after TX done
    expect(s.irq).toBe(0); // TX done cleared
  });

  it('SX1276: sends the first fragment, then the 1% duty cycle holds the others back', () => {
    const s = r.sx1276;
    expect(s.parts.length).toBe(4);
    expect(s.ok).toEqual([true, false, false, false]);
    expect(s.sent).toEqual([s.parts[0]]);
    expect(s.airtime).toBeCloseTo(2465.792, 3); // 51 bytes at SF12
  });

  it('duty cycle: 100 ms on air at 1% closes the band for 10 s from the start', () => {
    expect(r.duty).toEqual([10000, 5000, 0, 0]);
  });

  it('a short wait for the band is taken, not refused', () => {
    expect(r.wait.a).toBe(true);
    expect(r.wait.b).toBe(true);
    expect(r.wait.waited).toBeGreaterThanOrEqual(250); // 31 ms on air at 10%
  });

  it('SX1262: commands for EU868 DR0 and every fragment sent once the band reopens', () => {
    const s = r.sx1262;
    expect(s.type).toBe('01'); // LoRa packet type
    expect(s.freq).toBe('3641999a'); // 868.1 MHz * 2^25 / 32 MHz
    expect(s.mod).toBe('0c040101'); // SF12, BW 125 kHz, CR 4/5, LDRO on
    expect(s.pa).toBe('04070001');
    expect(s.txp).toBe('0e04'); // 14 dBm, 200 us ramp
    expect(s.sync).toBe('3444'); // 0x34 as the SX126x writes it
    expect(s.pkt).toBe('000800090100'); // preamble 8, explicit header, 9 bytes (last fragment), CRC on
    expect(s.ok).toEqual([true, true, true, true]);
    expect(s.sent).toEqual(r.sx1276.parts);
  });

  it('a missing SX127x is reported, not hung on', () => {
    expect(r.nochip).toBe('lora: SX127x not found (version register 0)');
  });
});
