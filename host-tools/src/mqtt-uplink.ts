/**
 * One MQTT message from a network server, read as an uplink: its frame (or fragment), the device
 * it came from, or why it holds none. Untrusted input: never throws.
 *
 * - The Things Stack v3 publishes on `v3/{application id}[@{tenant id}]/devices/{device id}/up`
 *   the same JSON as its webhooks (formats.ts `parseTtsUplink`).
 * - ChirpStack v4 publishes on `application/{application id}/device/{DevEUI}/event/up` the same
 *   JSON as its HTTP integration (`parseChirpstackUplink`), unless the integration is set to
 *   Protobuf: such a payload gets `chirpstack-protobuf`, naming the setting to change.
 */
import { devEuiDeviceId } from './device-identity.js';
import { looksBinary, parseChirpstackUplink, parseTtsUplink } from './formats.js';
import { readChirpstackRadio, readTtsRadio, type RadioMetadata } from './radio-metadata.js';

export const MQTT_FORMATS = ['tts', 'chirpstack'] as const;
export type MqttFormat = (typeof MQTT_FORMATS)[number];

/** The topic each format publishes uplinks on. `+` matches `{app}@{tenant}` on TTS Cloud and `{app}` on open-source TTS. */
export const DEFAULT_MQTT_TOPICS: Record<MqttFormat, string> = {
  tts: 'v3/+/devices/+/up',
  chirpstack: 'application/+/device/+/event/up',
};

/** Why a message holds no frame: counted under this reason in `sceau_ingest_errors_total{transport="mqtt"}`. */
export type MqttRefusal = 'empty-message' | 'malformed-json' | 'chirpstack-protobuf' | 'bad-uplink';

export type MqttUplink =
  | {
      kind: 'uplink';
      /** A whole frame or a fragment, as the device sent it. */
      datagram: Uint8Array;
      /** `deveui:…` when the message (or ChirpStack's topic) names the DevEUI: the registry maps it to a device. */
      deviceId: string | undefined;
      /** Fragments are reassembled per this key: the DevEUI, else the device as the topic names it. */
      key: string;
      receivedAt: number | undefined;
      /** The uplink's radio metadata: read only when asked (`--keep-radio-metadata`), and when it has any. */
      radio?: RadioMetadata | undefined;
      /** Radio metadata entries and fields left out as malformed (the frame is not refused for them). */
      radioIgnored?: number;
    }
  | { kind: 'ignored'; detail: string }
  | { kind: 'refused'; reason: MqttRefusal; detail: string };

const EUI_RE = /^[0-9a-fA-F]{16}$/;

/**
 * The device a topic names: TTS `v3/{app}/devices/{device id}/…` (an id chosen by the user, not
 * the DevEUI) and ChirpStack `application/{app}/device/{DevEUI}/…`. Undefined for other topics.
 */
export function topicDevice(format: MqttFormat, topic: string): { name: string; devEui?: string } | undefined {
  const levels = topic.split('/');
  if (format === 'tts' && levels.length >= 5 && levels[0] === 'v3' && levels[2] === 'devices') return { name: `tts/${levels[1]}/${levels[3]}` };
  if (format === 'chirpstack' && levels.length >= 5 && levels[0] === 'application' && levels[2] === 'device') {
    const eui = levels[3]!;
    return EUI_RE.test(eui) ? { name: `chirpstack/${levels[1]}/${eui.toLowerCase()}`, devEui: eui } : { name: `chirpstack/${levels[1]}/${eui}` };
  }
  return undefined;
}

/** Reads one message published on `topic`; its radio metadata only with `keepRadio` (otherwise dropped unread). */
export function readMqttUplink(format: MqttFormat, topic: string, payload: Uint8Array, keepRadio = false): MqttUplink {
  if (payload.length === 0) return { kind: 'refused', reason: 'empty-message', detail: 'empty message' };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  } catch {
    if (looksBinary(payload)) {
      return format === 'chirpstack'
        ? { kind: 'refused', reason: 'chirpstack-protobuf', detail: `a binary message of ${payload.length} bytes, not JSON (ChirpStack's Protobuf encoding?): set the MQTT integration to JSON (chirpstack.toml: [integration.mqtt] json=true)` }
        : { kind: 'refused', reason: 'malformed-json', detail: `a binary message of ${payload.length} bytes, not JSON` };
    }
    // The parser's own message quotes the input: say what, never echo it.
    return { kind: 'refused', reason: 'malformed-json', detail: `malformed JSON (${payload.length} bytes)` };
  }
  const parsed = format === 'tts' ? parseTtsUplink(value) : parseChirpstackUplink(value);
  if ('ignored' in parsed) return { kind: 'ignored', detail: parsed.ignored };
  if (!parsed.ok) return { kind: 'refused', reason: 'bad-uplink', detail: parsed.error };
  const device = topicDevice(format, topic);
  const deviceId = parsed.deviceId ?? (device?.devEui === undefined ? undefined : devEuiDeviceId(device.devEui));
  const uplink: MqttUplink = { kind: 'uplink', datagram: parsed.frame, deviceId, key: deviceId ?? device?.name ?? topic, receivedAt: parsed.receivedAt };
  if (keepRadio) {
    const read = format === 'tts' ? readTtsRadio(value) : readChirpstackRadio(value);
    uplink.radio = read.radio;
    uplink.radioIgnored = read.ignored;
  }
  return uplink;
}
