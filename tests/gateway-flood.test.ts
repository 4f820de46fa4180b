// A flood on loopback against a real gateway process (`sceau gateway serve`): oversized and
// garbage datagrams over UDP, maximum-size fragments from 200 loopback addresses that never
// complete, and a TCP connection streaming oversized and garbage frames. The gateway's memory
// (RSS) and its database stay under the bounds documented in docs/protocol.md#floods, and a
// genuine frame sent during the flood, over HTTP and fragmented over UDP, is still accepted.
// Bounded in count and time. RSS as the gateway reports it in /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fragment, getPublicKey, linkProfiles, sealRecord, type SceauRecord } from '@sceau/protocol';
import { Store } from '@sceau/host-tools';

const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'bin', 'sceau.cjs');

/** The documented bounds (docs/protocol.md#floods) for this flood. */
const RSS_GROWTH_BOUND = 160 * 1024 * 1024;
const DB_GROWTH_BOUND = 1024 * 1024;

const seed = new Uint8Array(32).fill(0x51);
const record = (counter: number, n: number): SceauRecord => ({ version: 1, counter, time: null, readings: Array.from({ length: n }, (_, i) => ({ channel: 1, value: i, ...(i > 0 ? { age: i } : {}) })) });

let dir: string;
let dbFile: string;
let child: ChildProcess | undefined;
const sockets: UdpSocket[] = [];

/** The gateway's own RSS, as its /metrics reports it (process_resident_memory_bytes). */
async function rssBytes(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)![1]);
}

function dbBytes(): number {
  return [dbFile, `${dbFile}-wal`].reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0);
}

function udpSocket(address: string): Promise<UdpSocket> {
  const s = createSocket('udp4');
  sockets.push(s);
  s.on('error', () => undefined);
  return new Promise((resolve) => s.bind(0, address, () => resolve(s)));
}

function send(s: UdpSocket, d: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve) => s.send(d, port, '127.0.0.1', () => resolve()));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-flood-'));
  dbFile = join(dir, 'flood.db');
  const store = Store.open(dbFile);
  store.addDevice(getPublicKey(seed), { name: 'genuine' });
  store.close();
});

afterAll(() => {
  for (const s of sockets) s.close();
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('keeps memory and disk bounded under a flood, and still accepts a genuine frame', async () => {
  const gateway = spawn(process.execPath, [bin, 'gateway', 'serve', '--db', dbFile, '--http', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = gateway;
  gateway.stderr!.resume();
  const { listening } = await new Promise<{ listening: { http: { url: string }; tcp: { port: number }; udp: { port: number } } }>((resolve, reject) => {
    createInterface({ input: gateway.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    gateway.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  const base = listening.http.url;
  const udpPort = listening.udp.port;
  // Warm up (first request, JIT) before the baseline.
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const rss0 = await rssBytes(base);
  const db0 = dbBytes();
  const started = Date.now();
  // The gateway's RSS sampled through the flood, for its peak.
  const samples: number[] = [];
  const sampler = setInterval(() => void rssBytes(base).then((v) => samples.push(v), () => undefined), 200);

  // 200 loopback addresses, each sending maximum-size fragments that never complete.
  const flooders = await Promise.all(Array.from({ length: 200 }, (_, i) => udpSocket(`127.0.0.${i + 2}`)));
  const udpFlood = (async () => {
    const frag = new Uint8Array(1 + 2 + 2048).fill(0x5a);
    const big = new Uint8Array(60_000).fill(0xd2); // a "frame" of 60 KB
    const junk = new Uint8Array(2000).fill(0xff); // under the size limit, not CBOR
    junk[0] = 0xd2;
    // One address alone, 512 messages: it holds at most 64 (its own oldest give way).
    const lone = flooders[0]!;
    for (let i = 0; i < 512; i++) {
      frag[0] = ((i % 8) << 4) | 15;
      frag[1] = 0xee;
      frag[2] = i >> 3;
      await send(lone, frag, udpPort);
      if (i % 64 === 63) await new Promise((r) => setTimeout(r, 10));
    }
    for (let round = 0; round < 120; round++) {
      const sends: Array<Promise<void>> = [];
      for (let f = 0; f < flooders.length; f++) {
        frag[0] = ((round % 8) << 4) | 15; // first of 16: never completes
        frag[1] = round >> 3;
        frag[2] = f;
        sends.push(send(flooders[f]!, frag, udpPort));
      }
      sends.push(send(flooders[round % flooders.length]!, big, udpPort), send(flooders[(round + 1) % flooders.length]!, junk, udpPort));
      await Promise.all(sends);
      // Paced, so that the kernel's receive buffer does not drop most of the flood before the gateway sees it.
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  // One TCP connection: 64 KB lengths of garbage and 2 KB garbage frames, 32 MB in all.
  const tcpFlood = new Promise<void>((resolve) => {
    const socket = connect(listening.tcp.port, '127.0.0.1');
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.once('connect', async () => {
      const oversized = Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.alloc(0xffff, 0xd2)]);
      const garbage = Buffer.concat([Buffer.from([0x07, 0xd0]), Buffer.alloc(2000, 0xff)]);
      garbage[2] = 0xd2;
      for (let i = 0; i < 500 && !socket.destroyed; i++) {
        if (!socket.write(i % 2 === 0 ? oversized : garbage)) await new Promise((r) => socket.once('drain', r));
      }
      socket.end();
    });
  });

  // Meanwhile, the genuine device: one frame over HTTP, one fragmented over UDP (sender hint).
  await new Promise((r) => setTimeout(r, 100));
  const viaHttp = await fetch(`${base}/v1/frames`, { method: 'POST', body: sealRecord(record(1, 1), seed), headers: { 'content-type': 'application/cose' } });
  expect(viaHttp.status).toBe(200);
  expect(((await viaHttp.json()) as { code: string }).code).toBe('ok');
  const device = await udpSocket('127.0.0.250');
  const big = sealRecord(record(2, 40), seed);
  const parts = fragment(big, { ...linkProfiles.udp!, mtu: 120 }); // hinted fragments, as a small-MTU device sends them
  expect(parts.length).toBeGreaterThan(1);
  for (const p of parts) await send(device, p, udpPort);

  await Promise.all([udpFlood, tcpFlood]);
  clearInterval(sampler);
  const rssPeak = Math.max(await rssBytes(base), ...samples);
  // The fragmented genuine frame is stored as accepted.
  const deadline = Date.now() + 10_000;
  let counters: number[] = [];
  while (Date.now() < deadline) {
    const frames = (await (await fetch(`${base}/v1/frames?outcome=ok`)).json()) as { frames: Array<{ counter: number }> };
    counters = frames.frames.map((f) => f.counter).sort();
    if (counters.length === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(counters).toEqual([1, 2]);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const elapsed = Date.now() - started;

  // Nothing of the flood was stored: the database holds the two genuine frames.
  const all = (await (await fetch(`${base}/v1/frames?limit=1000`)).json()) as { frames: unknown[] };
  expect(all.frames).toHaveLength(2);
  const dbGrowth = dbBytes() - db0;
  const rssGrowth = Math.max(rssPeak, await rssBytes(base)) - rss0;
  expect(dbGrowth).toBeLessThan(DB_GROWTH_BOUND);
  expect(rssGrowth).toBeLessThan(RSS_GROWTH_BOUND);
  // What was refused is counted.
  expect(metrics).toMatch(/sceau_ingest_errors_total\{reason="too-large",transport="udp"\} [1-9]/);
  expect(metrics).toMatch(/sceau_ingest_errors_total\{reason="too-large",transport="tcp"\} [1-9]/);
  expect(metrics).toMatch(/sceau_ingest_errors_total\{reason="malformed-cbor",transport="(udp|tcp)"\} [1-9]/);
  expect(metrics).toMatch(/sceau_reassembly_dropped_total\{reason="origin-limit"\} [1-9]/);
  expect(metrics).toMatch(/sceau_reassembly_dropped_total\{reason="memory-limit"\} [1-9]/);
  const held = Number(/sceau_reassembly_bytes (\d+)/.exec(metrics)![1]);
  expect(held).toBeLessThanOrEqual(16 * 1024 * 1024);
  expect(elapsed).toBeLessThan(45_000);
  process.stderr.write(`flood: RSS +${(rssGrowth / 1048576).toFixed(1)} MB (bound ${RSS_GROWTH_BOUND / 1048576}), database +${(dbGrowth / 1024).toFixed(1)} KB (bound ${DB_GROWTH_BOUND / 1024}), reassembly holds ${(held / 1048576).toFixed(1)} MB, ${elapsed} ms\n`);

  gateway.kill('SIGTERM');
  await new Promise((r) => gateway.once('exit', r));
});
