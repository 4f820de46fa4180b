/**
 * UDP ingest: one whole frame or one fragment per datagram. UDP does not name the device, so
 * fragments carry the 2-byte sender hint (docs/protocol.md#fragments) and are reassembled per
 * peer address, hint and tag. There is no reply: UDP senders get no acknowledgement.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { DatagramIntake } from './datagram-intake.js';
import type { NotStoredError } from './ingest.js';
import type { Metrics } from './metrics.js';
import { DEFAULT_MAX_FRAME_BYTES, SENDER_HINT_BYTES } from '@sceau/protocol';

export interface UdpIngestOptions {
  metrics: Metrics;
  /** Reassembles, counts and submits (datagram-intake.ts). */
  intake: DatagramIntake;
  log: (message: string) => void;
  ipv6?: boolean;
  /** Longer datagrams are refused unread and counted `too-large` (default 2,051: a 2,048-byte frame's fragment with header and sender hint). */
  maxDatagramBytes?: number;
}

export function createUdpIngest(options: UdpIngestOptions): Socket {
  const socket = createSocket({ type: options.ipv6 ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  // Until bound, an error is the bind's own: bindUdp (endpoint.ts) reports it, once.
  let bound = false;
  socket.once('listening', () => {
    bound = true;
  });
  socket.on('error', (error) => {
    if (!bound) return;
    options.metrics.countError('socket-error', 'udp');
    options.log(`udp: ${error.message}`);
  });
  const failed = (error: NotStoredError): void => options.metrics.countError(error.reason, 'udp');
  const maxDatagram = options.maxDatagramBytes ?? DEFAULT_MAX_FRAME_BYTES + 1 + SENDER_HINT_BYTES;
  socket.on('message', (message, rinfo) => {
    if (message.length > maxDatagram) {
      options.metrics.countError('too-large', 'udp');
      return;
    }
    const source = `udp:${rinfo.address}:${rinfo.port}`;
    try {
      // Messages are keyed by address and port; the per-origin limit counts the address alone.
      // No answer on UDP: no result to build.
      const pushed = options.intake(new Uint8Array(message.buffer, message.byteOffset, message.length), { hinted: true, key: source, origin: rinfo.address, ingest: { source } }, failed);
      if (pushed.kind === 'invalid') options.metrics.countError('invalid-datagram', 'udp');
    } catch (error) {
      options.metrics.countError('internal', 'udp');
      options.log(`udp: ${(error as Error).message}`);
    }
  });
  return socket;
}
