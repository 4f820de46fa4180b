/** `sceau sim lorawan` (= `sceau-sim lorawan`): the wall-clock GWMP fleet (docs/simulator.md). */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Refusal, internalError, ioRefusal, optionValue, refusalOf, refuse, usageRefusal } from './cli-refusal.js';
import { parseDuration } from './duration.js';
import { loadFirmwareVm } from './firmware-vm.js';
import { GwmpError, parseHostPort } from './gwmp-gateway.js';
import { chirpstackImport, chirpstackScript, csvDevices, generateFormatter, parseRegistration, ttsDevices } from './lorawan-lns.js';
import { DEVICES_FILE, FleetState, FleetStateError, LORAWAN_GROUP, insideGitWorkTree, makeFleet, registrationEntries, writeRegistration } from './lorawan-fleet.js';
import { parseRecordVersion } from './config.js';
import { WRAPPED_KEYS_FILE, deviceContentKey, wrapContentKeys, writeWrappedKeys } from './content-keys.js';
import { THRESHOLDS, localEuiFor, lorawanProfile, runLorawan } from './lorawan-live.js';
import { writeAtomic } from './write-atomic.js';
import { toHex } from '@sceau/protocol';
import { EXIT, ownerKeyIdOf, readOwnerPublicKey } from '@sceau/host-tools';

export const LORAWAN_USAGE = `Usage: sceau-sim lorawan --gwmp HOST:PORT --devices N --duration D --interval D
         --link lorawan-eu868-drX|lorawan-us915-drX --activation otaa|abp --keys-out DIR [options]
       (the same as: sceau sim lorawan ...)

Runs class A LoRaWAN 1.0.x devices sealing sceau frames behind virtual gateways that speak GWMP v2
(the Semtech UDP packet forwarder protocol) to a real network server, on the WALL CLOCK.

  --gwmp HOST:PORT       the network server's UDP packet forwarder port (TTS, ChirpStack Gateway Bridge: 1700)
  --gateways G           virtual gateways, each hearing every uplink (default 1)
  --devices N            devices (required)
  --duration D           how long devices send, e.g. 30s, 10m (required; 0s writes --keys-out and
                         prints the gateway EUIs without sending anything)
  --interval D           time between records per device, e.g. 1m (required)
  --link PROFILE         lorawan-eu868-dr0..5 or lorawan-us915-dr0..4 (required)
  --activation otaa|abp  (required)
  --keys-out DIR         writes DIR/lorawan-devices.json before the first packet (required; keep it
                         out of version control: it holds AppKeys or session keys) and keeps
                         DIR/lorawan-state.json (DevNonce, ABP FCntUp, sceau counters) across runs
  --dev-addr-prefix HEX/BITS   ABP DevAddr block (default 00000000/7, NetID 0)
  --seed S               derives every key and EUI (default "sceau"); same seed, same fleet
  --loss P               probability a gateway does not hear an uplink (default 0)
  --adr                  devices set the ADR bit: the network server steers their data rate, TX
                         power and repetitions (LinkADRReq); without it they keep --link's rate
  --link-check           each device sends LinkCheckReq in its first uplink after activation
  --device-time          each device sends DeviceTimeReq in its first uplink after activation
                         and sets its clock (the records' time) from DeviceTimeAns
  --record 1|2           record version the devices seal (default 1); 2 encrypts the readings other
                         than battery under each device's content key (from the seed)
  --owner OWNER.pub      with --record 2: also writes DIR/wrapped-keys.json, the content keys wrapped
                         for this owner public key (sceau frame verify --owner-key --wrapped-keys)
  --firmware-vm K        the first K devices run the real firmware (its LoRaWAN MAC, sealing
                         and fragmentation) in DeviceScript VMs, bridged to the gateways; needs
                         the sceau repository's firmware workspace (first build ~10 s, then cached)
  --json                 the summary as one JSON object on stdout
  -h, --help

Exit status: 0 pass; 1 fewer than ${THRESHOLDS.joinRatio * 100}% of OTAA devices joined, or more than
${THRESHOLDS.ackMissingRatio * 100}% of PUSH_DATA or PULL_DATA were not acknowledged; 2 usage; 3 socket or file I/O; 4 internal error.
A refusal is one line ending in its code, e.g. [bad-link] (docs/simulator.md#lorawan-errors); nothing is written then.`;

const OPTIONS = {
  gwmp: { type: 'string' },
  gateways: { type: 'string' },
  devices: { type: 'string' },
  duration: { type: 'string' },
  interval: { type: 'string' },
  link: { type: 'string' },
  activation: { type: 'string' },
  'keys-out': { type: 'string' },
  'dev-addr-prefix': { type: 'string' },
  seed: { type: 'string' },
  loss: { type: 'string' },
  'firmware-vm': { type: 'string' },
  record: { type: 'string' },
  owner: { type: 'string' },
  'join-delay': { type: 'string' },
  adr: { type: 'boolean' },
  'link-check': { type: 'boolean' },
  'device-time': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LorawanCliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

function required(v: string | undefined, name: string): string {
  if (v === undefined) throw usageRefusal(`--${name} is required`, 'bad-option');
  return v;
}

function count(text: string, name: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || !Number.isSafeInteger(n)) throw usageRefusal(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(text)}`, 'bad-count');
  return n;
}

/**
 * `mkdir -p DIR` for --keys-out, one component at a time (Node's recursive mkdir never returns
 * under /proc); returns the directories it created, so that a refused run can take them back.
 */
function makeKeysOut(dir: string): string[] {
  if (dir.trim() === '') throw usageRefusal('--keys-out: an empty path; give a directory (DIR/lorawan-devices.json is written there)', 'bad-out');
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  if (missing.length === 0 && !statSync(dir).isDirectory()) throw usageRefusal(`--keys-out ${dir} is an existing file; --keys-out takes a directory`, 'out-not-a-directory');
  const created: string[] = [];
  try {
    for (const d of missing) {
      mkdirSync(d, { mode: 0o700 });
      created.push(d);
    }
  } catch (e) {
    removeCreated(created);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST') throw usageRefusal(`--keys-out ${dir}: a part of the path is a file, not a directory`, 'out-not-a-directory');
    throw ioRefusal(`--keys-out ${dir}: cannot create it: ${(e as Error).message}`, 'out-unwritable');
  }
  return created;
}

function removeCreated(paths: readonly string[]): void {
  for (const p of [...paths].reverse()) rmSync(p, { recursive: true, force: true });
}

/** The run's options from the command line, every value checked before anything is written or sent. */
async function lorawanOptions(v: LorawanValues, io: LorawanCliIo): Promise<{ options: Parameters<typeof runLorawan>[0]; owner: Uint8Array | undefined }> {
  const gwmp = required(v.gwmp, 'gwmp');
  const { host } = parseHostPort(gwmp);
  const devices = count(required(v.devices, 'devices'), 'devices', 1);
  const gateways = v.gateways === undefined ? 1 : count(v.gateways, 'gateways', 1);
  const durationMs = optionValue('bad-duration', () => parseDuration(required(v.duration, 'duration'), '--duration'));
  const intervalMs = optionValue('bad-duration', () => parseDuration(required(v.interval, 'interval'), '--interval'));
  if (intervalMs <= 0) throw usageRefusal('--interval: expected a positive duration', 'bad-duration');
  const joinDelayMs = v['join-delay'] === undefined ? undefined : optionValue('bad-duration', () => parseDuration(v['join-delay']!, '--join-delay'));
  const link = required(v.link, 'link');
  optionValue('bad-link', () => lorawanProfile(link), '--link');
  const activation = required(v.activation, 'activation');
  if (activation !== 'otaa' && activation !== 'abp') throw usageRefusal(`--activation: expected otaa or abp, got ${JSON.stringify(activation)}`, 'bad-option');
  const keysOut = required(v['keys-out'], 'keys-out');
  const loss = v.loss === undefined ? 0 : v.loss.trim() === '' ? NaN : Number(v.loss);
  if (!(loss >= 0 && loss <= 1)) throw usageRefusal(`--loss: expected a probability 0..1, got ${JSON.stringify(v.loss)}`, 'bad-option');
  if (v['dev-addr-prefix'] !== undefined && activation !== 'abp') throw usageRefusal('--dev-addr-prefix: only with --activation abp (OTAA devices get their DevAddr from the network server)', 'bad-option');
  const firmwareVm = v['firmware-vm'] === undefined ? 0 : count(v['firmware-vm'], 'firmware-vm', 0);
  if (firmwareVm > devices) throw usageRefusal(`--firmware-vm: ${firmwareVm} firmware devices, but only --devices ${devices}`, 'bad-count');
  const record = optionValue('bad-record', () => parseRecordVersion(v.record ?? 1, '--record'));
  if (v.owner !== undefined && record !== 2) throw usageRefusal('--owner: only with --record 2', 'bad-option');
  const seed = v.seed ?? 'sceau';
  const fleet = optionValue('bad-dev-addr-prefix', () => makeFleet(seed, devices, activation, v['dev-addr-prefix'] ?? '00000000/7'));
  // Files and the network, still before anything is written: the owner's key, the state of
  // earlier runs, the firmware workspace, and a network server name that resolves.
  const owner = v.owner === undefined ? undefined : readOwnerPublicKey(v.owner);
  if (existsSync(keysOut) && statSync(keysOut).isDirectory()) {
    try {
      new FleetState(keysOut);
    } catch (e) {
      if (e instanceof FleetStateError) throw ioRefusal(e.message, 'bad-state-file');
      throw e;
    }
  }
  if (firmwareVm > 0) await loadFirmwareVm().catch((e: Error) => {
    throw ioRefusal(e.message, 'firmware-vm-unavailable');
  });
  if (durationMs > 0 && isIP(host) === 0) await lookup(host).catch((e: Error) => {
    throw ioRefusal(`--gwmp ${gwmp}: ${host} does not resolve: ${(e as NodeJS.ErrnoException).code ?? e.message}`, 'gwmp-unreachable');
  });
  const options: Parameters<typeof runLorawan>[0] = {
    gwmp, gateways, fleet, activation, durationMs, intervalMs, link, seed, loss, stateDir: keysOut,
    // undocumented on purpose in the usage: for tests with a stand-in network server using the same delay
    ...(joinDelayMs !== undefined ? { joinDelayMs } : {}),
    onLog: (line) => io.stderr(`sceau-sim: ${line}\n`),
    adr: v.adr === true,
    linkCheck: v['link-check'] === true,
    deviceTime: v['device-time'] === true,
    record,
    firmwareVm,
  };
  return { options, owner };
}

type LorawanValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false; strict: true }>>['values'];

/**
 * Writes DIR/lorawan-devices.json (and with --owner DIR/wrapped-keys.json): both or, when one
 * cannot be written, none (the directories this run created go too).
 */
function writeKeysOut(o: Parameters<typeof runLorawan>[0], owner: Uint8Array | undefined, io: LorawanCliIo): void {
  const keysOut = o.stateDir;
  const created = makeKeysOut(keysOut);
  const registration = join(resolve(keysOut), DEVICES_FILE);
  const wrapped = join(resolve(keysOut), WRAPPED_KEYS_FILE);
  const existed = new Set([registration, wrapped].filter((f) => existsSync(f)));
  const wrote: string[] = [];
  try {
    const path = writeRegistration(keysOut, registrationEntries(o.fleet, o.activation));
    wrote.push(`wrote ${path} (${o.fleet.length} ${o.activation.toUpperCase()} devices)`);
    if (owner !== undefined) {
      const holders = o.fleet.map((d) => ({ kidHex: toHex(d.kid), contentKey: deviceContentKey(o.seed, LORAWAN_GROUP, d.index) }));
      wrote.push(`wrote ${writeWrappedKeys(keysOut, wrapContentKeys(owner, holders))} (content keys wrapped for owner key ${ownerKeyIdOf(owner)})`);
    }
    if (insideGitWorkTree(keysOut)) io.stderr(`sceau-sim: warning: --keys-out ${keysOut} is inside a git work tree; lorawan-devices.json holds root keys: do not commit it\n`);
    for (const line of wrote) io.stderr(`sceau-sim: ${line}\n`);
  } catch (e) {
    for (const f of [registration, wrapped]) if (!existed.has(f)) rmSync(f, { force: true });
    removeCreated(created);
    if (typeof (e as { code?: unknown }).code === 'string') throw ioRefusal(`--keys-out ${keysOut}: cannot write it (nothing kept): ${(e as Error).message}`, 'out-unwritable');
    throw e;
  }
}

export async function lorawanMain(argv: string[], io: LorawanCliIo): Promise<number> {
  // --json is known before the options parse: a refusal of them is printed as JSON too
  const json = argv.includes('--json');
  const hint = '(sceau-sim lorawan --help for the options)';
  let options: Parameters<typeof runLorawan>[0];
  try {
    const { values: v } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
    if (v.help) {
      io.stdout(`${LORAWAN_USAGE}\n`);
      return EXIT.ok;
    }
    const checked = await lorawanOptions(v, io);
    options = checked.options;
    writeKeysOut(options, checked.owner, io);
  } catch (e) {
    const r = refusalOf(e) ?? runRefusalOf(e);
    if (r !== undefined) return refuse(io, json, r, hint);
    return internalError(io, json, e);
  }
  if (options.durationMs === 0) {
    // --duration 0: only the registration file and the gateway EUIs, nothing sent
    const euis = Array.from({ length: options.gateways }, (_, g) => toHex(localEuiFor(options.seed, g)));
    io.stderr(`sceau-sim: gateway EUIs (register them in the network server): ${euis.join(' ')}\n`);
    if (json) io.stdout(`${JSON.stringify({ gateways: euis, devices: options.fleet.length })}\n`);
    return EXIT.ok;
  }
  try {
    const gws = options.gateways;
    // Ctrl-C / SIGTERM end the run early with a summary, as --duration would
    const controller = new AbortController();
    const onSignal = (): void => {
      io.stderr('sceau-sim: stopping (signal): finishing with a summary\n');
      controller.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let summary: Awaited<ReturnType<typeof runLorawan>>;
    try {
      summary = await runLorawan({ ...options, signal: controller.signal });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    io.stderr(`sceau-sim: gateway EUIs (register them in the network server): ${summary.gateways.join(' ')}\n`);
    if (json) io.stdout(`${JSON.stringify(summary)}\n`);
    else {
      io.stdout(
        `${summary.devices} devices behind ${gws} gateway(s), ${(summary.wallMs / 1000).toFixed(1)} s: ` +
          `joins ${summary.joinsAccepted}/${summary.joinsRequested} requested, ${summary.uplinks} uplinks (${summary.records} records), ` +
          `${summary.downlinks} downlinks (${summary.downlinksReceived} in an RX window), PUSH_ACK missing ${summary.pushAckMissing}, ` +
          `PULL_ACK missing ${summary.pullAckMissing}, duty-cycle waits ${summary.dutyCycleWaits}, ` +
          `MAC commands ${summary.macCommands} answered with ${summary.macAnswers}, record version ${summary.recordVersion} (${summary.frameBytes} bytes sealed)` +
          (summary.firmwareVms ? `; firmware VMs ${summary.firmwareVms.devices}: ${summary.firmwareVms.joins} joins, ${summary.firmwareVms.uplinks} uplinks, ${summary.firmwareVms.downlinksHeard} downlinks heard` : '') +
          '\n',
      );
    }
    for (const f of summary.failures) io.stderr(`sceau-sim: FAIL: ${f}\n`);
    return summary.failures.length === 0 ? EXIT.ok : EXIT.failed;
  } catch (e) {
    const r = refusalOf(e) ?? runRefusalOf(e);
    if (r !== undefined) return refuse(io, json, r);
    return internalError(io, json, e);
  }
}

/** What stops a run, before or once started: the network server's address (`gwmp-unreachable`), the firmware workspace, the state file, other file I/O. */
function runRefusalOf(e: unknown): Refusal | undefined {
  const message = (e as Error).message;
  if (e instanceof GwmpError) return { exit: EXIT.io, code: 'gwmp-unreachable', message };
  if (e instanceof FleetStateError) return { exit: EXIT.io, code: 'bad-state-file', message };
  const code = (e as { code?: unknown }).code;
  if (code === 'sim/firmware-vm') return { exit: EXIT.io, code: 'firmware-vm-unavailable', message };
  if (typeof code === 'string') return { exit: EXIT.io, code: 'io', message };
  return undefined;
}

export const LNS_USAGE = `Usage: sceau-sim lns devices --from DIR --format tts|chirpstack|csv [options]
       sceau-sim lns formatter --format tts|chirpstack
       (the same as: sceau lns ... and sceau sim lns ...)

devices: what a network server imports for the fleet in DIR/lorawan-devices.json (sceau sim lorawan --keys-out DIR), on stdout.
  --format tts           JSON stream of end devices (MAC 1.0.4, RP002 1.0.3) for the Console import or ttn-lw-cli
  --frequency-plan ID    TTS frequency plan (default EU_863_870_TTN)
  --format chirpstack    JSON {devices, deviceKeys, deviceActivations}: ChirpStack v4 REST bodies
  --application-id ID --device-profile-id ID   (required with chirpstack)
  --script FILE          also write a POSIX script posting them with curl (CHIRPSTACK_URL, CHIRPSTACK_API_TOKEN from the environment)
  --format csv           one line per device
formatter: one ES5.1 decodeUplink(input) decoding whole sceau frames into readings in units (the signature is NOT verified there).`;

const LNS_OPTIONS = {
  from: { type: 'string' },
  format: { type: 'string' },
  'frequency-plan': { type: 'string' },
  'application-id': { type: 'string' },
  'device-profile-id': { type: 'string' },
  script: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `sceau-sim lns devices|formatter`. */
export async function lnsMain(argv: string[], io: LorawanCliIo): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    const { values: v } = parseArgs({ args: rest, options: LNS_OPTIONS, allowPositionals: false, strict: true });
    if (v.help || sub === undefined || sub === '--help' || sub === '-h') {
      io.stdout(`${LNS_USAGE}\n`);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    }
    if (sub === 'formatter') {
      if (v.format !== 'tts' && v.format !== 'chirpstack') throw usageRefusal(`--format: expected tts or chirpstack, got ${JSON.stringify(v.format)}`, 'bad-option');
      io.stdout(generateFormatter(v.format));
      return EXIT.ok;
    }
    if (sub !== 'devices') throw usageRefusal(`unknown command lns ${JSON.stringify(sub)}; expected devices or formatter`, 'bad-option');
    const from = required(v.from, 'from');
    const format = v.format;
    if (format !== 'tts' && format !== 'chirpstack' && format !== 'csv') throw usageRefusal(`--format: expected tts, chirpstack or csv, got ${JSON.stringify(v.format)}`, 'bad-option');
    const ids = format === 'chirpstack' ? { application: required(v['application-id'], 'application-id'), deviceProfile: required(v['device-profile-id'], 'device-profile-id') } : undefined;
    if (v.script !== undefined && format !== 'chirpstack') throw usageRefusal('--script: only with --format chirpstack', 'bad-option');
    const entries = readRegistration(join(from, DEVICES_FILE));
    if (format === 'tts') io.stdout(ttsDevices(entries, v['frequency-plan'] ?? 'EU_863_870_TTN'));
    else if (format === 'csv') io.stdout(csvDevices(entries));
    else {
      const imp = chirpstackImport(entries, ids!.application, ids!.deviceProfile);
      if (v.script !== undefined) writeScript(v.script, chirpstackScript(imp));
      io.stdout(`${JSON.stringify(imp, null, 2)}\n`);
    }
    return EXIT.ok;
  } catch (e) {
    const r = refusalOf(e);
    if (r !== undefined) return refuse(io, false, r, '(sceau-sim lns --help for the options)');
    return internalError(io, false, e);
  }
}

/** DIR/lorawan-devices.json, checked: `file-unreadable` when it cannot be read, `bad-devices-file` when it is not a fleet's registration file. */
function readRegistration(path: string): ReturnType<typeof parseRegistration> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw ioRefusal(`cannot read ${path}: ${(e as Error).message} (written by sceau sim lorawan --keys-out DIR; give that DIR as --from)`, 'file-unreadable');
  }
  try {
    return parseRegistration(text, path);
  } catch (e) {
    if (e instanceof SyntaxError) throw ioRefusal(e.message, 'bad-devices-file');
    throw e;
  }
}

/** The ChirpStack script, whole or not at all (written beside, then renamed over FILE). */
function writeScript(file: string, text: string): void {
  try {
    writeAtomic(file, text, 0o700);
  } catch (e) {
    throw ioRefusal(`--script ${file}: cannot write it (nothing kept): ${(e as Error).message}`, 'out-unwritable');
  }
}
