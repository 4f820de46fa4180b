/**
 * What a verification means to a person or a script: the protocol's result with readings in
 * real units (value × scale, SenML unit) and dates, and its one-line and JSON renderings.
 */
import { channels as builtInChannels, codeAnchor, encryptedReadingsBytes, type Channel, type ChannelRegistry, type VerificationCode, type VerifyResult } from '@sceau/protocol';

export interface UnitReading {
  channel: number;
  name: string;
  /** In `unit` (21.5 for a wire value of 2150 on temperature). */
  value: number;
  unit: string;
  /** The integer on the wire. */
  raw: number;
  age?: number;
  /** Unix seconds of the measurement, `(time ?? received) - age`. */
  at?: number;
}

export interface FrameOutcome {
  ok: boolean;
  /** 'ok' or the verification code. */
  code: 'ok' | VerificationCode;
  detail?: string;
  kid?: string;
  kidInFrame?: boolean;
  counter?: number;
  time?: number | null;
  /** Every reading; for record version 2, null when the readings stay encrypted (no owner key). */
  readings?: UnitReading[] | null;
  /** Record version 2: its readings were encrypted for the owner. */
  encrypted?: true;
  /** Record version 2: the operational readings, which travel in clear. */
  clearReadings?: UnitReading[];
  /** Record version 2: bytes of encrypted readings (all a party without the content key learns of them). */
  encryptedBytes?: number;
  /** docs/protocol.md anchor of a rejection code. */
  doc?: string;
}

/** A channel's name, or `channel-<id>` for a channel the registry does not know. */
export function channelName(channel: Channel | undefined, id: number): string {
  return channel?.name ?? `channel-${id}`;
}

/** Channel name and unit for a reading; unknown channels keep their number as name and no unit. */
export function toUnitReading(registry: ChannelRegistry, r: { channel: number; value: number; age?: number; at?: number }): UnitReading {
  const channel = registry.get(r.channel);
  const out: UnitReading = {
    channel: r.channel,
    name: channelName(channel, r.channel),
    value: registry.toUnit(r.channel, r.value),
    unit: channel?.unit ?? '',
    raw: r.value,
  };
  if (r.age !== undefined) out.age = r.age;
  if (r.at !== undefined) out.at = r.at;
  return out;
}

export function describeResult(result: VerifyResult, registry: ChannelRegistry = builtInChannels): FrameOutcome {
  if (result.ok) {
    const readings = result.readings.map((r) => toUnitReading(registry, r));
    const out: FrameOutcome = { ok: true, code: 'ok', kid: result.kid, kidInFrame: result.kidInFrame, counter: result.counter, time: result.time, readings };
    // Record version 2: the clear readings are the operational ones; the others need the owner key (encrypted-outcome.ts).
    if (result.record.version === 2) Object.assign(out, { readings: null, encrypted: true, clearReadings: readings, encryptedBytes: encryptedReadingsBytes(result.record) });
    return out;
  }
  const out: FrameOutcome = { ok: false, code: result.code, detail: result.detail };
  if (result.kid !== undefined) out.kid = result.kid;
  if (result.counter !== undefined) out.counter = result.counter;
  out.doc = codeAnchor(result.code);
  return out;
}

/** How an encrypted record's readings show without the owner key: `encrypted (N bytes)` (docs/privacy.md#the-gateway-and-its-database). */
export function encryptedLabel(bytes: number | null | undefined): string {
  return bytes === undefined || bytes === null ? 'encrypted' : `encrypted (${bytes} bytes)`;
}

function formatValue(r: UnitReading): string {
  return `${r.name}=${r.value}${r.unit && r.unit !== '/' ? ` ${r.unit}` : ''}${r.age ? ` (age ${r.age}s)` : ''}`;
}

/** One human line: `ok kid=… counter=… temperature=21.5 Cel …` or `rejected <code> …: detail`. */
export function formatOutcomeLine(outcome: FrameOutcome, label?: string): string {
  const prefix = label === undefined ? '' : `${label}: `;
  if (outcome.ok) {
    const when = outcome.time !== undefined && outcome.time !== null ? ` time=${new Date(outcome.time * 1000).toISOString()}` : '';
    const shown = outcome.readings ?? outcome.clearReadings ?? [];
    const parts = shown.map(formatValue);
    if (outcome.encrypted === true && outcome.readings === null) parts.push(encryptedLabel(outcome.encryptedBytes));
    return `${prefix}ok kid=${outcome.kid} counter=${outcome.counter}${when} ${parts.join(' ')}`.trimEnd();
  }
  const who = `${outcome.kid !== undefined ? ` kid=${outcome.kid}` : ''}${outcome.counter !== undefined ? ` counter=${outcome.counter}` : ''}`;
  return `${prefix}rejected ${outcome.code}${who}: ${outcome.detail ?? ''} (see ${outcome.doc ?? ''})`;
}
