/**
 * Radio metadata of an uplink as a network server reports it: which gateways heard it, how well
 * (RSSI, SNR), where they stand, and on which channel and spreading factor it came. Personal
 * data by association (it locates a device near a gateway at a time), so the gateway keeps it
 * only with `gateway serve --keep-radio-metadata` (docs/privacy.md#radio-metadata); without it
 * nothing here is even read.
 *
 * Untrusted input: never throws. Metadata is an extra, never a reason to refuse a frame: an
 * entry or a field that is not what the network server's API says (a wrong type, a number out
 * of range, a string too long) is left out, and counted (`ignored`), and the frame goes on.
 *
 * Field names, from the network servers' own definitions:
 * - The Things Stack v3, `uplink_message.rx_metadata[]`: `gateway_ids.gateway_id`,
 *   `gateway_ids.eui`, `rssi`, `channel_rssi`, `snr`, `location{latitude, longitude, altitude}`
 *   (lorawan-stack `api/metadata.proto`, messages RxMetadata and Location, at commit
 *   01bca422007ae213117cc6d4a34b8e2b60c33937); `uplink_message.settings`: `frequency` (uint64
 *   in Hz, a decimal string in JSON), `data_rate.lora{bandwidth (Hz), spreading_factor}`
 *   (`api/lorawan.proto`, TxSettings and LoRaDataRate). Example:
 *   host-tools/test-fixtures/lns/tts_uplink.json (the documented uplink message).
 * - ChirpStack v4, uplink event: `rxInfo[]{gatewayId (EUI, hex), rssi, snr,
 *   location{latitude, longitude, altitude}}`, `txInfo.frequency` (Hz),
 *   `txInfo.modulation.lora{bandwidth (Hz), spreadingFactor}` (chirpstack `api/proto/gw/gw.proto`
 *   UplinkRxInfo and UplinkTxInfo, as published in the chirpstack_api crate 4.x; chirpstack-docs
 *   `integrations/events.md`, the `up` example in host-tools/test-fixtures/lns/chirpstack_uplink.json).
 * Both encode with the Protobuf JSON mapping, which leaves out fields at their default (an RSSI
 * of 0, a location at 0,0): a field absent is not an error.
 */
import { isObject } from './formats.js';
import type { FrameRow } from './store-interface.js';

/** Where a gateway's antenna stands, as the network server knows it. */
export interface RadioLocation {
  latitude: number;
  longitude: number;
  /** Metres above sea level. */
  altitude?: number;
}

/** One gateway's reception of an uplink. */
export interface RadioReception {
  /** The network server's gateway id (The Things Stack `gateway_ids.gateway_id`; ChirpStack `gatewayId`, its EUI). */
  gatewayId?: string;
  /** The Things Stack `gateway_ids.eui`. */
  gatewayEui?: string;
  /** dBm. */
  rssi?: number;
  /** dBm, The Things Stack only. */
  channelRssi?: number;
  /** dB. */
  snr?: number;
  location?: RadioLocation;
}

/** The radio metadata of one uplink. A frame reassembled from several uplinks keeps one per uplink, first fragment first. */
export interface RadioMetadata {
  gateways: RadioReception[];
  /** Hz. */
  frequency?: number;
  /** LoRa bandwidth, Hz. */
  bandwidth?: number;
  spreadingFactor?: number;
}

/** What an uplink's metadata gave: undefined when it held none; `ignored` entries and fields left out as malformed. */
export interface RadioRead {
  radio: RadioMetadata | undefined;
  ignored: number;
}

/** Receptions kept per uplink: a dense city has tens of gateways, never hundreds hearing one device. */
export const MAX_RECEPTIONS = 64;
const MAX_ID_LENGTH = 64;

/** Collects the well-formed fields of an untrusted object and counts the others. */
class Reader {
  ignored = 0;

  /** A finite number in [min, max]; `integer`: a whole one, also as a decimal string (Protobuf JSON writes 64-bit integers so). */
  number(value: unknown, min: number, max: number, integer = false): number | undefined {
    if (value === undefined) return undefined;
    const n = typeof value === 'number' ? value : integer && typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
    if (Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n))) return n;
    this.ignored++;
    return undefined;
  }

  /** A printable id (letters, digits, `-`, `_`, `.`, `:`, `@`) of at most 64 characters. */
  id(value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH && /^[\w.:@-]+$/.test(value)) return value;
    this.ignored++;
    return undefined;
  }

  object(value: unknown): Record<string, unknown> | undefined {
    if (value === undefined) return undefined;
    if (isObject(value)) return value;
    this.ignored++;
    return undefined;
  }

  location(value: unknown): RadioLocation | undefined {
    const o = this.object(value);
    if (o === undefined) return undefined;
    // Protobuf JSON leaves a 0 out: a missing coordinate is the equator or the meridian.
    const latitude = o.latitude === undefined ? 0 : this.number(o.latitude, -90, 90);
    const longitude = o.longitude === undefined ? 0 : this.number(o.longitude, -180, 180);
    const altitude = this.number(o.altitude, -1e5, 1e5);
    if (latitude === undefined || longitude === undefined) return undefined;
    if (o.latitude === undefined && o.longitude === undefined) return undefined; // no position given at all
    return altitude === undefined ? { latitude, longitude } : { latitude, longitude, altitude };
  }

  /** The entries of an array (at most MAX_RECEPTIONS, the rest counted), each read by `read`. */
  list<T>(value: unknown, read: (entry: Record<string, unknown>) => T | undefined): T[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.ignored++;
      return [];
    }
    const out: T[] = [];
    for (const entry of value) {
      if (out.length >= MAX_RECEPTIONS) {
        this.ignored++;
        continue;
      }
      const o = this.object(entry);
      const item = o === undefined ? undefined : read(o);
      if (item !== undefined) out.push(item);
    }
    return out;
  }
}

/** A reception with its defined fields (at least one), or undefined. */
function reception(fields: RadioReception): RadioReception | undefined {
  const kept: RadioReception = {};
  let any = false;
  for (const key in fields) {
    const value = fields[key as keyof RadioReception];
    if (value === undefined) continue;
    (kept as Record<string, unknown>)[key] = value;
    any = true;
  }
  return any ? kept : undefined;
}

function metadata(r: Reader, gateways: RadioReception[], frequency: number | undefined, lora: Record<string, unknown> | undefined, sfKey: string): RadioRead {
  const radio: RadioMetadata = { gateways };
  if (frequency !== undefined) radio.frequency = frequency;
  const bandwidth = r.number(lora?.bandwidth, 1, 10_000_000, true);
  if (bandwidth !== undefined) radio.bandwidth = bandwidth;
  const sf = r.number(lora?.[sfKey], 5, 12, true);
  if (sf !== undefined) radio.spreadingFactor = sf;
  const empty = gateways.length === 0 && frequency === undefined && bandwidth === undefined && sf === undefined;
  return { radio: empty ? undefined : radio, ignored: r.ignored };
}

/** The radio metadata of a The Things Stack v3 uplink message (webhook body or MQTT `up`). */
export function readTtsRadio(message: unknown): RadioRead {
  const r = new Reader();
  const up = isObject(message) && isObject(message.uplink_message) ? message.uplink_message : undefined;
  if (up === undefined) return { radio: undefined, ignored: 0 };
  const gateways = r.list(up.rx_metadata, (rx) => {
    const ids = r.object(rx.gateway_ids);
    return reception({
      gatewayId: r.id(ids?.gateway_id),
      gatewayEui: r.id(ids?.eui),
      rssi: r.number(rx.rssi, -200, 50),
      channelRssi: r.number(rx.channel_rssi, -200, 50),
      snr: r.number(rx.snr, -50, 50),
      location: r.location(rx.location),
    });
  });
  const settings = r.object(up.settings);
  const frequency = r.number(settings?.frequency, 1, 10_000_000_000, true);
  const lora = r.object(r.object(settings?.data_rate)?.lora);
  return metadata(r, gateways, frequency, lora, 'spreading_factor');
}

/** The radio metadata of a ChirpStack v4 uplink event (HTTP integration or MQTT). */
export function readChirpstackRadio(event: unknown): RadioRead {
  const r = new Reader();
  if (!isObject(event)) return { radio: undefined, ignored: 0 };
  const gateways = r.list(event.rxInfo, (rx) =>
    reception({
      gatewayId: r.id(rx.gatewayId),
      rssi: r.number(rx.rssi, -200, 50),
      snr: r.number(rx.snr, -50, 50),
      location: r.location(rx.location),
    }),
  );
  const tx = r.object(event.txInfo);
  const frequency = r.number(tx?.frequency, 1, 10_000_000_000, true);
  const lora = r.object(r.object(tx?.modulation)?.lora);
  return metadata(r, gateways, frequency, lora, 'spreadingFactor');
}

/** A frame's metadata as stored (`frames.radio`): one entry per uplink; null without any. */
export function radioJson(uplinks: readonly RadioMetadata[] | undefined): string | null {
  return uplinks === undefined || uplinks.length === 0 ? null : JSON.stringify(uplinks);
}

/** `frames.radio` read back: the uplinks' metadata, or undefined (none stored, or not ours). */
export function parseStoredRadio(text: string | null | undefined): RadioMetadata[] | undefined {
  if (text === null || text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? (value as RadioMetadata[]) : undefined;
  } catch {
    return undefined;
  }
}

/** A frame row with its radio metadata when stored (absent otherwise). */
export function withRadio(row: FrameRow, stored: string | null | undefined): FrameRow {
  const radio = parseStoredRadio(stored);
  if (radio !== undefined) row.radio = radio;
  return row;
}

/** Parses a frame's radio metadata once for its consecutive readings (they share the frame's entry). */
export function radioCache(): (frameId: number, stored: string | null | undefined) => RadioMetadata[] | undefined {
  let lastId = -1;
  let last: RadioMetadata[] | undefined;
  return (frameId, stored) => {
    if (stored === null || stored === undefined) return undefined;
    if (frameId !== lastId) {
      lastId = frameId;
      last = parseStoredRadio(stored);
    }
    return last;
  };
}
