// Bad input on the gateway's UDP and TCP listeners (issue 19: "UDP and TCP: non-fragment garbage,
// oversized input, and a connection closed mid-frame"). Rules guarded, each named in its test:
//   - input that is not one CBOR item, or longer than any frame, is refused before the store and
//     counted by reason (docs/protocol.md#floods);
//   - a TCP connection closed by its peer in the middle of a frame loses that frame, stores
//     nothing and is counted `closed-mid-frame` (docs/integrators.md#metrics), once;
//   - nothing is stored twice, and after each bad input the listener still takes the next good
//     frame (the process is alive and the stream or socket still usable).
// A real gateway on 127.0.0.1 with a real SQLite file; every test ends by counting the store.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAME_BYTES, getPublicKey, sealRecord, type SceauRecord } from '@sceau/protocol';
import { startGateway, type Gateway } from '@sceau/host-tools';
import { sqliteStore } from './helpers/sqlite-store.js';

const seed = new Uint8Array(32).fill(0x31);
const record = (counter: number): SceauRecord => ({ version: 1, counter, time: null, readings: [{ channel: 1, value: counter }] });

let dir: string;
let gw: Gateway;

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `sceau_ingest_errors_total{reason, transport}` now (0 when the series is absent). */
function errors(reason: string, transport: string): number {
  const series = `sceau_ingest_errors_total{reason="${reason}",transport="${transport}"}`;
  const line = gw.renderMetrics().split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const total = async (): Promise<number> => Object.values(await gw.store.countFramesByOutcome()).reduce((a, b) => a + b, 0);
const okCounters = async (): Promise<number[]> => (await gw.store.queryFrames({ outcome: 'ok', limit: 1000 })).map((f) => f.counter!).sort((a, b) => a - b);

/** The gateway answers on HTTP: the process is alive. */
async function healthy(): Promise<void> {
  const res = await fetch(`${gw.addresses.http!.url}/healthz`);
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-stream-bad-'));
  // A TCP frame timeout (bodyTimeoutMs) below the HTTP headers' default (10 s): Node refused it at start-up before.
  gw = await startGateway({ db: join(dir, 'g.db'), http: '127.0.0.1:0', tcp: '127.0.0.1:0', udp: '127.0.0.1:0', bodyTimeoutMs: 2000, log: () => undefined });
  sqliteStore(gw).addDevice(getPublicKey(seed));
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('UDP', () => {
  let socket: UdpSocket;
  const send = (d: Uint8Array): Promise<void> => new Promise((resolve, reject) => socket.send(d, gw.addresses.udp!.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  beforeAll(() => {
    socket = createSocket('udp4');
  });
  afterAll(() => socket.close());

  it('rule: whole-frame garbage (bit 7 set, not one CBOR item) is refused unstored as malformed-cbor; the next frame is stored once', async () => {
    const before = await total();
    const malformed = errors('malformed-cbor', 'udp');
    const garbage = [
      Uint8Array.of(0xd2), // the tag's first byte, nothing after it
      Uint8Array.of(0xff, 0xff, 0xff), // break bytes
      Uint8Array.of(0x9f, 0x01, 0x02), // an indefinite array never closed
      Uint8Array.of(0xd2, 0x84, 0x43, 0xa1, 0x01), // a frame's head, cut
      Uint8Array.of(0x81, 0x01, 0x02), // one item and a trailing byte: not one CBOR item
      new Uint8Array(900).fill(0xe0), // 900 CBOR items (simple value 0), not one
    ];
    for (const g of garbage) await send(g);
    await waitFor(() => errors('malformed-cbor', 'udp') >= malformed + garbage.length, 'malformed-cbor counts');
    const good = sealRecord(record(1), seed);
    await send(good);
    await send(good); // the same bytes again: one row
    await waitFor(async () => (await okCounters()).includes(1) && gw.metrics.duplicateDeliveries() >= 1, 'the good frame and its duplicate');
    await gw.drain();
    expect(errors('malformed-cbor', 'udp') - malformed).toBe(garbage.length);
    expect(await total()).toBe(before + 1);
    await healthy();
  });

  it('rule: a datagram longer than any frame\'s fragment is refused unread as too-large, and the socket takes the next frame', async () => {
    const before = await total();
    const tooLarge = errors('too-large', 'udp');
    const limit = DEFAULT_MAX_FRAME_BYTES + 3; // a fragment's header and sender hint
    await send(new Uint8Array(limit + 1).fill(0xd2)); // refused unread
    await send(new Uint8Array(60_000).fill(0x41)); // a 60 KB "fragment"
    await waitFor(() => errors('too-large', 'udp') >= tooLarge + 2, 'too-large counts');
    const good = sealRecord(record(2), seed);
    await send(good);
    await waitFor(async () => (await okCounters()).includes(2), 'the good frame after the oversized ones');
    await gw.drain();
    expect(errors('too-large', 'udp') - tooLarge).toBe(2);
    expect(await total()).toBe(before + 1);
    await healthy();
  });

  it('rule: an empty datagram stores nothing and is counted invalid-datagram', async () => {
    const before = await total();
    const invalid = errors('invalid-datagram', 'udp');
    await send(new Uint8Array(0));
    await waitFor(() => errors('invalid-datagram', 'udp') > invalid, 'the empty datagram counted');
    await send(sealRecord(record(3), seed));
    await waitFor(async () => (await okCounters()).includes(3), 'the good frame after the empty datagram');
    expect(await total()).toBe(before + 1);
  });
});

describe('TCP', () => {
  const open = async (): Promise<Socket> => {
    const socket = connect(gw.addresses.tcp!.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return socket;
  };
  const framed = (frame: Uint8Array): Buffer => Buffer.concat([Buffer.from([frame.length >> 8, frame.length & 0xff]), Buffer.from(frame)]);
  /** Writes, then half-closes (FIN) and waits until the gateway has closed its side too. */
  const writeAndEnd = async (socket: Socket, bytes: Uint8Array): Promise<void> => {
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.end(bytes);
    await closed;
  };

  it('rule: a length-prefixed frame that is not CBOR, and an empty one, are refused by reason; the same stream then delivers a good frame', async () => {
    const before = await total();
    const [malformed, empty] = [errors('malformed-cbor', 'tcp'), errors('empty-frame', 'tcp')];
    const socket = await open();
    socket.write(Buffer.concat([framed(Uint8Array.of(0xff, 0xfe, 0xfd)), Buffer.from([0, 0]), framed(new Uint8Array(300).fill(0x9f)), framed(sealRecord(record(10), seed))]));
    await waitFor(async () => (await okCounters()).includes(10), 'the good frame after the garbage');
    expect(errors('malformed-cbor', 'tcp') - malformed).toBe(2);
    expect(errors('empty-frame', 'tcp') - empty).toBe(1);
    await writeAndEnd(socket, new Uint8Array(0));
    await gw.drain();
    expect(await total()).toBe(before + 1);
  });

  it('rule: a length over the largest datagram is too-large and skipped, also one byte over the limit', async () => {
    const before = await total();
    const tooLarge = errors('too-large', 'tcp');
    const socket = await open();
    const over = DEFAULT_MAX_FRAME_BYTES + 2; // a datagram may be a 2,048-byte frame plus a fragment header
    socket.write(Buffer.concat([Buffer.from([over >> 8, over & 0xff]), Buffer.alloc(over, 0xd2), framed(sealRecord(record(11), seed))]));
    await waitFor(async () => (await okCounters()).includes(11), 'the good frame after the skipped one');
    expect(errors('too-large', 'tcp') - tooLarge).toBe(1);
    await writeAndEnd(socket, new Uint8Array(0));
    expect(await total()).toBe(before + 1);
  });

  it('rule: a connection closed mid-frame stores nothing and is counted closed-mid-frame once; the next connection\'s frame is accepted, a resend stored once', async () => {
    const before = await total();
    const mid = errors('closed-mid-frame', 'tcp');
    const timeouts = errors('frame-timeout', 'tcp');
    const good = sealRecord(record(12), seed);
    const whole = framed(good);
    // Half of the length prefix; the prefix and half the frame; a whole frame then half of the next.
    await writeAndEnd(await open(), whole.subarray(0, 1));
    await writeAndEnd(await open(), whole.subarray(0, 2 + (good.length >> 1)));
    await writeAndEnd(await open(), Buffer.concat([framed(sealRecord(record(13), seed)), whole.subarray(0, 10)]));
    await waitFor(() => errors('closed-mid-frame', 'tcp') >= mid + 3, 'three closed-mid-frame counts');
    await gw.drain();
    expect(await okCounters()).not.toContain(12); // no part of the cut frame was stored
    expect(await total()).toBe(before + 1); // counter 13, sent whole before the cut
    // A clean close between frames is not counted.
    await writeAndEnd(await open(), framed(sealRecord(record(14), seed)));
    // The device resends the lost frame on a new connection, twice: one row.
    const resend = await open();
    resend.write(Buffer.concat([whole, whole]));
    await waitFor(async () => (await okCounters()).includes(12) && (await okCounters()).includes(14), 'the resent frame');
    await writeAndEnd(resend, new Uint8Array(0));
    await gw.drain();
    expect(errors('closed-mid-frame', 'tcp') - mid).toBe(3);
    expect(errors('frame-timeout', 'tcp') - timeouts).toBe(0); // counted as what happened, not also as a timeout
    expect(await total()).toBe(before + 3);
    expect((await okCounters()).filter((c) => c === 12)).toHaveLength(1);
    await healthy();
  });

  it('rule: a connection reset mid-frame is counted once (connection-error or closed-mid-frame, never both), nothing stored', async () => {
    const before = await total();
    const counted = (): number => errors('closed-mid-frame', 'tcp') + errors('connection-error', 'tcp');
    const was = counted();
    const socket = await open();
    const good = sealRecord(record(15), seed);
    socket.write(framed(good).subarray(0, 20));
    await new Promise((r) => setTimeout(r, 50));
    socket.resetAndDestroy();
    await waitFor(() => counted() > was, 'the reset counted');
    await new Promise((r) => setTimeout(r, 100));
    expect(counted() - was).toBe(1);
    const next = await open();
    await writeAndEnd(next, framed(good));
    await waitFor(async () => (await okCounters()).includes(15), 'the frame on a new connection');
    expect(await total()).toBe(before + 1);
    await healthy();
  });
});
