// The gateway as the simulator and integrators use it: a real listening server on 127.0.0.1,
// real HTTP requests, a real SQLite file, uplinks shaped exactly like the network servers'
// documented examples with a real frame in them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, kidOf, linkProfiles, sealRecord, toHex, type SceauRecord } from '@sceau/protocol';
import { startGateway, Store, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const require = createRequire(import.meta.url);
const fixtures = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'test-fixtures', 'lns');
const ttsExample = readFileSync(join(fixtures, 'tts_uplink.json'), 'utf8');
const chirpstackExample = readFileSync(join(fixtures, 'chirpstack_uplink.json'), 'utf8');

const seed = new Uint8Array(32).map((_, i) => i + 1);
const publicKey = getPublicKey(seed);
const kid = toHex(kidOf(publicKey));
const strangerSeed = new Uint8Array(32).fill(9);
const DEV_EUI = '0004a30b001c0530'; // the TTS example's end device (upper-case there)

function record(counter: number, readings: SceauRecord['readings'] = [{ channel: 1, value: 2150 }], time: number | null = null): SceauRecord {
  return { version: 1, counter, time, readings };
}

let dir: string;
let gw: Gateway;
let base: string;

async function post(path: string, body: Uint8Array | string, type: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(base + path, { method: 'POST', body, headers: { 'content-type': type, ...headers } });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text, headers: res.headers };
}

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(base + path, { headers });
  const text = await res.text();
  return { status: res.status, text, json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-gw-'));
  gw = await startGateway({ db: join(dir, 'gateway.db'), http: '127.0.0.1:0', maxBodyBytes: 4096, log: () => undefined });
  base = gw.addresses.http!.url;
  sqliteStore(gw).addDevice(publicKey, { name: 'field-3', devEui: DEV_EUI });
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/frames', () => {
  it('accepts a raw application/cose frame, stores it, and reports the outcome', async () => {
    const frame = sealRecord(record(1, [{ channel: 1, value: 2150 }, { channel: 5, value: 3300, age: 30 }], 1700000000), seed);
    const r = await post('/v1/frames', frame, 'application/cose');
    expect(r.status).toBe(200);
    expect(r.headers.get('sceau-outcome')).toBe('ok');
    expect(r.json).toMatchObject({ ok: true, code: 'ok', kid, counter: 1, time: 1700000000 });
    expect(r.json.readings).toEqual([
      { channel: 1, name: 'temperature', value: 21.5, unit: 'Cel', raw: 2150, at: 1700000000 },
      { channel: 5, name: 'battery', value: 3.3, unit: 'V', raw: 3300, age: 30, at: 1699999970 },
    ]);
    // Durable before the answer: a separate connection to the file sees it.
    const db = new Database(join(dir, 'gateway.db'), { readonly: true });
    const row = db.prepare('SELECT outcome, kid, counter, raw FROM frames WHERE id = ?').get(r.json.id) as { outcome: string; kid: string; counter: number; raw: Buffer };
    const readings = db.prepare('SELECT name, value, unit, at FROM readings WHERE frame_id = ? ORDER BY channel').all(r.json.id);
    db.close();
    expect(row).toMatchObject({ outcome: 'ok', kid, counter: 1 });
    expect(toHex(new Uint8Array(row.raw))).toBe(toHex(frame));
    expect(readings).toEqual([
      { name: 'temperature', value: 21.5, unit: 'Cel', at: 1700000000 },
      { name: 'battery', value: 3.3, unit: 'V', at: 1699999970 },
    ]);
  });

  it('stores and reports rejected frames too (replay, unknown kid, bad signature); refuses garbage unstored', async () => {
    const frame = sealRecord(record(2), seed);
    expect((await post('/v1/frames', frame, 'application/octet-stream')).json.code).toBe('ok');
    // The same counter with other bytes: a replay (the same bytes again are a duplicate delivery).
    const replay = await post('/v1/frames', sealRecord(record(2, [{ channel: 1, value: 2151 }]), seed), 'application/octet-stream');
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ ok: false, code: 'replay', kid, counter: 2, doc: 'docs/protocol.md#code-replay' });
    expect((await post('/v1/frames', sealRecord(record(1), strangerSeed), 'application/cose')).json.code).toBe('unknown-kid');
    const tampered = sealRecord(record(3), seed);
    tampered[tampered.length - 5]! ^= 0x40;
    expect((await post('/v1/frames', tampered, 'application/cose')).json.code).toBe('bad-signature');
    // Not one CBOR item: refused with its code, and nothing stored (docs/protocol.md#floods).
    const garbage = await post('/v1/frames', new Uint8Array([0xd2, 0xff, 0x00, 0x13]), 'application/cose');
    expect(garbage.status).toBe(400);
    expect(garbage.json).toMatchObject({ ok: false, error: 'malformed-cbor', code: 'malformed-cbor', doc: 'docs/protocol.md#code-malformed-cbor' });
    expect((await get(`/v1/frames?outcome=malformed-cbor`)).json.frames).toEqual([]);
  });

  it('accepts JSON { frame } in base64 or hex, and a batch { frames: [...] }', async () => {
    const a = sealRecord(record(10), seed);
    const one = await post('/v1/frames', JSON.stringify({ frame: Buffer.from(a).toString('base64') }), 'application/json');
    expect(one.json).toMatchObject({ ok: true, counter: 10 });
    const b = sealRecord(record(11), seed);
    const c = sealRecord(record(12), seed);
    const b2 = sealRecord(record(11, [{ channel: 1, value: 1 }]), seed);
    const batch = await post('/v1/frames', JSON.stringify({ frames: [toHex(b), { frame: Buffer.from(c).toString('base64') }, toHex(b2)] }), 'application/json');
    expect(batch.status).toBe(200);
    expect(batch.json.results.map((r: { code: string }) => r.code)).toEqual(['ok', 'ok', 'replay']);
  });

  it('refuses bad requests with a clear error, counts them, and keeps running', async () => {
    const big = await post('/v1/frames', new Uint8Array(5000), 'application/cose');
    expect(big.status).toBe(413);
    expect(big.json.error).toBe('body-too-large');
    // Chunked (no content-length), so the limit is enforced while streaming.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/v1/frames`, { method: 'POST', headers: { 'content-type': 'application/cose', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(new Uint8Array(1000));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await post('/v1/frames', '{"frame": ', 'application/json')).json.error).toBe('malformed-json');
    expect((await post('/v1/frames', '{"nothing": 1}', 'application/json')).status).toBe(400);
    expect((await post('/v1/frames', '{"frame": "%%%"}', 'application/json')).status).toBe(400);
    expect((await post('/v1/frames', 'hello', 'text/plain')).status).toBe(415);
    expect((await post('/v1/frames', new Uint8Array(0), 'application/cose')).status).toBe(400);
    expect((await get('/v1/nowhere')).status).toBe(404);
    expect((await fetch(`${base}/v1/frames`, { method: 'DELETE' })).status).toBe(405);
    expect((await get('/v1/frames?since=yesterday-ish')).status).toBe(400);
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ ok: true });
    const metrics = await get('/metrics');
    expect(metrics.text).toContain('sceau_ingest_errors_total{reason="body-too-large",transport="http"} 2');
    expect(metrics.text).toContain('sceau_ingest_errors_total{reason="malformed-json",transport="http"} 1');
    // What was stored before is still there.
    expect((await get('/v1/frames?outcome=ok&limit=1')).json.frames[0]).toMatchObject({ kid, counter: 1, outcome: 'ok' });
  });
});

describe('network-server webhooks', () => {
  it('The Things Stack v3: the documented uplink message with a real frame (no kid, DevEUI mapped)', async () => {
    const message = JSON.parse(ttsExample);
    message.uplink_message.frm_payload = Buffer.from(sealRecord(record(20, [{ channel: 2, value: 6150 }]), seed, { kid: false })).toString('base64');
    const r = await post('/v1/uplinks/tts', JSON.stringify(message), 'application/json');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, kid, kidInFrame: false, counter: 20, source: `tts:deveui:${DEV_EUI}` });
    // No device clock: dated by the network server's receive time.
    expect(r.json.readings[0]).toMatchObject({ name: 'humidity', value: 61.5, at: Math.floor(Date.parse('2020-02-12T15:15:45.789Z') / 1000) });
    // Other message kinds are acknowledged and ignored.
    const join = await post('/v1/uplinks/tts', JSON.stringify({ end_device_ids: message.end_device_ids, join_accept: { session_key_id: 'x' } }), 'application/json');
    expect(join.status).toBe(202);
    expect((await post('/v1/uplinks/tts', '{"uplink_message": {}}', 'application/json')).status).toBe(400);
  });

  it('ChirpStack v4: the documented up event with a real frame; other events are ignored', async () => {
    const event = JSON.parse(chirpstackExample);
    event.deviceInfo.devEui = DEV_EUI;
    event.data = Buffer.from(sealRecord(record(21), seed, { kid: false })).toString('base64');
    const r = await post('/v1/uplinks/chirpstack?event=up', JSON.stringify(event), 'application/json');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, kid, counter: 21 });
    expect((await post('/v1/uplinks/chirpstack?event=join', '{"deviceInfo": {}}', 'application/json')).status).toBe(204);
    // The example as documented names a device that is not registered.
    const unknown = JSON.parse(chirpstackExample);
    unknown.data = Buffer.from(sealRecord(record(22), seed, { kid: false })).toString('base64');
    expect((await post('/v1/uplinks/chirpstack', JSON.stringify(unknown), 'application/json')).json.code).toBe('unknown-kid');
  });

  it('reassembles a frame sent in LoRaWAN fragments (EU868 DR0) across uplinks', async () => {
    const big = sealRecord(record(23, Array.from({ length: 6 }, (_, i) => ({ channel: 1, value: 2000 + i, age: 600 * (i + 1) }))), seed, { kid: false });
    const parts = fragment(big, linkProfiles['lorawan-eu868-dr0']!);
    expect(parts.length).toBeGreaterThan(1);
    const answers = [];
    for (const part of parts.reverse()) {
      // Out of order on purpose.
      const message = JSON.parse(ttsExample);
      message.uplink_message.frm_payload = Buffer.from(part).toString('base64');
      answers.push(await post('/v1/uplinks/tts', JSON.stringify(message), 'application/json'));
    }
    expect(answers.slice(0, -1).every((a) => a.status === 202)).toBe(true);
    expect(answers.at(-1)!.json).toMatchObject({ ok: true, counter: 23 });
    expect(answers.at(-1)!.json.readings).toHaveLength(6);
  });
});

describe('queries and metrics', () => {
  it('lists devices, readings of a device, and frames by kid / outcome / since', async () => {
    const devices = await get('/v1/devices');
    expect(devices.json.devices).toEqual([expect.objectContaining({ kid, name: 'field-3', devEui: DEV_EUI, revoked: false })]);
    expect((await get(`/v1/devices/${kid}`)).json.highestCounter).toBeGreaterThanOrEqual(23);
    const readings = await get(`/v1/devices/${kid}/readings?since=1699999000&limit=5`);
    expect(readings.json.readings[0]).toMatchObject({ kid, name: 'battery', value: 3.3, unit: 'V', at: 1699999970, time: '2023-11-14T22:12:50.000Z' });
    expect((await get('/v1/devices/0000000000000000/readings')).status).toBe(404);
    const replays = await get(`/v1/frames?kid=${kid}&outcome=replay`);
    expect(replays.json.frames.length).toBeGreaterThanOrEqual(1);
    expect(replays.json.frames.every((f: { outcome: string }) => f.outcome === 'replay')).toBe(true);
    expect((await get(`/v1/frames?since=${Math.floor(Date.now() / 1000) + 3600}`)).json.frames).toEqual([]);
  });

  it('exposes Prometheus text with frames by outcome and the latency histogram', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^sceau_frames_total\{outcome="ok",transport="http"\} \d+$/m);
    expect(text).toMatch(/^sceau_frames_total\{outcome="replay",transport="http"\} [1-9]\d*$/m);
    expect(text).toMatch(/^sceau_frames_total\{outcome="ok",transport="tts"\} [1-9]\d*$/m);
    expect(text).toMatch(/^sceau_ingest_latency_seconds_count [1-9]\d*$/m);
    expect(text).toContain('# TYPE sceau_ingest_latency_seconds histogram');
  });
});

describe('registry changes while the gateway runs', () => {
  it('a device revoked from another process (the CLI) is refused within a second', async () => {
    const otherSeed = new Uint8Array(32).fill(0x21);
    sqliteStore(gw).addDevice(getPublicKey(otherSeed), { name: 'to-revoke' });
    expect((await post('/v1/frames', sealRecord(record(1), otherSeed), 'application/cose')).json.code).toBe('ok');
    const cli = Store.open(join(dir, 'gateway.db'));
    cli.revokeDevice('to-revoke');
    cli.close();
    await new Promise((r) => setTimeout(r, 300));
    expect((await post('/v1/frames', sealRecord(record(2), otherSeed), 'application/cose')).json.code).toBe('key-revoked');
  });
});

describe('bearer token and the in-process API', () => {
  it('requires the token on /v1/ routes when one is set; /healthz stays open', async () => {
    const token = 'a-long-enough-test-token-0123456789';
    const secured = await startGateway({ db: join(dir, 'secured.db'), http: '127.0.0.1:0', token, log: () => undefined });
    try {
      const url = secured.addresses.http!.url;
      const frame = sealRecord(record(1), seed);
      expect((await fetch(`${url}/v1/frames`, { method: 'POST', body: frame, headers: { 'content-type': 'application/cose' } })).status).toBe(401);
      expect((await fetch(`${url}/v1/frames`, { method: 'POST', body: frame, headers: { 'content-type': 'application/cose', authorization: 'Bearer wrong' } })).status).toBe(401);
      const ok = await fetch(`${url}/v1/frames`, { method: 'POST', body: frame, headers: { 'content-type': 'application/cose', authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { code: string }).code).toBe('unknown-kid'); // a different database: the key is not registered there
      expect((await fetch(`${url}/v1/devices`)).status).toBe(401);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await secured.close();
    }
  });

  it('ingests in-process and with signature checks on the thread pool (workers), same outcomes, in arrival order', async () => {
    const db = join(dir, 'workers.db');
    const pooled = await startGateway({ db, workers: 2, log: () => undefined });
    try {
      sqliteStore(pooled).addDevice(publicKey);
      const frames = Array.from({ length: 300 }, (_, i) => sealRecord(record(i + 1), seed));
      const again = [sealRecord(record(8, [{ channel: 1, value: 7 }]), seed), frames[299]!];
      const results = await Promise.all([...frames, ...again].map((f) => pooled.ingest(f, 'in-process')));
      expect(results.slice(0, 300).every((r) => r.ok && r.delivery === 'new')).toBe(true);
      // Other bytes for an accepted counter: a replay; the same bytes again: the original's answer.
      expect(results.slice(300).map((r) => [r.code, r.delivery])).toEqual([['replay', 'new'], ['ok', 'duplicate']]);
      expect(results[301]!.id).toBe(results[299]!.id);
      const stranger = await pooled.ingest(sealRecord(record(1), strangerSeed), { source: 'in-process' });
      expect(stranger.code).toBe('unknown-kid');
      expect((await pooled.store.queryFrames({ outcome: 'ok', limit: 1000 }))).toHaveLength(300);
    } finally {
      await pooled.close();
    }
  });
});

describe('POST /v1/devices (registration)', () => {
  it('registers behind the token, idempotently: 201, 200 for the same again, 409 listing the differences', async () => {
    const token = 'registration-test-token-0123456789abcdef';
    const secured = await startGateway({ db: join(dir, 'register.db'), http: '127.0.0.1:0', token, log: () => undefined });
    try {
      const url = `${secured.addresses.http!.url}/v1/devices`;
      const key = getPublicKey(new Uint8Array(32).fill(0x51));
      const register = (body: unknown, auth = `Bearer ${token}`): Promise<Response> => fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: auth } });
      const body = { publicKey: toHex(key), name: 'meter-1', devEui: '70B3D57ED0000001' };
      expect((await register(body, 'Bearer wrong')).status).toBe(401);
      const created = await register(body);
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ kid: toHex(kidOf(key)), name: 'meter-1', devEui: '70b3d57ed0000001', result: 'created' });
      const again = await register(body);
      expect(again.status).toBe(200);
      expect(((await again.json()) as { result: string }).result).toBe('unchanged');
      const conflict = await register({ ...body, name: 'meter-2' });
      expect(conflict.status).toBe(409);
      expect(await conflict.json()).toMatchObject({ error: 'registration-conflict', differences: [{ field: 'name', registered: 'meter-1', given: 'meter-2' }] });
      expect((await secured.store.getDevice(toHex(kidOf(key))))?.name).toBe('meter-1'); // never applied
      expect((await register({ publicKey: 'zz' })).status).toBe(400);
      // A list in one transaction: all or nothing.
      const other = getPublicKey(new Uint8Array(32).fill(0x52));
      const list = await register({ devices: [{ publicKey: toHex(other), name: 'meter-3' }, { ...body, name: 'meter-9' }] });
      expect(list.status).toBe(409);
      expect(await secured.store.getDevice(toHex(kidOf(other)))).toBeUndefined();
      const ok = await register({ devices: [{ publicKey: toHex(other), name: 'meter-3' }, body] });
      expect(ok.status).toBe(201);
      expect(((await ok.json()) as { results: Array<{ result: string }> }).results.map((r) => r.result)).toEqual(['created', 'unchanged']);
      // Frames of a key registered through the API are accepted at once (the key cache is dropped).
      const frame = sealRecord(record(1), new Uint8Array(32).fill(0x52));
      const res = await fetch(`${secured.addresses.http!.url}/v1/frames`, { method: 'POST', body: frame, headers: { 'content-type': 'application/cose', authorization: `Bearer ${token}` } });
      expect(((await res.json()) as { code: string }).code).toBe('ok');
    } finally {
      await secured.close();
    }
  });
});
