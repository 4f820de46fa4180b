/**
 * Record version 2 in the simulators (docs/simulator.md "Record version 2"): each simulated
 * device's content key, derived from the seed like its signing key so that runs stay
 * reproducible; sealing a record as version 1 or 2; and the content keys wrapped for a data
 * owner (HPKE, as `sceau provision --owner` stores them), the only form in which they leave the
 * simulator.
 */
import { join } from 'node:path';
import { type Bytes, type PlainRecord, type SealOptions, sealRecord, sealRecordV2, sha256 } from '@sceau/protocol';
import { type WrappedContentKey, wrapContentKey } from '@sceau/host-tools';
import type { RecordVersion } from './config.js';
import { writeAtomic } from './write-atomic.js';

/** The file `--keys-out DIR` gets beside the `.pub` files when `--owner` is given (`sceau frame verify --wrapped-keys`). */
export const WRAPPED_KEYS_FILE = 'wrapped-keys.json';

/**
 * The content key of device `index` of `group` in a run: SHA-256 of the seed, group and index,
 * apart from its signing key (`deviceSecret`). Never a real key: anyone with the seed has it.
 */
export function deviceContentKey(seed: string, group: string, index: number): Bytes {
  return sha256(new TextEncoder().encode(`sceau-sim/v1/content-key|${seed}|${group}|${index}`));
}

/** The frame of `record` sealed as `version` (version 2 encrypts under the device's `contentKey`). */
export function sealVersioned(version: RecordVersion, record: PlainRecord, secret: Bytes, contentKey: Bytes | null, options: SealOptions = {}): Bytes {
  if (version === 1) return sealRecord({ version: 1, ...record }, secret, options);
  if (contentKey === null) throw new TypeError('contentKey: record version 2 needs the device\'s content key');
  return sealRecordV2(record, secret, contentKey, options);
}

/** A device whose content key is wrapped for the owner. */
export interface ContentKeyHolder {
  kidHex: string;
  contentKey: Bytes;
}

/** Every holder's content key wrapped for `ownerPublicKey` (HPKE base mode, AAD the kid; docs/privacy.md). */
export function wrapContentKeys(ownerPublicKey: Bytes, holders: readonly ContentKeyHolder[]): WrappedContentKey[] {
  return holders.map((h) => wrapContentKey(ownerPublicKey, h.kidHex, h.contentKey));
}

/** Writes `DIR/wrapped-keys.json` (`{ "wrappedKeys": [...] }`, the form `--wrapped-keys` reads); returns its path. */
export function writeWrappedKeys(dir: string, wrapped: readonly WrappedContentKey[]): string {
  const path = join(dir, WRAPPED_KEYS_FILE);
  writeAtomic(path, `${JSON.stringify({ wrappedKeys: wrapped }, null, 2)}\n`);
  return path;
}
