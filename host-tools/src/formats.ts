/**
 * Input formats: how frames arrive in files, on stdin and from network servers. Every parser
 * takes untrusted input and returns results; none throws on bad data.
 *
 * - hex / base64: one frame per line (blank lines and lines starting with # are skipped)
 * - bin: the file is one raw frame
 * - ndjson: one JSON object per line: `{ "frame": hex|base64, "devEui"?: EUI }`, or a whole
 *   The Things Stack / ChirpStack uplink per line (as an MQTT subscriber would save them)
 * - tts: a The Things Stack v3 uplink message (`uplink_message.frm_payload`, `end_device_ids.dev_eui`)
 * - chirpstack: a ChirpStack v4 uplink event (`data`, `deviceInfo.devEui`)
 */
import { devEuiDeviceId, parseDevEui } from './device-identity.js';

export const INPUT_FORMATS = ['auto', 'hex', 'base64', 'bin', 'tts', 'chirpstack', 'ndjson'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** One frame found in the input, or why an item of the input holds none. */
export type InputItem =
  | {
      ok: true;
      frame: Uint8Array;
      /** Transport identity for frames without kid (`deveui:…`). */
      deviceId?: string;
      /** Receive time from the network server, ms since the epoch. */
      receivedAt?: number;
      /** Where in the input: `file:line`. */
      where: string;
    }
  | { ok: false; error: string; where: string };

/** An uplink from a network server that is not an uplink (join, status, ...): acknowledged, not a frame. */
export interface IgnoredMessage {
  ignored: string;
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Bytes of a hex or base64 (standard or URL-safe) string; undefined when it is neither. */
export function decodeText(text: string, prefer: 'hex' | 'base64' | 'auto' = 'auto'): Uint8Array | undefined {
  const t = text.trim();
  if (t.length === 0) return undefined;
  if (prefer !== 'base64' && HEX_RE.test(t)) return new Uint8Array(Buffer.from(t, 'hex'));
  if (prefer === 'hex') return undefined;
  if (!BASE64_RE.test(t)) return undefined;
  const bytes = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
  return bytes.length === 0 ? undefined : new Uint8Array(bytes);
}

/**
 * Whether a body that failed to parse as JSON is binary rather than broken text: control bytes
 * other than whitespace, or bytes that are not UTF-8. A ChirpStack integration left on its
 * Protobuf encoding sends such bodies (webhooks and MQTT alike).
 */
export function looksBinary(body: Uint8Array): boolean {
  for (const b of body) if (b < 0x09 || (b > 0x0d && b < 0x20)) return true;
  return Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8').includes('\ufffd');
}

function time(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Non-uplink message kinds The Things Stack sends to webhooks. */
const TTS_OTHER = ['join_accept', 'downlink_ack', 'downlink_nack', 'downlink_sent', 'downlink_failed', 'downlink_queued', 'downlink_queue_invalidated', 'location_solved', 'service_data', 'uplink_normalized'];

/**
 * The device a message's DevEUI field names: none when the field is absent (or null), an error
 * when it holds something that is not a DevEUI: such a message is refused, never verified as if
 * it named no device.
 */
function deviceOfEui(value: unknown, field: string): { deviceId?: string } | { error: string } {
  if (value === undefined || value === null) return {};
  const eui = parseDevEui(value);
  if (eui === undefined) return { error: `${field} ${JSON.stringify(value)} is not a DevEUI (16 hex digits)` };
  return { deviceId: devEuiDeviceId(eui) };
}

type Parsed = { ok: true; frame: Uint8Array; deviceId?: string; receivedAt?: number } | { ok: false; error: string } | IgnoredMessage;

/** The frame in a The Things Stack v3 uplink message (webhook body or MQTT `up` message). */
export function parseTtsUplink(message: unknown): Parsed {
  if (!isObject(message)) return { ok: false, error: 'TTS uplink: expected a JSON object' };
  const up = message.uplink_message;
  if (!isObject(up)) {
    const other = TTS_OTHER.find((k) => k in message);
    if (other !== undefined) return { ignored: `TTS ${other} message` };
    return { ok: false, error: 'TTS uplink: no uplink_message' };
  }
  if (typeof up.frm_payload !== 'string') return { ok: false, error: 'TTS uplink: uplink_message.frm_payload is missing (an empty uplink or a MAC-only frame)' };
  const frame = decodeText(up.frm_payload, 'base64');
  if (frame === undefined) return { ok: false, error: 'TTS uplink: uplink_message.frm_payload is not base64' };
  const ids = message.end_device_ids;
  const device = deviceOfEui(isObject(ids) ? ids.dev_eui : undefined, 'TTS uplink: end_device_ids.dev_eui');
  if ('error' in device) return { ok: false, error: device.error };
  const out: Parsed = { ok: true, frame, ...device };
  const at = time(up.received_at) ?? time(message.received_at);
  if (at !== undefined) out.receivedAt = at;
  return out;
}

/** The frame in a ChirpStack v4 uplink event (HTTP integration `?event=up`, or MQTT `.../event/up`). */
export function parseChirpstackUplink(event: unknown): Parsed {
  if (!isObject(event)) return { ok: false, error: 'ChirpStack uplink: expected a JSON object' };
  if (typeof event.data !== 'string') {
    if (isObject(event.deviceInfo) && !('fCnt' in event) && !('fPort' in event)) return { ignored: 'ChirpStack event without uplink data (join, status, ack, log, ...)' };
    return { ok: false, error: 'ChirpStack uplink: "data" is missing (an empty uplink?)' };
  }
  const frame = decodeText(event.data, 'base64');
  if (frame === undefined) return { ok: false, error: 'ChirpStack uplink: "data" is not base64' };
  const info = event.deviceInfo;
  const device = deviceOfEui(isObject(info) ? info.devEui : undefined, 'ChirpStack uplink: deviceInfo.devEui');
  if ('error' in device) return { ok: false, error: device.error };
  const out: Parsed = { ok: true, frame, ...device };
  const at = time(event.time);
  if (at !== undefined) out.receivedAt = at;
  return out;
}

/** A generic JSON frame object: `{ frame }` (hex or base64), `{ datagram }` (hex, capture files), with `devEui` or `deviceId`. */
export function parseFrameObject(value: unknown): Parsed {
  if (!isObject(value)) return { ok: false, error: 'expected a JSON object' };
  if ('uplink_message' in value || 'end_device_ids' in value) return parseTtsUplink(value);
  if ('deviceInfo' in value) return parseChirpstackUplink(value);
  const text = typeof value.frame === 'string' ? value.frame : typeof value.datagram === 'string' ? value.datagram : undefined;
  if (text === undefined) return { ok: false, error: 'no "frame" field' };
  const frame = decodeText(text);
  if (frame === undefined) return { ok: false, error: '"frame" is neither hex nor base64' };
  const device = deviceOfEui(value.devEui, '"devEui"');
  if ('error' in device) return { ok: false, error: device.error };
  const out: Parsed = { ok: true, frame, ...device };
  if (out.deviceId === undefined && typeof value.deviceId === 'string') out.deviceId = value.deviceId;
  return out;
}

/** Guesses the format of a whole input. */
export function detectFormat(data: Uint8Array): Exclude<InputFormat, 'auto'> {
  if (data.length > 0 && data[0] === 0xd2) return 'bin';
  const text = Buffer.from(data).toString('utf8').trim();
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      const value = JSON.parse(text) as unknown;
      if (isObject(value)) {
        if ('uplink_message' in value || 'end_device_ids' in value) return 'tts';
        if ('deviceInfo' in value) return 'chirpstack';
      }
    } catch {
      // several JSON values: one per line
    }
    return 'ndjson';
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
  if (lines.length > 0 && lines.every((l) => HEX_RE.test(l))) return 'hex';
  if (lines.length > 0 && lines.every((l) => BASE64_RE.test(l))) return 'base64';
  return 'bin';
}

function fromParsed(parsed: Parsed, where: string): InputItem | undefined {
  if ('ignored' in parsed) return undefined;
  if (!parsed.ok) return { ok: false, error: parsed.error, where };
  const item: InputItem = { ok: true, frame: parsed.frame, where };
  if (parsed.deviceId !== undefined) item.deviceId = parsed.deviceId;
  if (parsed.receivedAt !== undefined) item.receivedAt = parsed.receivedAt;
  return item;
}

/** Every frame in an input of the given format. */
export function parseInput(data: Uint8Array, format: InputFormat, name: string): InputItem[] {
  const chosen = format === 'auto' ? detectFormat(data) : format;
  if (chosen === 'bin') return data.length === 0 ? [{ ok: false, error: 'empty input', where: name }] : [{ ok: true, frame: data, where: name }];
  const text = Buffer.from(data).toString('utf8');
  if (chosen === 'tts' || chosen === 'chirpstack') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      // An MQTT dump: one message per line.
      return parseLines(text, name, (line) => {
        try {
          const v = JSON.parse(line) as unknown;
          return chosen === 'tts' ? parseTtsUplink(v) : parseChirpstackUplink(v);
        } catch (e) {
          return { ok: false, error: `malformed JSON: ${(e as Error).message}` };
        }
      });
    }
    const values = Array.isArray(value) ? value : [value];
    const out: InputItem[] = [];
    values.forEach((v, i) => {
      const item = fromParsed(chosen === 'tts' ? parseTtsUplink(v) : parseChirpstackUplink(v), values.length > 1 ? `${name}[${i}]` : name);
      if (item !== undefined) out.push(item);
    });
    return out;
  }
  return parseLines(text, name, (line) => {
    if (chosen === 'ndjson') {
      try {
        return parseFrameObject(JSON.parse(line));
      } catch (e) {
        return { ok: false, error: `malformed JSON: ${(e as Error).message}` };
      }
    }
    const frame = decodeText(line, chosen);
    return frame === undefined ? { ok: false, error: `not ${chosen}` } : { ok: true, frame };
  });
}

function parseLines(text: string, name: string, parse: (line: string) => Parsed): InputItem[] {
  const out: InputItem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) return;
    const item = fromParsed(parse(line), `${name}:${i + 1}`);
    if (item !== undefined) out.push(item);
  });
  return out;
}
