/** `sceau frame ...`: seal a record on the host, inspect frames, verify frames as they arrive. */
import { Option } from 'commander';
import { getPublicKey, inspectFrame, kidOf, sealRecord, toHex } from '@sceau/protocol';
import { usageError } from '../errors.js';
import { parseTimeArg } from '../export.js';
import { CLI_INPUT_FORMATS, openInput, type CliInputFormat } from '../input-stream.js';
import { keyringFromPath, runInspect, runVerify } from '../verify-command.js';
import { readSecretKey } from '../key-files.js';
import { devEuiDeviceId, parseDevEui } from '../device-identity.js';
import { ownerContentKeys } from '../owner-command.js';
import type { WrappedContentKey } from '../content-key-wrap.js';
import { openStore } from '../db-open.js';
import { collect, integerArg, loadChannels, parseReadingArg, privacyOf, type CliContext, type CommandGroup } from './context.js';

export interface VerifyCommandOptions {
  format: CliInputFormat;
  keys?: string;
  db?: string;
  devEui?: string;
  channels?: string;
  json?: boolean;
  ownerKey?: string;
  wrappedKeys?: string;
}

/** `frame verify` (and `sim verify`): verifies `file` against --keys or --db; resolves with the exit status. */
export async function runVerifyCommand({ io }: CliContext, file: string | undefined, opts: VerifyCommandOptions): Promise<number> {
  if ((opts.keys === undefined) === (opts.db === undefined)) throw usageError('give either --keys DIR or --db FILE');
  const devEui = opts.devEui === undefined ? undefined : parseDevEui(opts.devEui);
  if (opts.devEui !== undefined && devEui === undefined) throw usageError(`--dev-eui ${JSON.stringify(opts.devEui)}: expected 16 hex digits`, 'bad-dev-eui');
  const registry = loadChannels(opts.channels);
  const keyring = opts.keys === undefined ? undefined : keyringFromPath(opts.keys);
  // Any backend: verifying stores through the ingest side only.
  const store = opts.db === undefined ? undefined : await openStore(opts.db, 'existing');
  try {
    let wrapped: Map<string, WrappedContentKey> | undefined;
    if (store !== undefined && opts.ownerKey !== undefined && opts.wrappedKeys === undefined) {
      wrapped = await privacyOf(store, opts.db!).wrappedKeys();
    }
    const owner = ownerContentKeys(opts, store === undefined ? undefined : () => wrapped ?? new Map());
    const input = openInput(file);
    const fallbackDevice = devEui === undefined ? undefined : devEuiDeviceId(devEui);
    return await runVerify(io, input, { format: opts.format, json: opts.json ?? false, registry, fallbackDevice, ...(keyring ? { keyring } : {}), ...(store ? { store } : {}), ...owner });
  } finally {
    await store?.close();
  }
}

export const registerFrame: CommandGroup = (program, context) => {
  const { io, setExit } = context;
  const frame = program.command('frame').description('seal, inspect and verify frames');
  frame
    .command('seal')
    .description('seal a record on the host (for testing integrations); prints the frame as hex')
    .requiredOption('--key <file>', 'secret key file (PKCS#8 PEM or 64 hex; mode 0600)')
    .requiredOption('--counter <n>', 'record counter, 1..4294967295', integerArg('--counter', 1, 0xffffffff))
    .option('--time <t>', 'device time: Unix seconds, an ISO date, or "now" (default: none, as most LoRa nodes)')
    .option('--reading <channel=value[@age]>', 'a reading in the channel\'s unit (not the raw wire value), repeatable: temperature=21.5, 2=45.5@600 (@: age in seconds)', collect)
    .option('--no-kid', 'leave the kid out (the transport names the device, e.g. LoRaWAN DevEUI)')
    .option('--channels <file>', 'user channel registry (JSON)')
    .option('--json', 'print { frame, kid, bytes } as JSON')
    .action((opts: { key: string; counter: number; time?: string; reading?: string[]; kid: boolean; channels?: string; json?: boolean }) => {
      const registry = loadChannels(opts.channels);
      if (!opts.reading || opts.reading.length === 0) throw usageError('give at least one --reading CHANNEL=VALUE');
      const readings = opts.reading.map((r) => parseReadingArg(r, registry));
      let time: number | null = null;
      if (opts.time !== undefined) time = opts.time === 'now' ? Math.floor(Date.now() / 1000) : parseTimeArg(opts.time, '--time');
      if (time !== null && (time < 0 || time > 0xffffffff)) throw usageError('--time: out of range');
      const seed = readSecretKey(opts.key);
      const bytes = sealRecord({ version: 1, counter: opts.counter, time, readings }, seed, { kid: opts.kid });
      if (opts.json) io.out(JSON.stringify({ frame: toHex(bytes), kid: toHex(kidOf(getPublicKey(seed))), bytes: bytes.length }));
      else io.out(toHex(bytes));
    });

  frame
    .command('inspect')
    .description('CBOR diagnostic notation and the decoded record, without verifying; other CBOR and COSE are shown as general CBOR')
    .argument('[file]', 'input file, or - for stdin (read as a stream)')
    .addOption(new Option('--format <format>', 'input format').choices(CLI_INPUT_FORMATS as unknown as string[]).default('auto'))
    .option('--channels <file>', 'user channel registry (JSON): names and units of user channels')
    .option('--json', 'one JSON object per frame')
    .action(async (file: string | undefined, opts: { format: CliInputFormat; channels?: string; json?: boolean }) => {
      const registry = loadChannels(opts.channels);
      const input = openInput(file);
      setExit(await runInspect(io, input, { format: opts.format, json: opts.json ?? false, inspectFrame: (bytes) => inspectFrame(bytes, registry) }));
    });

  frame
    .command('verify')
    .description('verify frames as they arrive (a file, or a pipe on stdin: one result per line as it comes); fragments reassembled per sender; a summary at the end. Exit 0 when all verify, 1 when any is rejected or incomplete')
    .argument('[file]', 'input file, or - for stdin (read as a stream)')
    .addOption(new Option('--format <format>', 'input format (auto: raw frame, JSON array or document, or lines of hex, base64, NDJSON, console lines)').choices(CLI_INPUT_FORMATS as unknown as string[]).default('auto'))
    .option('--keys <dir>', 'directory of <kid>.pub public key files')
    .option('--db <file>', 'an existing device registry and store (replay windows apply across runs; frames are stored)')
    .option('--dev-eui <eui>', 'DevEUI of the sender, for frames without kid read from hex/base64/bin')
    .option('--channels <file>', 'user channel registry (JSON)')
    .option('--owner-key <file>', 'the owner private key that opens record version 2 readings, with the content keys wrapped in --db\'s registry or in --wrapped-keys (docs/privacy.md)')
    .option('--wrapped-keys <file>', 'with --keys: content keys wrapped for the owner: { "wrappedKeys": [...] }')
    .option('--json', 'one JSON object per frame, then a final {"summary": {...}} line')
    .action(async (file: string | undefined, opts: VerifyCommandOptions) => {
      setExit(await runVerifyCommand(context, file, opts));
    });
};
