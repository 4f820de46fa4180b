// The console on PostgreSQL (a real server from tests/helpers/system-servers.ts): the API checks
// shared with SQLite (tests/helpers/console-api-checks.ts) on a gateway whose db is a postgres://
// URL, a revocation by another instance seen through registry_version, and frame_hours kept
// exact by its trigger while two instances commit rejected and accepted frames at once.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { getPublicKey, kidOf, toHex } from '@sceau/protocol';
import { FrameBatch, PgConsoleQueries, PgStore, startGateway, type Gateway } from '@sceau/host-tools';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';
import { CONSOLE_TOKEN, consoleApiChecks, consoleAuth, fillConsoleFixture, type ConsoleFixture } from './helpers/console-api-checks.js';

let server: Awaited<ReturnType<typeof startPostgres>>;
let dbUrl: string;
let gw: Gateway;
let fx: ConsoleFixture;

beforeAll(async () => {
  server = await startPostgres();
  dbUrl = await freshDatabase(server.url);
  gw = await startGateway({ db: dbUrl, http: '127.0.0.1:0', token: CONSOLE_TOKEN, log: () => undefined });
  fx = await fillConsoleFixture(gw);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await server?.stop();
});

describe('the console API on PostgreSQL (checks shared with SQLite)', () => {
  it('is served by the PostgreSQL store', () => {
    expect(gw.store).toBeInstanceOf(PgStore);
  });
  consoleApiChecks(() => fx);

  it('shows a revocation made by another instance at once, despite the fleet cache', async () => {
    const fleet = async (): Promise<{ revoked: boolean }> => ((await (await fetch(`${fx.url}/v1/console/fleet?q=probe`, { headers: consoleAuth })).json()) as { devices: Array<{ revoked: boolean }> }).devices[0]!;
    expect((await fleet()).revoked).toBe(false);
    const other = await PgStore.open(dbUrl, { ingest: false });
    try {
      await other.registry.revoke('probe');
    } finally {
      await other.close();
    }
    expect((await fleet()).revoked).toBe(true);
  });
});

describe('frame_hours on PostgreSQL', () => {
  it('stays exact while two instances commit rejected and accepted frames of the same keys at once', async () => {
    const url = await freshDatabase(server.url);
    const a = await PgStore.open(url);
    const b = await PgStore.open(url);
    try {
      const seeds = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(32)));
      const kids = seeds.map((s) => toHex(kidOf(getPublicKey(s))));
      for (const [i, s] of seeds.entries()) await a.registry.register(getPublicKey(s), { name: `k${i}` });
      const now = Date.now();
      // Each batch holds a malformed frame (kid '') and a forged frame of every key, every other
      // round an accepted one of every key too (its replay windows, locked first in kid order,
      // would make the two commits take turns); the two instances order them oppositely.
      const batch = (round: number, reverse: boolean): ReturnType<typeof FrameBatch.of> => {
        const frames = [
          { raw: Uint8Array.of(round & 0xff), receivedAt: now, source: 't', outcome: 'not-sign1', kid: undefined, counter: undefined },
          ...kids.map((kid) => ({ raw: Uint8Array.of(1, round & 0xff), receivedAt: now, source: 't', outcome: 'bad-signature', kid, counter: undefined })),
          ...(round % 2 === 1 ? [] : kids).map((kid, i) => ({ raw: Uint8Array.of(2, i, round & 0xff, reverse ? 1 : 0), receivedAt: now, source: 't', outcome: 'ok', kid, counter: round * 2 + (reverse ? 1 : 2) })),
        ];
        return FrameBatch.of(reverse ? frames.reverse() : frames);
      };
      const commit = (store: PgStore, columns: ReturnType<typeof FrameBatch.of>): Promise<unknown> =>
        new Promise((resolve, reject) => store.commitBatch(columns, (error, ids) => (error === undefined || error === null ? resolve(ids) : reject(error))));
      const rounds = 40;
      const commits: Array<Promise<unknown>> = [];
      for (let r = 0; r < rounds; r++) commits.push(commit(a, batch(r, false)), commit(b, batch(r, true)));
      const settled = await Promise.allSettled(commits);
      expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const frames = (await client.query("SELECT coalesce(kid, '') AS kid, outcome, count(*)::int AS n FROM frames GROUP BY 1, 2 ORDER BY 1, 2")).rows;
        const hours = (await client.query('SELECT kid, outcome, sum(frames)::int AS n FROM frame_hours GROUP BY 1, 2 ORDER BY 1, 2')).rows;
        expect(hours).toEqual(frames);
        expect(frames.find((r) => r.outcome === 'not-sign1').n).toBe(2 * rounds);
      } finally {
        await client.end();
      }
      const fleet = await new PgConsoleQueries(a.pool).fleet(Date.now());
      expect(fleet.map((d) => d.rejected24h)).toEqual(kids.map(() => 2 * rounds));
      expect(fleet.reduce((n, d) => n + d.accepted24h, 0)).toBeGreaterThan(0);
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);
});
