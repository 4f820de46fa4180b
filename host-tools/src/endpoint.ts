/** Listening addresses: parsing `HOST:PORT` and binding servers and sockets. */
import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import { ArgumentError } from './argument-errors.js';

export interface Endpoint {
  host: string;
  port: number;
}

export const DEFAULT_HTTP_PORT = 8750;
/** The gateway's busy timeout on its own database connection, ms (the CLI's read commands keep 5 s). */
export const DEFAULT_BUSY_TIMEOUT_MS = 100;
export const DEFAULT_TCP_PORT = 8751;
export const DEFAULT_UDP_PORT = 8752;

/** `HOST:PORT`, `:PORT`, `PORT` or `[v6]:PORT` to an endpoint; host defaults to 127.0.0.1. An `ArgumentError` (`bad-endpoint`) otherwise. */
export function parseEndpoint(value: string | number | Endpoint, defaultPort: number, what = 'address'): Endpoint {
  if (typeof value === 'object') return value;
  if (typeof value === 'number') return { host: '127.0.0.1', port: value };
  const text = value.trim();
  let host = '127.0.0.1';
  let portText = '';
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2] ?? '';
  } else if (/^\d+$/.test(text)) {
    portText = text;
  } else {
    const i = text.lastIndexOf(':');
    if (i < 0) host = text;
    else {
      host = text.slice(0, i) || '127.0.0.1';
      portText = text.slice(i + 1);
    }
  }
  const port = portText === '' ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentError('bad-endpoint', `${what} ${JSON.stringify(value)}: expected HOST:PORT with a port in 0..65535`);
  return { host, port };
}

export function listen(server: Server | NetServer, endpoint: Endpoint): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(endpoint.port, endpoint.host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}

export function bindUdp(socket: UdpSocket, endpoint: Endpoint): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    socket.once('error', onError);
    socket.bind(endpoint.port, endpoint.host, () => {
      socket.off('error', onError);
      const address = socket.address();
      resolve({ host: address.address, port: address.port });
    });
  });
}

