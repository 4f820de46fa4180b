/** `sceau export`: readings in real units with their dates (json, csv, SenML JSON or CBOR). */
import { Option } from 'commander';
import { usageError } from '../errors.js';
import { exportReadings, EXPORT_FORMATS, parseTimeArg, type ExportFormat } from '../export.js';
import { loadChannels, openQueryStore, type CommandGroup } from './context.js';

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
    .action(async (opts: { db: string; kid?: string; since?: string; until?: string; format: ExportFormat; channels?: string }) => {
      const registry = opts.channels === undefined ? undefined : loadChannels(opts.channels);
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
        const n = await exportReadings(store, opts.format, filter, process.stdout, registry);
        io.err(`exported ${n} readings`);
      } finally {
        await store.close();
      }
    });
};
