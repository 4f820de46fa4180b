// What a gateway instance keeps in memory per device (bench/gateway-memory.mjs measures how much):
// a store of a few thousand devices, each with a key and an accepted counter, opened again as
// `sceau gateway serve` opens it, answers every device's key and window, on SQLite (read when a
// frame asks) and on PostgreSQL (all loaded at the start, answered from memory); and the hex
// strings that key those caches are flat strings, not the trees of cons strings `+=` builds
// (870 bytes of heap for a 32-byte key instead of 88).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, sha256, toHex, type SceauRecord } from '@sceau/protocol';
import { copyStore, Ingestor, openStore, PgStore, Store, type OpenedStore } from '@sceau/host-tools';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';

const DEVICES = 3000;
let server: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;

const record = (counter: number): SceauRecord => ({ version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 + counter }] });
const seeds = Array.from({ length: DEVICES }, (_, i) => sha256(new TextEncoder().encode(`shape device ${i}`)));
const publicKeys = seeds.map((s) => getPublicKey(s));
const kids = publicKeys.map((k) => toHex(kidOf(k)));

beforeAll(async () => {
  server = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'sceau-memory-shape-'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Every device's counter 1 through the pipeline: all accepted. */
async function ingestEach(store: OpenedStore, counter: number, which: number[]): Promise<void> {
  const ingestor = new Ingestor(store);
  const results = await Promise.all(which.map((i) => ingestor.ingest(sealRecord(record(counter), seeds[i]!), { source: 'http' })));
  await ingestor.close();
  expect(results.filter((r) => r.code !== 'ok').map((r) => r.code)).toEqual([]);
}

describe('a store of many devices opened again, as the gateway opens it', () => {
  it(`SQLite and PostgreSQL: ${DEVICES} keys and windows answered after the start, a new counter accepted and an old one refused as a replay`, async () => {
    const file = join(dir, 'fleet.db');
    const source = Store.open(file);
    source.registry.registerMany(publicKeys.map((publicKey, i) => ({ where: `device ${i}`, publicKey })));
    await ingestEach(source, 1, seeds.map((_, i) => i));
    const url = await freshDatabase(server.url);
    const target = await PgStore.open(url, { ingest: false });
    await copyStore(source, target);
    await target.close();
    source.close();

    for (const location of [file, url]) {
      const store = await openStore(location, { mode: 'create' });
      try {
        if (store instanceof PgStore) {
          // Loaded at the start: every window is in memory before any frame comes.
          expect(store.replay.cache.size).toBe(DEVICES);
        }
        const unresolved = publicKeys.filter((k) => store.resolve({ kid: kidOf(k) })?.publicKey === undefined);
        expect(unresolved.length, location).toBe(0);
        expect(publicKeys.every((k, i) => toHex(store.resolve({ kid: kidOf(k) })!.publicKey) === toHex(publicKeys[i]!))).toBe(true);
        const highest = kids.map((kid) => store.replay.get(kid).highestAccepted);
        expect(highest.filter((h) => h !== 1).length, location).toBe(0);
        // A sample of devices, through the pipeline: counter 2 accepted, counter 1 again refused.
        const sample = Array.from({ length: 30 }, (_, j) => j * 100);
        await ingestEach(store, 2, sample);
        const ingestor = new Ingestor(store);
        const again = await ingestor.ingest(sealRecord({ ...record(1), readings: [{ channel: 1, value: 1 }] }, seeds[sample[0]!]!), { source: 'http' });
        await ingestor.close();
        expect(again.code, location).toBe('replay');
      } finally {
        await store.close();
      }
    }
  }, 120_000);
});

describe('toHex: one flat string', () => {
  it('the same hex as Node for every length around its chunks', () => {
    for (const n of [0, 1, 6, 7, 8, 32, 4095, 4096, 4097, 10_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n) & 255);
      expect(toHex(bytes), `length ${n}`).toBe(Buffer.from(bytes).toString('hex'));
    }
  });

  it('a kept 32-byte key takes what a flat string does (a cons string tree takes ten times that)', () => {
    // Heap per kept string, in a process of its own with GC forced, against Node's own hex of the
    // same keys (flat): 88 bytes each on Node 20; built with `+=`, 870.
    const script = `
      import { toHex } from '@sceau/protocol';
      const keys = Array.from({ length: 20000 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (i * 7 + j * 13 + (i >> 8)) & 255));
      const heap = () => { for (let i = 0; i < 4; i++) globalThis.gc(); return process.memoryUsage().heapUsed; };
      heap();
      const m0 = heap();
      const ours = keys.map((k) => toHex(k));
      const m1 = heap();
      const node = keys.map((k) => Buffer.from(k).toString('hex'));
      const m2 = heap();
      process.stdout.write(JSON.stringify({ ours: (m1 - m0) / ours.length, node: (m2 - m1) / node.length, same: ours.every((h, i) => h === node[i]) }));
    `;
    const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: process.cwd() });
    expect(run.stderr).toBe('');
    const { ours, node, same } = JSON.parse(run.stdout) as { ours: number; node: number; same: boolean };
    expect(same).toBe(true);
    expect(node).toBeGreaterThan(64); // the measurement saw 64 characters kept
    expect(ours).toBeLessThan(node * 1.5 + 16);
  });
});
