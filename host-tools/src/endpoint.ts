/** Listening addresses: parsing `HOST:PORT` and binding servers and sockets. */
import type { Server } from 'node:http';
import { isIP, type AddressInfo, type Server as NetServer } from 'node:net';
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
  const port = portText === '' ? defaultPort : /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentError('bad-endpoint', `${what} ${JSON.stringify(value)}: expected HOST:PORT with a port in 0..65535`);
  if (!hostIsWellFormed(host, v6 !== null)) throw new ArgumentError('bad-endpoint', `${what} ${JSON.stringify(value)}: ${JSON.stringify(host)} is not an IP address or a host name`);
  return { host, port };
}

/** An IPv4 or IPv6 address (IPv6 only in brackets, or as the whole host), or a DNS host name; digits and dots alone must be an IPv4 address. */
function hostIsWellFormed(host: string, bracketed: boolean): boolean {
  if (bracketed) return isIP(host) === 6;
  if (isIP(host) !== 0) return true;
  if (/^[\d.]+$/.test(host)) return false;
  return host.length <= 253 && /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(host);
}

/** Why a listener could not start, as a stable code (`ListenError`). */
export const LISTEN_ERROR_CODES = ['address-in-use', 'address-unavailable', 'address-forbidden', 'listen-failed'] as const;
export type ListenErrorCode = (typeof LISTEN_ERROR_CODES)[number];

/**
 * A listening address the system refused (in use, not on this machine, a name that does not
 * resolve, a privileged port): a typed error with a stable code, the option and the address in
 * its message, and the system's error as `cause`. The CLI maps it to exit 3 (cli-errors.ts).
 */
export class ListenError extends Error {
  constructor(
    readonly code: ListenErrorCode,
    message: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'ListenError';
  }
}

function listenError(error: Error, what: string, endpoint: Endpoint): ListenError {
  const errno = (error as NodeJS.ErrnoException).code ?? '';
  const [code, why]: [ListenErrorCode, string] =
    errno === 'EADDRINUSE' ? ['address-in-use', 'address already in use']
    : errno === 'EADDRNOTAVAIL' ? ['address-unavailable', 'not an address of this machine']
    : errno === 'ENOTFOUND' || errno === 'EAI_AGAIN' || errno === 'EAI_FAIL' || errno === 'EAI_NONAME' ? ['address-unavailable', 'the host name does not resolve']
    : errno === 'EACCES' || errno === 'EPERM' ? ['address-forbidden', 'permission denied (ports below 1024 need privileges)']
    : ['listen-failed', error.message];
  return new ListenError(code, `${what} ${endpoint.host}:${endpoint.port}: ${why}${errno === '' || why.includes(errno) ? '' : ` (${errno})`}`, { cause: error });
}

/** Listens on `endpoint`; a refusal rejects with a `ListenError` naming `what` (the option, `--http`). */
export function listen(server: Server | NetServer, endpoint: Endpoint, what = 'address'): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(listenError(error, what, endpoint));
    server.once('error', onError);
    server.listen(endpoint.port, endpoint.host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}

/** Binds `socket` to `endpoint`; a refusal rejects with a `ListenError` naming `what` (`--udp`). */
export function bindUdp(socket: UdpSocket, endpoint: Endpoint, what = 'address'): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(listenError(error, what, endpoint));
    socket.once('error', onError);
    socket.bind(endpoint.port, endpoint.host, () => {
      socket.off('error', onError);
      const address = socket.address();
      resolve({ host: address.address, port: address.port });
    });
  });
}

