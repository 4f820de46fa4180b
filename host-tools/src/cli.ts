/**
 * The `sceau` command line (commander): noun verb, results on stdout (one JSON object per line
 * with --json), logs on stderr, exit codes 0 ok, 1 verification failed, 2 usage, 3 I/O or
 * device, 4 internal. Secrets are read from files, never taken on argv.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  channels as builtInChannels,
  codeAnchor,
  getPublicKey,
  inspectFrame,
  kidOf,
  sealRecord,
  toHex,
  type ChannelRegistry,
  type Reading,
} from '@sceau/protocol';
import { describeError, EXIT, ioError, SceauError, usageError } from './errors.js';
import { exportReadings, EXPORT_FORMATS, parseTimeArg, type ExportFormat } from './export.js';
import { checkBoardPresent, flashCommandLine, planFlash, runFlash } from './flash.js';
import { CLI_INPUT_FORMATS, openInput, type CliInputFormat } from './input-stream.js';
import { keyringFromPath, runInspect, runVerify } from './verify-command.js';
import { DEFAULT_BUSY_TIMEOUT_MS, startGateway } from './gateway.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES } from './gateway-http.js';
import { secretInGitWarning } from './git-check.js';
import { generateSeed, parsePublicKey, readPublicKey, readSecretKey, writeKeyPair } from './key-files.js';
import { describeResult, formatOutcomeLine, type FrameOutcome } from './outcome.js';
import { FIRMWARE_KEY_SETTING, readKeyFromPort, readKeyLog, writeFirmwareKey, type WrittenKey } from './provision.js';
import { lorawanSettings, mergeSecretSettings, readLorawanCredentials, RESET_SETTING, runLorawanSettings, type WrittenSettings } from './provision-lorawan.js';
import { readBulkEntries } from './device-bulk.js';
import { RegistryError, registryErrorBody, type Registration } from './device-registry.js';
import { openStore, type DbMode } from './db-open.js';
import type { Device, Store } from './store.js';
import { devEuiDeviceId } from './device-identity.js';
import { StoreError } from './store-errors.js';

const VERSION = '0.1.0';

interface VerifyCommandOptions {
  format: CliInputFormat;
  keys?: string;
  db?: string;
  devEui?: string;
  channels?: string;
  json?: boolean;
}

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function integerArg(what: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${what}: expected an integer in ${min}..${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${what}: expected an integer in ${min}..${max}`);
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function loadChannels(file: string | undefined): ChannelRegistry {
  if (file === undefined) return builtInChannels;
  let definitions: unknown;
  try {
    definitions = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usageError(`--channels ${file}: ${describeError(error)}`);
  }
  try {
    return builtInChannels.withUserChannels(definitions);
  } catch (error) {
    throw usageError(`--channels ${file}: ${describeError(error)}`);
  }
}

/** CHANNEL=VALUE[@AGE], channel by name or id, value in the channel's unit. */
export function parseReadingArg(text: string, registry: ChannelRegistry): Reading {
  const match = /^([^=]+)=(-?[0-9]+(?:\.[0-9]+)?)(?:@([0-9]+))?$/.exec(text.trim());
  if (match === null) throw usageError(`--reading ${JSON.stringify(text)}: expected CHANNEL=VALUE[@AGE], for example temperature=21.5, or 1=21.5@60 (channel 1 at 21.5 Cel, measured 60 s before the record)`);
  const ref = match[1]!.trim();
  const channel = /^\d+$/.test(ref) ? registry.get(Number(ref)) : registry.get(ref);
  if (channel === undefined) throw usageError(`--reading ${text}: unknown channel ${JSON.stringify(ref)}; known: ${registry.list().map((c) => c.name).join(', ')}`);
  let value: number;
  try {
    value = registry.fromUnit(channel.id, Number(match[2]));
  } catch (error) {
    throw usageError(`--reading ${text}: ${describeError(error)}`);
  }
  const reading: Reading = { channel: channel.id, value };
  const age = match[3] === undefined ? 0 : Number(match[3]);
  if (age > 0) reading.age = age;
  return reading;
}

function deviceLine(d: Device): string {
  return `${d.kid}  ${d.revoked ? 'revoked' : 'active '}  ${d.name ?? '-'}  ${d.devEui ?? '-'}  counter=${d.highestCounter}`;
}

/** `readonly` and `existing` refuse a missing, empty or foreign database (db-open.ts). */
function openDb(file: string, mode: boolean | DbMode = false): Store {
  return openStore(file, mode === true ? 'readonly' : mode === false ? 'create' : mode);
}

export function buildProgram(io: Io = defaultIo, setExit: (code: number) => void = (c) => (process.exitCode = c)): Command {
  const verifyCommand = async (file: string | undefined, opts: VerifyCommandOptions): Promise<number> => {
    if ((opts.keys === undefined) === (opts.db === undefined)) throw usageError('give either --keys DIR or --db FILE');
    const registry = loadChannels(opts.channels);
    const keyring = opts.keys === undefined ? undefined : keyringFromPath(opts.keys);
    const store = opts.db === undefined ? undefined : openDb(opts.db, 'existing');
    try {
      const input = openInput(file);
      const fallbackDevice = opts.devEui === undefined ? undefined : devEuiDeviceId(opts.devEui);
      return await runVerify(io, input, { format: opts.format, json: opts.json ?? false, registry, fallbackDevice, ...(keyring ? { keyring } : {}), ...(store ? { store } : {}) });
    } finally {
      store?.close();
    }
  };

  const program = new Command('sceau')
    .description('sceau: sealed measurement frames (COSE_Sign1 Ed25519): keys, devices, verification, gateway, export')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  // --- keys ----------------------------------------------------------------------------------
  const keys = program.command('keys').description('device keys');
  keys
    .command('generate')
    .description('generate an Ed25519 key pair: DIR/<kid>.key (PKCS#8 PEM, 0600) and DIR/<kid>.pub (64 hex)')
    .option('--out <dir>', 'directory for the key files', '.')
    .option('--name <name>', 'a name recorded in DIR/<kid>.json')
    .option('--json', 'print JSON')
    .action((opts: { out: string; name?: string; json?: boolean }) => {
      const result = writeKeyPair(opts.out, generateSeed(), opts.name);
      if (opts.json) io.out(JSON.stringify(result));
      else io.out(JSON.stringify({ kid: result.kid, publicKey: result.publicKey }));
      io.err(`wrote ${result.secretKeyFile} (secret, 0600) and ${result.publicKeyFile}`);
      const warning = secretInGitWarning(result.secretKeyFile, 'secret key');
      if (warning !== undefined) io.err(warning);
    });

  // --- frame ---------------------------------------------------------------------------------
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
    .option('--json', 'one JSON object per frame, then a final {"summary": {...}} line')
    .action(async (file: string | undefined, opts: VerifyCommandOptions) => {
      setExit(await verifyCommand(file, opts));
    });

  // --- devices -------------------------------------------------------------------------------
  // States and references: device-registry.ts and docs/integrators.md#device-states.
  const devices = program.command('devices').description('the device registry: devices (unique name, DevEUI) and their keys (registered or revoked)');
  /** Prints a registry refusal as a JSON line on stdout too with --json, then lets it exit (2 or 3). */
  const refusing = <T>(json: boolean | undefined, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (json && error instanceof RegistryError) io.out(JSON.stringify(registryErrorBody(error)));
      throw error;
    }
  };
  const openRegistry = (file: string, mode: boolean | DbMode = false): Store => {
    const store = openDb(file, mode);
    for (const r of store.renamedByMigration) io.err(`warning: ${file}: device ${r.kid} renamed ${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)} (names are unique and must not read as a kid; docs/integrators.md#device-names)`);
    return store;
  };
  devices
    .command('add')
    .description('register a device public key, or many in one transaction with --from; the same registration again is no change (exit 0), a different one is refused (exit 3) unless --update')
    .requiredOption('--db <file>', 'registry database')
    .option('--public-key <hex|file>', 'public key: 64 hex characters, or a .pub / PEM file')
    .option('--from <dir|file>', 'many keys: a directory of <kid>.pub (names from <kid>.json, as keys generate writes them), a .json array or a .csv with a header (publicKey,name,devEui)')
    .option('--name <name>', 'device name (unique; not 16 hex digits)')
    .option('--dev-eui <eui>', 'LoRaWAN DevEUI, for frames sent without kid')
    .option('--update', 'apply a different name or DevEUI to a registered key instead of refusing')
    .option('--json', 'print JSON')
    .action((opts: { db: string; publicKey?: string; from?: string; name?: string; devEui?: string; update?: boolean; json?: boolean }) => {
      if ((opts.publicKey === undefined) === (opts.from === undefined)) throw usageError('give either --public-key KEY or --from DIR|FILE');
      if (opts.from !== undefined && (opts.name !== undefined || opts.devEui !== undefined)) throw usageError('--name and --dev-eui go with --public-key; with --from they come from the entries');
      if (opts.from !== undefined) {
        const entries = readBulkEntries(opts.from);
        const store = openRegistry(opts.db);
        try {
          const started = process.hrtime.bigint();
          const results = refusing(opts.json, () => store.registry.registerMany(entries, { update: opts.update }));
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          for (const r of results) io.out(opts.json ? JSON.stringify({ ...r.device, result: r.result, ...(r.counterFloor === undefined ? {} : { counterFloor: r.counterFloor }) }) : `${r.result.padEnd(9)} ${deviceLine(r.device)}`);
          const count = (what: string): number => results.filter((r) => r.result === what).length;
          io.err(`${results.length} keys checked and registered in one transaction (${ms.toFixed(1)} ms): ${count('created')} created, ${count('unchanged')} unchanged, ${count('updated')} updated`);
        } finally {
          store.close();
        }
        return;
      }
      const publicKey = readPublicKey(opts.publicKey!);
      const store = openRegistry(opts.db);
      try {
        const r = refusing(opts.json, () => store.registerDevice(publicKey, { name: opts.name, devEui: opts.devEui, update: opts.update }));
        io.out(opts.json ? JSON.stringify({ ...r.device, result: r.result, ...(r.counterFloor === undefined ? {} : { counterFloor: r.counterFloor }) }) : deviceLine(r.device));
        if (r.result === 'unchanged') io.err(`already registered: ${r.device.kid}`);
        if (r.counterFloor !== undefined) io.err(`${r.device.kid} was deleted before: counters up to ${r.counterFloor} stay refused`);
      } finally {
        store.close();
      }
    });
  devices
    .command('list')
    .description('list registered keys with their device (a device has several after a key rotation, one registered)')
    .requiredOption('--db <file>', 'registry database')
    .option('--json', 'one JSON object per key')
    .action((opts: { db: string; json?: boolean }) => {
      const store = openDb(opts.db, true);
      try {
        const list = store.listDevices();
        for (const d of list) io.out(opts.json ? JSON.stringify(d) : deviceLine(d));
        if (list.length === 0) io.err(`no devices registered in ${opts.db} (register one with \`sceau devices add --db ${opts.db} --public-key FILE\`)`);
      } finally {
        store.close();
      }
    });
  devices
    .command('show')
    .description('show one device and all its keys (by kid, DevEUI or name)')
    .argument('<device>', 'kid, DevEUI or name')
    .requiredOption('--db <file>', 'registry database')
    .option('--json', 'print JSON')
    .action((ref: string, opts: { db: string; json?: boolean }) => {
      const store = openDb(opts.db, true);
      try {
        const d = refusing(opts.json, () => store.registry.show(ref));
        if (opts.json) io.out(JSON.stringify(d));
        else {
          for (const [k, v] of Object.entries(d)) if (k !== 'keys') io.out(`${k}: ${v ?? '-'}`);
          if (d.keys.length > 1) for (const key of d.keys) io.out(`key: ${key.kid} ${key.state} created ${key.createdAt}${key.revokedAt ? ` revoked ${key.revokedAt}` : ''} counter=${key.highestCounter}`);
        }
      } finally {
        store.close();
      }
    });
  /** A command that changes one device and prints it. */
  const change = (name: string, description: string, fn: (store: Store, ref: string) => Device): void => {
    devices
      .command(name)
      .description(description)
      .argument('<device>', 'kid, DevEUI or name')
      .requiredOption('--db <file>', 'registry database')
      .option('--json', 'print JSON')
      .action((ref: string, opts: { db: string; json?: boolean }) => {
        // the device must exist, so the database must: a misspelled path is not created
        const store = openRegistry(opts.db, 'existing');
        try {
          const d = refusing(opts.json, () => fn(store, ref));
          io.out(opts.json ? JSON.stringify(d) : deviceLine(d));
        } finally {
          store.close();
        }
      });
  };
  change('revoke', 'revoke a key (a device\'s registered key by name or DevEUI): its frames are refused with key-revoked', (store, ref) => store.registry.revoke(ref));
  change('unrevoke', 'register a revoked key again (refused when its device has another registered key, as after a rotation)', (store, ref) => store.registry.unrevoke(ref));
  devices
    .command('update')
    .description('change a device\'s name or DevEUI')
    .argument('<device>', 'kid, DevEUI or name')
    .requiredOption('--db <file>', 'registry database')
    .option('--name <name>', 'new name (unique; not 16 hex digits)')
    .option('--dev-eui <eui>', 'new DevEUI')
    .option('--no-dev-eui', 'remove the DevEUI')
    .option('--json', 'print JSON')
    .action((ref: string, opts: { db: string; name?: string; devEui?: string | boolean; json?: boolean }) => {
      // commander: --dev-eui X gives a string, --no-dev-eui false, neither true (the negation's default).
      const devEui = opts.devEui === false ? null : typeof opts.devEui === 'string' ? opts.devEui : undefined;
      if (opts.name === undefined && devEui === undefined) throw usageError('give --name NAME, --dev-eui EUI or --no-dev-eui');
      const store = openRegistry(opts.db, 'existing');
      try {
        const d = refusing(opts.json, () => store.registry.update(ref, { name: opts.name, devEui }));
        io.out(opts.json ? JSON.stringify(d) : deviceLine(d));
      } finally {
        store.close();
      }
    });
  devices
    .command('delete')
    .description('delete a device and its keys from the registry; frames stay, and each key\'s counter floor stays, so a key added again never accepts an old frame')
    .argument('<device>', 'kid, DevEUI or name')
    .requiredOption('--db <file>', 'registry database')
    .option('--json', 'print JSON')
    .action((ref: string, opts: { db: string; json?: boolean }) => {
      const store = openRegistry(opts.db, 'existing');
      try {
        const d = refusing(opts.json, () => store.registry.delete(ref));
        if (opts.json) io.out(JSON.stringify({ deleted: d }));
        else io.out(`deleted ${d.name ?? d.kid}: ${d.keys.map((k) => `${k.kid} (counter floor ${k.highestCounter})`).join(', ')}`);
      } finally {
        store.close();
      }
    });

  // --- provision -----------------------------------------------------------------------------
  program
    .command('provision')
    .description('register a board from its console line "sceau-key v1 kid=<16 hex> pub=<64 hex>" (serial port or saved log), or give it a key (factory provisioning); --rotate replaces a device\'s key')
    .option('--db <file>', 'registry database (required, except with --settings)')
    .option('--port <path>', 'serial port to read the console from (e.g. /dev/ttyACM0)')
    .option('--log <file>', 'saved console log to read instead of a port')
    .option('--baud <rate>', 'serial speed', integerArg('--baud', 300, 4_000_000), 115200)
    .option('--timeout <seconds>', 'how long to wait for the line on a port', integerArg('--timeout', 1, 3600), 60)
    .option('--write-key <env-file>', `factory provisioning: write a key into the firmware settings file (${FIRMWARE_KEY_SETTING}=<seed> in e.g. firmware/.env.local) and register it`)
    .option('--key <file>', 'with --write-key: use this secret key file instead of generating one')
    .option('--force', `with --write-key: replace a different ${FIRMWARE_KEY_SETTING} already in the file (that board's key is lost)`)
    .option('--rotate <device>', 'key rotation (after a compromise): the new key becomes DEVICE\'s registered key, its old key is revoked, its name and history stay')
    .option('--name <name>', 'device name')
    .option('--dev-eui <eui>', 'LoRaWAN DevEUI')
    .option('--update', 'apply a different --name or --dev-eui to an already registered key')
    .option('--lorawan <file>', 'LoRaWAN credentials, a JSON file: OTAA {devEui, joinEui, appKey} or ABP {devEui, devAddr, nwkSKey, appSKey}; written as secrets with --write-key or --settings')
    .option('--reset-lorawan', 'the board forgets its last JoinNonce and FCnt up once at its next boot (device re-created on the network server); with --write-key or --settings')
    .option('--settings <env-file>', 'write only LoRaWAN settings (--lorawan, --reset-lorawan) into this settings file, for a board that already has its key')
    .option('--json', 'print JSON')
    .action(async (opts: { db?: string; port?: string; log?: string; baud: number; timeout: number; writeKey?: string; key?: string; force?: boolean; rotate?: string; name?: string; devEui?: string; update?: boolean; lorawan?: string; resetLorawan?: boolean; settings?: string; json?: boolean }) => {
      if (opts.settings !== undefined) {
        if (opts.port !== undefined || opts.log !== undefined || opts.writeKey !== undefined) throw usageError('--settings writes LoRaWAN settings only: not with --port, --log or --write-key');
        return runLorawanSettings(opts, io);
      }
      if (opts.db === undefined) throw usageError("required option '--db <file>' not specified");
      if ((opts.lorawan !== undefined || opts.resetLorawan) && opts.writeKey === undefined) throw usageError('--lorawan and --reset-lorawan go with --write-key ENV-FILE or --settings ENV-FILE');
      const lorawan = opts.lorawan === undefined ? undefined : readLorawanCredentials(opts.lorawan);
      if (lorawan !== undefined && opts.devEui === undefined && opts.rotate === undefined) opts.devEui = lorawan.devEui;
      const sources = [opts.port, opts.log, opts.writeKey].filter((x) => x !== undefined).length;
      if (sources !== 1) throw usageError('give exactly one of --port PATH, --log FILE or --write-key ENV-FILE');
      if (opts.key !== undefined && opts.writeKey === undefined) throw usageError('--key goes with --write-key');
      if (opts.force && opts.writeKey === undefined) throw usageError('--force goes with --write-key');
      if (opts.rotate !== undefined && (opts.name !== undefined || opts.devEui !== undefined || opts.update)) throw usageError('--rotate keeps the device\'s name and DevEUI; change them with sceau devices update');
      let publicKey: Uint8Array;
      let seed: Uint8Array | undefined;
      let via: string;
      if (opts.writeKey !== undefined) {
        seed = opts.key !== undefined ? readSecretKey(opts.key) : generateSeed();
        publicKey = getPublicKey(seed);
        via = opts.writeKey;
      } else if (opts.log !== undefined) {
        const found = readKeyLog(opts.log);
        for (const e of found.errors) io.err(`warning: ${opts.log}: ${e}`);
        if (found.keys.length === 0) throw new SceauError(`${opts.log}: no valid "sceau-key v1 kid=<16 hex> pub=<64 hex>" line`, EXIT.io);
        const distinct = new Set(found.keys.map((k) => k.kid));
        if (distinct.size > 1) io.err(`warning: ${opts.log} announces ${distinct.size} different keys; registering the last one (line ${found.keys.at(-1)!.line})`);
        publicKey = found.keys.at(-1)!.publicKey;
        via = opts.log;
      } else {
        if (process.stderr.isTTY) io.err(`waiting for the board's key line on ${opts.port} (reset the board)...`);
        const key = await readKeyFromPort(opts.port!, { baud: opts.baud, timeoutMs: opts.timeout * 1000 });
        publicKey = key.publicKey;
        via = opts.port!;
      }
      const store = openRegistry(opts.db);
      try {
        // The registry changes and the settings file are written together: the file is written
        // inside the transaction (a refusal writes nothing), and put back if the commit fails.
        let written: WrittenKey | undefined;
        let lorawanWritten: WrittenSettings | undefined;
        const write = (replaces?: string[]): void => {
          if (opts.writeKey === undefined) return;
          written = writeFirmwareKey(opts.writeKey, seed!, { force: opts.force, replaces });
          if (lorawan !== undefined || opts.resetLorawan) {
            try {
              lorawanWritten = mergeSecretSettings(opts.writeKey, lorawanSettings(lorawan, opts.resetLorawan === true), { force: opts.force, replaceable: [RESET_SETTING] });
            } catch (error) {
              written.restore();
              written = undefined;
              throw error;
            }
          }
        };
        let outcome: Registration & { revoked?: string[] };
        try {
          outcome = refusing(opts.json, () =>
            store.registry.write(() => {
              if (opts.rotate === undefined) {
                const r = store.registry.register(publicKey, { name: opts.name, devEui: opts.devEui, update: opts.update });
                write();
                return r;
              }
              const before = store.registry.show(opts.rotate);
              const r = store.registry.rotate(opts.rotate, publicKey);
              if (r.result === 'unchanged' && opts.writeKey === undefined) {
                throw new RegistryError('same-key', `${via} announces ${r.device.kid}, the registered key of ${before.name ?? before.kid}: the board still has its old seed`, EXIT.io);
              }
              write(before.keys.map((k) => k.kid));
              return r;
            }),
          );
        } catch (error) {
          lorawanWritten?.restore();
          written?.restore();
          throw error;
        }
        if (opts.writeKey !== undefined) io.err(`wrote ${[FIRMWARE_KEY_SETTING, ...(lorawanWritten?.written ?? [])].join(', ')} to ${opts.writeKey} (0600); deploy the firmware with it, then delete the file`);
        const revoked = outcome.revoked ?? [];
        if (opts.json) io.out(JSON.stringify({ ...outcome.device, provisionedFrom: via, result: outcome.result, alreadyRegistered: outcome.result !== 'created', ...(opts.rotate === undefined ? {} : { revoked }) }));
        else if (opts.rotate !== undefined) io.out(`${outcome.result === 'unchanged' ? 'already rotated' : `rotated (revoked ${revoked.join(', ') || 'none'})`} ${deviceLine(outcome.device)}`);
        else io.out(`${outcome.result === 'created' ? 'registered' : 'already registered'} ${deviceLine(outcome.device)}`);
      } finally {
        store.close();
      }
    });

  // --- flash ---------------------------------------------------------------------------------
  program
    .command('flash')
    .description('flash a DeviceScript runtime image you supply onto a board (wraps devs flash)')
    .requiredOption('--board <id>', 'DeviceScript board id (esp32c3_bare, esp32s3_devkit_m, pico, pico_w, ...)')
    .requiredOption('--image <file>', 'runtime image file (.bin for ESP32, .uf2 for RP2040)')
    .option('--port <path>', 'serial port (ESP32)')
    .option('--baud <rate>', 'serial speed (ESP32)', integerArg('--baud', 9600, 4_000_000))
    .option('--devs <path>', 'the devs command (default: node_modules/.bin/devs, then PATH)')
    .option('--dry-run', 'print the devs command line (to run by hand) instead of running it')
    .option('--no-board-check', 'do not look for the board (serial port, RPI-RP2 drive) before running devs')
    .option('--json', 'with --dry-run: the plan as JSON { command, args, family }')
    .action(async (opts: { board: string; image: string; port?: string; baud?: number; devs?: string; dryRun?: boolean; boardCheck: boolean; json?: boolean }) => {
      const plan = planFlash(opts);
      if (opts.dryRun) {
        io.out(opts.json ? JSON.stringify(plan) : flashCommandLine(plan));
        return;
      }
      if (opts.boardCheck) checkBoardPresent(plan, opts.port);
      const { code, lastLine } = await runFlash(plan, (line) => io.err(line));
      if (code !== 0) throw new SceauError(`devs flash failed (exit ${code})${lastLine !== undefined ? `: ${lastLine}` : ''}`, EXIT.io, 'flash-failed');
    });

  // --- export --------------------------------------------------------------------------------
  program
    .command('export')
    .description('readings in real units with their dates: json, csv, SenML JSON or SenML CBOR (RFC 8428)')
    .requiredOption('--db <file>', 'store database')
    .option('--kid <kid>', 'one device (kid, DevEUI or name)')
    .option('--since <t>', 'from this time: Unix seconds, ISO 8601, or a duration back from now (24h, 7d)')
    .option('--until <t>', 'before this time')
    .addOption(new Option('--format <format>', 'output format (senml-cbor: binary, RFC 8428 §6 integer labels)').choices(EXPORT_FORMATS as unknown as string[]).default('json'))
    .option('--channels <file>', 'user channel registry (JSON): names, units and scales of user channels')
    .action(async (opts: { db: string; kid?: string; since?: string; until?: string; format: ExportFormat; channels?: string }) => {
      const registry = opts.channels === undefined ? undefined : loadChannels(opts.channels);
      if (opts.format === 'senml-cbor' && process.stdout.isTTY) throw usageError('--format senml-cbor writes binary CBOR: redirect stdout to a file or a pipe', 'binary-to-terminal');
      const store = openDb(opts.db, true);
      try {
        // A name or a DevEUI selects every key of the device (its history across rotations).
        const kids = opts.kid === undefined ? undefined : store.registry.kidsOf(opts.kid);
        const filter = {
          kids,
          since: opts.since === undefined ? undefined : parseTimeArg(opts.since, '--since'),
          until: opts.until === undefined ? undefined : parseTimeArg(opts.until, '--until'),
        };
        const n = await exportReadings(store, opts.format, filter, process.stdout, registry);
        io.err(`exported ${n} readings`);
      } finally {
        store.close();
      }
    });

  // --- gateway -------------------------------------------------------------------------------
  const gateway = program.command('gateway').description('the ingest gateway');
  gateway
    .command('serve')
    .description('verify and store frames from HTTP (raw, TTS and ChirpStack webhooks), TCP and UDP; binds 127.0.0.1 by default')
    .requiredOption('--db <file>', 'store database (created if missing)')
    .option('--http <host:port>', 'HTTP listen address (default 127.0.0.1:8750 when no listener is given)')
    .option('--tcp <host:port>', 'TCP listen address (length-prefixed frames)')
    .option('--udp <host:port>', 'UDP listen address (frames and fragments)')
    .option('--token-file <file>', 'bearer token required on /v1/ routes (file mode 0600)')
    .option('--workers <n>', 'threads checking signatures (libuv\'s pool; 0: the main thread)', integerArg('--workers', 0, 64), 0)
    .option('--max-body <bytes>', 'largest HTTP body (the default fits a batch of 1,000 frames of up to 380 bytes in base64)', integerArg('--max-body', 256, 64 * 1024 * 1024), DEFAULT_MAX_BODY_BYTES)
    .option('--max-connections <n>', 'open connections per listener, HTTP and TCP (default 256 HTTP, 1024 TCP)', integerArg('--max-connections', 1, 1_000_000))
    .option('--headers-timeout <ms>', 'HTTP: request line and headers within this', integerArg('--headers-timeout', 100, 600_000), DEFAULT_HEADERS_TIMEOUT_MS)
    .option('--body-timeout <ms>', 'HTTP: the whole request within this (default 30000); TCP: a frame once begun (default 10000)', integerArg('--body-timeout', 100, 600_000))
    .option('--busy-timeout <ms>', 'how long a commit waits for another connection\'s write lock before writes answer 503', integerArg('--busy-timeout', 0, 60_000), DEFAULT_BUSY_TIMEOUT_MS)
    .option('--channels <file>', 'user channel registry (JSON)')
    .addOption(
      new Option('--synchronous <level>', 'SQLite durability: full (a 2xx survives a power cut) or normal (survives a crash of the gateway, not of the machine; no fsync per commit)')
        .choices(['full', 'normal'])
        .default('full'),
    )
    .option('--json', 'print the listening addresses as JSON')
    .action(async (opts: { db: string; http?: string; tcp?: string; udp?: string; tokenFile?: string; workers: number; maxBody: number; maxConnections?: number; headersTimeout: number; bodyTimeout?: number; busyTimeout: number; channels?: string; synchronous: 'full' | 'normal'; json?: boolean }) => {
      const http = opts.http ?? (opts.tcp === undefined && opts.udp === undefined ? '127.0.0.1:8750' : undefined);
      // Signal handlers go in before anything is announced: a supervisor that reads the
      // addresses may signal at once, and a signal during start-up must still close cleanly.
      let stopSignal: string | undefined;
      let onStop: (() => void) | undefined;
      const stopped = new Promise<void>((resolvePromise) => {
        onStop = resolvePromise;
      });
      const onSignal = (signal: string): void => {
        if (stopSignal !== undefined) {
          // A second signal: the operator does not want to wait (frames in flight were not acknowledged).
          io.err(`${signal} again: exiting without waiting`);
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
        stopSignal = signal;
        io.err(`${signal}: storing frames in flight and closing`);
        onStop!();
      };
      const onInt = (): void => onSignal('SIGINT');
      const onTerm = (): void => onSignal('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      try {
        let gw;
        try {
          gw = await startGateway({
            db: opts.db,
            http,
            tcp: opts.tcp,
            udp: opts.udp,
            tokenFile: opts.tokenFile,
            workers: opts.workers,
            maxBodyBytes: opts.maxBody,
            maxConnections: opts.maxConnections,
            headersTimeoutMs: opts.headersTimeout,
            bodyTimeoutMs: opts.bodyTimeout,
            busyTimeoutMs: opts.busyTimeout,
            channels: loadChannels(opts.channels),
            synchronous: opts.synchronous,
            log: (m) => io.err(m),
          });
        } catch (error) {
          if (error instanceof SceauError || error instanceof StoreError) throw error;
          throw ioError(`cannot start the gateway: ${describeError(error)}`);
        }
        const a = gw.addresses;
        if (opts.json) io.out(JSON.stringify({ listening: a }));
        else {
          if (a.http) io.out(`http ${a.http.url}`);
          if (a.tcp) io.out(`tcp ${a.tcp.host}:${a.tcp.port}`);
          if (a.udp) io.out(`udp ${a.udp.host}:${a.udp.port}`);
        }
        await stopped;
        await gw.close().catch((error: unknown) => io.err(`close: ${describeError(error)}`));
      } finally {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      }
    });

  // --- sim --------------------------------------------------------------------------------------
  // The simulator depends on host-tools (its in-process gateway), so host-tools never imports it:
  // `sceau sim ...` runs the simulator's own command (`sceau-sim`) when @sceau/simulator is installed.
  program
    .command('sim')
    .description('fleet simulator: `sceau sim run --help` (runs @sceau/simulator\'s sceau-sim); `sceau sim verify CAPTURE --keys DIR` checks a capture again')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'passed to sceau-sim')
    .action(async (args: string[]) => {
      if (args[0] === 'verify') {
        setExit(await simVerify(args.slice(1)));
        return;
      }
      setExit(await runSimulator(args));
    });

  /** `sceau sim verify CAPTURE`: `frame verify` of a simulator capture (docs/simulator.md). */
  const simVerify = async (args: string[]): Promise<number> => {
    let code: number = EXIT.ok;
    const verify = new Command('sceau sim verify')
      .description('verify a simulator capture (--capture FILE of sceau sim run) again: fragments reassembled per kid, each datagram\'s verdict, a summary; exit 0 when no injected datagram is accepted and no genuine frame refused')
      .argument('<capture>', 'capture file (NDJSON {t, kid, datagram, attack}), or - for stdin')
      .option('--keys <dir>', 'the fleet\'s public keys (sceau sim run --keys-out DIR)')
      .option('--db <file>', 'an existing registry holding the fleet\'s keys instead')
      .option('--channels <file>', 'user channel registry (JSON)')
      .option('--json', 'one JSON object per frame, then a final {"summary": {...}} line')
      .exitOverride()
      .configureOutput({ writeOut: (t) => process.stdout.write(t), writeErr: (t) => process.stderr.write(t) })
      .action(async (capture: string, opts: { keys?: string; db?: string; channels?: string; json?: boolean }) => {
        code = await verifyCommand(capture, { ...opts, format: 'ndjson' });
      });
    await verify.parseAsync(args, { from: 'user' });
    return code;
  };

  return program;
}

/** Runs `sceau-sim` of @sceau/simulator with `args`, stdio inherited; resolves with its exit code. */
async function runSimulator(args: string[]): Promise<number> {
  let bin: string;
  try {
    const pkg = createRequire(import.meta.url).resolve('@sceau/simulator/package.json');
    bin = join(dirname(pkg), 'bin', 'sceau-sim.js');
  } catch {
    throw usageError('sim: @sceau/simulator is not installed (npm install @sceau/simulator)');
  }
  const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    return await new Promise<number>((resolvePromise, reject) => {
      child.on('error', (error) => reject(ioError(`sim: cannot run ${bin}: ${error.message}`)));
      child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : EXIT.internal)));
    });
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

/** Runs the CLI; resolves with the exit code (the caller exits). */
export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    exitCode = c;
  });
  program.exitOverride();
  for (const command of allCommands(program)) command.exitOverride();
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      if (error.code === 'commander.executeSubCommandAsync') return EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof SceauError) {
      io.err(`sceau: ${error.message}${error.code === undefined || error.message.startsWith(`${error.code}: `) ? '' : ` [${error.code}]`}`);
      return error.exitCode;
    }
    if (error instanceof StoreError) {
      // The store's typed errors are I/O to the CLI (docs/architecture.md#errors).
      io.err(`sceau: ${error.message} [${error.code}]`);
      return EXIT.io;
    }
    io.err(`sceau: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT.internal;
  }
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

export { codeAnchor };
