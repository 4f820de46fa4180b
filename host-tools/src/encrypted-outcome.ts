/**
 * The outcome of a verified record version 2 for a person or a script: its clear (operational)
 * readings, and its other readings decrypted with the owner's content keys when given, else
 * `readings: null`. A content key that does not open the record is an error, never readings.
 */
import { openRecordReadings, type ChannelRegistry, type FrameAccepted, type SceauRecordV2, type VerifyResult } from '@sceau/protocol';
import type { ContentKeys } from './content-key-wrap.js';
import { EXIT, SceauError } from './errors.js';
import { describeResult, toUnitReading, type FrameOutcome } from './outcome.js';

/** `describeResult`, with record version 2 opened when `contentKeys` holds the device's key. */
/** `now` (Unix seconds) dates the readings of a record without time, as verifyFrame does. */
export function describeOpened(result: VerifyResult, registry: ChannelRegistry, contentKeys: ContentKeys | undefined, where: string, now?: number): FrameOutcome {
  const outcome = describeResult(result, registry);
  if (!result.ok || outcome.encrypted !== true) return outcome;
  const contentKey = contentKeys?.get(result.kid);
  if (contentKey === undefined) return outcome;
  outcome.readings = [...(outcome.clearReadings ?? []), ...openedReadings(result, contentKey, where, now).map((r) => toUnitReading(registry, r))];
  return outcome;
}

function openedReadings(result: FrameAccepted, contentKey: Uint8Array, where: string, now: number | undefined): Array<{ channel: number; value: number; age?: number; at?: number }> {
  const opened = openRecordReadings(result.record as SceauRecordV2, contentKey, result.kid);
  if (!opened.ok) throw new SceauError(`${where}: kid ${result.kid} counter ${result.counter}: ${opened.code}: ${opened.detail}`, EXIT.verificationFailed, opened.code);
  const clock = result.time ?? now;
  return opened.readings.map((r) => (clock === undefined ? r : { ...r, at: clock - (r.age ?? 0) }));
}
