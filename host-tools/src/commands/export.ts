/** `sceau export`: readings in real units with their dates (json, csv, SenML JSON or CBOR). */
import { Option } from 'commander';
import { usageError } from '../errors.js';
import { exportReadings, EXPORT_FORMATS, parseTimeArg, type ExportFormat } from '../export.js';
import { loadChannels, openQueryStore, privacyOf, type CommandGroup } from './context.js';
import { channels as builtInChannels } from '@sceau/protocol';
import { ContentKeys } from '../content-key-wrap.js';
import { encryptedRows } from '../export-encrypted.js';
import { readOwnerPrivateKey } from '../owner-keys.js';

export const registerExport: CommandGroup = (program, { io }) => {
  program
    .command('export')
    .description('readings in real units with their dates: json, csv, SenML JSON or SenML CBOR (RFC 8428)')
    .requiredOption('--db <file>', 'store database, or the URL of a registered store backend')
    .option('--kid <kid>', 'one device (kid, DevEUI or name)')
    .option('--since <t>', 'from this time: Unix seconds, ISO 8601, or a duration back from now (24h, 7d)')
    .option('--until <t>', 'before this time')
    .addOption(new Option('--format <format>', 'output format (senml-cbor: binary, RFC 8428 §6 integer labels)').choices(EXPORT_FORMATS as unknown as string[]).default('json'))
    .option('--channels <file>', 'user channel registry (JSON): names, units and scales of user channels')
    .option('--owner-key <file>', 'the data owner\'s private key: record version 2 readings are opened with the content keys wrapped in the registry (without it, each such frame is one "encrypted (N bytes)" row in json and csv; docs/privacy.md#export)')
    .action(async (opts: { db: string; kid?: string; since?: string; until?: string; format: ExportFormat; channels?: string; ownerKey?: string }) => {
      const registry = opts.channels === undefined ? undefined : loadChannels(opts.channels);
      const ownerKey = opts.ownerKey === undefined ? undefined : readOwnerPrivateKey(opts.ownerKey);
      if (opts.format === 'senml-cbor' && process.stdout.isTTY) throw usageError('--format senml-cbor writes binary CBOR: redirect stdout to a file or a pipe', 'binary-to-terminal');
      const store = await openQueryStore(opts.db);
      try {
        // A name or a DevEUI selects every key of the device (its history across rotations).
        const kids = opts.kid === undefined ? undefined : await store.registry.kidsOf(opts.kid);
        const filter = {
          kids,
          since: opts.since === undefined ? undefined : parseTimeArg(opts.since, '--since'),
          until: opts.until === undefined ? undefined : parseTimeArg(opts.until, '--until'),
        };
        const privacy = ownerKey === undefined ? store.privacy : privacyOf(store, opts.db);
        const encrypted =
          privacy === undefined
            ? []
            : await encryptedRows(privacy, {
                ...filter,
                registry: registry ?? builtInChannels,
                contentKeys: ownerKey === undefined ? undefined : new ContentKeys(ownerKey, await privacy.wrappedKeys(kids)),
              });
        const skipped = { frames: 0 };
        const n = await exportReadings(store, opts.format, filter, process.stdout, registry, encrypted, skipped);
        io.err(`exported ${n} readings${skipped.frames === 0 ? '' : `; the readings of ${skipped.frames} frames stay encrypted (${opts.format.startsWith('senml') ? 'left out' : 'one "encrypted" row each'}; --owner-key opens them)`}`);
      } finally {
        await store.close();
      }
    });
};
