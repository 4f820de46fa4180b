// MQTT ingest (issue 16) against a real Mosquitto 2 on a loopback port: The Things Stack and
// ChirpStack uplinks are stored once and their second copies recognised as duplicates; bad
// messages are acknowledged, counted and never stop the stream; the link's state shows in
// /healthz and /metrics across a broker restart; two gateways sharing one subscription store each
// frame once between them, one of them stopped and restarted midway; a locked database retried
// unacknowledged; TLS with a private CA, credentials, and a broker granting QoS 0. The crash test
// (gateway killed between commit and PUBACK) is in gateway-mqtt-crash.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, kidOf, linkProfiles, sealRecord, toHex, type SceauRecord } from '@sceau/protocol';
import { mqttSubscription, parseMqttUrl, readMqttUplink, startGateway, Store, topicDevice, type Gateway, type MqttIngestOptions } from '@sceau/host-tools';
import { mosquittoBinary, startMosquitto, type RunningServer } from './helpers/system-servers.js';
import { sceauBin } from './helpers/cli.js';
import { sqliteStore } from './helpers/sqlite-store.js';

const mosquittoPasswdBinary = (): string => join(dirname(mosquittoBinary()).replace(/sbin$/, 'bin'), 'mosquitto_passwd');

const require = createRequire(import.meta.url);
const fixtures = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'test-fixtures', 'lns');
const ttsExample = readFileSync(join(fixtures, 'tts_uplink.json'), 'utf8');
const chirpstackExample = readFileSync(join(fixtures, 'chirpstack_uplink.json'), 'utf8');

const seeds = [0x51, 0x52, 0x53, 0x54].map((b) => new Uint8Array(32).fill(b));
const euis = ['0004a30b001c0531', '0004a30b001c0532', '0004a30b001c0533', '0004a30b001c0534'];
const kids = seeds.map((seed) => toHex(kidOf(getPublicKey(seed))));
const record = (counter: number, value = 2100): SceauRecord => ({ version: 1, counter, time: null, readings: [{ channel: 1, value }] });
/** A frame without kid: the gateway finds the device by the DevEUI the network server names. */
const seal = (device: number, counter: number, value?: number): Uint8Array => sealRecord(record(counter, value), seeds[device]!, { kid: false });
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function ttsUplink(device: number, payload: Uint8Array): string {
  const message = JSON.parse(ttsExample);
  message.end_device_ids.dev_eui = euis[device]!.toUpperCase();
  message.end_device_ids.device_id = `dev${device}`;
  message.uplink_message.frm_payload = b64(payload);
  return JSON.stringify(message);
}
const ttsTopic = (device: number): string => `v3/app1@ttn/devices/dev${device}/up`;

function chirpstackUplink(device: number, payload: Uint8Array, { devEuiInBody = true } = {}): string {
  const event = JSON.parse(chirpstackExample);
  if (devEuiInBody) event.deviceInfo.devEui = euis[device];
  else delete event.deviceInfo.devEui;
  event.data = b64(payload);
  return JSON.stringify(event);
}
const chirpstackTopic = (device: number): string => `application/17c82e96-be03-4f38-aef3-f83d48582d97/device/${euis[device]}/event/up`;

let dir: string;
let broker: RunningServer | undefined;
let publisher: MqttClient | undefined;
const gateways: Gateway[] = [];

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A sample of the Prometheus text, 0 when absent. */
function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function healthz(gw: Gateway): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.addresses.http!.url}/healthz`);
  return { status: res.status, body: await res.json() };
}

async function startMqttGateway(name: string, mqtt: Omit<MqttIngestOptions, 'url' | 'clientId'> & { clientId?: string }, logs: string[] = [], { register = true } = {}): Promise<Gateway> {
  const gw = await startGateway({
    db: join(dir, `${name}.db`),
    http: '127.0.0.1:0',
    mqtt: { url: `mqtt://127.0.0.1:${broker!.port}`, clientId: `sceau-test-${name}`, reconnectMinMs: 100, reconnectMaxMs: 500, ...mqtt },
    log: (m) => logs.push(m),
  });
  gateways.push(gw);
  if (register) seeds.forEach((seed, i) => sqliteStore(gw).addDevice(getPublicKey(seed), { name: `mqtt-${i}`, devEui: euis[i] }));
  await waitFor(async () => (await healthz(gw)).status === 200, `${name} to subscribe`);
  return gw;
}

/** Counters stored for a device, with their outcomes. */
const stored = async (gw: Gateway, device: number): Promise<string[]> =>
  (await gw.store.queryFrames({ kid: kids[device]!, limit: 10_000 })).map((f) => `${f.counter} ${f.outcome}`).sort();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-mqtt-'));
});

afterEach(async () => {
  for (const gw of gateways.splice(0)) await gw.close();
  await publisher?.endAsync();
  await broker?.stop();
  publisher = undefined;
  broker = undefined;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function freshBroker(options: { dir?: string; port?: number } = {}): Promise<void> {
  const started = await startMosquitto(options);
  broker = started;
  publisher = await connectAsync(`mqtt://127.0.0.1:${started.port}`, { clientId: `publisher-${Date.now()}`, reconnectPeriod: 100 });
}

const publish = (topic: string, payload: string | Uint8Array): Promise<unknown> => publisher!.publishAsync(topic, typeof payload === 'string' ? payload : Buffer.from(payload), { qos: 1 });

describe('MQTT ingest from a real Mosquitto', () => {
  it('The Things Stack: each uplink stored once, its second copy a duplicate; fragments per device; garbage acknowledged, counted, and the stream goes on', async () => {
    await freshBroker();
    const logs: string[] = [];
    const gw = await startMqttGateway('tts', { format: 'tts' }, logs);
    const health = await healthz(gw);
    expect(health.body).toMatchObject({ ok: true, links: { mqtt: { up: true, state: 'subscribed', topic: 'v3/+/devices/+/up', clientId: 'sceau-test-tts' } } });

    const one = ttsUplink(0, seal(0, 1));
    await publish(ttsTopic(0), one);
    await publish(ttsTopic(0), 'not json at all');
    await publish(ttsTopic(0), new Uint8Array([0x0a, 0x10, 0x00, 0x01, 0xff, 0x02]));
    await publish(ttsTopic(0), '{"uplink_message": {}}');
    await publish(ttsTopic(0), '');
    await publish(ttsTopic(0), ttsUplink(0, new Uint8Array([0xd2, 0x84, 0x41]))); // not a whole CBOR item: malformed-cbor
    await publish(ttsTopic(0), JSON.stringify({ end_device_ids: { dev_eui: euis[0] }, join_accept: { session_key_id: 'AQ==' } }));
    await publish(ttsTopic(0), one); // the same message again
    // A frame too big for EU868 DR0, in fragments from two devices interleaved: reassembled per device.
    const bigs = [0, 1].map((d) => sealRecord({ version: 1, counter: 2, time: null, readings: Array.from({ length: 6 }, (_, i) => ({ channel: 1, value: 2000 + i, age: 600 * (i + 1) })) }, seeds[d]!, { kid: false }));
    const parts = bigs.map((big) => fragment(big, linkProfiles['lorawan-eu868-dr0']!));
    expect(parts[0]!.length).toBeGreaterThan(1);
    for (let i = 0; i < parts[0]!.length; i++) for (const d of [0, 1]) await publish(ttsTopic(d), ttsUplink(d, parts[d]![i]!));
    await publish(ttsTopic(1), ttsUplink(1, seal(1, 3)));

    await waitFor(() => metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="stored"') === 4, 'four frames stored');
    await waitFor(() => metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="duplicate"') === 1, 'the duplicate');
    expect(await stored(gw, 0)).toEqual(['1 ok', '2 ok']);
    expect(await stored(gw, 1)).toEqual(['2 ok', '3 ok']);
    const text = gw.renderMetrics();
    expect(metric(text, 'sceau_duplicate_deliveries_total', 'transport="mqtt"')).toBe(1);
    expect(metric(text, 'sceau_frames_total', 'outcome="ok",transport="mqtt"')).toBe(4);
    expect(metric(text, 'sceau_frames_total', 'outcome="replay",transport="mqtt"')).toBe(0);
    expect(metric(text, 'sceau_transport_messages_total', 'transport="mqtt",result="refused"')).toBe(5);
    expect(metric(text, 'sceau_transport_messages_total', 'transport="mqtt",result="ignored"')).toBe(1);
    expect(metric(text, 'sceau_transport_messages_total', 'transport="mqtt",result="fragment"')).toBe(2 * (parts[0]!.length - 1));
    expect(metric(text, 'sceau_ingest_errors_total', 'reason="malformed-json",transport="mqtt"')).toBe(2);
    expect(metric(text, 'sceau_ingest_errors_total', 'reason="bad-uplink",transport="mqtt"')).toBe(1);
    expect(metric(text, 'sceau_ingest_errors_total', 'reason="empty-message",transport="mqtt"')).toBe(1);
    expect(metric(text, 'sceau_ingest_errors_total', 'reason="malformed-cbor",transport="mqtt"')).toBe(1);
    expect(metric(text, 'sceau_link_up', 'transport="mqtt"')).toBe(1);
    expect(logs.filter((l) => l.includes('message refused'))).toHaveLength(5);
    expect(logs.join('\n')).not.toContain('not json at all'); // said what, never echoed
  });

  it('ChirpStack: the DevEUI from the body or the topic; second copies are duplicates; a Protobuf payload names the setting to change', async () => {
    await freshBroker();
    const logs: string[] = [];
    const gw = await startMqttGateway('chirpstack', { format: 'chirpstack' }, logs);
    const a = chirpstackUplink(2, seal(2, 1));
    const b = chirpstackUplink(3, seal(3, 1), { devEuiInBody: false });
    await publish(chirpstackTopic(2), a);
    // What ChirpStack publishes with its Protobuf marshaler: binary, not JSON.
    await publish(chirpstackTopic(2), new Uint8Array([0x0a, 0x24, 0x33, 0x61, 0x63, 0x37, 0x00, 0x12, 0x99, 0x01]));
    await publish(chirpstackTopic(3), b);
    await publish(chirpstackTopic(2), a);
    await publish(chirpstackTopic(3), b);
    await publish(chirpstackTopic(2), JSON.stringify({ deviceInfo: { devEui: euis[2] }, deduplicationId: 'x' })); // no uplink data: ignored
    await publish(chirpstackTopic(2), chirpstackUplink(2, seal(2, 2)));
    await waitFor(() => metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="stored"') === 3, 'three frames stored');
    await waitFor(() => metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="duplicate"') === 2, 'two duplicates');
    expect(await stored(gw, 2)).toEqual(['1 ok', '2 ok']);
    expect(await stored(gw, 3)).toEqual(['1 ok']);
    const text = gw.renderMetrics();
    expect(metric(text, 'sceau_ingest_errors_total', 'reason="chirpstack-protobuf",transport="mqtt"')).toBe(1);
    expect(metric(text, 'sceau_transport_messages_total', 'transport="mqtt",result="ignored"')).toBe(1);
    expect(logs.find((l) => l.includes('chirpstack-protobuf'))).toMatch(/\[integration\.mqtt\] json=true/);
    const frames = await gw.store.queryFrames({ kid: kids[3]!, limit: 10 });
    expect(frames[0]!.source).toBe(`mqtt:deveui:${euis[3]}`);
  });

  it('reconnects with back-off after the broker restarts; /healthz and /metrics show the link down, then up; the session kept what was published meanwhile', async () => {
    const brokerDir = mkdtempSync(join(tmpdir(), 'sceau-mosquitto-keep-'));
    try {
      await freshBroker({ dir: brokerDir });
      const port = broker!.port;
      const logs: string[] = [];
      const gw = await startMqttGateway('reconnect', { format: 'tts' }, logs);
      await publish(ttsTopic(0), ttsUplink(0, seal(0, 1)));
      await waitFor(async () => (await stored(gw, 0)).length === 1, 'the first frame');
      await publisher!.endAsync();
      await broker!.stop();
      await waitFor(async () => (await healthz(gw)).status === 503, '/healthz to report the link down');
      const down = await healthz(gw);
      expect(down.body.ok).toBe(false);
      expect(down.body.degraded).toMatch(/^mqtt-(offline|connecting)$/);
      expect(down.body.links.mqtt.up).toBe(false);
      expect(metric(gw.renderMetrics(), 'sceau_link_up', 'transport="mqtt"')).toBe(0);
      // Down for a while: several attempts, each failing.
      await new Promise((r) => setTimeout(r, 1_000));
      await freshBroker({ dir: brokerDir, port });
      await waitFor(async () => (await healthz(gw)).status === 200, 'the link to come back');
      const text = gw.renderMetrics();
      expect(metric(text, 'sceau_link_up', 'transport="mqtt"')).toBe(1);
      expect(metric(text, 'sceau_link_connects_total', 'transport="mqtt"')).toBe(2);
      expect(metric(text, 'sceau_link_disconnects_total', 'transport="mqtt"')).toBe(1);
      expect(logs.some((l) => l.includes('connection to 127.0.0.1') && l.includes('lost'))).toBe(true);
      expect(logs.some((l) => l.includes('reconnected (session kept)'))).toBe(true);
      await publish(ttsTopic(0), ttsUplink(0, seal(0, 2)));
      await waitFor(async () => (await stored(gw, 0)).length === 2, 'a frame after the reconnection');

      // Gateway away, broker up: the persistent session queues what is published meanwhile.
      await gw.close();
      gateways.splice(gateways.indexOf(gw), 1);
      await publish(ttsTopic(0), ttsUplink(0, seal(0, 3)));
      const again = await startGateway({ db: join(dir, 'reconnect.db'), http: '127.0.0.1:0', mqtt: { url: `mqtt://127.0.0.1:${port}`, clientId: 'sceau-test-reconnect', format: 'tts' }, log: () => undefined });
      gateways.push(again);
      await waitFor(async () => (await stored(again, 0)).length === 3, 'the frame published while the gateway was away');
      expect(await stored(again, 0)).toEqual(['1 ok', '2 ok', '3 ok']);
    } finally {
      rmSync(brokerDir, { recursive: true, force: true });
    }
  });

  it('a database locked by another process: the message is not acknowledged but tried again, and stored once the lock is released', async () => {
    await freshBroker();
    const logs: string[] = [];
    const gw = await startMqttGateway('locked', { format: 'chirpstack' }, logs);
    const other = new Database(join(dir, 'locked.db'));
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    try {
      await publish(chirpstackTopic(0), chirpstackUplink(0, seal(0, 1)));
      await publish(chirpstackTopic(1), chirpstackUplink(1, seal(1, 1)));
      await waitFor(() => metric(gw.renderMetrics(), 'sceau_ingest_errors_total', 'reason="store-unavailable",transport="mqtt"') >= 2, 'two refused tries');
      expect(logs.some((l) => l.includes('not stored (store-unavailable') && l.includes('not acknowledged, trying again'))).toBe(true);
      expect(metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="stored"')).toBe(0);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    await waitFor(() => metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="stored"') === 2, 'both frames once the lock is released');
    expect(await stored(gw, 0)).toEqual(['1 ok']);
    expect(await stored(gw, 1)).toEqual(['1 ok']);
    expect(metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="refused"')).toBe(0);
  });

  it('two gateways sharing one subscription ($share/GROUP/...) store each frame once between them', async () => {
    await freshBroker();
    const first = await startMqttGateway('share-a', { format: 'tts', share: 'sceau' });
    const second = await startMqttGateway('share-b', { format: 'tts', share: 'sceau' });
    expect((await healthz(first)).body.links.mqtt.topic).toBe('$share/sceau/v3/+/devices/+/up');
    const PER_DEVICE = 10;
    for (let c = 1; c <= PER_DEVICE; c++) for (let d = 0; d < seeds.length; d++) await publish(ttsTopic(d), ttsUplink(d, seal(d, c)));
    const total = PER_DEVICE * seeds.length;
    const count = (gw: Gateway): number => metric(gw.renderMetrics(), 'sceau_transport_messages_total', 'transport="mqtt",result="stored"');
    await waitFor(() => count(first) + count(second) === total, `${total} frames stored between the two`);
    await new Promise((r) => setTimeout(r, 300)); // nothing more arrives
    expect(count(first) + count(second)).toBe(total);
    expect(count(first)).toBeGreaterThan(0);
    expect(count(second)).toBeGreaterThan(0);
    const together = async (a: Gateway, b: Gateway, upTo: number): Promise<void> => {
      for (let d = 0; d < seeds.length; d++) expect([...(await stored(a, d)), ...(await stored(b, d))].sort()).toEqual(Array.from({ length: upTo }, (_, i) => `${i + 1} ok`).sort());
    };
    await together(first, second, PER_DEVICE);

    // One member away: Mosquitto keeps handing it its share, queued in its session, and delivers
    // it when the member comes back (shared subscriptions spread the load; they are not fail-over).
    await second.close();
    gateways.splice(gateways.indexOf(second), 1);
    const before = count(first);
    for (let c = PER_DEVICE + 1; c <= 2 * PER_DEVICE; c++) for (let d = 0; d < seeds.length; d++) await publish(ttsTopic(d), ttsUplink(d, seal(d, c)));
    await waitFor(() => count(first) - before > 0, 'the first gateway to store its share');
    await new Promise((r) => setTimeout(r, 500));
    expect(count(first) - before).toBeLessThan(total); // the rest waits in the absent member's session
    const back = await startMqttGateway('share-b', { format: 'tts', share: 'sceau' }, [], { register: false });
    await waitFor(async () => (await Promise.all(seeds.map(async (_, d) => (await stored(first, d)).length + (await stored(back, d)).length))).every((n) => n === 2 * PER_DEVICE), 'the queued share after the member is back');
    await together(first, back, 2 * PER_DEVICE);
  });
});

describe('credentials, TLS and QoS 0', () => {
  /** A CA and a certificate for 127.0.0.1 signed by it, and a password file with one user, in `at`. */
  function makeSecrets(at: string): void {
    const run = (cmd: string, args: string[]): void => {
      const r = spawnSync(cmd, args, { cwd: at, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    };
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=sceau-test-ca']);
    run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(at, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
    run('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext']);
    run(mosquittoPasswdBinary(), ['-b', '-c', 'passwd', 'sceau', 'right-password']);
    // Mosquitto drops to its own user: it must read these.
    for (const f of ['server.key', 'server.crt', 'passwd']) chmodSync(join(at, f), 0o644);
  }

  it('mqtts:// with --mqtt-ca and --mqtt-credentials (the CLI); a wrong password or an untrusted certificate is reported in /healthz and retried', async () => {
    const brokerDir = mkdtempSync(join(tmpdir(), 'sceau-mosquitto-tls-'));
    try {
      makeSecrets(brokerDir);
      broker = await startMosquitto({ dir: brokerDir, extraConfig: [`certfile ${brokerDir}/server.crt`, `keyfile ${brokerDir}/server.key`, `password_file ${brokerDir}/passwd`, 'allow_anonymous false'] });
      const url = `mqtts://127.0.0.1:${broker!.port}`;
      const ca = readFileSync(join(brokerDir, 'ca.crt'));
      publisher = await connectAsync(url, { ca, username: 'sceau', password: 'right-password', clientId: 'tls-publisher' });

      const credentials = join(dir, 'mqtt-credentials.json');
      writeFileSync(credentials, JSON.stringify({ username: 'sceau', password: 'right-password' }), { mode: 0o600 });
      const child = spawn(process.execPath, [sceauBin, 'gateway', 'serve', '--db', join(dir, 'tls.db'), '--http', '127.0.0.1:0', '--json', '--mqtt', url, '--mqtt-format', 'tts', '--mqtt-ca', join(brokerDir, 'ca.crt'), '--mqtt-credentials', credentials], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        const http = await new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { listening: { http: { url: string } } }).listening.http.url));
          child.once('exit', () => reject(new Error(`gateway exited: ${stderr}`)));
        });
        await waitFor(async () => (await fetch(`${http}/healthz`)).status === 200, 'the TLS gateway to subscribe');
        const store = Store.open(join(dir, 'tls.db'));
        store.addDevice(getPublicKey(seeds[0]!), { name: 'tls', devEui: euis[0] });
        store.close();
        await publish(ttsTopic(0), ttsUplink(0, seal(0, 1)));
        await waitFor(async () => /sceau_transport_messages_total\{transport="mqtt",result="stored"\} 1/.test(await (await fetch(`${http}/metrics`)).text()), 'the frame over TLS');
        expect(stderr).not.toContain('right-password');
      } finally {
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }

      const logs: string[] = [];
      const wrong = await startGateway({ db: join(dir, 'tls-wrong.db'), http: '127.0.0.1:0', mqtt: { url, format: 'tts', clientId: 'sceau-test-wrong', ca, username: 'sceau', password: 'wrong-password', reconnectMinMs: 100, reconnectMaxMs: 200 }, log: (m) => logs.push(m) });
      gateways.push(wrong);
      await waitFor(() => logs.filter((l) => /Not authorized|Bad user name or password/i.test(l)).length >= 2, 'two refused attempts');
      const refused = await healthz(wrong);
      expect(refused.status).toBe(503);
      expect(refused.body.links.mqtt.detail).toMatch(/Not authorized|Bad user name or password/i);

      const untrusting = await startGateway({ db: join(dir, 'tls-untrusted.db'), http: '127.0.0.1:0', mqtt: { url, format: 'tts', clientId: 'sceau-test-untrusted', username: 'sceau', password: 'right-password', reconnectMinMs: 100, reconnectMaxMs: 200 }, log: () => undefined });
      gateways.push(untrusting);
      await waitFor(async () => /certificate/i.test((await healthz(untrusting)).body.links.mqtt.detail ?? ''), 'the certificate error');
      expect((await healthz(untrusting)).status).toBe(503);
    } finally {
      rmSync(brokerDir, { recursive: true, force: true });
    }
  });

  it('warns when the broker grants only QoS 0 (as The Things Stack does)', async () => {
    broker = await startMosquitto({ extraConfig: ['max_qos 0'] });
    publisher = await connectAsync(`mqtt://127.0.0.1:${broker!.port}`, { clientId: 'qos0-publisher' });
    const logs: string[] = [];
    const gw = await startMqttGateway('qos0', { format: 'tts' }, logs);
    expect(logs.find((l) => l.includes('granted QoS 0'))).toMatch(/lost .*docs\/integrators\.md#mqtt-delivery/);
    await publisher!.publishAsync(ttsTopic(0), ttsUplink(0, seal(0, 1)), { qos: 0 });
    await waitFor(async () => (await stored(gw, 0)).length === 1, 'a QoS 0 uplink');
  });
});

describe('reading MQTT messages (no broker)', () => {
  it('servers: mqtt:// and mqtts:// with their default ports, IPv6; anything else, or credentials in the URL, refused', () => {
    expect(parseMqttUrl('mqtt://broker.example')).toEqual({ protocol: 'mqtt', host: 'broker.example', port: 1883 });
    expect(parseMqttUrl('mqtts://broker.example')).toEqual({ protocol: 'mqtts', host: 'broker.example', port: 8883 });
    expect(parseMqttUrl('mqtt://[::1]:1884')).toEqual({ protocol: 'mqtt', host: '::1', port: 1884 });
    expect(() => parseMqttUrl('ws://broker.example')).toThrow(/expected mqtt:\/\/ or mqtts:\/\//);
    expect(() => parseMqttUrl('mqtt://user:secret@broker.example')).toThrow(/credentials do not belong in the URL/);
    expect(() => parseMqttUrl('mqtt://broker.example/path')).toThrow(/no path/);
    expect(() => parseMqttUrl('broker.example:1883')).toThrow(RangeError);
  });

  it('topics: the default of each format, shared when asked; the device a topic names', () => {
    expect(mqttSubscription({ format: 'tts' })).toBe('v3/+/devices/+/up');
    expect(mqttSubscription({ format: 'chirpstack', share: 'g' })).toBe('$share/g/application/+/device/+/event/up');
    expect(mqttSubscription({ format: 'tts', topic: 'v3/app1/devices/+/up', share: 'g' })).toBe('$share/g/v3/app1/devices/+/up');
    expect(topicDevice('tts', 'v3/app1@ttn/devices/dev-7/up')).toEqual({ name: 'tts/app1@ttn/dev-7' });
    expect(topicDevice('chirpstack', 'application/abc/device/0004A30B001C0531/event/up')).toEqual({ name: 'chirpstack/abc/0004a30b001c0531', devEui: '0004A30B001C0531' });
    expect(topicDevice('chirpstack', 'application/abc/device/not-an-eui/event/up')).toEqual({ name: 'chirpstack/abc/not-an-eui' });
    expect(topicDevice('tts', 'somewhere/else')).toBeUndefined();
  });

  it('messages: an uplink keyed by its DevEUI, else by the device its topic names; refusals name their reason', () => {
    const frame = seal(0, 9);
    const noEui = JSON.parse(ttsUplink(0, frame));
    delete noEui.end_device_ids.dev_eui;
    const byTopic = readMqttUplink('tts', ttsTopic(0), Buffer.from(JSON.stringify(noEui)));
    expect(byTopic).toMatchObject({ kind: 'uplink', deviceId: undefined, key: 'tts/app1@ttn/dev0' });
    const byBody = readMqttUplink('tts', ttsTopic(0), Buffer.from(ttsUplink(0, frame)));
    expect(byBody).toMatchObject({ kind: 'uplink', deviceId: `deveui:${euis[0]}`, key: `deveui:${euis[0]}` });
    expect(Buffer.from((byBody as { datagram: Uint8Array }).datagram)).toEqual(Buffer.from(frame));
    expect(readMqttUplink('chirpstack', chirpstackTopic(1), new Uint8Array([0x0a, 0x02, 0x00, 0x01]))).toMatchObject({ kind: 'refused', reason: 'chirpstack-protobuf' });
    expect(readMqttUplink('tts', ttsTopic(0), new Uint8Array([0x0a, 0x02, 0x00, 0x01]))).toMatchObject({ kind: 'refused', reason: 'malformed-json' });
    expect(readMqttUplink('tts', ttsTopic(0), Buffer.from('{"uplink_message": {"frm_payload": "@@@"}}'))).toMatchObject({ kind: 'refused', reason: 'bad-uplink' });
    expect(readMqttUplink('tts', ttsTopic(0), new Uint8Array(0))).toMatchObject({ kind: 'refused', reason: 'empty-message' });
  });
});
