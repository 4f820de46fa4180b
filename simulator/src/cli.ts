import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { toHex } from '@sceau/protocol';
import { EXIT, type ExitCode, SceauError, type WrappedContentKey, readOwnerPublicKey, readTokenFile } from '@sceau/host-tools';
import { refuse as refuseLine } from './cli-refusal.js';
import { type ScenarioInput, loadScenarioFile, resolveScenario } from './config.js';
import { formatDuration } from './duration.js';
import { wrapContentKeys, writeWrappedKeys } from './content-keys.js';
import type { FrameSink } from './frame-sink.js';
import { HostToolsGatewaySink } from './host-tools-gateway.js';
import { GatewayError, networkSink } from './network-sinks.js';
import { formatJunit, formatSummary } from './report.js';
import { lnsMain, lorawanMain } from './lorawan-cli.js';
import { Simulation } from './simulation.js';

/** Exit statuses: the one table of the sceau CLI family (host-tools/src/exit-codes.ts). */
export { EXIT };

export const USAGE = `Usage: sceau-sim run [options]        (the same as: sceau sim run [options])

Runs a simulated fleet on virtual time and checks what the gateway made of it.

Fleet (a --scenario file may describe several groups; these options then set every group's default):
  --devices N            devices (default 10)
  --duration D           simulated time, e.g. 24h (default 24h)
  --interval D           time between samples (default 10m)
  --batch K|auto         sampling rounds per record (default auto: fit the frame and link budget)
  --seed S               PRNG seed (default "sceau"); same seed and options => same capture, byte for byte
  --link PROFILE         link profile of @sceau/protocol (default lorawan-eu868-dr3)
  --loss P --dup P --reorder P   datagram loss, duplication, reordering probabilities
  --jitter D             extra delivery delay, uniform in [0, D]
  --outage START-END     link down (store-and-forward), e.g. 6h-7h30m or 6h+90m; repeatable
  --attack K=P,...       replay, tamper, forge, wrong-key: probability per record sealed
  --reboots R            power cuts per device per day (default 0.05)
  --faults P             probability a sensor fails to answer a sample (default 0.001)
  --firmware-vm K        K devices (per group, the first ones) run the real firmware bytecode in
                         DeviceScript VMs, on virtual time, beside the model devices
  --firmware-tick D      run idle VMs at most every D of virtual time (default 0: every 10 ms
                         runtime tick; 1s makes long runs ~100x cheaper, timing quantized to D)
  --record 1|2           record version the devices seal (default 1); 2 encrypts the readings
                         other than battery, boot and dropped under each device's content key
                         (derived from the seed; docs/simulator.md "Record version 2")
  --drain D              after --duration, devices stop sampling and get this long to empty
                         their queues (default 2h)
  --start ISO            wall-clock time of virtual time 0 (default ${'2025-01-01T00:00:00Z'})
  --scenario FILE        JSON or YAML scenario (docs/simulator.md)
Gateway:
  --gateway G            in-process (default: the @sceau/host-tools gateway in this process)
                         | http://HOST:PORT (its HTTP API: keys registered with POST /v1/devices)
                         | udp://HOST:PORT
  --token-file FILE      the gateway's bearer token (HTTP): the first line of FILE, mode 0600,
                         at least 16 characters, as for sceau gateway serve (never on argv)
  --db FILE              new SQLite file for the in-process gateway (default: memory only)
Output:
  --capture FILE         every datagram as sent, NDJSON {t, kid, datagram, attack}; check it again
                         later with: sceau sim verify FILE --keys DIR (DIR from --keys-out)
  --keys-out DIR         the fleet's public keys as DIR/<kid>.pub (64 hex characters), and with
                         --owner DIR/wrapped-keys.json (for frame verify / sim verify --wrapped-keys)
  --owner OWNER.pub      with --record 2: wrap each device's content key for this owner public
                         key (sceau owner keys generate); the in-process gateway's registry stores
                         them, so sceau export --db FILE --owner-key OWNER.key opens the readings
  --report FILE          the summary as JSON
  --junit FILE           JUnit XML for CI
  --json                 the summary as one JSON object on stdout
  -h, --help

Exit status: 0 pass; 1 an attack or duplicate was accepted, a delivered genuine frame was
rejected, a link rule was broken or records were left unsent; 2 usage; 3 gateway or file I/O; 4 internal error.`;

const OPTIONS = {
  devices: { type: 'string' },
  duration: { type: 'string' },
  interval: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  link: { type: 'string' },
  loss: { type: 'string' },
  dup: { type: 'string' },
  reorder: { type: 'string' },
  jitter: { type: 'string' },
  outage: { type: 'string', multiple: true },
  attack: { type: 'string' },
  reboots: { type: 'string' },
  faults: { type: 'string' },
  'firmware-vm': { type: 'string' },
  'firmware-tick': { type: 'string' },
  record: { type: 'string' },
  owner: { type: 'string' },
  start: { type: 'string' },
  drain: { type: 'string' },
  scenario: { type: 'string' },
  gateway: { type: 'string' },
  db: { type: 'string' },
  'token-file': { type: 'string' },
  capture: { type: 'string' },
  'keys-out': { type: 'string' },
  report: { type: 'string' },
  junit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function num(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${what}: expected a number, got ${JSON.stringify(text)}`);
  return n;
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress is shown only then). */
  stderrIsTty: boolean;
}

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stderrIsTty: process.stderr.isTTY === true,
};

/** Builds the scenario from the options (a scenario file first, then the options over it). */
export function scenarioFromArgs(values: Record<string, string | boolean | string[] | undefined>): ScenarioInput {
  const v = values as Record<string, string | undefined> & { outage?: string[] };
  const input: ScenarioInput = v.scenario !== undefined ? loadScenarioFile(v.scenario) : {};
  const set = <K extends keyof ScenarioInput>(key: K, value: ScenarioInput[K] | undefined): void => {
    if (value !== undefined) input[key] = value;
  };
  set('devices', num(v.devices, 'devices'));
  set('duration', v.duration);
  set('interval', v.interval);
  if (v.batch !== undefined) set('batch', v.batch === 'auto' ? 'auto' : num(v.batch, 'batch'));
  set('seed', v.seed);
  set('link', v.link);
  set('loss', num(v.loss, 'loss'));
  set('dup', num(v.dup, 'dup'));
  set('reorder', num(v.reorder, 'reorder'));
  set('jitter', v.jitter);
  if (v.outage !== undefined) set('outages', v.outage.flatMap((o) => o.split(',')));
  set('attacks', v.attack);
  set('reboots', num(v.reboots, 'reboots'));
  set('faults', num(v.faults, 'faults'));
  set('firmwareVm', num(v['firmware-vm'], 'firmware-vm'));
  set('firmwareTick', v['firmware-tick']);
  set('record', v.record);
  set('start', v.start);
  set('drain', v.drain);
  if (v.gateway !== undefined) input.gateway = v.gateway;
  return input;
}

/** `sceau-sim <argv>`; returns the exit status. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.stdout(`${USAGE}\n`);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === 'lorawan') return lorawanMain(rest, io);
  if (command === 'lns') return lnsMain(rest, io);
  if (command !== 'run') {
    return refuseLine(io, argv.includes('--json'), { exit: EXIT.usage, code: 'bad-option', message: `unknown command ${JSON.stringify(command)}; expected "run", "lorawan" or "lns"` }, '(sceau-sim --help for the commands)');
  }
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false }>>['values'];
  let sink: FrameSink;
  let simulation: Simulation;
  let wrappedKeys: WrappedContentKey[] | undefined;
  try {
    values = parseArgs({ args: rest, options: OPTIONS, allowPositionals: false, strict: true }).values;
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    const input = scenarioFromArgs(values);
    const config = resolveScenario(input);
    // read before any gateway starts: a wrong owner key is a usage error with nothing written
    const owner = values.owner === undefined ? undefined : readOwnerPublicKey(values.owner);
    if (owner !== undefined && !config.groups.some((g) => g.record === 2)) throw new UsageError('--owner: no group seals record version 2 (give --record 2, or record: 2 in the scenario)');
    const gateway = input.gateway ?? 'in-process';
    if (gateway === 'builtin') throw new UsageError('--gateway builtin was removed: the simulator runs against the one gateway (in-process, or http:// / udp://)');
    if (values['token-file'] !== undefined && !/^https?:\/\//.test(gateway)) throw new UsageError('--token-file: only for --gateway http://HOST:PORT');
    if (gateway === 'in-process') {
      if (values.db !== undefined) {
        // A simulated fleet sends the same keys and counters on every run with the same seed:
        // the replay windows of an earlier run in the same file would refuse all of them.
        if (existsSync(values.db)) throw new UsageError(`--db ${values.db}: the file exists; use a new file per run (same seed, same counters: an earlier run's replay windows would refuse every frame)`);
        mkdirSync(dirname(values.db), { recursive: true });
      }
      sink = await HostToolsGatewaySink.start(values.db === undefined ? {} : { db: values.db });
    } else {
      if (values.db !== undefined) throw new UsageError('--db: only for --gateway in-process (a remote gateway has its own store)');
      sink = networkSink(gateway, { token: values['token-file'] === undefined ? undefined : readTokenFile(values['token-file']) });
    }
    simulation = new Simulation(config);
    if (owner !== undefined) wrappedKeys = wrapContentKeys(owner, simulation.contentKeyHolders());
  } catch (e) {
    // The gateway's own checks (readTokenFile: a missing file, one readable by others, a short token) are usage errors.
    const code = (e as { code?: unknown }).code;
    // An I/O error a layer below typed (an --owner file that cannot be read): exit 3 with its code.
    if (e instanceof SceauError && e.exitCode === EXIT.io) return refuse(io, argv, EXIT.io, e.code ?? 'io', e.message);
    if (e instanceof UsageError || (e as { name?: string }).name === 'SceauError' || e instanceof RangeError || e instanceof TypeError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      return refuse(io, argv, EXIT.usage, usageCode(e), (e as Error).message, '(sceau-sim run --help for the options)');
    }
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return refuse(io, argv, EXIT.io, 'file-unreadable', (e as Error).message);
    throw e;
  }
  try {
    if (values['keys-out'] !== undefined) {
      mkdirSync(values['keys-out'], { recursive: true });
      for (const d of simulation.registrations()) writeFileSync(join(values['keys-out'], `${d.kid}.pub`), toHex(d.publicKey));
      if (wrappedKeys !== undefined) writeWrappedKeys(values['keys-out'], wrappedKeys);
    }
    let lastProgress = 0;
    const onProgress = io.stderrIsTty
      ? (t: number, total: number) => {
          const wall = performance.now();
          if (wall - lastProgress < 250) return;
          lastProgress = wall;
          io.stderr(`\rsceau-sim: ${formatDuration(t)} of ${formatDuration(total)} simulated (${Math.floor((100 * t) / total)}%)   `);
        }
      : undefined;
    const result = await simulation.run({ sink, ...(values.capture !== undefined ? { capture: values.capture } : {}), ...(onProgress ? { onProgress } : {}), ...(wrappedKeys !== undefined ? { wrappedKeys } : {}) });
    if (io.stderrIsTty) io.stderr('\r\x1b[K');
    if (values.report !== undefined) writeFileSync(values.report, `${JSON.stringify(result.summary, null, 2)}\n`);
    if (values.junit !== undefined) writeFileSync(values.junit, formatJunit(result));
    if (values.json) io.stdout(`${JSON.stringify(result.summary)}\n`);
    else io.stdout(`${formatSummary(result)}\n`);
    if (values.json && result.failures.length > 0) for (const f of result.failures) io.stderr(`sceau-sim: FAIL: ${f}\n`);
    return result.failures.length === 0 ? EXIT.ok : EXIT.failed;
  } catch (e) {
    if (e instanceof GatewayError) return refuse(io, argv, EXIT.io, e.code, e.message);
    if (typeof (e as { code?: unknown }).code === 'string') return refuse(io, argv, EXIT.io, 'io', (e as Error).message);
    io.stderr(`sceau-sim: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.internal;
  }
}

/** The code of a usage error: its own (a token file's, a gateway URL's, a scenario's), else what was wrong. */
function usageCode(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && !code.startsWith('ERR_')) return code;
  if (typeof code === 'string' || e instanceof UsageError) return 'bad-option';
  return 'bad-scenario'; // resolveScenario's RangeErrors: a value of the scenario (file or options) out of its domain
}

/**
 * Ends a run that could not start or went wrong outside the simulation: one line
 * `sceau-sim: <message> [<code>]` on stderr (and a hint), and with --json `{"error", "detail"}`
 * on stdout, as `sceau --json` does.
 */
function refuse(io: CliIo, argv: readonly string[], exit: ExitCode, code: string, message: string, hint?: string): number {
  return refuseLine(io, argv.includes('--json'), { exit, code, message }, hint);
}
