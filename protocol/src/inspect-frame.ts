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
import { decodeRecord, type SceauRecord } from './record.js';

export interface InspectedReading {
  name: string;
  value: number;
  unit: string;
  age?: number;
}

export interface FrameInspection {
  kid?: string;
  record?: SceauRecord;
  recordError?: string;
  readings?: InspectedReading[];
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
  if (!record.ok) return { ...out, recordError: `${record.code}: ${record.detail}` };
  out.record = record.record;
  out.readings = record.record.readings.map((r) => {
    const c = registry.get(r.channel);
    const item: InspectedReading = { name: c?.name ?? `channel-${r.channel}`, value: registry.toUnit(r.channel, r.value), unit: c?.unit ?? '' };
    if (r.age !== undefined) item.age = r.age;
    return item;
  });
  return out;
}
