// Radio metadata and data minimisation (issue 17, docs/privacy.md#radio-metadata): the gateway
// stores the gateways, RSSI, SNR and locations network servers report with an uplink only when
// started with --keep-radio-metadata. Without it the database holds none of it (the SQLite file
// and its WAL searched byte for byte); with it, /v1/frames and export show it, a fragmented
// frame keeps each uplink's entry, malformed metadata never costs a frame, and erasure and
// retention take it with the frame. The field names are those of the network servers'
// documented examples (host-tools/test-fixtures/lns, SOURCES.md there).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, kidOf, linkProfiles, sealRecord, sha256, toHex } from '@sceau/protocol';
import { FragmentRadio, MAX_RECEPTIONS, readChirpstackRadio, readMqttUplink, readTtsRadio, SCHEMA_VERSION, startGateway, type Gateway } from '@sceau/host-tools';
import { connectAsync } from 'mqtt';
import pg from 'pg';
import { sceau } from './helpers/cli.js';
import { startGatewayProcess } from './helpers/gateway-process.js';
import { startMosquitto, startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';

const require = createRequire(import.meta.url);
const fixtures = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'test-fixtures', 'lns');
const ttsExample = readFileSync(join(fixtures, 'tts_uplink.json'), 'utf8');
const chirpstackExample = readFileSync(join(fixtures, 'chirpstack_uplink.json'), 'utf8');

const seedOf = (name: string): Uint8Array => sha256(new TextEncoder().encode(`radio metadata ${name}`));
const devices = ['tts', 'chirpstack', 'fragments', 'erased', 'mqtt-tts', 'mqtt-chirpstack'] as const;
const euis: Record<(typeof devices)[number], string> = { tts: '70b3d57ed0000001', chirpstack: '70b3d57ed0000002', fragments: '70b3d57ed0000003', erased: '70b3d57ed0000004', 'mqtt-tts': '70b3d57ed0000005', 'mqtt-chirpstack': '70b3d57ed0000006' };
const kidOfDevice = (d: (typeof devices)[number]): string => toHex(kidOf(getPublicKey(seedOf(d))));
const seal = (d: (typeof devices)[number], counter: number, readings = [{ channel: 1, value: 2150 }]): Uint8Array => sealRecord({ version: 1, counter, time: 1764331200 + counter, readings }, seedOf(d), { kid: false });
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Gateway ids no other part of a stored frame contains: what the byte search looks for. */
const TTS_GATEWAY = 'coverage-probe-gtw-7';
const TTS_GATEWAY_EUI = 'B827EBFFFE8A11C7';
const CS_GATEWAY = 'a84041fffe1c2d3e';

/** The documented TTS uplink, for device `d`, heard by two gateways, the second with a location. */
function ttsUplink(d: (typeof devices)[number], payload: Uint8Array, gatewayId = TTS_GATEWAY): Record<string, any> {
  const message = JSON.parse(ttsExample);
  message.end_device_ids.dev_eui = euis[d].toUpperCase();
  message.uplink_message.frm_payload = b64(payload);
  message.uplink_message.rx_metadata[0].gateway_ids = { gateway_id: gatewayId, eui: TTS_GATEWAY_EUI };
  message.uplink_message.rx_metadata.push({ gateway_ids: { gateway_id: 'rooftop-2' }, rssi: -97, channel_rssi: -97, snr: -3.25, location: { latitude: 48.85837, longitude: 2.294481, altitude: 35, source: 'SOURCE_REGISTRY' }, uplink_token: 'AAAA' });
  return message;
}

/** The documented ChirpStack uplink event, for device `d`, its gateway with a location. */
function chirpstackUplink(d: (typeof devices)[number], payload: Uint8Array): Record<string, any> {
  const event = JSON.parse(chirpstackExample);
  event.deviceInfo.devEui = euis[d];
  event.data = b64(payload);
  event.rxInfo[0].gatewayId = CS_GATEWAY;
  event.rxInfo[0].location = { latitude: 52.3740364, longitude: 4.9144401, altitude: 10.5 };
  return event;
}

/** What the gateway keeps of ttsUplink (the documented one's settings: 868.3 MHz, SF7 at 125 kHz). */
const TTS_RADIO = {
  gateways: [
    { gatewayId: TTS_GATEWAY, gatewayEui: TTS_GATEWAY_EUI, rssi: -35, channelRssi: -35, snr: 5 },
    { gatewayId: 'rooftop-2', rssi: -97, channelRssi: -97, snr: -3.25, location: { latitude: 48.85837, longitude: 2.294481, altitude: 35 } },
  ],
  frequency: 868300000,
  bandwidth: 125000,
  spreadingFactor: 7,
};
const CS_RADIO = { gateways: [{ gatewayId: CS_GATEWAY, rssi: -36, snr: 10.5, location: { latitude: 52.3740364, longitude: 4.9144401, altitude: 10.5 } }], frequency: 867100000, bandwidth: 125000, spreadingFactor: 11 };

/** Needles of radio metadata: found in the database file or its WAL. */
function findInDatabase(file: string, needles: string[]): string[] {
  const found: string[] = [];
  for (const f of [file, `${file}-wal`]) {
    if (!existsSync(f)) continue;
    const bytes = readFileSync(f);
    for (const n of needles) if (bytes.includes(Buffer.from(n))) found.push(`${f}: ${n}`);
  }
  return found;
}
const RADIO_NEEDLES = [TTS_GATEWAY, TTS_GATEWAY_EUI, 'rooftop-2', CS_GATEWAY, '"rssi"', '"snr"', '48.85837', '52.3740364'];

let dir: string;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-radio-'));
});

async function startWithDevices(name: string, keepRadioMetadata: boolean, extra: Record<string, unknown> = {}): Promise<{ gw: Gateway; base: string; file: string }> {
  const file = join(dir, `${name}.db`);
  const gw = await startGateway({ db: file, http: '127.0.0.1:0', keepRadioMetadata, log: () => undefined, ...extra });
  for (const d of devices) await gw.store.registry.register(getPublicKey(seedOf(d)), { name: d, devEui: euis[d] });
  return { gw, base: gw.addresses.http!.url, file };
}

const postJson = async (base: string, path: string, body: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: res.status === 204 ? undefined : await res.json() };
};
const framesOf = async (base: string, d: (typeof devices)[number]): Promise<any[]> => ((await (await fetch(`${base}/v1/frames?kid=${d}`)).json()) as { frames: any[] }).frames;

describe('reading radio metadata from the documented uplinks', () => {
  it('The Things Stack: rx_metadata (ids, RSSI, channel RSSI, SNR, location) and settings (frequency as a string, LoRa bandwidth and SF)', () => {
    expect(readTtsRadio(JSON.parse(ttsExample))).toEqual({ radio: { gateways: [{ gatewayId: 'gtw1', gatewayEui: '9C5C8E00001A05C4', rssi: -35, channelRssi: -35, snr: 5 }], frequency: 868300000, bandwidth: 125000, spreadingFactor: 7 }, ignored: 0 });
    expect(readTtsRadio(ttsUplink('tts', seal('tts', 1)))).toEqual({ radio: TTS_RADIO, ignored: 0 });
  });

  it('ChirpStack v4: rxInfo (gatewayId, RSSI, SNR, location) and txInfo (frequency, modulation.lora)', () => {
    expect(readChirpstackRadio(JSON.parse(chirpstackExample))).toEqual({ radio: { gateways: [{ gatewayId: '0016c001f153a14c', rssi: -36, snr: 10.5 }], frequency: 867100000, bandwidth: 125000, spreadingFactor: 11 }, ignored: 0 });
    expect(readChirpstackRadio(chirpstackUplink('chirpstack', seal('chirpstack', 1)))).toEqual({ radio: CS_RADIO, ignored: 0 });
  });

  it('malformed parts are left out and counted, never thrown: wrong types, out of range, too long, too many gateways', () => {
    const message = ttsUplink('tts', seal('tts', 1));
    message.uplink_message.rx_metadata = [
      'not an object',
      null,
      { gateway_ids: { gateway_id: 'ok-gw' }, rssi: '-40', snr: 1e9, location: { latitude: 91, longitude: 2 } },
      { gateway_ids: 'x', rssi: -50, channel_rssi: Number.MAX_VALUE, location: { latitude: 10 } },
      { gateway_ids: { gateway_id: 'x'.repeat(65), eui: 'has spaces' } },
    ];
    message.uplink_message.settings = { frequency: '-1', data_rate: { lora: { bandwidth: 'wide', spreading_factor: 99 } } };
    const read = readTtsRadio(message);
    // 2 entries not objects; rssi string, snr and latitude out of range; gateway_ids and channel_rssi; id too long, eui with spaces; frequency, bandwidth, SF.
    expect(read).toEqual({ radio: { gateways: [{ gatewayId: 'ok-gw' }, { rssi: -50, location: { latitude: 10, longitude: 0 } }] }, ignored: 12 });
    expect(readChirpstackRadio({ rxInfo: 'nope', txInfo: [] })).toEqual({ radio: undefined, ignored: 2 });
    expect(readChirpstackRadio({ txInfo: { frequency: 868.1, modulation: { lora: { bandwidth: 125000, spreadingFactor: 7.5 } } } })).toEqual({ radio: { gateways: [], bandwidth: 125000 }, ignored: 2 });
    expect(readTtsRadio('not even an object')).toEqual({ radio: undefined, ignored: 0 });
    const crowd = { uplink_message: { rx_metadata: Array.from({ length: MAX_RECEPTIONS + 6 }, (_, i) => ({ gateway_ids: { gateway_id: `gw-${i}` }, rssi: -100 })) } };
    const many = readTtsRadio(crowd);
    expect(many.radio!.gateways).toHaveLength(MAX_RECEPTIONS);
    expect(many.ignored).toBe(6);
  });

  it('fragments: one entry per uplink, first fragment first; held at most maxMessages and never past the expiry', () => {
    const radio = new FragmentRadio(1000, 2);
    const uplink = (id: string) => ({ gateways: [{ gatewayId: id }] });
    const frameOf3 = { kind: 'frame' as const, frame: new Uint8Array(0), fragments: 3 };
    // Tag 1, fragments 2, 1, 0 (header 0 TTT NNNN): pending, pending, then the frame.
    expect(radio.track(Uint8Array.of(0x12, 1), 'dev', false, { kind: 'pending' }, uplink('first'), 0)).toBeUndefined();
    expect(radio.track(Uint8Array.of(0x11, 1), 'dev', false, { kind: 'pending' }, undefined, 10)).toBeUndefined();
    expect(radio.track(Uint8Array.of(0x11, 1), 'dev', false, { kind: 'duplicate' }, uplink('repeat'), 20)).toBeUndefined();
    expect(radio.track(Uint8Array.of(0x10, 1), 'dev', false, frameOf3, uplink('last'), 30)).toEqual([uplink('first'), uplink('last')]);
    expect(radio.size).toBe(0);
    // A whole frame: its one uplink.
    expect(radio.track(Uint8Array.of(0xd2), 'dev', false, { kind: 'frame', frame: Uint8Array.of(0xd2), fragments: 1 }, uplink('whole'), 40)).toEqual([uplink('whole')]);
    // Three messages pending, at most two held: the least recently touched leaves.
    for (const [tag, sender] of [[2, 'a'], [3, 'b'], [4, 'c']] as const) radio.track(Uint8Array.of((tag << 4) | 1, 1), sender, false, { kind: 'pending' }, uplink(sender), 50);
    expect(radio.size).toBe(2);
    expect(radio.track(Uint8Array.of(0x20, 1), 'a', false, { kind: 'frame', frame: new Uint8Array(0), fragments: 2 }, uplink('a0'), 60)).toEqual([uplink('a0')]);
    // Past the expiry, what was held belongs to a message the reassembler gave up.
    expect(radio.track(Uint8Array.of(0x30, 1), 'b', false, { kind: 'frame', frame: new Uint8Array(0), fragments: 2 }, uplink('b0'), 50 + 1001)).toEqual([uplink('b0')]);
    expect(radio.track(Uint8Array.of(0x40, 1), 'c', false, { kind: 'frame', frame: new Uint8Array(0), fragments: 2 }, uplink('c0'), 60)).toEqual([uplink('c'), uplink('c0')]);
  });

  it('MQTT messages: read only when asked', () => {
    const payload = new TextEncoder().encode(JSON.stringify(chirpstackUplink('chirpstack', seal('chirpstack', 1))));
    const topic = `application/app/device/${euis.chirpstack}/event/up`;
    const without = readMqttUplink('chirpstack', topic, payload);
    expect(without.kind).toBe('uplink');
    expect('radio' in without).toBe(false);
    expect(readMqttUplink('chirpstack', topic, payload, true)).toMatchObject({ kind: 'uplink', radio: CS_RADIO, radioIgnored: 0 });
  });
});

describe('without --keep-radio-metadata (the default)', () => {
  it('stores the frames of TTS and ChirpStack uplinks and none of their radio metadata: not in /v1/frames, export, nor anywhere in the file and WAL', async () => {
    const { gw, base, file } = await startWithDevices('default', false);
    try {
      expect((await postJson(base, '/v1/uplinks/tts', ttsUplink('tts', seal('tts', 1)))).json).toMatchObject({ ok: true, code: 'ok', counter: 1 });
      expect((await postJson(base, '/v1/uplinks/chirpstack?event=up', chirpstackUplink('chirpstack', seal('chirpstack', 1)))).json).toMatchObject({ ok: true, counter: 1 });
      for (const d of ['tts', 'chirpstack'] as const) {
        const frames = await framesOf(base, d);
        expect(frames).toHaveLength(1);
        expect(frames[0]).not.toHaveProperty('radio');
      }
      const db = new Database(file, { readonly: true });
      try {
        expect(db.prepare('SELECT count(*) AS n, count(radio) AS radio FROM frames').get()).toEqual({ n: 2, radio: 0 });
      } finally {
        db.close();
      }
      expect(findInDatabase(file, RADIO_NEEDLES)).toEqual([]);
      // The search finds what is there: the device's DevEUI, in the frame's source.
      expect(findInDatabase(file, [`deveui:${euis.tts}`]).length).toBeGreaterThan(0);
      const exported = sceau(['export', '--db', file]);
      expect(exported.status).toBe(0);
      expect(JSON.parse(exported.stdout)).toHaveLength(2);
      expect(exported.stdout).not.toContain('radio');
    } finally {
      await gw.close();
    }
  });
});

describe('with --keep-radio-metadata', () => {
  let gw: Gateway;
  let base: string;
  let file: string;
  beforeAll(async () => {
    ({ gw, base, file } = await startWithDevices('kept', true, { retentionMs: 400 * 24 * 3600 * 1000 }));
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('stores each uplink\'s metadata with its frame: /v1/frames and export json show it', async () => {
    expect((await postJson(base, '/v1/uplinks/tts', ttsUplink('tts', seal('tts', 1)))).json).toMatchObject({ ok: true, counter: 1 });
    expect((await postJson(base, '/v1/uplinks/chirpstack?event=up', chirpstackUplink('chirpstack', seal('chirpstack', 1, [{ channel: 1, value: 2150 }, { channel: 2, value: 4400 }])))).json).toMatchObject({ ok: true, counter: 1 });
    expect((await framesOf(base, 'tts'))[0].radio).toEqual([TTS_RADIO]);
    expect((await framesOf(base, 'chirpstack'))[0].radio).toEqual([CS_RADIO]);
    expect(findInDatabase(file, [TTS_GATEWAY, CS_GATEWAY]).length).toBeGreaterThan(0);
    const exported = JSON.parse(sceau(['export', '--db', file, '--kid', 'chirpstack']).stdout);
    expect(exported).toHaveLength(2);
    for (const row of exported) expect(row.radio).toEqual([CS_RADIO]);
    // CSV keeps its columns.
    expect(sceau(['export', '--db', file, '--kid', 'chirpstack', '--format', 'csv']).stdout.split('\r\n')[0]).toBe('time,at,kid,device,counter,channel,name,value,unit,raw');
  });

  it('a frame reassembled from fragments keeps one entry per uplink, first fragment first, whatever their order of arrival', async () => {
    const big = seal('fragments', 1, Array.from({ length: 6 }, (_, i) => ({ channel: 1, value: 2000 + i, age: 600 * (i + 1) })));
    const parts = fragment(big, linkProfiles['lorawan-eu868-dr0']!);
    expect(parts.length).toBeGreaterThan(2);
    const answers = [];
    for (let i = parts.length - 1; i >= 0; i--) answers.push(await postJson(base, '/v1/uplinks/tts', ttsUplink('fragments', parts[i]!, `fragment-gw-${i}`)));
    expect(answers.slice(0, -1).every((a) => a.status === 202)).toBe(true);
    expect(answers.at(-1)!.json).toMatchObject({ ok: true, counter: 1 });
    const radio = (await framesOf(base, 'fragments'))[0].radio;
    expect(radio.map((u: any) => u.gateways[0].gatewayId)).toEqual(parts.map((_, i) => `fragment-gw-${i}`));
  });

  it('malformed metadata never fails a good frame: stored with what was readable, counted in /metrics', async () => {
    const message = ttsUplink('tts', seal('tts', 2));
    message.uplink_message.rx_metadata = [{ gateway_ids: { gateway_id: 'half-broken' }, rssi: 'loud', snr: 7 }, 42];
    message.uplink_message.settings = 'nonsense';
    expect((await postJson(base, '/v1/uplinks/tts', message)).json).toMatchObject({ ok: true, counter: 2 });
    const event = chirpstackUplink('chirpstack', seal('chirpstack', 2));
    event.rxInfo = { not: 'a list' };
    event.txInfo = null;
    expect((await postJson(base, '/v1/uplinks/chirpstack', event)).json).toMatchObject({ ok: true, counter: 2 });
    expect((await framesOf(base, 'tts')).find((f) => f.counter === 2).radio).toEqual([{ gateways: [{ gatewayId: 'half-broken', snr: 7 }] }]);
    expect((await framesOf(base, 'chirpstack')).find((f) => f.counter === 2)).not.toHaveProperty('radio');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('sceau_radio_metadata_ignored_total{transport="http"} 5');
  });

  it('the library: ingest options carry it (one entry per uplink), stored whatever the outcome', async () => {
    const radio = [{ gateways: [{ gatewayId: 'library-gw', rssi: -80 }], spreadingFactor: 9 }];
    const accepted = await gw.ingest(sealRecord({ version: 1, counter: 3, time: null, readings: [{ channel: 1, value: 2000 }] }, seedOf('tts')), { source: 'lib', radio, receivedAt: Date.parse('2021-06-01T00:00:00Z') });
    expect(accepted.code).toBe('ok');
    const refused = await gw.ingest(sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, seedOf('not registered')), { source: 'lib', radio, receivedAt: Date.parse('2021-06-01T00:00:00Z') });
    expect(refused.code).toBe('unknown-kid');
    const frames = await gw.store.queryFrames({ afterId: accepted.id - 1 });
    expect(frames.filter((f) => f.source === 'lib').map((f) => [f.outcome, f.radio])).toEqual([['ok', radio], ['unknown-kid', radio]]);
  });

  it('erasure deletes it with the device\'s frames: none left in the file or the WAL', async () => {
    expect((await postJson(base, '/v1/uplinks/tts', ttsUplink('erased', seal('erased', 1), 'erased-device-gw'))).json).toMatchObject({ ok: true });
    expect(findInDatabase(file, ['erased-device-gw'])).not.toEqual([]);
    const erasure = await gw.store.privacy!.erase('erased');
    expect(erasure.tombstones[0]).toMatchObject({ frames: 1 });
    expect(erasure.walCheckpointed).toBe(true);
    expect(findInDatabase(file, ['erased-device-gw'])).toEqual([]);
    // The other devices' metadata stays.
    expect(findInDatabase(file, [TTS_GATEWAY]).length).toBeGreaterThan(0);
  });

  it('retention deletes it with the frames it expires', async () => {
    // The documented uplinks were received in 2020 and 2022 (their received_at / time): all older than 400 days.
    const db = new Database(file, { readonly: true });
    const countRadio = (): number => (db.prepare('SELECT count(*) AS n FROM frames WHERE radio IS NOT NULL').get() as { n: number }).n;
    try {
      expect(countRadio()).toBeGreaterThan(0);
      const swept = await gw.retention!.sweep();
      expect(swept.frames).toBeGreaterThan(0);
      expect(countRadio()).toBe(0);
      expect((db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n).toBe(0);
    } finally {
      db.close();
    }
  });
});

describe('sceau gateway serve --keep-radio-metadata', () => {
  it('is the CLI switch: with it the frame row holds the metadata, without it none', async () => {
    const children: ChildProcess[] = [];
    try {
      for (const keep of [false, true]) {
        const db = join(dir, `cli-${keep}.db`);
        expect(sceau(['devices', 'add', '--db', db, '--public-key', toHex(getPublicKey(seedOf('tts'))), '--name', 'tts', '--dev-eui', euis.tts]).status).toBe(0);
        const { port } = await startGatewayProcess(db, children, keep ? ['--keep-radio-metadata'] : []);
        const base = `http://127.0.0.1:${port}`;
        expect((await postJson(base, '/v1/uplinks/tts', ttsUplink('tts', seal('tts', 1)))).json).toMatchObject({ ok: true });
        const frames = await framesOf(base, 'tts');
        if (keep) expect(frames[0].radio).toEqual([TTS_RADIO]);
        else expect(frames[0]).not.toHaveProperty('radio');
      }
    } finally {
      for (const c of children) c.kill('SIGTERM');
    }
  });
});

describe('MQTT (a real Mosquitto) and PostgreSQL', () => {
  it('MQTT: TTS and ChirpStack uplinks keep their metadata with the switch, none without', async () => {
    const broker = await startMosquitto();
    const started: Gateway[] = [];
    const publisher = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'radio-publisher' });
    try {
      const gateways: Record<string, { gw: Gateway; file: string }> = {};
      for (const format of ['tts', 'chirpstack'] as const) {
        for (const keep of [true, false]) {
          const name = `mqtt-${format}-${keep}`;
          const { gw, file } = await startWithDevices(name, keep, { mqtt: { url: `mqtt://127.0.0.1:${broker.port}`, clientId: name, format } });
          started.push(gw);
          gateways[name] = { gw, file };
          await waitFor(async () => (await fetch(`${gw.addresses.http!.url}/healthz`)).status === 200, `${name} to subscribe`);
        }
      }
      await publisher.publishAsync('v3/app1@ttn/devices/dev5/up', JSON.stringify(ttsUplink('mqtt-tts', seal('mqtt-tts', 1))), { qos: 1 });
      await publisher.publishAsync(`application/app/device/${euis['mqtt-chirpstack']}/event/up`, JSON.stringify(chirpstackUplink('mqtt-chirpstack', seal('mqtt-chirpstack', 1))), { qos: 1 });
      const frameOf = async (name: string, d: (typeof devices)[number]): Promise<any> => (await gateways[name]!.gw.store.queryFrames({ kid: kidOfDevice(d) }))[0];
      for (const [name, d] of [['mqtt-tts-true', 'mqtt-tts'], ['mqtt-tts-false', 'mqtt-tts'], ['mqtt-chirpstack-true', 'mqtt-chirpstack'], ['mqtt-chirpstack-false', 'mqtt-chirpstack']] as const) {
        await waitFor(async () => (await frameOf(name, d)) !== undefined, `${name} to store its frame`);
      }
      expect((await frameOf('mqtt-tts-true', 'mqtt-tts')).radio).toEqual([TTS_RADIO]);
      expect((await frameOf('mqtt-chirpstack-true', 'mqtt-chirpstack')).radio).toEqual([CS_RADIO]);
      for (const name of ['mqtt-tts-false', 'mqtt-chirpstack-false']) {
        expect(await frameOf(name, name === 'mqtt-tts-false' ? 'mqtt-tts' : 'mqtt-chirpstack')).not.toHaveProperty('radio');
        expect(findInDatabase(gateways[name]!.file, RADIO_NEEDLES)).toEqual([]);
      }
    } finally {
      await publisher.endAsync();
      for (const gw of started) await gw.close();
      await broker.stop();
    }
  });

  it('PostgreSQL: migration 6 adds frames.radio; the gateway stores it and /v1/frames and the readings give it back', async () => {
    const server = await startPostgres();
    try {
      const url = await freshDatabase(server.url);
      const gw = await startGateway({ db: url, http: '127.0.0.1:0', keepRadioMetadata: true, log: () => undefined });
      try {
        for (const d of ['tts', 'chirpstack'] as const) await gw.store.registry.register(getPublicKey(seedOf(d)), { name: d, devEui: euis[d] });
        const base = gw.addresses.http!.url;
        expect((await postJson(base, '/v1/uplinks/tts', ttsUplink('tts', seal('tts', 1)))).json).toMatchObject({ ok: true });
        expect((await postJson(base, '/v1/uplinks/chirpstack', chirpstackUplink('chirpstack', seal('chirpstack', 1)))).json).toMatchObject({ ok: true });
        expect((await framesOf(base, 'tts'))[0].radio).toEqual([TTS_RADIO]);
        expect((await framesOf(base, 'chirpstack'))[0].radio).toEqual([CS_RADIO]);
        const readings = await gw.store.queryReadings({ kids: [kidOfDevice('chirpstack')], radio: true });
        expect(readings.map((r) => r.radio)).toEqual([[CS_RADIO]]);
        expect((await gw.store.queryReadings({ kids: [kidOfDevice('chirpstack')] }))[0]).not.toHaveProperty('radio');
      } finally {
        await gw.close();
      }
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        expect((await client.query("SELECT value FROM meta WHERE key = 'schema_version'")).rows[0].value).toBe(String(SCHEMA_VERSION));
        expect((await client.query('SELECT count(radio)::int AS n FROM frames')).rows[0].n).toBe(2);
      } finally {
        await client.end();
      }
      // sceau db copy carries it from an SQLite store.
      const { gw: sqlite, base, file } = await startWithDevices('to-copy', true);
      try {
        expect((await postJson(base, '/v1/uplinks/tts', ttsUplink('tts', seal('tts', 1)))).json).toMatchObject({ ok: true });
      } finally {
        await sqlite.close();
      }
      const copyUrl = await freshDatabase(server.url);
      const copy = sceau(['db', 'copy', '--from', file, '--to', copyUrl, '--json']);
      expect(copy.status).toBe(0);
      const copied = new pg.Client({ connectionString: copyUrl });
      await copied.connect();
      try {
        const row = (await copied.query('SELECT radio FROM frames')).rows[0];
        expect(JSON.parse(row.radio)).toEqual([TTS_RADIO]);
      } finally {
        await copied.end();
      }
    } finally {
      await server.stop();
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
