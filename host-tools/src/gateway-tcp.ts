/**
 * TCP ingest, the peer of the firmware's Wi-Fi link: a stream of frames, each a 2-byte
 * big-endian length then the frame. TCP names the sender (the connection), so fragments carry
 * no sender hint; they are reassembled per connection. There is no reply on the socket in v1.
 *
 * Untrusted peers (docs/protocol.md#floods): a length over the largest datagram is counted
 * `too-large` and its bytes skipped unbuffered; a frame once begun must end within
 * `frameTimeoutMs` (a slow sender is disconnected); at most `maxConnections` at once. A
 * connection the peer closes in the middle of a frame (its length, or part of its bytes, read)
 * loses that frame: nothing is stored, and it is counted `closed-mid-frame`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { DatagramIntake } from './datagram-intake.js';
import type { NotStoredError } from './ingest.js';
import { DEFAULT_MAX_FRAME_BYTES } from '@sceau/protocol';
import type { Metrics } from './metrics.js';

export const DEFAULT_TCP_MAX_CONNECTIONS = 1024;
export const DEFAULT_TCP_FRAME_TIMEOUT_MS = 10_000;

export interface TcpIngestOptions {
  metrics: Metrics;
  /** Reassembles, counts and submits (datagram-intake.ts). */
  intake: DatagramIntake;
  log: (message: string) => void;
  /** Connections idle this long are closed (default 10 minutes: devices keep theirs open). */
  idleMs?: number;
  /** A frame begun (its length read, or part of it) must be whole within this, in ms (default 10 s). */
  frameTimeoutMs?: number;
  /** Open connections at once (default 1,024); more are closed on arrival and counted `connection-limit`. */
  maxConnections?: number;
  /** Largest frame (default 2,048); a datagram may be one byte longer (a fragment's header). */
  maxFrameBytes?: number;
}

export function createTcpIngest(options: TcpIngestOptions): Server {
  const failed = (error: NotStoredError): void => options.metrics.countError(error.reason, 'tcp');
  const maxDatagram = (options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES) + 1;
  const frameTimeoutMs = options.frameTimeoutMs ?? DEFAULT_TCP_FRAME_TIMEOUT_MS;
  const server = createServer((socket: Socket) => {
    const address = socket.remoteAddress ?? '?';
    const source = `tcp:${address}:${socket.remotePort ?? '?'}`;
    let buffer: Buffer = Buffer.alloc(0);
    /** Bytes still to discard of a datagram refused for its length. */
    let skip = 0;
    let frameTimer: ReturnType<typeof setTimeout> | undefined;
    /** Already counted as the reason this connection ended (a timeout or a socket error). */
    let endCounted = false;
    const stopFrameTimer = (): void => {
      if (frameTimer !== undefined) clearTimeout(frameTimer);
      frameTimer = undefined;
    };
    socket.setTimeout(options.idleMs ?? 600_000, () => socket.destroy());
    socket.on('error', () => {
      endCounted = true;
      options.metrics.countError('connection-error', 'tcp');
    });
    socket.on('close', () => {
      stopFrameTimer();
      // Bytes of a frame begun (a length prefix, whole or half, and part of what it announced) are lost with the connection.
      if (buffer.length > 0 && !endCounted) options.metrics.countError('closed-mid-frame', 'tcp');
    });
    socket.on('data', (chunk: Buffer) => {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
      }
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      let progressed = false;
      while (buffer.length >= 2) {
        const length = buffer.readUInt16BE(0);
        if (length === 0) {
          options.metrics.countError('empty-frame', 'tcp');
          buffer = buffer.subarray(2);
          continue;
        }
        if (length > maxDatagram) {
          options.metrics.countError('too-large', 'tcp');
          const n = Math.min(length, buffer.length - 2);
          skip = length - n;
          buffer = buffer.subarray(2 + n);
          continue;
        }
        if (buffer.length < 2 + length) break;
        const datagram = new Uint8Array(buffer.subarray(2, 2 + length));
        buffer = buffer.subarray(2 + length);
        progressed = true;
        try {
          options.intake(datagram, { hinted: false, key: source, origin: address, ingest: { source } }, failed); // no answer on TCP: no result to build
        } catch (error) {
          options.metrics.countError('internal', 'tcp');
          options.log(`tcp: ${(error as Error).message}`);
        }
      }
      // Part of a frame (or of a refused one) is still to come: it must come soon. The deadline
      // runs from the end of the last whole datagram, so a busy sender is never cut off.
      if (progressed) stopFrameTimer();
      if (buffer.length > 0 || skip > 0) {
        frameTimer ??= setTimeout(() => {
          endCounted = true;
          options.metrics.countError('frame-timeout', 'tcp');
          socket.destroy();
        }, frameTimeoutMs);
      } else stopFrameTimer();
    });
  });
  server.maxConnections = options.maxConnections ?? DEFAULT_TCP_MAX_CONNECTIONS;
  server.on('drop', () => options.metrics.countError('connection-limit', 'tcp'));
  return server;
}
