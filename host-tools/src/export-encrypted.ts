/**
 * The encrypted readings of record version 2 in an export (docs/privacy.md#export): opened with
 * the owner's content keys into ordinary reading rows (`encrypted: true`), or, without the owner
 * key, one row per frame saying what stays hidden: `encrypted (N bytes)` (the count of readings
 * is not knowable without the key, only the size of their encryption). The rows are merged, by
 * time, into the store's stream of clear readings.
 */
import { openRecordReadings, verifyFrame, type ChannelRegistry, type Keyring, type SceauRecordV2 } from '@sceau/protocol';
import type { ContentKeys } from './content-key-wrap.js';
import { EXIT, SceauError } from './errors.js';
import { toUnitReading } from './outcome.js';
import type { EncryptedFrameRow, PrivacyStore, ReadingRow } from './store-interface.js';

/** A reading opened with the owner key. */
export type OpenedReadingRow = ReadingRow & { encrypted: true };

/** A frame whose readings stay encrypted (no owner key). */
export interface EncryptedMarkerRow {
  kind: 'encrypted';
  kid: string;
  counter: number;
  frameId: number;
  /** The record's time, else its receipt, Unix seconds. */
  at: number;
  encryptedBytes: number;
}

export type ExportRow = ReadingRow | OpenedReadingRow | EncryptedMarkerRow;

export const isMarker = (r: ExportRow): r is EncryptedMarkerRow => (r as EncryptedMarkerRow).kind === 'encrypted';

export interface EncryptedRowsOptions {
  kids?: readonly string[] | undefined;
  since?: number | undefined;
  until?: number | undefined;
  /** The owner's content keys; absent: marker rows. */
  contentKeys?: ContentKeys | undefined;
  registry: ChannelRegistry;
}

/** The record of a stored frame, re-verified (signature included) against its kid's key, revoked or not. */
function recordOf(frame: EncryptedFrameRow): SceauRecordV2 {
  const publicKey = frame.publicKey;
  const keyring: Keyring = { resolve: () => (publicKey === undefined ? undefined : { publicKey, revoked: false }) };
  const r = verifyFrame(frame.raw, keyring, { recordVersions: [1, 2], deviceId: `kid:${frame.kid}` });
  if (!r.ok || r.record.version !== 2) throw new SceauError(`frame ${frame.frameId} (kid ${frame.kid} counter ${frame.counter}) no longer verifies: ${r.ok ? 'not record version 2' : r.code}`, EXIT.verificationFailed, 'stored-frame-unreadable');
  return r.record as SceauRecordV2;
}

/** Rows of the encrypted frames selected, oldest first (held in memory: one entry per frame, or per opened reading). */
export async function encryptedRows(privacy: PrivacyStore, options: EncryptedRowsOptions): Promise<ExportRow[]> {
  const rows: ExportRow[] = [];
  const inRange = (at: number | null): boolean => at === null || ((options.since === undefined || at >= options.since) && (options.until === undefined || at < options.until));
  for await (const frame of privacy.encryptedFrames(options.kids)) {
    const record = recordOf(frame);
    const clock = record.time ?? Math.floor(frame.receivedAt / 1000);
    const contentKey = options.contentKeys?.get(frame.kid);
    if (contentKey === undefined) {
      if (inRange(clock)) rows.push({ kind: 'encrypted', kid: frame.kid, counter: frame.counter, frameId: frame.frameId, at: clock, encryptedBytes: frame.encryptedBytes });
      continue;
    }
    const opened = openRecordReadings(record, contentKey, frame.kid);
    if (!opened.ok) throw new SceauError(`frame ${frame.frameId} (kid ${frame.kid} counter ${frame.counter}): ${opened.code}: ${opened.detail}`, EXIT.verificationFailed, opened.code);
    for (const r of opened.readings) {
      const u = toUnitReading(options.registry, r);
      const at = clock - (r.age ?? 0);
      if (inRange(at)) rows.push({ kid: frame.kid, counter: frame.counter, frameId: frame.frameId, channel: u.channel, name: u.name, value: u.value, unit: u.unit, raw: u.raw, age: r.age ?? 0, at, encrypted: true });
    }
  }
  return rows.sort((a, b) => (a.at ?? -Infinity) - (b.at ?? -Infinity) || a.frameId - b.frameId);
}

/** Two time-ordered streams as one (clear readings first at equal times). */
export async function* mergeByTime(clear: AsyncIterable<ReadingRow>, encrypted: readonly ExportRow[]): AsyncIterable<ExportRow> {
  let i = 0;
  for await (const r of clear) {
    while (i < encrypted.length && (encrypted[i]!.at ?? -Infinity) < (r.at ?? -Infinity)) yield encrypted[i++]!;
    yield r;
  }
  while (i < encrypted.length) yield encrypted[i++]!;
}
