// Idempotent ingest on every transport (issue 14): the same bytes again for an accepted
// (kid, counter) get the original verdict and frame id, answered from the store, counted as a
// `duplicate` delivery, never stored twice and never reported `replay`; other bytes with an
// accepted counter stay `replay`. Real sockets on 127.0.0.1, a real SQLite file.
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, kidOf, linkProfiles, sealRecord, toHex, type SceauRecord } from '@sceau/protocol';
import { startGateway, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const require = createRequire(import.meta.url);
const fixtures = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'test-fixtures', 'lns');
const ttsExample = readFileSync(join(fixtures, 'tts_uplink.json'), 'utf8');
const chirpstackExample = readFileSync(join(fixtures, 'chirpstack_uplink.json'), 'utf8');

const seed = new Uint8Array(32).fill(0x44);
const kid = toHex(kidOf(getPublicKey(seed)));
const DEV_EUI = '0004a30b001c0530';
const record = (counter: number, value = 2000): SceauRecord => ({ version: 1, counter, time: null, readings: [{ channel: 1, value }] });

let dir: string;
let gw: Gateway;
let base: string;

async function post(path: string, body: Uint8Array | string, type: string): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, { method: 'POST', body, headers: { 'content-type': type } });
  return { status: res.status, json: await res.json() };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stored frames of a counter, by outcome. */
async function storedOutcomes(counter: number): Promise<string[]> {
  return (await gw.store.queryFrames({ kid, limit: 10_000 })).filter((f) => f.counter === counter).map((f) => f.outcome);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-idem-'));
  gw = await startGateway({ db: join(dir, 'g.db'), http: '127.0.0.1:0', tcp: '127.0.0.1:0', udp: '127.0.0.1:0', log: () => undefined });
  base = gw.addresses.http!.url;
  sqliteStore(gw).addDevice(getPublicKey(seed), { name: 'idem', devEui: DEV_EUI });
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the same bytes again', () => {
  it('HTTP raw: the original verdict and id, stored once; other bytes for the counter are a replay', async () => {
    const frame = sealRecord(record(1), seed);
    const first = await post('/v1/frames', frame, 'application/cose');
    const again = await post('/v1/frames', frame, 'application/cose');
    expect(first.json).toMatchObject({ ok: true, code: 'ok', counter: 1, delivery: 'new' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ ...first.json, delivery: 'duplicate' });
    const other = await post('/v1/frames', sealRecord(record(1, 2001), seed), 'application/cose');
    expect(other.json).toMatchObject({ ok: false, code: 'replay', counter: 1, delivery: 'new' });
    expect((await storedOutcomes(1)).sort()).toEqual(['ok', 'replay']);
  });

  it('HTTP JSON and batch, including a duplicate inside one batch (before the original is committed)', async () => {
    const a = sealRecord(record(2), seed);
    const one = await post('/v1/frames', JSON.stringify({ frame: toHex(a) }), 'application/json');
    const b = sealRecord(record(3), seed);
    const batch = await post('/v1/frames', JSON.stringify({ frames: [toHex(b), toHex(a), toHex(b), toHex(sealRecord(record(3, 7), seed))] }), 'application/json');
    const results = batch.json.results as Array<{ code: string; delivery: string; id: number; receivedAt: string }>;
    expect(results.map((r) => `${r.code} ${r.delivery}`)).toEqual(['ok new', 'ok duplicate', 'ok duplicate', 'replay new']);
    expect(results[1]!.id).toBe(one.json.id);
    expect(results[1]!.receivedAt).toBe(one.json.receivedAt);
    expect(results[2]!.id).toBe(results[0]!.id);
    expect((await storedOutcomes(2))).toEqual(['ok']);
    expect((await storedOutcomes(3)).sort()).toEqual(['ok', 'replay']);
  });

  it('The Things Stack and ChirpStack webhook retries get the original answer', async () => {
    const tts = JSON.parse(ttsExample);
    tts.uplink_message.frm_payload = Buffer.from(sealRecord(record(4), seed, { kid: false })).toString('base64');
    const first = await post('/v1/uplinks/tts', JSON.stringify(tts), 'application/json');
    const retry = await post('/v1/uplinks/tts', JSON.stringify(tts), 'application/json');
    expect(first.json).toMatchObject({ ok: true, counter: 4, delivery: 'new' });
    expect(retry.json).toMatchObject({ ok: true, counter: 4, delivery: 'duplicate', id: first.json.id, readings: first.json.readings });

    const event = JSON.parse(chirpstackExample);
    event.deviceInfo.devEui = DEV_EUI;
    event.data = Buffer.from(sealRecord(record(5), seed, { kid: false })).toString('base64');
    const cs1 = await post('/v1/uplinks/chirpstack?event=up', JSON.stringify(event), 'application/json');
    const cs2 = await post('/v1/uplinks/chirpstack?event=up', JSON.stringify(event), 'application/json');
    expect(cs1.json).toMatchObject({ ok: true, counter: 5, delivery: 'new' });
    expect(cs2.json).toMatchObject({ ok: true, counter: 5, delivery: 'duplicate', id: cs1.json.id });
    expect((await storedOutcomes(4))).toEqual(['ok']);
    expect((await storedOutcomes(5))).toEqual(['ok']);
  });

  it('UDP and TCP: duplicates are counted, not stored; a replay with other bytes is stored as one', async () => {
    const before = gw.metrics.duplicateDeliveries();
    const client = createSocket('udp4');
    const port = gw.addresses.udp!.port;
    const send = (d: Uint8Array): Promise<void> => new Promise((resolve, reject) => client.send(d, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    const u = sealRecord(record(6), seed);
    try {
      await send(u);
      await waitFor(async () => (await storedOutcomes(6)).length === 1);
      await send(u); // after the commit: answered from the store
      await send(u);
      await send(sealRecord(record(6, 9), seed));
      await waitFor(async () => (await storedOutcomes(6)).length === 2 && gw.metrics.duplicateDeliveries() === before + 2);
    } finally {
      client.close();
    }
    expect((await storedOutcomes(6)).sort()).toEqual(['ok', 'replay']);

    const t = sealRecord(record(7), seed);
    const framed = (f: Uint8Array): Buffer => Buffer.concat([Buffer.from([f.length >> 8, f.length & 0xff]), Buffer.from(f)]);
    const socket = connect(gw.addresses.tcp!.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.end(Buffer.concat([framed(t), framed(t), framed(sealRecord(record(7, 9), seed)), framed(t)]));
    await waitFor(async () => (await storedOutcomes(7)).length === 2 && gw.metrics.duplicateDeliveries() === before + 4);
    expect((await storedOutcomes(7)).sort()).toEqual(['ok', 'replay']);

    const metrics = gw.renderMetrics();
    expect(metrics).toMatch(/^sceau_duplicate_deliveries_total\{transport="udp"\} 2$/m);
    expect(metrics).toMatch(/^sceau_duplicate_deliveries_total\{transport="tcp"\} 2$/m);
    expect(metrics).toMatch(/^sceau_duplicate_deliveries_total\{transport="http"\} 3$/m); // raw 1, batch 2
    expect(metrics).toMatch(/^sceau_duplicate_deliveries_total\{transport="tts"\} 1$/m);
    expect(metrics).toMatch(/^sceau_duplicate_deliveries_total\{transport="chirpstack"\} 1$/m);
    // Duplicates are never counted as frames: one ok per counter.
    expect(gw.metrics.framesWithOutcome('ok')).toBe(7);
  });

  it('fragments over HTTP raw, HTTP JSON and a webhook (the shared datagram intake): the frame completed again is a duplicate delivery', async () => {
    const big = (counter: number): Uint8Array[] => {
      const frame = sealRecord({ version: 1, counter, time: null, readings: Array.from({ length: 6 }, (_, i) => ({ channel: 1, value: 2000 + i, age: 600 * (i + 1) })) }, seed, { kid: false });
      const parts = fragment(frame, linkProfiles['lorawan-eu868-dr0']!);
      expect(parts.length).toBeGreaterThan(1);
      return parts;
    };
    const viaRaw = (part: Uint8Array) => post(`/v1/frames?devEui=${DEV_EUI}`, part, 'application/cose');
    const viaJson = (part: Uint8Array) => post('/v1/frames', JSON.stringify({ frame: toHex(part), devEui: DEV_EUI }), 'application/json');
    const viaTts = (part: Uint8Array) => {
      const message = JSON.parse(ttsExample);
      message.uplink_message.frm_payload = Buffer.from(part).toString('base64');
      return post('/v1/uplinks/tts', JSON.stringify(message), 'application/json');
    };
    const reassembledBefore = gw.metrics.fragments.get('reassembled') ?? 0;
    for (const [counter, send] of [[30, viaRaw], [31, viaJson], [32, viaTts]] as const) {
      const parts = big(counter);
      const deliverAll = async () => {
        const answers = [];
        for (const part of parts) answers.push(await send(part));
        expect(answers.slice(0, -1).map((a) => [a.status, a.json.fragment])).toEqual(parts.slice(1).map(() => [202, 'pending']));
        return answers.at(-1)!;
      };
      const first = await deliverAll();
      const again = await deliverAll(); // a network server retrying every uplink of the message
      expect(first.json).toMatchObject({ ok: true, counter, delivery: 'new' });
      expect(again.json).toMatchObject({ ok: true, counter, delivery: 'duplicate', id: first.json.id });
      expect(await storedOutcomes(counter)).toEqual(['ok']);
    }
    // Counted by the one intake as for UDP and TCP: each message reassembled twice per route.
    expect((gw.metrics.fragments.get('reassembled') ?? 0) - reassembledBefore).toBe(6);
  });

  it('the in-process API and a restart: the stored frame answers', async () => {
    const frame = sealRecord(record(8), seed);
    const first = await gw.ingest(frame, 'in-process');
    const again = await gw.ingest(frame, 'in-process');
    expect([first.delivery, again.delivery]).toEqual(['new', 'duplicate']);
    expect(again.id).toBe(first.id);
    const db = join(dir, 'g.db');
    await gw.close();
    gw = await startGateway({ db, http: '127.0.0.1:0', tcp: '127.0.0.1:0', udp: '127.0.0.1:0', log: () => undefined });
    base = gw.addresses.http!.url;
    const after = await gw.ingest(frame, 'in-process');
    expect(after).toMatchObject({ ok: true, code: 'ok', counter: 8, delivery: 'duplicate', id: first.id, receivedAt: first.receivedAt, readings: first.readings });
    expect((await storedOutcomes(8))).toEqual(['ok']);
  });
});
