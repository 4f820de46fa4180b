/**
 * TCP ingest, the peer of the firmware's Wi-Fi link: a stream of frames, each a 2-byte
 * big-endian length then the frame. TCP names the sender (the connection), so fragments carry
 * no sender hint; they are reassembled per connection. There is no reply on the socket in v1.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Reassembler } from '@sceau/protocol';
import type { Ingestor, NotStoredError } from './ingest.js';
import type { Metrics } from './metrics.js';

export interface TcpIngestOptions {
  ingestor: Ingestor;
  metrics: Metrics;
  reassembler: Reassembler;
  /** Reassembly clock in ms (default Date.now). */
  clock?: () => number;
  log: (message: string) => void;
  /** Connections idle this long are closed (default 10 minutes). */
  idleMs?: number;
  maxConnections?: number;
}

export function createTcpIngest(options: TcpIngestOptions): Server {
  const failed = (error: NotStoredError): void => options.metrics.countError(error.reason, 'tcp');
  const server = createServer((socket: Socket) => {
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const source = `tcp:${peer}`;
    let buffer: Buffer = Buffer.alloc(0);
    socket.setTimeout(options.idleMs ?? 600_000, () => socket.destroy());
    socket.on('error', () => options.metrics.countError('connection-error', 'tcp'));
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2) {
        const length = buffer.readUInt16BE(0);
        if (length === 0) {
          options.metrics.countError('empty-frame', 'tcp');
          buffer = buffer.subarray(2);
          continue;
        }
        if (buffer.length < 2 + length) break;
        const datagram = new Uint8Array(buffer.subarray(2, 2 + length));
        buffer = buffer.subarray(2 + length);
        const pushed = options.reassembler.push(datagram, (options.clock ?? Date.now)(), source);
        options.metrics.countFragment(pushed.kind === 'frame' ? (pushed.fragments > 1 ? 'reassembled' : 'whole') : pushed.kind);
        if (pushed.kind !== 'frame') continue;
        try {
          options.ingestor.submit(pushed.frame, { source }, failed); // no answer on TCP: no result to build
        } catch (error) {
          options.metrics.countError('internal', 'tcp');
          options.log(`tcp: ${(error as Error).message}`);
        }
      }
    });
  });
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  return server;
}
