/**
 * The gateway's read routes (GET /v1/devices, /v1/devices/:ref, /v1/devices/:ref/readings,
 * /v1/frames), apart from the ingest routes (gateway-http.ts): they only query the store.
 */
import type { ServerResponse } from 'node:http';
import { RegistryError, STORED_OUTCOMES } from './device-registry.js';
import { ArgumentError } from './argument-errors.js';
import { parseTimeArg } from './export.js';
import { HttpError, pathSegment, registryHttpStatus, send } from './http-common.js';
import type { OpenedStore } from './store-registry.js';

export function sinceParam(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  try {
    return parseTimeArg(value, 'since');
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error;
    throw new HttpError(400, 'bad-query', `since: expected Unix seconds, an ISO 8601 date or a duration such as 24h, got ${JSON.stringify(value)}`);
  }
}

function limitParam(value: string | null, max = 10_000): number {
  if (value === null || value === '') return 1000;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new HttpError(400, 'bad-query', `limit: expected an integer in 1..${max}`);
  return n;
}

/** `outcome`: `ok` or a stored outcome code (STORED_OUTCOMES); anything else is a 400 that lists them. */
function outcomeParam(value: string | null): string | undefined {
  if (value === null || value === '') return undefined;
  if (!STORED_OUTCOMES.has(value)) throw new HttpError(400, 'bad-query', `outcome: unknown code ${JSON.stringify(value)}; known: ${[...STORED_OUTCOMES].join(', ')}`);
  return value;
}

/** A registry lookup for a query: its refusal (unknown or ambiguous device) as an HTTP error. */
export async function registryQuery<T>(fn: () => T | Promise<T>, unknownStatus: 400 | 404): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof RegistryError) throw new HttpError(error.code === 'unknown-device' ? unknownStatus : registryHttpStatus(error), error.code, error.message.slice(error.code.length + 2));
    throw error;
  }
}

/** Answers a GET under /v1/; an unknown path is a 404. */
export async function handleReadRoute(store: OpenedStore, path: string, url: URL, res: ServerResponse): Promise<void> {
  if (path === '/v1/devices') {
    send(res, 200, { devices: await store.listDevices() });
    return;
  }
  const device = /^\/v1\/devices\/([^/]+)(\/readings)?$/.exec(path);
  if (device !== null) {
    // The path names a resource: an unknown device is 404 here, where a query parameter's is 400.
    const ref = pathSegment(device[1]!);
    const found = await registryQuery(() => store.registry.show(ref), 404);
    if (device[2] === undefined) {
      send(res, 200, found);
      return;
    }
    const kids = await registryQuery(() => store.registry.kidsOf(ref), 404);
    const readings = await store.queryReadings({ kids, since: sinceParam(url.searchParams.get('since')), limit: limitParam(url.searchParams.get('limit')) });
    send(res, 200, { kid: found.kid, readings: readings.map((r) => ({ ...r, time: r.at === null ? null : new Date(r.at * 1000).toISOString() })) });
    return;
  }
  if (path === '/v1/frames') {
    const since = sinceParam(url.searchParams.get('since'));
    const after = url.searchParams.get('after');
    if (after !== null && !/^\d{1,15}$/.test(after)) throw new HttpError(400, 'bad-query', `after: expected a frame id, got ${JSON.stringify(after)}`);
    const kid = url.searchParams.get('kid');
    const frames = await store.queryFrames({
      kids: kid === null || kid === '' ? undefined : await registryQuery(() => store.registry.kidsOf(kid), 400),
      since: since === undefined ? undefined : since * 1000,
      outcome: outcomeParam(url.searchParams.get('outcome')),
      afterId: after === null ? undefined : Number(after),
      limit: limitParam(url.searchParams.get('limit')),
    });
    send(res, 200, { frames });
    return;
  }
  throw new HttpError(404, 'not-found', `no route GET ${path}`);
}
