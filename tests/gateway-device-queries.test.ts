// The gateway's HTTP queries take the same device references as the CLI (kid, DevEUI, name),
// through the registry's one resolver, follow a device across a key rotation, and answer 400 for
// a device or an outcome code they do not know (an empty list would read as "no frames").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';
import { startGateway, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const oldSeed = new Uint8Array(32).fill(61);
const newSeed = new Uint8Array(32).fill(62);
const strangerSeed = new Uint8Array(32).fill(63);
const oldKid = toHex(kidOf(getPublicKey(oldSeed)));
const newKid = toHex(kidOf(getPublicKey(newSeed)));
const strangerKid = toHex(kidOf(getPublicKey(strangerSeed)));
const DEV_EUI = '70b3d57ed0000061';

let dir: string;
let gw: Gateway;
let base: string;

const frame = (seed: Uint8Array, counter: number): Uint8Array => sealRecord({ version: 1, counter, time: 1700000000 + counter, readings: [{ channel: 1, value: 2100 }] }, seed);

async function post(body: Uint8Array): Promise<string> {
  const res = await fetch(`${base}/v1/frames`, { method: 'POST', body, headers: { 'content-type': 'application/cose' } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { code: string }).code;
}

async function get(path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path);
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-gw-refs-'));
  gw = await startGateway({ db: join(dir, 'gateway.db'), http: '127.0.0.1:0', log: () => undefined });
  base = gw.addresses.http!.url;
  sqliteStore(gw).addDevice(getPublicKey(oldSeed), { name: 'silo-4', devEui: DEV_EUI });
  expect(await post(frame(oldSeed, 1))).toBe('ok');
  sqliteStore(gw).registry.rotate('silo-4', getPublicKey(newSeed));
  expect(await post(frame(oldSeed, 2))).toBe('key-revoked');
  expect(await post(frame(newSeed, 1))).toBe('ok');
  expect(await post(frame(strangerSeed, 1))).toBe('unknown-kid');
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/frames?kid=', () => {
  it('takes a name or a DevEUI (every key of the device, across its rotation) or a kid (that key)', async () => {
    for (const ref of ['silo-4', DEV_EUI, '70-B3-D5-7E-D0-00-00-61']) {
      const r = await get(`/v1/frames?kid=${encodeURIComponent(ref)}`);
      expect(r.status).toBe(200);
      expect(r.json.frames.map((f: { kid: string; outcome: string }) => [f.kid, f.outcome])).toEqual([[oldKid, 'ok'], [oldKid, 'key-revoked'], [newKid, 'ok']]);
    }
    const one = await get(`/v1/frames?kid=${oldKid}&outcome=ok`);
    expect(one.json.frames.map((f: { kid: string }) => f.kid)).toEqual([oldKid]);
    // A kid the registry never held, with frames stored: still queryable.
    expect((await get(`/v1/frames?kid=${strangerKid}`)).json.frames).toHaveLength(1);
  });

  it('answers 400 for an unknown device and an unknown outcome code, naming what it knows', async () => {
    const device = await get('/v1/frames?kid=silo-5');
    expect(device.status).toBe(400);
    expect(device.json).toMatchObject({ error: 'unknown-device' });
    expect((await get('/v1/frames?kid=0123456789abcdef')).status).toBe(400);
    const outcome = await get('/v1/frames?outcome=revoked');
    expect(outcome.status).toBe(400);
    expect(outcome.json.detail).toContain('key-revoked');
    expect((await get('/v1/frames?after=ten')).status).toBe(400);
  });
});

describe('GET /v1/devices/:ref', () => {
  it('shows the device with its keys, and readings of every key under its name; 404 for an unknown device', async () => {
    const device = await get('/v1/devices/silo-4');
    expect(device.status).toBe(200);
    expect(device.json).toMatchObject({ kid: newKid, name: 'silo-4', devEui: DEV_EUI, state: 'registered' });
    expect(device.json.keys.map((k: { kid: string; state: string }) => [k.kid, k.state])).toEqual([[oldKid, 'revoked'], [newKid, 'registered']]);
    const readings = await get(`/v1/devices/${DEV_EUI}/readings`);
    expect(readings.json.readings.map((r: { kid: string }) => r.kid)).toEqual([oldKid, newKid]);
    expect((await get('/v1/devices/silo-5')).status).toBe(404);
  });
});
