// The console's server side without a browser: the frame_hours summary (schema version 4) and
// its trigger, the fleet's counts, the console's API behind the token, its security headers, the
// live event stream, and where the console is served without a token.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, sealRecord } from '@sceau/protocol';
import { CONSOLE_CSP, consoleServed, exportReadings, FRAME_HOURS_KEPT, SqliteConsoleQueries, startGateway, Store, type Gateway } from '@sceau/host-tools';
import { consoleApiChecks, consoleAuth as auth, fillConsoleFixture, type ConsoleFixture, CONSOLE_TOKEN } from './helpers/console-api-checks.js';

let dir: string;
let gw: Gateway;
let url: string;
let kid: string;
let fx: ConsoleFixture;
const key = new Uint8Array(randomBytes(32));
const frame = (counter: number, secret = key): Uint8Array => sealRecord({ version: 1, counter, time: Math.floor(Date.now() / 1000), readings: [{ channel: 1, value: 2150 }] }, secret);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-console-api-'));
  gw = await startGateway({ db: join(dir, 'g.db'), http: '127.0.0.1:0', token: CONSOLE_TOKEN, log: () => undefined });
  fx = await fillConsoleFixture(gw);
  url = fx.url;
  kid = fx.kid;
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console API on SQLite (checks shared with PostgreSQL)', () => {
  consoleApiChecks(() => fx);
});

describe('frame_hours (schema version 4)', () => {
  it('counts each stored frame under its key, hour and outcome, in the same transaction', () => {
    const rows = (gw.store as Store).db.prepare('SELECT kid, outcome, frames FROM frame_hours ORDER BY kid, outcome').all() as Array<{ kid: string; outcome: string; frames: number }>;
    const total = ((gw.store as Store).db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n;
    expect(rows.reduce((n, r) => n + r.frames, 0)).toBe(total);
    expect(rows.filter((r) => r.kid === kid)).toEqual([
      { kid, outcome: 'bad-signature', frames: 1 },
      { kid, outcome: 'ok', frames: 3 },
    ]);
  });

  it('is filled from the frames already stored when a version-3 store is migrated', () => {
    const file = join(dir, 'v3.db');
    const store = Store.open(file);
    const kid = store.addDevice(getPublicKey(key)).kid;
    store.writeFrames([
      { raw: frame(1), receivedAt: 1_700_000_000_000, source: 't', outcome: 'ok', kid, counter: 1 },
      { raw: frame(2), receivedAt: 1_700_000_001_000, source: 't', outcome: 'ok', kid, counter: 2 },
      { raw: Uint8Array.of(1), receivedAt: 1_700_003_700_000, source: 't', outcome: 'not-sign1' },
    ]);
    // Back to version 3 as an older sceau left it: no frame_hours, no trigger (nor version 5's privacy tables and columns, nor version 6's frames.radio).
    store.db.exec("DROP TRIGGER frame_hours_count; DROP TABLE frame_hours; UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    store.writeFrames([{ raw: frame(3), receivedAt: 1_700_000_002_000, source: 't', outcome: 'ok', kid, counter: 3 }]);
    store.db.exec('DROP TABLE content_keys; DROP TABLE erased_keys; ALTER TABLE frames DROP COLUMN encrypted; ALTER TABLE registry_devices DROP COLUMN retention_ms; ALTER TABLE frames DROP COLUMN radio');
    store.close();
    const again = Store.open(file);
    try {
      expect(again.db.prepare('SELECT hour, kid, outcome, frames, last_at FROM frame_hours ORDER BY hour, kid').all()).toEqual([
        { hour: 472_222, kid, outcome: 'ok', frames: 3, last_at: 1_700_000_002_000 },
        { hour: 472_223, kid: '', outcome: 'not-sign1', frames: 1, last_at: 1_700_003_700_000 },
      ]);
      // A frame a week later: the hours it leaves more than FRAME_HOURS_KEPT behind are dropped.
      again.writeFrames([{ raw: frame(4), receivedAt: 1_700_000_000_000 + FRAME_HOURS_KEPT * 3_600_000, source: 't', outcome: 'ok', kid, counter: 4 }]);
      expect(again.db.prepare('SELECT hour, outcome FROM frame_hours ORDER BY hour').all()).toEqual([
        { hour: 472_223, outcome: 'not-sign1' },
        { hour: 472_222 + FRAME_HOURS_KEPT, outcome: 'ok' },
      ]);
    } finally {
      again.close();
    }
  });
});

describe('SqliteConsoleQueries', () => {
  it('gives each device its last 24 h by code, last seen, highest counter and last readings', async () => {
    const q = new SqliteConsoleQueries(gw.store as Store);
    const fleet = await q.fleet(Date.now());
    const probe = fleet.find((d) => d.kid === kid)!;
    expect(probe).toMatchObject({ name: 'probe', kids: [kid], accepted24h: 3, rejected24h: 1, byCode24h: { 'bad-signature': 1 }, highestCounter: 3, revoked: false });
    expect(Date.now() - probe.lastSeen!).toBeLessThan(60_000);
    // A day later, nothing counts in the last 24 h.
    expect((await q.fleet(Date.now() + 26 * 3_600_000)).find((d) => d.kid === kid)).toMatchObject({ accepted24h: 0, rejected24h: 0 });
    expect((await q.lastReadings([kid])).get(kid)!.map((r) => [r.channel, r.value])).toEqual([[1, 21.5], [5, 3.3], [33, 2]]);
    expect(await q.outcomes24h(Date.now())).toEqual({ ok: 18, 'bad-signature': 1, 'unknown-kid': 1 });
  });
});

describe('the console over HTTP', () => {
  it('serves the page and its assets with a strict CSP and no inline script', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toMatch(/unsafe|http:|https:|\*/);
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // every script is a file
    expect(html).not.toMatch(/\son[a-z]+=|style=/); // no inline handler or style
    for (const asset of ['/console/console.js', '/console/console.css', '/console/favicon.svg']) {
      const res = await fetch(`${url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const js = await (await fetch(`${url}/console/console.js`)).text();
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(js.replaceAll("'http://www.w3.org/2000/svg'", '')).not.toMatch(/https?:\/\//); // nothing from elsewhere (SVG's namespace is a name, not a fetch)
  });

  it('exports a device as `sceau export` does', async () => {
    for (const format of ['csv', 'json', 'senml'] as const) {
      const res = await fetch(`${url}/v1/console/devices/probe/export?format=${format}`, { headers: auth });
      expect(res.status).toBe(200);
      let expected = '';
      await exportReadings(gw.store, format, { kids: [kid] }, new Writable({ write: (chunk, _e, done) => void ((expected += String(chunk)), done()) }));
      expect(await res.text()).toBe(expected);
    }
  });

  it('streams committed frames as server-sent events, with the device name and readings in units', async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/console/live`, { headers: auth, signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await reader.read(); // the opening comment: the stream is registered
    await new Promise((r) => setTimeout(r, 50)); // names read once the stream opened
    const stored = await gw.ingest(fx.frame(4));
    let text = '';
    while (!text.includes('\n\ndata:') && !/data: .*\n\n/.test(text)) text += (await reader.read()).value ?? '';
    controller.abort();
    const events = JSON.parse(/data: (.*)\n\n/.exec(text)![1]!);
    expect(events).toEqual([{ id: stored.id, at: Date.parse(stored.receivedAt), source: 'in-process', code: 'ok', kid, name: 'probe', counter: 4, detail: null, readings: [['temperature', 21.5, 'Cel'], ['battery', 3.3, 'V'], ['readings-dropped', 2, '']], encryptedBytes: null }]);
  });

  it('shows a revocation made by another connection (the CLI) at once, despite the fleet cache', async () => {
    const fleet = async (): Promise<{ revoked: boolean }> => ((await (await fetch(`${url}/v1/console/fleet?q=probe`, { headers: auth })).json()) as { devices: Array<{ revoked: boolean }> }).devices[0]!;
    expect((await fleet()).revoked).toBe(false);
    const other = Store.open(join(dir, 'g.db'));
    try {
      other.revokeDevice('probe');
    } finally {
      other.close();
    }
    expect((await fleet()).revoked).toBe(true);
  });

  it('is served without a token on loopback addresses only, unless --console-public', () => {
    expect(consoleServed('127.0.0.1', false, false)).toBe(true);
    expect(consoleServed('::1', false, false)).toBe(true);
    expect(consoleServed('::ffff:127.0.0.1', false, false)).toBe(true);
    expect(consoleServed('192.0.2.10', false, false)).toBe(false);
    expect(consoleServed('::ffff:192.0.2.10', false, false)).toBe(false);
    expect(consoleServed('192.0.2.10', true, false)).toBe(true);
    expect(consoleServed('192.0.2.10', false, true)).toBe(true);
  });

  it('is not served with --no-console', async () => {
    const plain = await startGateway({ db: ':memory:', http: '127.0.0.1:0', console: false, log: () => undefined });
    try {
      expect((await fetch(`${plain.addresses.http!.url}/`)).status).toBe(404);
      expect((await fetch(`${plain.addresses.http!.url}/v1/console/summary`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});


