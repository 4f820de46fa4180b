/**
 * `sceau gateway serve --mqtt ...`: the options, and from them the MQTT transport's settings
 * (transport-mqtt.ts). Secrets never on argv: the broker's user name and password come from a
 * JSON file of mode 0600.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { usageError } from './errors.js';
import { MQTT_FORMATS, type MqttFormat } from './mqtt-uplink.js';
import { readPrivateFile } from './private-file.js';
import { parseMqttUrl, type MqttIngestOptions } from './transport-mqtt.js';
import type { ServeOptionSet } from './commands/gateway.js';

/** The options `addMqttOptions` defines, as commander parses them. */
export interface MqttCliOptions {
  mqtt?: string;
  mqttFormat?: MqttFormat;
  mqttTopic?: string;
  mqttShare?: string;
  mqttClientId?: string;
  mqttCredentials?: string;
  mqttCa?: string;
}

/** Test hook (crash tests only): hold every PUBACK back once the frame is committed. */
export const HOLD_ACKS_ENV = 'SCEAU_TEST_MQTT_HOLD_ACKS';

export function addMqttOptions(command: Command): Command {
  return command
    .option('--mqtt <url>', 'subscribe to uplinks on this broker: mqtt://HOST:PORT or mqtts://HOST:PORT (docs/integrators.md#mqtt-ingest)')
    .addOption(new Option('--mqtt-format <format>', 'what the network server publishes (required with --mqtt)').choices([...MQTT_FORMATS]))
    .option('--mqtt-topic <filter>', "topic filter (default: tts v3/+/devices/+/up, chirpstack application/+/device/+/event/up)")
    .option('--mqtt-share <group>', 'subscribe as $share/GROUP/...: the gateways of a group split the stream')
    .option('--mqtt-client-id <id>', 'stable client id, one per gateway: the broker keeps the session under it (default: derived from the host name and --db)')
    .option('--mqtt-credentials <file>', 'JSON file {"username", "password"} of mode 0600')
    .option('--mqtt-ca <file>', 'PEM certificate(s) to trust for mqtts:// instead of the system\'s');
}

/** The broker's user name and password from a JSON file no one else can read. */
export function readMqttCredentials(file: string): { username?: string; password?: string } {
  let value: unknown;
  try {
    value = JSON.parse(readPrivateFile(file, 'MQTT credentials file'));
  } catch (error) {
    if (error instanceof SyntaxError) throw usageError(`MQTT credentials file ${file}: not JSON: expected {"username": "...", "password": "..."}`, 'bad-credentials');
    throw error;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw usageError(`MQTT credentials file ${file}: expected a JSON object {"username", "password"}`, 'bad-credentials');
  const { username, password, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw usageError(`MQTT credentials file ${file}: unknown field ${JSON.stringify(unknown[0])}; expected "username" and "password"`, 'bad-credentials');
  if (username !== undefined && typeof username !== 'string') throw usageError(`MQTT credentials file ${file}: "username" must be a string`, 'bad-credentials');
  if (password !== undefined && typeof password !== 'string') throw usageError(`MQTT credentials file ${file}: "password" must be a string`, 'bad-credentials');
  if (username === undefined && password !== undefined) throw usageError(`MQTT credentials file ${file}: a "password" without "username"`, 'bad-credentials');
  return { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

/**
 * A client id that stays the same across restarts of this gateway (host name and database) and
 * differs between gateways: 'sceau' and 16 hex digits, within MQTT 3.1.1's 23 characters.
 */
export function defaultMqttClientId(db: string): string {
  return `sceau${createHash('sha256').update(`${hostname()}\0${resolve(db)}`).digest('hex').slice(0, 16)}`;
}

/** The MQTT transport's settings from the command line; undefined without --mqtt. */
export function mqttIngestOptions(opts: MqttCliOptions, db: string, env: NodeJS.ProcessEnv = process.env): MqttIngestOptions | undefined {
  const given = (['mqttFormat', 'mqttTopic', 'mqttShare', 'mqttClientId', 'mqttCredentials', 'mqttCa'] as const).filter((k) => opts[k] !== undefined);
  if (opts.mqtt === undefined) {
    if (given.length > 0) throw usageError(`--${given[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --mqtt URL`);
    return undefined;
  }
  try {
    parseMqttUrl(opts.mqtt);
  } catch (error) {
    throw usageError(`--mqtt: ${(error as Error).message}`);
  }
  if (opts.mqttFormat === undefined) throw usageError('--mqtt needs --mqtt-format tts|chirpstack: what the network server publishes');
  if (opts.mqttShare !== undefined && !/^[^/+#]+$/.test(opts.mqttShare)) throw usageError(`--mqtt-share ${JSON.stringify(opts.mqttShare)}: a group name without /, + or #`);
  if (opts.mqttTopic !== undefined && (opts.mqttTopic === '' || opts.mqttTopic.startsWith('$share/'))) throw usageError('--mqtt-topic: a topic filter (for a shared subscription, use --mqtt-share GROUP)');
  const clientId = opts.mqttClientId ?? defaultMqttClientId(db);
  if (clientId.length === 0 || Buffer.byteLength(clientId) > 65535) throw usageError('--mqtt-client-id: expected a non-empty id');
  let ca: string | undefined;
  if (opts.mqttCa !== undefined) {
    try {
      ca = readFileSync(opts.mqttCa, 'utf8');
    } catch (error) {
      throw usageError(`--mqtt-ca ${opts.mqttCa}: ${(error as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw usageError(`--mqtt-ca ${opts.mqttCa}: no PEM certificate in it`);
  }
  return {
    url: opts.mqtt,
    format: opts.mqttFormat,
    topic: opts.mqttTopic,
    share: opts.mqttShare,
    clientId,
    ...(opts.mqttCredentials === undefined ? {} : readMqttCredentials(opts.mqttCredentials)),
    ca,
    holdAcksAfterCommit: env[HOLD_ACKS_ENV] === '1',
  };
}

/** The MQTT flags of `gateway serve` as one option set (commands/gateway.ts). */
export const mqttServeOptions: ServeOptionSet = {
  add: (command) => void addMqttOptions(command),
  apply: (args, options) => {
    options.mqtt = mqttIngestOptions(args as MqttCliOptions, args.db as string);
  },
};
