/**
 * `sceau gateway serve`: the ingest gateway until SIGINT or SIGTERM. Its options come in sets
 * (`ServeOptionSet`): each adds its flags to the command and turns the parsed values into
 * `GatewayOptions`. A module that adds a transport or a store option to `gateway serve` exports
 * one set and adds one line to `SERVE_OPTION_SETS`.
 */
import { parseDuration } from '../retention.js';
import { Option, type Command } from 'commander';
import { describeError, ioError } from '../errors.js';
import { cliFailureOf } from '../cli-errors.js';
import { DEFAULT_BUSY_TIMEOUT_MS, startGateway, type GatewayOptions } from '../gateway.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES } from '../gateway-http.js';
import { registeredTransports } from '../transport-registry.js';
import { integerArg, loadChannels, type CommandGroup, type Io } from './context.js';
import { mqttServeOptions } from '../mqtt-options.js';

/** Options of `gateway serve` as commander parsed them (camelCase names). */
export type ServeArgs = Record<string, unknown>;

/** A set of `gateway serve` options: its flags, and what they set in the gateway's options. */
export interface ServeOptionSet {
  /** Adds the flags to the command (in help order). */
  add(command: Command): void;
  /** Sets the gateway's options from the parsed values; may throw a usage error. */
  apply(args: ServeArgs, options: GatewayOptions): void;
}

/** Where the gateway listens, and its bearer token. */
export const listenerOptions: ServeOptionSet = {
  add: (command) =>
    command
      .option('--http <host:port>', 'HTTP listen address (default 127.0.0.1:8750 when no listener is given)')
      .option('--tcp <host:port>', 'TCP listen address (length-prefixed frames)')
      .option('--udp <host:port>', 'UDP listen address (frames and fragments)')
      .option('--token-file <file>', 'bearer token required on /v1/ routes (file mode 0600)'),
  apply: (args, options) => {
    const a = args as { http?: string; tcp?: string; udp?: string; tokenFile?: string };
    Object.assign(options, { http: a.http, tcp: a.tcp, udp: a.udp, tokenFile: a.tokenFile });
  },
};

/** Signature workers and the limits of HTTP and TCP input. */
export const limitOptions: ServeOptionSet = {
  add: (command) =>
    command
      .option('--workers <n>', 'threads checking signatures (libuv\'s pool; 0: the main thread)', integerArg('--workers', 0, 64), 0)
      .option('--max-body <bytes>', 'largest HTTP body (the default fits a batch of 1,000 frames of up to 380 bytes in base64)', integerArg('--max-body', 256, 64 * 1024 * 1024), DEFAULT_MAX_BODY_BYTES)
      .option('--max-connections <n>', 'open connections per listener, HTTP and TCP (default 256 HTTP, 1024 TCP)', integerArg('--max-connections', 1, 1_000_000))
      .option('--headers-timeout <ms>', 'HTTP: request line and headers within this', integerArg('--headers-timeout', 100, 600_000), DEFAULT_HEADERS_TIMEOUT_MS)
      .option('--body-timeout <ms>', 'HTTP: the whole request within this (default 30000); TCP: a frame once begun (default 10000)', integerArg('--body-timeout', 100, 600_000)),
  apply: (args, options) => {
    const a = args as { workers: number; maxBody: number; maxConnections?: number; headersTimeout: number; bodyTimeout?: number };
    Object.assign(options, { workers: a.workers, maxBodyBytes: a.maxBody, maxConnections: a.maxConnections, headersTimeoutMs: a.headersTimeout, bodyTimeoutMs: a.bodyTimeout });
  },
};

/** The store's lock wait and durability, and the channels readings are stored with. */
export const storeOptions: ServeOptionSet = {
  add: (command) =>
    command
      .option('--busy-timeout <ms>', 'how long a commit waits for another connection\'s write lock before writes answer 503', integerArg('--busy-timeout', 0, 60_000), DEFAULT_BUSY_TIMEOUT_MS)
      .option('--channels <file>', 'user channel registry (JSON)')
      .option('--retention <duration>', 'delete frames and readings older than this (90d, 12h...) in the background; a device\'s own retention (sceau devices retention) overrides it (docs/privacy.md#retention)')
      .option('--keep-radio-metadata', 'store the radio metadata of network-server uplinks (gateway ids and locations, RSSI, SNR, frequency, spreading factor) with their frames, for coverage diagnostics; off by default: dropped unread (docs/privacy.md#radio-metadata)')
      .addOption(
        new Option('--synchronous <level>', 'SQLite durability: full (a 2xx survives a power cut) or normal (survives a crash of the gateway, not of the machine; no fsync per commit)')
          .choices(['full', 'normal'])
          .default('full'),
      ),
  apply: (args, options) => {
    const a = args as { busyTimeout: number; channels?: string; synchronous: 'full' | 'normal'; retention?: string; keepRadioMetadata?: boolean };
    Object.assign(options, { busyTimeoutMs: a.busyTimeout, channels: loadChannels(a.channels), synchronous: a.synchronous, retentionMs: a.retention === undefined ? undefined : parseDuration(a.retention, '--retention'), keepRadioMetadata: a.keepRadioMetadata === true });
  },
};

/** The web console at / of the HTTP listener (console-routes.ts). */
export const consoleOptions: ServeOptionSet = {
  add: (command) =>
    command
      .option('--no-console', 'do not serve the web console at / of the HTTP listener')
      .option('--console-public', 'serve the web console on non-loopback addresses without a token (--token-file)'),
  apply: (args, options) => {
    Object.assign(options, { console: args.console !== false, consolePublic: args.consolePublic === true });
  },
};

/** The option sets of `gateway serve`, in help order: one line per set. */
export const SERVE_OPTION_SETS: ServeOptionSet[] = [listenerOptions, limitOptions, storeOptions, consoleOptions, mqttServeOptions];

const DEFAULT_HTTP_LISTENER = '127.0.0.1:8750';

/** The gateway's options from the parsed command line: every set applied; HTTP when no transport is asked for. */
export function gatewayOptionsOf(args: ServeArgs, log: (message: string) => void): GatewayOptions {
  const options: GatewayOptions = { db: args.db as string, log };
  for (const set of SERVE_OPTION_SETS) set.apply(args, options);
  if (!registeredTransports().some((t) => t.wanted(options))) options.http = DEFAULT_HTTP_LISTENER;
  return options;
}

export const registerGateway: CommandGroup = (program, { io }) => {
  const gateway = program.command('gateway').description('the ingest gateway');
  const serve = gateway
    .command('serve')
    .description('verify and store frames from HTTP (raw, TTS and ChirpStack webhooks), TCP, UDP and MQTT; binds 127.0.0.1 by default')
    .requiredOption('--db <file>', 'store database (created if missing), or the URL of a registered store backend');
  for (const set of SERVE_OPTION_SETS) set.add(serve);
  serve.option('--json', 'print the listening addresses as JSON').action(async (args: ServeArgs) => {
    await serveUntilSignal(io, gatewayOptionsOf(args, (m) => io.err(m)), args.json === true);
  });
};

/** Runs the gateway until SIGINT or SIGTERM, then stores the frames in flight and closes. */
async function serveUntilSignal(io: Io, options: GatewayOptions, json: boolean): Promise<void> {
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
      gw = await startGateway(options);
    } catch (error) {
      if (cliFailureOf(error) !== undefined) throw error; // a typed error: the CLI edge maps it
      throw ioError(`cannot start the gateway: ${describeError(error)}`, 'gateway-start-failed');
    }
    const a = gw.addresses;
    if (json) io.out(JSON.stringify({ listening: a }));
    // One line per listening transport, in registration order: `http http://127.0.0.1:8750`, `udp 127.0.0.1:8751`.
    else for (const [name, e] of Object.entries(a)) if (e !== undefined) io.out(`${name} ${e.url ?? `${e.host}:${e.port}`}`);
    await stopped;
    await gw.close().catch((error: unknown) => io.err(`close: ${describeError(error)}`));
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
