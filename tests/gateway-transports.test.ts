// TCP (2-byte big-endian length, then the frame) and UDP (one frame or fragment per datagram)
// ingest into a real SQLite file, through real sockets on 127.0.0.1.
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragment, getPublicKey, linkProfiles, sealRecord, type SceauRecord } from '@sceau/protocol';
import { startGateway, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const seed = new Uint8Array(32).fill(3);
const record = (counter: number, n = 1): SceauRecord => ({ version: 1, counter, time: null, readings: Array.from({ length: n }, (_, i) => ({ channel: 1, value: 1000 + i, ...(i > 0 ? { age: i * 60 } : {}) })) });

let dir: string;
let gw: Gateway;

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function okCounters(): Promise<number[]> {
  return (await gw.store.queryFrames({ outcome: 'ok', limit: 10_000 })).map((f) => f.counter!).sort((a, b) => a - b);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-tr-'));
  gw = await startGateway({ db: join(dir, 'g.db'), tcp: '127.0.0.1:0', udp: '127.0.0.1:0', log: () => undefined });
  sqliteStore(gw).addDevice(getPublicKey(seed));
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('TCP ingest', () => {
  it('reads length-prefixed frames split and joined arbitrarily across writes', async () => {
    const frames = Array.from({ length: 20 }, (_, i) => sealRecord(record(i + 1), seed));
    const stream = Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >> 8, f.length & 0xff]), Buffer.from(f)]));
    const socket = connect(gw.addresses.tcp!.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    // Odd-sized chunks: a length prefix and frames cut in the middle.
    for (let at = 0; at < stream.length; at += 37) {
      socket.write(stream.subarray(at, at + 37));
      await new Promise((r) => setTimeout(r, 1));
    }
    // Garbage and an empty frame on the same connection do not stop it.
    socket.write(Buffer.from([0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03]));
    const last = sealRecord(record(21), seed);
    socket.end(Buffer.concat([Buffer.from([0, last.length]), Buffer.from(last)]));
    await waitFor(async () => (await okCounters()).length === 21);
    expect(await okCounters()).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect((await gw.store.queryFrames({ limit: 100 })).every((f) => f.source.startsWith('tcp:127.0.0.1:'))).toBe(true);
  });
});

describe('UDP ingest', () => {
  it('verifies whole frames and reassembles hinted fragments delivered out of order with duplicates', async () => {
    const client = createSocket('udp4');
    const port = gw.addresses.udp!.port;
    const send = (d: Uint8Array): Promise<void> => new Promise((resolve, reject) => client.send(d, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    try {
      for (let c = 100; c < 110; c++) await send(sealRecord(record(c), seed));
      // A frame too big for a small-MTU link that does not name the sender: fragments carry a sender hint.
      const big = sealRecord(record(110, 8), seed);
      const parts = fragment(big, { ...linkProfiles.udp!, mtu: 40 });
      expect(parts.length).toBeGreaterThan(2);
      for (const p of [parts[2]!, parts[0]!, parts[0]!, ...parts.slice(1)]) await send(p);
      await send(new Uint8Array([0x01])); // a fragment with nothing in it
      await send(sealRecord(record(105, 2), seed)); // replay: an accepted counter, other bytes
      await waitFor(async () => (await okCounters()).includes(110) && (await gw.store.queryFrames({ outcome: 'replay', limit: 10 })).length === 1);
      expect((await okCounters()).filter((c) => c >= 100)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110]);
      const metrics = gw.renderMetrics();
      expect(metrics).toMatch(/sceau_fragments_total\{kind="reassembled"\} 1/);
      expect(metrics).toMatch(/sceau_fragments_total\{kind="duplicate"\} 2/);
      expect(metrics).toMatch(/sceau_ingest_errors_total\{reason="invalid-datagram",transport="udp"\} 1/);
    } finally {
      client.close();
    }
  });

  it('the in-process datagram API reassembles too (the simulator\'s in-process gateway)', async () => {
    const big = sealRecord(record(200, 10), seed, { kid: false });
    // The key is registered without a DevEUI: giving it one is an update (docs/integrators.md).
    sqliteStore(gw).addDevice(getPublicKey(seed), { devEui: '70b3d57ed0000001', update: true });
    const parts = fragment(big, linkProfiles['lorawan-eu868-dr0']!);
    const answers = [];
    for (const p of parts) answers.push(await gw.ingestDatagram(p, { source: 'sim', deviceId: 'deveui:70b3d57ed0000001' }));
    expect(answers.slice(0, -1)).toEqual(parts.slice(0, -1).map(() => ({ kind: 'pending' })));
    expect(answers.at(-1)).toMatchObject({ ok: true, counter: 200 });
  });
});
