/**
 * A frame's contents without verifying it (`sceau frame inspect`): the kid of its unprotected
 * header and its decoded record, readings named and in units by a channel registry (the user's,
 * from `--channels`, or the built-in one). Never throws on untrusted bytes: what cannot be read
 * is said in `recordError`.
 */
import { toHex, type Bytes } from './bytes.js';
import { parseCbor } from './cbor-reader.js';
import { channels as builtInChannels, type ChannelRegistry } from './channels.js';
import { HEADER_KID } from './cose-sign1.js';
import { decodeRecord, type Reading, type SceauRecord } from './record.js';
import { recordV2FromItem, RECORD_VERSION_2, type SceauRecordV2 } from './record-v2.js';

export interface InspectedReading {
  name: string;
  value: number;
  unit: string;
  age?: number;
}

export interface FrameInspection {
  kid?: string;
  /** A version 2 record comes without its encrypted part, which is in `encrypted`. */
  record?: SceauRecord | Omit<SceauRecordV2, 'encrypted'>;
  recordError?: string;
  /** The clear readings (for version 2, the operational ones only). */
  readings?: InspectedReading[];
  /** Version 2: the COSE_Encrypt0 holding the other readings, in hex. */
  encrypted?: string;
}

export function inspectFrame(bytes: Bytes, registry: ChannelRegistry = builtInChannels): FrameInspection {
  const parsed = parseCbor(bytes);
  if (!parsed.ok || parsed.item.kind !== 'tag' || parsed.item.item.kind !== 'array') return { recordError: 'not a COSE_Sign1 frame' };
  const parts = parsed.item.item.items;
  const out: FrameInspection = {};
  const unprotected = parts[1];
  if (unprotected?.kind === 'map') {
    for (const [k, v] of unprotected.entries) if (k.kind === 'uint' && k.value === HEADER_KID && v.kind === 'bytes') out.kid = toHex(v.value);
  }
  const payload = parts[2];
  if (payload?.kind !== 'bytes') return { ...out, recordError: 'no payload' };
  const record = decodeRecord(payload.value);
  let readings: Reading[];
  if (record.ok) {
    out.record = record.record;
    readings = record.record.readings;
  } else {
    const inner = record.code === 'unsupported-version' ? parseCbor(payload.value) : undefined;
    const v2 = inner?.ok && inner.item.kind === 'array' && inner.item.items[0]?.kind === 'uint' && inner.item.items[0].value === RECORD_VERSION_2 ? recordV2FromItem(inner.item, payload.value) : undefined;
    if (v2 === undefined || !v2.ok) return { ...out, recordError: v2 === undefined ? `${record.code}: ${record.detail}` : `${v2.code}: ${v2.detail}` };
    const { encrypted, ...rest } = v2.record;
    out.record = rest;
    out.encrypted = toHex(encrypted);
    readings = rest.clearReadings;
  }
  out.readings = readings.map((r) => {
    const c = registry.get(r.channel);
    const item: InspectedReading = { name: c?.name ?? `channel-${r.channel}`, value: registry.toUnit(r.channel, r.value), unit: c?.unit ?? '' };
    if (r.age !== undefined) item.age = r.age;
    return item;
  });
  return out;
}
