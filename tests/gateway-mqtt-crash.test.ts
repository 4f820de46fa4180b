// MQTT ingest across a crash (issue 16): `sceau gateway serve --mqtt` is killed with SIGKILL after
// a message's frame is committed and before its PUBACK is sent (the test hook
// SCEAU_TEST_MQTT_HOLD_ACKS=1 holds PUBACKs back once the frame is committed, and says so on
// stderr). After a restart with the same client id and database, the broker delivers that message
// again: it is answered `duplicate`, not stored twice, not a `replay`, and what was published
// meanwhile is stored. A later SIGKILL after acknowledgement loses nothing either.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPublicKey, sealRecord } from '@sceau/protocol';
import { Store } from '@sceau/host-tools';
import { startMosquitto, type RunningServer } from './helpers/system-servers.js';
import { sceauBin } from './helpers/cli.js';

const require = createRequire(import.meta.url);
const fixtures = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'test-fixtures', 'lns');
const ttsExample = readFileSync(join(fixtures, 'tts_uplink.json'), 'utf8');

const seed = new Uint8Array(32).fill(0x61);
const DEV_EUI = '0004a30b001c0561';
const TOPIC = 'v3/app1@ttn/devices/crash/up';

function uplink(counter: number): string {
  const message = JSON.parse(ttsExample);
  message.end_device_ids.dev_eui = DEV_EUI;
  message.uplink_message.frm_payload = Buffer.from(sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 + counter }] }, seed, { kid: false })).toString('base64');
  return JSON.stringify(message);
}

let dir: string;
let dbFile: string;
let broker: RunningServer;
let publisher: MqttClient;
const children: ChildProcess[] = [];

interface Running {
  child: ChildProcess;
  http: string;
  stderr: string[];
  exited: Promise<void>;
}

function startGatewayProcess(env: Record<string, string> = {}): Promise<Running> {
  const args = ['gateway', 'serve', '--db', dbFile, '--http', '127.0.0.1:0', '--json', '--mqtt', `mqtt://127.0.0.1:${broker.port}`, '--mqtt-format', 'tts', '--mqtt-client-id', 'sceau-crash-test'];
  const child = spawn(process.execPath, [sceauBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const { listening } = JSON.parse(line) as { listening: { http: { url: string }; mqtt: { url: string } } };
      expect(listening.mqtt.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
      resolve({ child, http: listening.http.url, stderr, exited });
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening: ${stderr.join('\n')}`)));
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const subscribed = async (g: Running): Promise<boolean> => (await fetch(`${g.http}/healthz`)).status === 200;

async function metric(g: Running, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${g.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Every stored frame of the device, read from the file as a separate process would. */
function storedFrames(): Array<{ counter: number; outcome: string }> {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare('SELECT counter, outcome FROM frames ORDER BY id').all() as Array<{ counter: number; outcome: string }>;
  } finally {
    db.close();
  }
}

async function kill(g: Running): Promise<void> {
  g.child.kill('SIGKILL');
  await g.exited;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-mqtt-crash-'));
  dbFile = join(dir, 'crash.db');
  const store = Store.open(dbFile);
  store.addDevice(getPublicKey(seed), { name: 'crash', devEui: DEV_EUI });
  store.close();
  broker = await startMosquitto();
  publisher = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'crash-publisher' });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await publisher?.endAsync();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('a gateway killed between commit and PUBACK: the redelivery is a duplicate, stored once; nothing acknowledged or published meanwhile is lost', async () => {
  const publish = (counter: number): Promise<unknown> => publisher.publishAsync(TOPIC, uplink(counter), { qos: 1 });

  // 1. Committed, PUBACK held back, killed. The message after it waits behind it, unprocessed.
  const first = await startGatewayProcess({ SCEAU_TEST_MQTT_HOLD_ACKS: '1' });
  await waitFor(() => subscribed(first), 'the first gateway to subscribe');
  await publish(1);
  await waitFor(() => first.stderr.some((l) => l.includes('test hook') && l.includes('committed (new)')), 'the commit of counter 1');
  await publish(2);
  await new Promise((r) => setTimeout(r, 200));
  expect(storedFrames()).toEqual([{ counter: 1, outcome: 'ok' }]);
  await kill(first);

  // 2. Published while no gateway runs: queued in the persistent session.
  await publish(3);

  // 3. Restarted on the same client id and database: counter 1 comes again and is recognised.
  const second = await startGatewayProcess();
  await waitFor(() => storedFrames().length === 3, 'counters 2 and 3');
  await waitFor(async () => (await metric(second, 'sceau_transport_messages_total', 'transport="mqtt",result="duplicate"')) === 1, 'the redelivery of counter 1');
  expect(storedFrames()).toEqual([1, 2, 3].map((counter) => ({ counter, outcome: 'ok' })));
  expect(await metric(second, 'sceau_duplicate_deliveries_total', 'transport="mqtt"')).toBe(1);
  expect(await metric(second, 'sceau_transport_messages_total', 'transport="mqtt",result="stored"')).toBe(2);
  expect(await metric(second, 'sceau_frames_total', 'outcome="replay",transport="mqtt"')).toBe(0);

  // 4. Acknowledged, then killed: after a restart nothing is lost and nothing is stored again.
  await publish(4);
  await waitFor(() => storedFrames().length === 4, 'counter 4');
  await new Promise((r) => setTimeout(r, 500)); // its PUBACK on the wire
  await kill(second);
  const third = await startGatewayProcess();
  await waitFor(() => subscribed(third), 'the third gateway to subscribe');
  await publish(5);
  await waitFor(() => storedFrames().length === 5, 'counter 5');
  expect(storedFrames()).toEqual([1, 2, 3, 4, 5].map((counter) => ({ counter, outcome: 'ok' })));
  expect(await metric(third, 'sceau_duplicate_deliveries_total', 'transport="mqtt"')).toBe(0);
  third.child.kill('SIGTERM');
  await third.exited;
  expect(third.child.exitCode).toBe(0);
}, 180_000); // three gateway processes started on a shared, loaded machine

it('refuses a credentials file readable by others, and credentials in the URL', async () => {
  const credentials = join(dir, 'mqtt.json');
  writeFileSync(credentials, JSON.stringify({ username: 'u', password: 'p' }), { mode: 0o644 });
  const run = (extra: string[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [sceauBin, 'gateway', 'serve', '--db', dbFile, '--http', '127.0.0.1:0', '--mqtt-format', 'tts', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('exit', (code) => resolve({ code, stderr }));
    });
  const readable = await run(['--mqtt', `mqtt://127.0.0.1:${broker.port}`, '--mqtt-credentials', credentials]);
  expect(readable.code).toBe(2);
  expect(readable.stderr).toMatch(/MQTT credentials file .* is readable by group or others \(mode 0644\); run: chmod 600/);
  const inUrl = await run(['--mqtt', `mqtt://u:p@127.0.0.1:${broker.port}`]);
  expect(inUrl.code).toBe(2);
  expect(inUrl.stderr).toMatch(/credentials do not belong in the URL/);
  const noFormat = await run(['--mqtt', `mqtt://127.0.0.1:${broker.port}`, '--mqtt-format', 'xml']);
  expect(noFormat.code).toBe(2);
});
