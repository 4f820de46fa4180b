// Link profiles (protocol/src/link-profiles.ts) against the spec, docs/protocol.md "### Profiles":
// what each link carries, how it is modulated and what budget limits it. Batching, fragmentation,
// the simulator's airtime and the firmware's duty cycle all read these numbers, so each field is
// pinned here (written for the mutation run of link-profiles.ts, issue 19).
import { describe, expect, it } from 'vitest';
import { airtimeMs, linkProfile, linkProfiles, loraAirtimeMs, type LinkProfile, type LoraRadio } from '@sceau/protocol';

const EU868_SF = [12, 11, 10, 9, 8, 7];
const US915 = [
  { sf: 10, bw: 125_000 },
  { sf: 9, bw: 125_000 },
  { sf: 8, bw: 125_000 },
  { sf: 7, bw: 125_000 },
  { sf: 8, bw: 500_000 },
];

const loraOf = (p: LinkProfile): LoraRadio => {
  expect(p.radio?.kind, p.name).toBe('lora');
  return p.radio as LoraRadio;
};

describe('LoRaWAN profiles: the regional parameters', () => {
  it('EU868 DR0..DR5: SF12..SF7 at 125 kHz, CR 4/5, 8-symbol preamble, explicit header, CRC, 1 % duty cycle, no dwell limit', () => {
    EU868_SF.forEach((sf, dr) => {
      const p = linkProfile(`lorawan-eu868-dr${dr}`);
      expect(p.name).toBe(`lorawan-eu868-dr${dr}`);
      expect(p.description).toBe(`LoRaWAN EU868 DR${dr} (SF${sf}/125 kHz), 1% duty cycle`);
      expect(p.overheadBytes).toBe(13); // MHDR 1 + FHDR 7 + FPort 1 + MIC 4
      expect(p.identifiesSender).toBe(true); // the network server names the DevEUI
      expect(p.dutyCycle).toBe(0.01);
      expect(p.maxDwellMs).toBeUndefined();
      expect(p.dailyUplinks).toBeUndefined();
      expect(loraOf(p)).toEqual({
        kind: 'lora', spreadingFactor: sf, bandwidthHz: 125_000, codingRate: 1, preambleSymbols: 8, explicitHeader: true, crc: true,
        // low data rate optimisation is mandated for symbols of 16 ms and more: SF11 and SF12 at 125 kHz only
        lowDataRateOptimize: sf >= 11,
      });
    });
  });

  it('US915 DR0..DR4: SF10..SF7 at 125 kHz and SF8 at 500 kHz, 400 ms dwell, no duty cycle', () => {
    US915.forEach(({ sf, bw }, dr) => {
      const p = linkProfile(`lorawan-us915-dr${dr}`);
      expect(p.description).toBe(`LoRaWAN US915 DR${dr} (SF${sf}/${bw / 1000} kHz), 400 ms dwell time`);
      expect(p.overheadBytes).toBe(13);
      expect(p.identifiesSender).toBe(true);
      expect(p.maxDwellMs).toBe(400);
      expect(p.dutyCycle).toBeUndefined();
      expect(loraOf(p)).toEqual({ kind: 'lora', spreadingFactor: sf, bandwidthHz: bw, codingRate: 1, preambleSymbols: 8, explicitHeader: true, crc: true, lowDataRateOptimize: false });
    });
  });

  it('a full datagram at every US915 rate stays within the 400 ms dwell time', () => {
    for (let dr = 0; dr <= 4; dr++) {
      const p = linkProfile(`lorawan-us915-dr${dr}`);
      expect(airtimeMs(p, p.mtu), p.name).toBeLessThanOrEqual(400);
    }
  });
});

describe('the other links', () => {
  it('Sigfox: 12 bytes, 100 bps, 14 bytes of frame overhead, 3 repetitions, 140 uplinks a day, names the device', () => {
    const p = linkProfile('sigfox');
    expect(p).toMatchObject({ mtu: 12, overheadBytes: 0, identifiesSender: true, dailyUplinks: 140, description: 'Sigfox uplink: 12-byte payload, 140 uplinks a day' });
    expect(p.radio).toEqual({ kind: 'sigfox', bitRate: 100, frameOverheadBytes: 14, repetitions: 3 });
    expect(p.dutyCycle).toBeUndefined();
    // 3 × (1 + 14) bytes × 8 bits at 100 bps
    expect(airtimeMs(p, 1)).toBe(3600);
  });

  it('NB-IoT and UDP do not name the sender (fragments carry a hint); TCP does; none has a radio model', () => {
    expect(linkProfile('nbiot')).toEqual({ name: 'nbiot', description: 'NB-IoT, UDP datagrams of up to 1200 bytes', mtu: 1200, overheadBytes: 0, identifiesSender: false, radio: null });
    expect(linkProfile('udp')).toMatchObject({ mtu: 1232, overheadBytes: 0, identifiesSender: false, radio: null });
    expect(linkProfile('udp').description).toMatch(/^UDP over IP, 1232-byte datagrams/);
    expect(linkProfile('tcp')).toMatchObject({ mtu: 65535, overheadBytes: 0, identifiesSender: true, radio: null });
    expect(linkProfile('tcp').description).toMatch(/^TCP stream of length-prefixed frames/);
    for (const name of ['nbiot', 'udp', 'tcp']) expect(airtimeMs(linkProfile(name), 500)).toBe(0);
  });
});

describe('the table as a whole', () => {
  it('holds exactly the profiles of docs/protocol.md, each under its own name, frozen', () => {
    expect(Object.keys(linkProfiles)).toEqual([
      ...EU868_SF.map((_, dr) => `lorawan-eu868-dr${dr}`),
      ...US915.map((_, dr) => `lorawan-us915-dr${dr}`),
      'sigfox', 'nbiot', 'udp', 'tcp',
    ]);
    for (const [name, p] of Object.entries(linkProfiles)) {
      expect(p.name).toBe(name);
      expect(Object.isFrozen(p)).toBe(true);
    }
    expect(Object.isFrozen(linkProfiles)).toBe(true);
  });

  it('an unknown name is a RangeError that lists every known profile', () => {
    expect(() => linkProfile('lora')).toThrow(RangeError);
    expect(() => linkProfile('lora')).toThrow(`link profile: unknown "lora"; known: ${Object.keys(linkProfiles).join(', ')}`);
    // only own profiles: not a property every object has
    expect(() => linkProfile('toString')).toThrow(/unknown "toString"/);
  });

  it('airtimeMs takes whole, non-negative byte counts only', () => {
    const p = linkProfile('lorawan-eu868-dr5');
    expect(() => airtimeMs(p, 1.5)).toThrow(/^byteCount: expected a non-negative integer, got 1\.5$/);
    expect(() => airtimeMs(p, -1)).toThrow(RangeError);
    expect(airtimeMs(p, 0)).toBeGreaterThan(0);
    // the LoRaWAN overhead is on air too: 0 sceau bytes is a 13-byte PHY payload
    expect(airtimeMs(p, 0)).toBe(loraAirtimeMs(loraOf(p), 13));
  });

  it('implicit header and no CRC shorten the packet as AN1200.13 says', () => {
    const base = loraOf(linkProfile('lorawan-eu868-dr5'));
    // 41 bytes at SF7: ceil((328 + 16 CRC − 20 IH) / 28) symbol groups, 13 with both, 12 without either
    const full = loraAirtimeMs(base, 41);
    expect(loraAirtimeMs({ ...base, explicitHeader: false }, 41)).toBeLessThan(full);
    expect(loraAirtimeMs({ ...base, crc: false }, 41)).toBeLessThan(full);
    expect(loraAirtimeMs({ ...base, codingRate: 4 }, 41)).toBeGreaterThan(full);
    expect(loraAirtimeMs({ ...base, preambleSymbols: 16 }, 41)).toBeCloseTo(full + 8 * (2 ** 7 / 125_000) * 1000, 9);
    // low data rate optimisation at SF12 lengthens a 51-byte payload
    const sf12 = loraOf(linkProfile('lorawan-eu868-dr0'));
    expect(loraAirtimeMs(sf12, 64)).toBeGreaterThan(loraAirtimeMs({ ...sf12, lowDataRateOptimize: false }, 64));
    // a payload so short that the formula's max(…, 0) applies: 8 payload symbols
    expect(loraAirtimeMs({ ...base, explicitHeader: false, crc: false }, 0)).toBeCloseTo((8 + 4.25 + 8) * (2 ** 7 / 125_000) * 1000, 9);
  });
});
