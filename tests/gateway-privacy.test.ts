// Privacy in the store (issue 17, docs/privacy.md): the gateway verifies and stores record
// version 2 without the owner key, and its database then holds no plaintext of the encrypted
// readings (the SQLite file and its WAL searched byte for byte).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, sealRecordV2, sha256, toHex } from '@sceau/protocol';
import { jsonLines, sceau } from './helpers/cli.js';
import { FrameBatch, startGateway, type Gateway, type Store } from '@sceau/host-tools';
import { RETENTION_BATCH } from '../host-tools/src/store-privacy.js';
import { sqliteStore } from './helpers/sqlite-store.js';

const seed = sha256(new TextEncoder().encode('privacy store test device'));
const contentKey = sha256(new TextEncoder().encode('privacy store test content key'));
const kid = toHex(kidOf(getPublicKey(seed)));
// A reading whose value appears nowhere else: temperature 2137 (21.37 Cel), humidity 4711.
const hidden = [{ channel: 1, value: 2137 }, { channel: 2, value: 4711, age: 30 }];
const frameOf = (counter: number): Uint8Array => sealRecordV2({ counter, time: 1764331200 + counter, readings: [...hidden, { channel: 5, value: 3012 }] }, seed, contentKey);

/** Every encoding of the hidden readings a store could hold: their CBOR (the plaintext), their values in units and raw, as text. */
function plaintextNeedles(): Buffer[] {
  // [[1, 2137], [2, 4711, 30]] and [1, 2137] in CBOR
  return [Buffer.from('828201190859830219126718' + '1e', 'hex'), Buffer.from('8201190859', 'hex'), Buffer.from('21.37'), Buffer.from('2137'), Buffer.from('47.11'), Buffer.from('4711')];
}

/** The needles found in the database file and its WAL (none is the goal). */
function findPlaintext(file: string, needles: Buffer[] = plaintextNeedles()): string[] {
  const found: string[] = [];
  for (const f of [file, `${file}-wal`]) {
    if (!existsSync(f)) continue;
    const bytes = readFileSync(f);
    for (const n of needles) if (bytes.includes(n)) found.push(`${f}: ${n.toString('hex')}`);
  }
  return found;
}

let dir: string;
let gw: Gateway;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-privacy-'));
  gw = await startGateway({ db: join(dir, 'gateway.db'), http: '127.0.0.1:0', log: () => undefined });
  base = gw.addresses.http!.url;
  sqliteStore(gw).addDevice(getPublicKey(seed), { name: 'flat-2' });
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(frame: Uint8Array): Promise<any> {
  const res = await fetch(`${base}/v1/frames`, { method: 'POST', body: frame, headers: { 'content-type': 'application/cose' } });
  return res.json();
}

describe('the gateway stores record version 2 without the owner key', () => {
  it('accepts it (ok, encrypted, readings null), stores the frame whole, its clear readings as readings and the encrypted bytes count', async () => {
    const r = await post(frameOf(1));
    expect(r).toMatchObject({ ok: true, code: 'ok', kid, counter: 1, encrypted: true, readings: null, encryptedBytes: 13 });
    expect(r.clearReadings.map((x: any) => [x.name, x.raw])).toEqual([['battery', 3012]]);
    // a second delivery of the same bytes is answered as the first, still without readings
    const again = await post(frameOf(1));
    expect(again).toMatchObject({ delivery: 'duplicate', encrypted: true, readings: null, id: r.id });
    expect(again.clearReadings.map((x: any) => x.raw)).toEqual([3012]);
    expect((await post(frameOf(2))).code).toBe('ok');
    const db = new Database(join(dir, 'gateway.db'), { readonly: true });
    try {
      expect(db.prepare("SELECT counter, encrypted, length(raw) > 0 AS raw FROM frames WHERE outcome = 'ok' ORDER BY id").all()).toEqual([
        { counter: 1, encrypted: 13, raw: 1 },
        { counter: 2, encrypted: 13, raw: 1 },
      ]);
      expect(db.prepare('SELECT counter, name, raw FROM readings ORDER BY frame_id').all()).toEqual([
        { counter: 1, name: 'battery', raw: 3012 },
        { counter: 2, name: 'battery', raw: 3012 },
      ]);
      const stored = db.prepare<[], { raw: Buffer }>("SELECT raw FROM frames WHERE counter = 1 AND outcome = 'ok'").get()!;
      expect(toHex(new Uint8Array(stored.raw))).toBe(toHex(frameOf(1)));
    } finally {
      db.close();
    }
  });

  it('its database file and WAL hold none of the encrypted readings in clear (the same search finds the clear battery reading)', () => {
    const file = join(dir, 'gateway.db');
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(findPlaintext(file)).toEqual([]);
    // The search finds what is there: the clear battery reading, in its stored JSON form.
    expect(findPlaintext(file, [Buffer.from('3.012')]).length).toBeGreaterThan(0);
  });
});

describe('the console and record version 2', () => {
  it('the fleet gives the last frame\'s encrypted size (shown "encrypted (N bytes)") and its clear readings only', async () => {
    const res = await fetch(`${base}/v1/console/fleet`);
    expect(res.status).toBe(200);
    const { devices } = (await res.json()) as { devices: Array<{ name: string; lastReadings: Array<{ name: string }> }> };
    const device = devices.find((d) => d.name === 'flat-2');
    expect(device).toMatchObject({ lastEncryptedBytes: 13 });
    expect(device?.lastReadings.map((r) => r.name)).toEqual(['battery']);
    const script = await (await fetch(`${base}/console/console.js`)).text();
    expect(script).toContain('encrypted (${bytes} bytes)');
  });
});

describe('sceau devices erase', () => {
  const clearSeed = sha256(new TextEncoder().encode('privacy store test device in clear'));
  const clearKid = toHex(kidOf(getPublicKey(clearSeed)));

  it('deletes a device\'s frames, readings and wrapped key, keeps a tombstone, and leaves no plaintext in the file or WAL', async () => {
    const file = join(dir, 'gateway.db');
    // A device sending record version 1: the same readings, in clear, are then in the database.
    sqliteStore(gw).addDevice(getPublicKey(clearSeed), { name: 'flat-3' });
    for (const counter of [1, 2, 3]) expect((await post(sealRecord({ version: 1, counter, time: 1764331200 + counter, readings: hidden }, clearSeed))).code).toBe('ok');
    expect((await post(sealRecord({ version: 1, counter: 3, time: 1764331203, readings: hidden }, clearSeed))).code).toBe('ok'); // duplicate, not stored again
    expect((await post(sealRecord({ version: 1, counter: 2, time: 1, readings: hidden }, clearSeed))).code).toBe('replay');
    expect(findPlaintext(file).length).toBeGreaterThan(0);
    expect(sceau(['devices', 'erase', 'flat-3', '--db', file]).stderr).toMatch(/erase-unconfirmed/);
    const r = sceau(['devices', 'erase', 'flat-3', '--db', file, '--yes', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.erased).toEqual([{ kid: clearKid, frames: 4, readings: 6, contentKey: false, erasedAt: expect.any(String) }]);
    expect(out.walCheckpointed).toBe(true);
    expect(findPlaintext(file)).toEqual([]);
    const db = new Database(file, { readonly: true });
    try {
      for (const table of ['frames', 'readings', 'replay_windows', 'frame_hours', 'content_keys', 'registry_keys']) {
        expect(db.prepare(`SELECT count(*) AS n FROM ${table} WHERE kid = ?`).get(clearKid), table).toEqual({ n: 0 });
      }
      expect(db.prepare("SELECT count(*) AS n FROM registry_devices WHERE name = 'flat-3'").get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT kid, frames, readings FROM erased_keys').all()).toEqual([{ kid: clearKid, frames: 4, readings: 6 }]);
    } finally {
      db.close();
    }
  });

  it('an erased key is refused for ever: its frames are refused unstored (410 key-erased, counted), adding it again is key-erased', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300)); // the gateway's keyring sees other connections' changes within 250 ms
    const res = await fetch(`${base}/v1/frames`, { method: 'POST', body: sealRecord({ version: 1, counter: 9, time: null, readings: hidden }, clearSeed), headers: { 'content-type': 'application/cose' } });
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ ok: false, code: 'key-erased', stored: false, doc: 'docs/privacy.md#erasure', detail: expect.stringContaining(clearKid) });
    // Data minimisation: nothing of it is stored (its bytes hold its readings in clear), and it is counted.
    expect(await gw.store.queryFrames({ kid: clearKid })).toEqual([]);
    expect(findPlaintext(join(dir, 'gateway.db'))).toEqual([]);
    expect(gw.renderMetrics()).toContain('sceau_ingest_errors_total{reason="key-erased",transport="http"} 1');
    // frame verify --db says so too, and stores nothing
    const verified = sceau(['frame', 'verify', '-', '--db', join(dir, 'gateway.db'), '--json'], toHex(sealRecord({ version: 1, counter: 10, time: null, readings: hidden }, clearSeed)));
    expect(verified.status).toBe(1);
    expect(jsonLines(verified.stdout)[0]).toMatchObject({ ok: false, code: 'key-erased' });
    expect(await gw.store.queryFrames({ kid: clearKid })).toEqual([]);
    // A commit of a frame accepted while the keyring cache still had the key (the 250 ms above): nothing of it is stored either.
    const written = (gw.store as Store).writeBatch(FrameBatch.of([{ raw: Uint8Array.of(1), receivedAt: Date.now(), source: 'test', outcome: 'ok', kid: clearKid, counter: 20, readings: [] }], [[clearKid, { highest: 20, bitmap: '0000000000000001' }]]));
    expect(written.conflicts?.get(0)).toMatchObject({ kind: 'erased' });
    expect(await gw.store.queryFrames({ kid: clearKid })).toEqual([]);
    expect((gw.store as Store).db.prepare('SELECT count(*) AS n FROM replay_windows WHERE kid = ?').get(clearKid)).toEqual({ n: 0 });
    const again = sceau(['devices', 'add', '--db', join(dir, 'gateway.db'), '--public-key', toHex(getPublicKey(clearSeed)), '--json']);
    expect(again.status).toBe(3);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ error: 'key-erased' });
    expect(() => sqliteStore(gw).addDevice(getPublicKey(clearSeed))).toThrow(/erased/);
  });

  it('erasing a device of record version 2 deletes its frames and its wrapped content key', () => {
    const file = join(dir, 'gateway.db');
    sqliteStore(gw).privacy.putWrappedKey({ kid, ownerKeyId: '00'.repeat(8), suite: 'x', enc: 'aa', ciphertext: 'bb' });
    const r = sceau(['devices', 'erase', kid, '--db', file, '--yes']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`erased ${kid}: 2 frames, 2 readings, its wrapped content key\n`);
    expect(sqliteStore(gw).privacy.wrappedKeys().size).toBe(0);
    expect(sqliteStore(gw).privacy.tombstone(kid)).toMatchObject({ frames: 2, readings: 2, contentKey: true });
  });
});

describe('retention (gateway serve --retention, sceau devices retention)', () => {
  const day = 86_400_000;
  const seeds = ['a', 'b', 'c'].map((n) => sha256(new TextEncoder().encode(`retention ${n}`)));
  const kids = seeds.map((s) => toHex(kidOf(getPublicKey(s))));
  let rg: Gateway;
  let file: string;

  beforeAll(async () => {
    file = join(dir, 'retention.db');
    rg = await startGateway({ db: file, retentionMs: 7 * day, retentionSweepMs: 3_600_000, log: () => undefined });
    seeds.forEach((s, i) => sqliteStore(rg).addDevice(getPublicKey(s), { name: `r-${i}` }));
  });
  afterAll(async () => rg?.close());

  it('deletes frames past the gateway\'s retention or their device\'s own, in batches, without holding ingest back', async () => {
    expect(sceau(['devices', 'retention', 'r-1', '1d', '--db', file]).status).toBe(0);
    expect(sceau(['devices', 'retention', 'r-2', '30d', '--db', file]).status).toBe(0);
    expect(sceau(['devices', 'retention', 'r-2', '1x', '--db', file]).stderr).toMatch(/bad-duration/);
    const now = Date.now();
    // Twenty batches: the sweep gives the event loop back between them, so the frame ingested meanwhile is stored before it ends.
    const old = RETENTION_BATCH * 20;
    const frames = [];
    for (let i = 0; i < old; i++) frames.push({ raw: Uint8Array.of(1), receivedAt: now - 10 * day, source: 'test', outcome: 'ok', kid: kids[0], counter: i + 1, readings: [] });
    frames.push({ raw: Uint8Array.of(2), receivedAt: now - 2 * day, source: 'test', outcome: 'ok', kid: kids[0], counter: old + 1, readings: [] }); // kept: 2 days < 7
    frames.push({ raw: Uint8Array.of(3), receivedAt: now - 2 * day, source: 'test', outcome: 'ok', kid: kids[1], counter: 1, readings: [] }); // deleted: its own 1 day
    frames.push({ raw: Uint8Array.of(4), receivedAt: now - 10 * day, source: 'test', outcome: 'ok', kid: kids[2], counter: 1, readings: [] }); // kept: its own 30 days
    frames.push({ raw: Uint8Array.of(5), receivedAt: now - 10 * day, source: 'test', outcome: 'unknown-kid', kid: '0011223344556677', counter: 1 }); // deleted: the gateway's
    sqliteStore(rg).writeFrames(frames as never);
    const order: string[] = [];
    const sweep = rg.retention!.sweep().then((r) => (order.push('sweep'), r));
    const ingested = rg.ingest(sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 5, value: 3000 }] }, seeds[1]!), 'test').then((r) => (order.push('ingest'), r));
    const [swept, fresh] = await Promise.all([sweep, ingested]);
    expect(fresh.code).toBe('ok');
    expect(order).toEqual(['ingest', 'sweep']);
    expect(swept.frames).toBe(old + 2);
    const left = await rg.store.queryFrames({ limit: 10_000 });
    expect(left.map((f) => [f.kid, f.counter])).toEqual([[kids[0], old + 1], [kids[2], 1], [kids[1], 1]]);
    expect((await rg.retention!.sweep()).frames).toBe(0);
  });

  it('--retention is parsed by gateway serve; a bad duration is a usage error', () => {
    const r = sceau(['gateway', 'serve', '--db', join(dir, 'x.db'), '--retention', '90 days']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad-duration/);
  });
});

describe('radio metadata', () => {
  it('is not stored: a TTS uplink\'s gateway ids, RSSI, SNR and uplink token leave no trace in the database', async () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'host-tools', 'test-fixtures', 'lns', 'tts_uplink.json'), 'utf8'));
    const devEui = String(fixture.end_device_ids.dev_eui).toLowerCase();
    const radioSeed = sha256(new TextEncoder().encode('radio metadata device'));
    sqliteStore(gw).addDevice(getPublicKey(radioSeed), { name: 'radio-1', devEui });
    fixture.uplink_message.frm_payload = Buffer.from(sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 5, value: 3000 }] }, radioSeed, { kid: false })).toString('base64');
    const res = await fetch(`${base}/v1/uplinks/tts`, { method: 'POST', body: JSON.stringify(fixture), headers: { 'content-type': 'application/json' } });
    expect(((await res.json()) as { code: string }).code).toBe('ok');
    const rx = fixture.uplink_message.rx_metadata[0];
    const needles = [rx.gateway_ids.gateway_id, rx.gateway_ids.eui, rx.uplink_token, '"rssi"', 'snr'].map((t: string) => Buffer.from(String(t)));
    expect(needles[0]!.length).toBeGreaterThan(0);
    expect(findPlaintext(join(dir, 'gateway.db'), needles)).toEqual([]);
  });
});
