/** `sceau sim lorawan` (= `sceau-sim lorawan`): the wall-clock GWMP fleet (docs/simulator.md). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from './duration.js';
import { GwmpError, parseHostPort } from './gwmp-gateway.js';
import { chirpstackImport, chirpstackScript, csvDevices, generateFormatter, parseRegistration, ttsDevices } from './lorawan-lns.js';
import { type Activation, DEVICES_FILE, LORAWAN_GROUP, insideGitWorkTree, makeFleet, registrationEntries, writeRegistration } from './lorawan-fleet.js';
import { parseRecordVersion } from './config.js';
import { deviceContentKey, wrapContentKeys, writeWrappedKeys } from './content-keys.js';
import { THRESHOLDS, localEuiFor, lorawanLink, runLorawan } from './lorawan-live.js';
import { linkProfile, toHex } from '@sceau/protocol';
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
${THRESHOLDS.ackMissingRatio * 100}% of PUSH_DATA or PULL_DATA were not acknowledged; 2 usage; 3 socket or file I/O; 4 internal error.`;

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

class UsageError extends Error {}

function required(v: string | undefined, name: string): string {
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function count(text: string, name: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

export async function lorawanMain(argv: string[], io: LorawanCliIo): Promise<number> {
  let options: Parameters<typeof runLorawan>[0];
  let json = false;
  try {
    const { values: v } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
    if (v.help) {
      io.stdout(`${LORAWAN_USAGE}\n`);
      return EXIT.ok;
    }
    json = v.json === true;
    const gwmp = required(v.gwmp, 'gwmp');
    parseHostPort(gwmp);
    const devices = count(required(v.devices, 'devices'), 'devices', 1);
    const gateways = v.gateways === undefined ? 1 : count(v.gateways, 'gateways', 1);
    const durationMs = parseDuration(required(v.duration, 'duration'), '--duration');
    const intervalMs = parseDuration(required(v.interval, 'interval'), '--interval');
    if (intervalMs <= 0) throw new UsageError('--interval: expected a positive duration');
    const link = required(v.link, 'link');
    lorawanLink(linkProfile(link));
    const activation = required(v.activation, 'activation');
    if (activation !== 'otaa' && activation !== 'abp') throw new UsageError(`--activation: expected otaa or abp, got ${JSON.stringify(activation)}`);
    const keysOut = required(v['keys-out'], 'keys-out');
    const loss = v.loss === undefined ? 0 : Number(v.loss);
    if (!(loss >= 0 && loss <= 1)) throw new UsageError(`--loss: expected a probability 0..1, got ${JSON.stringify(v.loss)}`);
    if (v['dev-addr-prefix'] !== undefined && activation !== 'abp') throw new UsageError('--dev-addr-prefix: only with --activation abp (OTAA devices get their DevAddr from the network server)');
    const firmwareVm = v['firmware-vm'] === undefined ? 0 : count(v['firmware-vm'], 'firmware-vm', 0);
    if (firmwareVm > devices) throw new UsageError(`--firmware-vm: ${firmwareVm} firmware devices, but only --devices ${devices}`);
    const seed = v.seed ?? 'sceau';
    const fleet = makeFleet(seed, devices, activation as Activation, v['dev-addr-prefix'] ?? '00000000/7');
    const record = parseRecordVersion(v.record ?? 1, '--record');
    if (v.owner !== undefined && record !== 2) throw new UsageError('--owner: only with --record 2');
    const owner = v.owner === undefined ? undefined : readOwnerPublicKey(v.owner);
    options = {
      gwmp, gateways, fleet, activation: activation as Activation, durationMs, intervalMs, link, seed, loss, stateDir: keysOut,
      // undocumented on purpose in the usage: for tests with a stand-in network server using the same delay
      ...(v['join-delay'] !== undefined ? { joinDelayMs: parseDuration(v['join-delay'], '--join-delay') } : {}),
      onLog: (line) => io.stderr(`sceau-sim: ${line}\n`),
      adr: v.adr === true,
      linkCheck: v['link-check'] === true,
      deviceTime: v['device-time'] === true,
      record,
      firmwareVm,
    };
    if (insideGitWorkTree(keysOut)) io.stderr(`sceau-sim: warning: --keys-out ${keysOut} is inside a git work tree; lorawan-devices.json holds root keys: do not commit it\n`);
    const path = writeRegistration(keysOut, registrationEntries(fleet, activation as Activation));
    io.stderr(`sceau-sim: wrote ${path} (${devices} ${activation.toUpperCase()} devices)\n`);
    if (owner !== undefined) {
      const holders = fleet.map((d) => ({ kidHex: toHex(d.kid), contentKey: deviceContentKey(seed, LORAWAN_GROUP, d.index) }));
      io.stderr(`sceau-sim: wrote ${writeWrappedKeys(keysOut, wrapContentKeys(owner, holders))} (content keys wrapped for owner key ${ownerKeyIdOf(owner)})\n`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof RangeError || e instanceof TypeError || (e as { name?: string }).name === 'SceauError' || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`sceau-sim: ${(e as Error).message}\n(sceau-sim lorawan --help for the options)\n`);
      return EXIT.usage;
    }
    if (typeof (e as { code?: unknown }).code === 'string') {
      io.stderr(`sceau-sim: ${(e as Error).message}\n`);
      return EXIT.io;
    }
    throw e;
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
    if (e instanceof GwmpError || typeof (e as { code?: unknown }).code === 'string') {
      io.stderr(`sceau-sim: ${(e as Error).message}\n`);
      return EXIT.io;
    }
    io.stderr(`sceau-sim: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.internal;
  }
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
      if (v.format !== 'tts' && v.format !== 'chirpstack') throw new UsageError(`--format: expected tts or chirpstack, got ${JSON.stringify(v.format)}`);
      io.stdout(generateFormatter(v.format));
      return EXIT.ok;
    }
    if (sub !== 'devices') throw new UsageError(`unknown command lns ${JSON.stringify(sub)}; expected devices or formatter`);
    const from = required(v.from, 'from');
    const path = join(from, DEVICES_FILE);
    const entries = parseRegistration(readFileSync(path, 'utf8'), path);
    switch (v.format) {
      case 'tts':
        io.stdout(ttsDevices(entries, v['frequency-plan'] ?? 'EU_863_870_TTN'));
        return EXIT.ok;
      case 'csv':
        io.stdout(csvDevices(entries));
        return EXIT.ok;
      case 'chirpstack': {
        const imp = chirpstackImport(entries, required(v['application-id'], 'application-id'), required(v['device-profile-id'], 'device-profile-id'));
        if (v.script !== undefined) writeFileSync(v.script, chirpstackScript(imp), { mode: 0o700 });
        io.stdout(`${JSON.stringify(imp, null, 2)}\n`);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`--format: expected tts, chirpstack or csv, got ${JSON.stringify(v.format)}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`sceau-sim: ${(e as Error).message}\n(sceau-sim lns --help for the options)\n`);
      return EXIT.usage;
    }
    if (e instanceof SyntaxError || typeof (e as { code?: unknown }).code === 'string') {
      io.stderr(`sceau-sim: ${(e as Error).message}\n`);
      return EXIT.io;
    }
    throw e;
  }
}
