// Bad input on the gateway's HTTP entry points that had no test of their own (issue 19): each
// gets a clear code, nothing is stored (or stored twice), and the process keeps answering.
// A real gateway on 127.0.0.1 with a real SQLite file; every check ends by counting what the
// store holds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, kidOf, linkProfiles, sealRecord, toHex, type SceauRecord } from '@sceau/protocol';
import { DEFAULT_MAX_BATCH, readMqttUplink, startGateway, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const seed = new Uint8Array(32).fill(0x19);
const kid = toHex(kidOf(getPublicKey(seed)));
const DEV_EUI = '70b3d57ed0000019';
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const record = (counter: number): SceauRecord => ({ version: 1, counter, time: null, readings: [{ channel: 1, value: counter }] });

let dir: string;
let gw: Gateway;
let base: string;

async function call(method: string, path: string, body?: string, type = 'application/json'): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, body === undefined ? { method } : { method, body, headers: { 'content-type': type } });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}
const post = (path: string, body: string, type?: string) => call('POST', path, body, type);
const get = (path: string) => call('GET', path);

/** Frames stored so far, by outcome. */
const stored = (): Promise<Record<string, number>> => gw.store.countFramesByOutcome();
const total = async (): Promise<number> => Object.values(await stored()).reduce((a, b) => a + b, 0);

/** The process still answers, and nothing was stored by what came since `before`. */
async function aliveAndUnchanged(before: number): Promise<void> {
  expect((await get('/healthz')).json).toEqual({ ok: true });
  expect(await total()).toBe(before);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-gw-bad-'));
  gw = await startGateway({ db: join(dir, 'gateway.db'), http: '127.0.0.1:0', log: () => undefined });
  base = gw.addresses.http!.url;
  sqliteStore(gw).addDevice(getPublicKey(seed), { name: 'bad-input-1', devEui: DEV_EUI });
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/frames: JSON batches', () => {
  it('a bad item refuses the whole batch with its index, and stores none of it', async () => {
    const before = await total();
    const good = toHex(sealRecord(record(1), seed));
    for (const [bad, detail] of [
      [12, 'frames[1]: expected a JSON object'],
      [null, 'frames[1]: expected a JSON object'],
      [{}, 'frames[1]: no "frame" field'],
    ] as const) {
      const r = await post('/v1/frames', JSON.stringify({ frames: [good, bad, good] }));
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.json, JSON.stringify(bad)).toMatchObject({ error: 'bad-frame-field' });
      expect(r.json.detail).toBe(detail);
    }
    await aliveAndUnchanged(before);
    // The same good frame alone afterwards is stored once, then answered as a duplicate.
    expect((await post('/v1/frames', JSON.stringify({ frames: [good] }))).json.results[0]).toMatchObject({ ok: true, counter: 1 });
    expect((await post('/v1/frames', JSON.stringify({ frames: [good] }))).json.results[0]).toMatchObject({ ok: true, counter: 1, delivery: 'duplicate' });
    expect(await stored()).toEqual({ ok: 1 });
  });

  it(`the batch limit: ${DEFAULT_MAX_BATCH} frames pass the count check, one more is 413 batch-too-large, unstored`, async () => {
    const before = await total();
    const over = await post('/v1/frames', JSON.stringify({ frames: Array.from({ length: DEFAULT_MAX_BATCH + 1 }, (_, i) => toHex(sealRecord(record(100 + i), seed))) }));
    expect(over.status).toBe(413);
    expect(over.json).toEqual({ error: 'batch-too-large', detail: `${DEFAULT_MAX_BATCH + 1} frames in one request, the limit is ${DEFAULT_MAX_BATCH}` });
    await aliveAndUnchanged(before);
    expect((await post('/v1/frames', JSON.stringify({ frames: [] }))).json).toEqual({ results: [] });
    expect((await post('/v1/frames', JSON.stringify({ frames: 'd284' }))).json.error).toBe('bad-frame-field');
    await aliveAndUnchanged(before);
  });
});

describe('POST /v1/uplinks/tts: malformed bodies and invalid fragments', () => {
  const ids = { end_device_ids: { device_id: 'bad-input-1', dev_eui: DEV_EUI.toUpperCase() } };
  const uplink = (frmPayload: string) => JSON.stringify({ ...ids, uplink_message: { f_port: 1, frm_payload: frmPayload, received_at: '2026-12-01T10:00:00Z' } });

  it('refuses what is not a TTS uplink with a code, and stores nothing', async () => {
    const before = await total();
    const cases: Array<[string, string, number, string]> = [
      ['cut JSON', '{"uplink_message": ', 400, 'malformed-json'],
      ['a JSON array', '[1, 2]', 400, 'bad-uplink'],
      ['frm_payload not base64', uplink('%%%'), 400, 'bad-uplink'],
      ['an empty frm_payload', uplink(''), 400, 'bad-uplink'],
      ['a fragment header with nothing after it', uplink(b64(Uint8Array.of(0x00))), 400, 'invalid-fragment'],
    ];
    for (const [name, body, status, error] of cases) {
      const r = await post('/v1/uplinks/tts', body);
      expect(r.status, name).toBe(status);
      expect(r.json.error, name).toBe(error);
      expect(typeof r.json.detail, name).toBe('string');
    }
    expect((await post('/v1/uplinks/tts', 'hello', 'text/plain')).json).toMatchObject({ error: 'malformed-json' });
    await aliveAndUnchanged(before);
  });

  it('a fragment that never completes is held, not stored; the same frame twice is stored once', async () => {
    const before = await total();
    // The first of two fragments only: pending, and nothing stored.
    const frame = sealRecord(record(300), seed, { kid: false });
    const parts = fragment(frame, linkProfiles['lorawan-eu868-dr0']!);
    expect(parts.length).toBeGreaterThan(1);
    expect(await post('/v1/uplinks/tts', uplink(b64(parts[0]!)))).toMatchObject({ status: 202, json: { fragment: 'pending' } });
    await aliveAndUnchanged(before);
    // A whole frame, delivered twice (a network server's retry): one row.
    const whole = sealRecord(record(301), seed, { kid: false });
    expect((await post('/v1/uplinks/tts', uplink(b64(whole)))).json).toMatchObject({ ok: true, kid, counter: 301 });
    expect((await post('/v1/uplinks/tts', uplink(b64(whole)))).json).toMatchObject({ ok: true, counter: 301, delivery: 'duplicate' });
    expect(await total()).toBe(before + 1);
  });
});

describe('POST /v1/uplinks/chirpstack: bad input', () => {
  const up = (data: unknown, devEui: unknown = DEV_EUI) => JSON.stringify({ deviceInfo: { devEui, deviceName: 'bad-input-1' }, fPort: 1, data });

  it('refuses what is not a ChirpStack event with a code, ignores events without data, stores nothing', async () => {
    const before = await total();
    const refused: Array<[string, string, string, number, string]> = [
      ['cut JSON', '{"data": ', 'application/json', 400, 'malformed-json'],
      ['not JSON', 'hello', 'text/plain', 400, 'malformed-json'],
      ['data not base64', up('%%%'), 'application/json', 400, 'bad-uplink'],
    ];
    for (const [name, body, type, status, error] of refused) {
      const r = await post('/v1/uplinks/chirpstack?event=up', body, type);
      expect(r.status, name).toBe(status);
      expect(r.json.error, name).toBe(error);
    }
    // No data (a join, status or log event sent as "up"): acknowledged, nothing to verify.
    expect((await post('/v1/uplinks/chirpstack?event=up', JSON.stringify({ deviceInfo: { devEui: DEV_EUI } }))).status).toBe(202);
    // Events other than "up" are acknowledged and ignored, whatever their body.
    expect((await post('/v1/uplinks/chirpstack?event=status', '{"not": "checked"}')).status).toBe(204);
    await aliveAndUnchanged(before);
  });

  it('a real frame is stored once however often ChirpStack delivers it', async () => {
    const before = await total();
    const frame = sealRecord(record(400), seed, { kid: false });
    expect((await post('/v1/uplinks/chirpstack?event=up', up(b64(frame)))).json).toMatchObject({ ok: true, kid, counter: 400 });
    for (let i = 0; i < 3; i++) expect((await post('/v1/uplinks/chirpstack?event=up', up(b64(frame)))).json).toMatchObject({ delivery: 'duplicate' });
    expect(await total()).toBe(before + 1);
  });
});

describe('DevEUI fields that are not a DevEUI', () => {
  // Rule: a message that names its device by a DevEUI field holding something else is refused
  // with a code (400), never verified as if it named no device (before: ignored, and the frame
  // stored as unknown-kid under the peer's address). Absent fields keep their meaning.
  const frame = (): Uint8Array => sealRecord(record(500), seed, { kid: false });

  it('ChirpStack deviceInfo.devEui, TTS end_device_ids.dev_eui, a JSON frame\'s devEui and ?devEui=: 400 with the field named, nothing stored', async () => {
    const before = await total();
    const bad: Array<[string, string, string, string, string]> = [
      ['chirpstack, not hex', '/v1/uplinks/chirpstack?event=up', JSON.stringify({ deviceInfo: { devEui: 'xyz' }, fPort: 1, data: b64(frame()) }), 'bad-uplink', 'ChirpStack uplink: deviceInfo.devEui "xyz" is not a DevEUI (16 hex digits)'],
      ['chirpstack, 15 digits', '/v1/uplinks/chirpstack?event=up', JSON.stringify({ deviceInfo: { devEui: DEV_EUI.slice(1) }, fPort: 1, data: b64(frame()) }), 'bad-uplink', `ChirpStack uplink: deviceInfo.devEui "${DEV_EUI.slice(1)}" is not a DevEUI (16 hex digits)`],
      ['chirpstack, a number', '/v1/uplinks/chirpstack?event=up', JSON.stringify({ deviceInfo: { devEui: 12 }, fPort: 1, data: b64(frame()) }), 'bad-uplink', 'ChirpStack uplink: deviceInfo.devEui 12 is not a DevEUI (16 hex digits)'],
      ['tts, not hex', '/v1/uplinks/tts', JSON.stringify({ end_device_ids: { dev_eui: 'ZZB3D57ED0000019' }, uplink_message: { frm_payload: b64(frame()) } }), 'bad-uplink', 'TTS uplink: end_device_ids.dev_eui "ZZB3D57ED0000019" is not a DevEUI (16 hex digits)'],
      ['frames, JSON', '/v1/frames', JSON.stringify({ frame: toHex(frame()), devEui: 'nope' }), 'bad-frame-field', '"devEui" "nope" is not a DevEUI (16 hex digits)'],
      ['frames, JSON batch', '/v1/frames', JSON.stringify({ frames: [{ frame: toHex(frame()), devEui: DEV_EUI }, { frame: toHex(frame()), devEui: '0' }] }), 'bad-frame-field', 'frames[1]: "devEui" "0" is not a DevEUI (16 hex digits)'],
    ];
    for (const [name, path, body, error, detail] of bad) {
      const r = await post(path, body);
      expect(r.status, name).toBe(400);
      expect(r.json, name).toEqual({ error, detail });
    }
    const raw = await fetch(`${base}/v1/frames?devEui=xyz`, { method: 'POST', body: Buffer.from(frame()), headers: { 'content-type': 'application/cose' } });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ error: 'bad-query', detail: 'devEui="xyz": not a DevEUI (16 hex digits)' });
    await aliveAndUnchanged(before);
  });

  it('MQTT: the same messages from a broker are refused bad-uplink (acknowledged, counted, not verified)', () => {
    const chirpstack = readMqttUplink('chirpstack', `application/1/device/${DEV_EUI}/event/up`, Buffer.from(JSON.stringify({ deviceInfo: { devEui: 'xyz' }, fPort: 1, data: b64(frame()) })));
    expect(chirpstack).toEqual({ kind: 'refused', reason: 'bad-uplink', detail: 'ChirpStack uplink: deviceInfo.devEui "xyz" is not a DevEUI (16 hex digits)' });
    const tts = readMqttUplink('tts', 'v3/app/devices/bad-input-1/up', Buffer.from(JSON.stringify({ end_device_ids: { dev_eui: 'zz' }, uplink_message: { frm_payload: b64(frame()) } })));
    expect(tts).toMatchObject({ kind: 'refused', reason: 'bad-uplink' });
  });

  it('the same DevEUIs written as users and network servers write them (upper case, separators) are taken; absent, the frame needs its kid', async () => {
    const before = await total();
    const dashed = DEV_EUI.toUpperCase().match(/../g)!.join('-');
    expect((await post('/v1/uplinks/chirpstack?event=up', JSON.stringify({ deviceInfo: { devEui: dashed }, fPort: 1, data: b64(frame()) }))).json).toMatchObject({ ok: true, kid, counter: 500 });
    const raw = await fetch(`${base}/v1/frames?devEui=${DEV_EUI.toUpperCase()}`, { method: 'POST', body: Buffer.from(sealRecord(record(501), seed, { kid: false })), headers: { 'content-type': 'application/cose' } });
    expect(await raw.json()).toMatchObject({ ok: true, kid, counter: 501 });
    // No DevEUI at all (null counts as absent): a frame without kid cannot be attributed.
    expect((await post('/v1/uplinks/chirpstack?event=up', JSON.stringify({ deviceInfo: { devEui: null }, fPort: 1, data: b64(sealRecord(record(502), seed, { kid: false })) }))).json).toMatchObject({ ok: false, code: 'unknown-kid' });
    // `?devEui=` left empty names no device either (a frame with its kid is taken as it is).
    const empty = await fetch(`${base}/v1/frames?devEui=`, { method: 'POST', body: Buffer.from(sealRecord(record(503), seed)), headers: { 'content-type': 'application/cose' } });
    expect(await empty.json()).toMatchObject({ ok: true, kid, counter: 503 });
    expect(await total()).toBe(before + 4);
  });
});

describe('GET queries: bad parameters', () => {
  it('frame and device queries refuse bad parameters with 400 bad-query (or the registry\'s code), and keep answering', async () => {
    const before = await total();
    const bad: Array<[string, number, string]> = [
      ['/v1/frames?limit=0', 400, 'bad-query'],
      ['/v1/frames?limit=-1', 400, 'bad-query'],
      ['/v1/frames?limit=abc', 400, 'bad-query'],
      ['/v1/frames?limit=10001', 400, 'bad-query'],
      ['/v1/frames?outcome=bogus', 400, 'bad-query'],
      ['/v1/frames?after=-3', 400, 'bad-query'],
      ['/v1/frames?after=1e3', 400, 'bad-query'],
      ['/v1/frames?since=2020-13-45', 400, 'bad-query'],
      ['/v1/frames?kid=nobody', 400, 'unknown-device'],
      ['/v1/devices/nobody', 404, 'unknown-device'],
      ['/v1/devices/nobody/readings', 404, 'unknown-device'],
      ['/v1/devices/bad-input-1/readings?since=x', 400, 'bad-query'],
      ['/v1/devices/bad-input-1/readings?limit=0', 400, 'bad-query'],
      ['/v1/devices/%zz', 400, 'bad-path'],
      ['/v1/devices/%E0%A4%A/readings', 400, 'bad-path'],
    ];
    for (const [path, status, error] of bad) {
      const r = await get(path);
      expect(r.status, path).toBe(status);
      expect(r.json.error, path).toBe(error);
      expect(r.json.detail.length, path).toBeGreaterThan(0);
    }
    // The same queries with good values answer.
    expect((await get('/v1/frames?limit=1&outcome=ok&after=0&since=0')).status).toBe(200);
    expect((await get(`/v1/devices/bad-input-1/readings?limit=1&since=0`)).status).toBe(200);
    expect((await get(`/v1/devices/${kid}`)).json).toMatchObject({ kid });
    await aliveAndUnchanged(before);
  });
});
