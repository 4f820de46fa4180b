/**
 * Link profiles: what one datagram may carry (MTU) on each supported link, how long it stays on
 * air, and the regulatory or contractual budget that limits how often a device may send.
 */

/** LoRa modulation parameters for the time-on-air formula of Semtech AN1200.13. */
export interface LoraRadio {
  kind: 'lora';
  spreadingFactor: number;
  bandwidthHz: number;
  /** 1..4 for coding rates 4/5..4/8. */
  codingRate: 1 | 2 | 3 | 4;
  preambleSymbols: number;
  explicitHeader: boolean;
  crc: boolean;
  lowDataRateOptimize: boolean;
}

/** Sigfox ultra-narrow band uplink: fixed bit rate, fixed frame overhead, repeated on three frequencies. */
export interface SigfoxRadio {
  kind: 'sigfox';
  bitRate: number;
  /** Preamble 19 + sync 29 + device id 32 + authentication 16 + FCS 16 bits = 14 bytes. */
  frameOverheadBytes: number;
  repetitions: number;
}

export interface LinkProfile {
  readonly name: string;
  readonly description: string;
  /** Largest sceau datagram (frame or fragment) one uplink carries. */
  readonly mtu: number;
  /** Link-layer bytes added around the datagram on air (LoRaWAN: MHDR 1 + FHDR 7 + FPort 1 + MIC 4). */
  readonly overheadBytes: number;
  /** True when the transport names the sender (DevEUI, Sigfox id, a TCP connection), so fragments need no sender hint. */
  readonly identifiesSender: boolean;
  readonly radio: LoraRadio | SigfoxRadio | null;
  /** Largest fraction of time a device may be on air (EU868: 0.01), when regulated. */
  readonly dutyCycle?: number;
  /** Uplinks a device may send per day (Sigfox subscriptions), when limited. */
  readonly dailyUplinks?: number;
  /** Longest time on air of one uplink (US915 FCC dwell time). */
  readonly maxDwellMs?: number;
}

function lora(spreadingFactor: number, bandwidthHz: number): LoraRadio {
  return {
    kind: 'lora',
    spreadingFactor,
    bandwidthHz,
    codingRate: 1,
    preambleSymbols: 8,
    explicitHeader: true,
    crc: true,
    // Mandated for symbol times of 16 ms and more: SF11 and SF12 at 125 kHz.
    lowDataRateOptimize: (2 ** spreadingFactor / bandwidthHz) * 1000 >= 16,
  };
}

const LORAWAN_OVERHEAD = 13;

function eu868(dr: number, sf: number, mtu: number): LinkProfile {
  return {
    name: `lorawan-eu868-dr${dr}`,
    description: `LoRaWAN EU868 DR${dr} (SF${sf}/125 kHz), 1% duty cycle`,
    mtu,
    overheadBytes: LORAWAN_OVERHEAD,
    identifiesSender: true,
    radio: lora(sf, 125_000),
    dutyCycle: 0.01,
  };
}

function us915(dr: number, sf: number, bandwidthHz: number, mtu: number): LinkProfile {
  return {
    name: `lorawan-us915-dr${dr}`,
    description: `LoRaWAN US915 DR${dr} (SF${sf}/${bandwidthHz / 1000} kHz), 400 ms dwell time`,
    mtu,
    overheadBytes: LORAWAN_OVERHEAD,
    identifiesSender: true,
    radio: lora(sf, bandwidthHz),
    maxDwellMs: 400,
  };
}

const PROFILES: readonly LinkProfile[] = [
  eu868(0, 12, 51),
  eu868(1, 11, 51),
  eu868(2, 10, 51),
  eu868(3, 9, 115),
  eu868(4, 8, 222),
  eu868(5, 7, 222),
  us915(0, 10, 125_000, 11),
  us915(1, 9, 125_000, 53),
  us915(2, 8, 125_000, 125),
  us915(3, 7, 125_000, 242),
  us915(4, 8, 500_000, 242),
  {
    name: 'sigfox',
    description: 'Sigfox uplink: 12-byte payload, 140 uplinks a day',
    mtu: 12,
    overheadBytes: 0,
    identifiesSender: true,
    radio: { kind: 'sigfox', bitRate: 100, frameOverheadBytes: 14, repetitions: 3 },
    dailyUplinks: 140,
  },
  { name: 'nbiot', description: 'NB-IoT, UDP datagrams of up to 1200 bytes', mtu: 1200, overheadBytes: 0, identifiesSender: false, radio: null },
  { name: 'udp', description: 'UDP over IP, 1232-byte datagrams (IPv6 minimum MTU less headers)', mtu: 1232, overheadBytes: 0, identifiesSender: false, radio: null },
  { name: 'tcp', description: 'TCP stream of length-prefixed frames (Wi-Fi boards)', mtu: 65535, overheadBytes: 0, identifiesSender: true, radio: null },
];

/** Every shipped profile, by name. */
export const linkProfiles: Readonly<Record<string, LinkProfile>> = Object.freeze(
  Object.fromEntries(PROFILES.map((p) => [p.name, Object.freeze(p)])),
);

/** A profile by name; `RangeError` listing the names when there is none. */
export function linkProfile(name: string): LinkProfile {
  // own entries only: `toString` and the other names every object inherits are not profiles
  const profile = Object.prototype.hasOwnProperty.call(linkProfiles, name) ? linkProfiles[name] : undefined;
  if (profile === undefined) throw new RangeError(`link profile: unknown ${JSON.stringify(name)}; known: ${Object.keys(linkProfiles).join(', ')}`);
  return profile;
}

/** LoRa time on air in ms of a PHY payload of `phyPayloadBytes` (Semtech AN1200.13 §4). */
export function loraAirtimeMs(radio: LoraRadio, phyPayloadBytes: number): number {
  const sf = radio.spreadingFactor;
  const symbolMs = (2 ** sf / radio.bandwidthHz) * 1000;
  const preambleMs = (radio.preambleSymbols + 4.25) * symbolMs;
  const de = radio.lowDataRateOptimize ? 1 : 0;
  const ih = radio.explicitHeader ? 0 : 1;
  const crc = radio.crc ? 1 : 0;
  const numerator = 8 * phyPayloadBytes - 4 * sf + 28 + 16 * crc - 20 * ih;
  const payloadSymbols = 8 + Math.max(Math.ceil(numerator / (4 * (sf - 2 * de))) * (radio.codingRate + 4), 0);
  return preambleMs + payloadSymbols * symbolMs;
}

/**
 * Time on air in ms of one uplink carrying `byteCount` sceau bytes (a frame or a fragment) on
 * `profile`, link-layer overhead included (LoRaWAN's 13 bytes; all three Sigfox repetitions).
 * 0 for links without a radio model (NB-IoT, UDP, TCP).
 */
export function airtimeMs(profile: LinkProfile, byteCount: number): number {
  if (!Number.isInteger(byteCount) || byteCount < 0) throw new RangeError(`byteCount: expected a non-negative integer, got ${byteCount}`);
  const radio = profile.radio;
  if (radio === null) return 0;
  if (radio.kind === 'lora') return loraAirtimeMs(radio, byteCount + profile.overheadBytes);
  return (radio.repetitions * (byteCount + radio.frameOverheadBytes) * 8 * 1000) / radio.bitRate;
}
