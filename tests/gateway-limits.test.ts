// The gateway's limits against untrusted input (docs/protocol.md#floods, docs/integrators.md#limits):
// bounded reassembly, garbage and oversized frames refused before the store, slow clients cut
// off, connection caps, a default body that holds the documented batch, and a ChirpStack
// Protobuf body named as such. Real sockets on 127.0.0.1, a real SQLite file.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, linkProfiles, sealRecord, toHex, type SceauRecord } from '@sceau/protocol';
import { DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES, GatewayReassembler, startGateway, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const require = createRequire(import.meta.url);
const fixtures = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'test-fixtures', 'lns');
const bin = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'bin', 'sceau.cjs');

const seed = new Uint8Array(32).fill(0x21);
const strangerSeed = new Uint8Array(32).fill(0x22);
const record = (counter: number, n = 1): SceauRecord => ({ version: 1, counter, time: null, readings: Array.from({ length: n }, (_, i) => ({ channel: 1, value: 1000 + i, ...(i > 0 ? { age: i * 60 } : {}) })) });

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

function fragmentDatagram(tag: number, left: number, hint: number[], length: number, fill = 0x41): Uint8Array {
  const d = new Uint8Array(1 + hint.length + length).fill(fill);
  d[0] = (tag << 4) | left;
  d.set(hint, 1);
  return d;
}

describe('GatewayReassembler', () => {
  it('refuses a fragment longer than any frame, and a message growing past one', () => {
    const r = new GatewayReassembler({ maxFrameBytes: 2048 });
    expect(r.push(fragmentDatagram(1, 3, [], 2049), 0, 'a')).toMatchObject({ kind: 'invalid' });
    expect(r.push(fragmentDatagram(1, 3, [], 1500), 0, 'a')).toEqual({ kind: 'pending' });
    expect(r.push(fragmentDatagram(1, 2, [], 1000), 0, 'a')).toMatchObject({ kind: 'invalid' });
    expect(r.stats()).toMatchObject({ pending: 0, bytes: 0 });
    expect(r.stats().dropped).toMatchObject({ 'fragment-too-large': 1, 'message-too-large': 1 });
  });

  it('keeps the bytes held under its limit, and one origin cannot evict another', () => {
    const r = new GatewayReassembler({ maxFrameBytes: 2048, maxBytes: 64 * 1024, maxPendingPerOrigin: 4 });
    // A victim's first fragment, then a flood from one origin with every hint and tag.
    expect(r.push(fragmentDatagram(0, 1, [], 100), 0, 'victim')).toEqual({ kind: 'pending' });
    for (let i = 0; i < 5000; i++) r.push(fragmentDatagram(i % 8, 15, [], 2000), 1, `flooder:${i >> 3}`, 'flooder');
    expect(r.stats().pending).toBe(5); // the victim's message and the flooder's last four
    expect(r.stats().bytes).toBeLessThanOrEqual(64 * 1024);
    expect(r.stats().dropped['origin-limit']).toBe(4996);
    // Many origins: the bytes held stay under the limit (the oldest messages go first).
    for (let i = 0; i < 200; i++) r.push(fragmentDatagram(0, 15, [], 2000), 2, `o${i}`, `o${i}`);
    expect(r.stats().bytes).toBeLessThanOrEqual(64 * 1024);
    expect(r.stats().dropped['memory-limit']).toBeGreaterThan(0);
  });

  it('still rebuilds a genuine fragmented frame', () => {
    const frame = sealRecord(record(7, 12), seed);
    const parts = fragment(frame, linkProfiles['lorawan-eu868-dr0']!);
    expect(parts.length).toBeGreaterThan(1);
    const r = new GatewayReassembler();
    const results = parts.map((p) => r.push(p, 0, 'deveui:1'));
    expect(results.at(-1)).toMatchObject({ kind: 'frame', fragments: parts.length });
    expect(toHex((results.at(-1) as { frame: Uint8Array }).frame)).toBe(toHex(frame));
    expect(r.stats()).toMatchObject({ pending: 0, bytes: 0 });
  });
});

describe('gateway over UDP, TCP and HTTP', () => {
  let dir: string;
  let gw: Gateway;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sceau-limits-'));
    gw = await startGateway({ db: join(dir, 'g.db'), http: '127.0.0.1:0', tcp: '127.0.0.1:0', udp: '127.0.0.1:0', headersTimeoutMs: 300, bodyTimeoutMs: 400, maxConnections: 8, log: () => undefined });
    base = gw.addresses.http!.url;
    sqliteStore(gw).addDevice(getPublicKey(seed));
  });

  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('UDP: garbage and oversized datagrams are refused unstored and counted; well-formed rejects are stored', async () => {
    const socket = createSocket('udp4');
    const send = (d: Uint8Array): Promise<void> => new Promise((resolve, reject) => socket.send(d, gw.addresses.udp!.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    const big = new Uint8Array(60_000).fill(0xd2);
    await send(big); // a "whole frame" of 60 KB
    await send(fragmentDatagram(2, 14, [0xab, 0xcd], 60_000)); // a 60 KB fragment
    const junk = new Uint8Array(1500).fill(0xff);
    junk[0] = 0xd2;
    await send(junk); // under the size limit, but not CBOR
    await send(sealRecord(record(1), strangerSeed)); // well-formed, unknown kid: kept
    await send(sealRecord(record(2), seed));
    await waitFor(async () => (await gw.store.queryFrames({ limit: 100 })).length === 2 && /reason="malformed-cbor",transport="udp"/.test(gw.renderMetrics()));
    socket.close();
    await gw.drain();
    const stored = (await gw.store.queryFrames({ limit: 100 }));
    expect(stored.map((f) => f.outcome).sort()).toEqual(['ok', 'unknown-kid']);
    const m = gw.renderMetrics();
    expect(metricValue(m, 'sceau_ingest_errors_total{reason="too-large",transport="udp"}')).toBe(2);
    expect(metricValue(m, 'sceau_ingest_errors_total{reason="malformed-cbor",transport="udp"}')).toBe(1);
  });

  it('TCP: an oversized length is skipped unbuffered and the stream goes on; a slow frame is cut off', async () => {
    const before = (await gw.store.queryFrames({ outcome: 'ok', limit: 100 })).length;
    const socket = connect(gw.addresses.tcp!.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const good = sealRecord(record(3), seed);
    socket.write(Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.alloc(0xffff, 0xd2), Buffer.from([0, good.length]), Buffer.from(good)]));
    await waitFor(async () => (await gw.store.queryFrames({ outcome: 'ok', limit: 100 })).length === before + 1);
    expect(metricValue(gw.renderMetrics(), 'sceau_ingest_errors_total{reason="too-large",transport="tcp"}')).toBe(1);
    // Half a frame, then nothing: the connection is closed after the frame timeout (400 ms here).
    const started = Date.now();
    socket.write(Buffer.from([0, 50, 0xd2, 0x84]));
    await new Promise<void>((r) => socket.once('close', () => r()));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(metricValue(gw.renderMetrics(), 'sceau_ingest_errors_total{reason="frame-timeout",transport="tcp"}')).toBe(1);
  });

  it('HTTP: a client that never finishes its headers is disconnected; connections past the cap are closed', async () => {
    const slow: Socket[] = [];
    const closed: Array<Promise<number>> = [];
    const started = Date.now();
    for (let i = 0; i < 12; i++) {
      const s = connect(gw.addresses.http!.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      closed.push(new Promise((r) => s.once('close', () => r(Date.now() - started))));
      s.write('POST /v1/frames HTTP/1.1\r\nhost: x\r\n'); // headers never end
      slow.push(s);
    }
    const times = await Promise.all(closed);
    // 4 past the cap of 8 closed at once; the others after the 300 ms headers timeout (checked twice a second).
    expect(Math.max(...times)).toBeLessThan(5000);
    expect(metricValue(gw.renderMetrics(), 'sceau_ingest_errors_total{reason="connection-limit",transport="http"}')).toBe(4);
    // The gateway still answers.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('HTTP: a body that stops coming is cut off; TCP: connections past the cap are closed', async () => {
    const s = connect(gw.addresses.http!.port, '127.0.0.1');
    s.on('error', () => undefined);
    const started = Date.now();
    let answer = '';
    s.on('data', (c: Buffer) => (answer += c.toString()));
    s.write('POST /v1/frames HTTP/1.1\r\nhost: x\r\ncontent-type: application/cose\r\ncontent-length: 100\r\n\r\n\xd2\x84');
    await new Promise<void>((r) => s.once('close', () => r()));
    expect(Date.now() - started).toBeLessThan(5000); // the request timeout is 400 ms here
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(gw.renderMetrics()).toMatch(/sceau_ingest_errors_total\{reason="request-timeout",transport="http"\} [1-9]/);

    const tcp: Socket[] = [];
    const closedEarly: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) {
      const c = connect(gw.addresses.tcp!.port, '127.0.0.1');
      c.on('error', () => undefined);
      closedEarly.push(new Promise((r) => c.once('close', () => r())));
      tcp.push(c);
    }
    await Promise.race([Promise.all(closedEarly.slice(8)), waitFor(() => /reason="connection-limit",transport="tcp"\} 2/.test(gw.renderMetrics()))]);
    await waitFor(() => /reason="connection-limit",transport="tcp"\} 2/.test(gw.renderMetrics()));
    for (const c of tcp) c.destroy();
  });

  it('HTTP: the default body limit holds a batch of the documented 1,000 frames', async () => {
    const g = await startGateway({ db: ':memory:', http: '127.0.0.1:0', log: () => undefined });
    try {
      sqliteStore(g).addDevice(getPublicKey(seed));
      const frames = Array.from({ length: DEFAULT_MAX_BATCH }, (_, i) => Buffer.from(sealRecord(record(i + 1, 4), seed)).toString('base64'));
      const body = JSON.stringify({ frames });
      expect(body.length).toBeGreaterThan(65_536); // the old default refused it
      expect(body.length).toBeLessThanOrEqual(DEFAULT_MAX_BODY_BYTES);
      const res = await fetch(`${g.addresses.http!.url}/v1/frames`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
      const json = (await res.json()) as { results: Array<{ code: string }> };
      expect(json.results).toHaveLength(1000);
      expect(json.results.every((r) => r.code === 'ok')).toBe(true);
    } finally {
      await g.close();
    }
  });

  it('HTTP: an oversized frame is refused with 413 too-large and not stored', async () => {
    const before = (await gw.store.queryFrames({ limit: 1000 })).length;
    const res = await fetch(`${base}/v1/frames`, { method: 'POST', body: new Uint8Array(3000).fill(0xd2), headers: { 'content-type': 'application/cose' } });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'too-large', doc: 'docs/protocol.md#code-too-large' });
    expect((await gw.store.queryFrames({ limit: 1000 })).length).toBe(before);
    // In a batch, the garbage frame alone is refused; the others are stored and answered (200).
    const good = sealRecord(record(40), seed);
    const batch = await fetch(`${base}/v1/frames`, { method: 'POST', body: JSON.stringify({ frames: [toHex(good), 'd2ff0013'] }), headers: { 'content-type': 'application/json' } });
    expect(batch.status).toBe(200);
    const results = ((await batch.json()) as { results: Array<{ code: string; stored?: boolean }> }).results;
    expect(results.map((r) => r.code)).toEqual(['ok', 'malformed-cbor']);
    expect(results[1]).toMatchObject({ ok: false, stored: false, doc: 'docs/protocol.md#code-malformed-cbor' });
    expect((await gw.store.queryFrames({ limit: 1000 })).length).toBe(before + 1);
  });

  it('ChirpStack with the Protobuf encoding: told to set the encoding to JSON, nothing binary echoed', async () => {
    // A Protobuf-encoded uplink event starts with field tags and lengths: binary bytes.
    const protobuf = Buffer.concat([Buffer.from([0x0a, 0x24]), Buffer.from('c1a0b6f2-2b64-4a8a-9d0a-0b1f5b3e2c11'), Buffer.from([0x12, 0x0b, 0x08, 0x96, 0x01, 0x1a, 0x03, 0x01, 0x02, 0x03])]);
    const res = await fetch(`${base}/v1/uplinks/chirpstack?event=up`, { method: 'POST', body: protobuf, headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status).toBe(415);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: 'chirpstack-protobuf' });
    expect(text).toContain("set the integration's encoding to JSON");
    expect(text).not.toMatch(/[\u0000-\u0008\u000e-\u001f\ufffd]/);
    expect(text).not.toContain('\\u0012');
    // The JSON example still goes through.
    const json = await fetch(`${base}/v1/uplinks/chirpstack?event=up`, { method: 'POST', body: readFileSync(join(fixtures, 'chirpstack_uplink.json')), headers: { 'content-type': 'application/json' } });
    expect(json.status).not.toBe(415);
    // Malformed JSON text: the error says where, not what.
    const bad = (await (await fetch(`${base}/v1/frames`, { method: 'POST', body: '{"frame": "\u0001', headers: { 'content-type': 'application/json' } })).json()) as { error: string };
    expect(bad.error).toBe('malformed-json');
    expect(JSON.stringify(bad)).not.toContain('\\u0001');
  });
});

describe('sceau gateway serve', () => {
  it('applies --headers-timeout and --max-connections, and accepts --busy-timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sceau-limits-cli-'));
    const child = spawn(process.execPath, [bin, 'gateway', 'serve', '--db', join(dir, 'g.db'), '--http', '127.0.0.1:0', '--headers-timeout', '300', '--max-connections', '2', '--busy-timeout', '50', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.resume();
    try {
      const { listening } = await new Promise<{ listening: { http: { port: number; url: string } } }>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
        child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
      });
      const started = Date.now();
      const closed = Array.from({ length: 3 }, () => {
        const s = connect(listening.http.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.resume(); // read the 408, so that 'close' comes
        s.write('GET /healthz HTTP/1.1\r\n');
        return new Promise<number>((r) => s.once('close', () => r(Date.now() - started)));
      });
      const times = (await Promise.all(closed)).sort((a, b) => a - b);
      expect(times[2]).toBeLessThan(5000); // 300 ms headers timeout, checked twice a second (the default is 10 s)
      const metrics = await (await fetch(`${listening.http.url}/metrics`)).text();
      expect(metrics).toContain('sceau_ingest_errors_total{reason="connection-limit",transport="http"} 1');
      expect(metrics).toContain('sceau_ingest_errors_total{reason="request-timeout",transport="http"} 2');
      expect(metrics).not.toContain('reason="client-error"'); // a timed-out client is counted once
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
