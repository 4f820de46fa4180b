/** What the gateway's HTTP modules share: the error an HTTP answer is made of, and sending JSON or text. */
import type { ServerResponse } from 'node:http';
import { registryRefusalKind, type RegistryError } from './device-registry.js';

/** An answer other than 2xx: its status, a stable reason (`{"error": reason}`) and a message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * The HTTP edge's mapping of a registry refusal (docs/architecture.md#errors): 409 when it
 * conflicts with the registry's state, 400 for a request wrong in itself (an unknown device is
 * 404 where the path names it: `registryQuery`).
 */
export function registryHttpStatus(error: RegistryError): 400 | 409 {
  return registryRefusalKind(error) === 'conflict' ? 409 : 400;
}

/** Sends a JSON body (or Prometheus text for a string), encoded once. */
export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  // Encoded once (a batch's answer runs to hundreds of kilobytes): its length is then the buffer's.
  const bytes = Buffer.from(typeof body === 'string' ? body : `${JSON.stringify(body)}\n`);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': bytes.length,
    ...headers,
  });
  res.end(bytes);
}


/** A path segment percent-decoded; a malformed escape (`%zz`, a cut UTF-8 sequence) is a 400, not a 500. */
export function pathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad-path', `malformed percent-escape in the path segment ${JSON.stringify(raw)}`);
  }
}
