// `db copy` (issue 15): a populated SQLite store (devices, a rotation, a revocation, accepted
// frames, a replay, windows) moved into an empty PostgreSQL database, counts verified; the copy
// keeps ids and windows, so a frame delivered again after the move is a duplicate of the copied
// one and an old counter stays refused. A non-empty target is refused and left as it was.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, toHex, type SceauRecord } from '@sceau/protocol';
import { copyStore, Ingestor, PgStore, Store, type CopyProgress } from '@sceau/host-tools';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';
import { sceau } from './helpers/cli.js';

let server: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;

const seedA = new Uint8Array(32).fill(0x61);
const seedA2 = new Uint8Array(32).fill(0x62);
const seedB = new Uint8Array(32).fill(0x63);
const seedErased = new Uint8Array(32).fill(0x64);
const record = (counter: number, value = 7): SceauRecord => ({ version: 1, counter, time: 1_700_000_000 + counter, readings: [{ channel: 1, value }] });

beforeAll(async () => {
  server = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'sceau-copy-'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** An SQLite store with two devices (one rotated, one revoked), 200 frames, a wrapped content key and an erased device. */
async function populated(file: string): Promise<{ store: Store; first: Uint8Array }> {
  const store = Store.open(file);
  store.addDevice(getPublicKey(seedA), { name: 'meter-a', devEui: '0004a30b001c0001' });
  store.addDevice(getPublicKey(seedB), { name: 'meter-b' });
  const ingestor = new Ingestor(store);
  const first = sealRecord(record(1), seedA);
  await ingestor.ingest(first, { source: 'http' });
  for (let c = 2; c <= 120; c++) await ingestor.ingest(sealRecord(record(c), seedA), { source: 'udp:127.0.0.1:9' });
  for (let c = 1; c <= 78; c++) await ingestor.ingest(sealRecord(record(c, 3), seedB), { source: 'http' });
  await ingestor.ingest(sealRecord(record(5, 99), seedA), { source: 'http' }); // a replay, stored as one
  await ingestor.close();
  store.registry.rotate('meter-a', getPublicKey(seedA2));
  store.revokeDevice('meter-b');
  store.privacy.putWrappedKey({ kid: toHex(kidOf(getPublicKey(seedB))), ownerKeyId: '00'.repeat(8), suite: 'x', enc: 'aa', ciphertext: 'bb' });
  store.addDevice(getPublicKey(seedErased), { name: 'meter-gone' });
  store.privacy.erase('meter-gone');
  return { store, first };
}

describe('db copy from SQLite to PostgreSQL', () => {
  it('copies registry, frames and windows, verifies the counts, and the copy behaves as the original', async () => {
    const { store, first } = await populated(join(dir, 'a.db'));
    const url = await freshDatabase(server.url);
    const target = await PgStore.open(url, { ingest: false });
    const progress: CopyProgress[] = [];
    const report = await copyStore(store, target, (p) => progress.push(p));
    expect(report.source).toEqual({ devices: 2, keys: 3, frames: 199, windows: 2, contentKeys: 1, tombstones: 1 });
    expect(report.target).toEqual(report.source);
    expect(progress.at(-1)).toEqual({ table: 'windows', done: 2, total: 2 });
    expect(progress.find((p) => p.table === 'frames')).toEqual({ table: 'frames', done: 199, total: 199 });
    // Same answers from both stores.
    expect(await target.listDevices()).toEqual(await store.listDevices());
    expect(await target.queryFrames({ limit: 1000 })).toEqual(await store.queryFrames({ limit: 1000 }));
    expect(await target.queryReadings({ kid: toHex(kidOf(getPublicKey(seedA))) })).toEqual(await store.queryReadings({ kid: toHex(kidOf(getPublicKey(seedA))) }));
    expect(await target.countFramesByOutcome()).toEqual(await store.countFramesByOutcome());
    // The wrapped key and the tombstone came along: the erased key stays refused on the copy.
    expect([...(await target.privacy.wrappedKeys()).keys()]).toEqual([toHex(kidOf(getPublicKey(seedB)))]);
    expect(await target.privacy.tombstone(toHex(kidOf(getPublicKey(seedErased))))).toMatchObject({ frames: 0, readings: 0, contentKey: false });
    await expect(target.registry.register(getPublicKey(seedErased))).rejects.toMatchObject({ code: 'key-erased' });
    await target.close();

    // A gateway on the copy: the first frame again is a duplicate of the copied row (found at
    // commit: this instance never saw it), an old counter with other bytes a replay, the next
    // counter of the new key accepted with an id after the copied ones.
    const live = await PgStore.open(url);
    const ingestor = new Ingestor(live);
    // meter-a's first key was revoked by the rotation: its frames are refused now.
    const again = await ingestor.ingest(first, { source: 'http' });
    expect(again.code).toBe('key-revoked');
    const b = await ingestor.ingest(sealRecord(record(3, 3), seedB), { source: 'http' });
    expect(b.code).toBe('key-revoked');
    await live.registry.unrevoke('meter-b');
    const dup = await ingestor.ingest(sealRecord(record(3, 3), seedB), { source: 'http' });
    expect(dup).toMatchObject({ ok: true, delivery: 'duplicate', id: (await store.queryFrames({ kid: toHex(kidOf(getPublicKey(seedB))), limit: 3 }))[2]!.id });
    const replay = await ingestor.ingest(sealRecord(record(3, 4), seedB), { source: 'http' });
    expect(replay.code).toBe('replay');
    const next = await ingestor.ingest(sealRecord(record(79), seedB), { source: 'http' });
    expect(next.ok).toBe(true);
    expect(next.id).toBeGreaterThan(199 + 2);
    await ingestor.close();
    await live.close();
    store.close();
  }, 60_000);

  it('refuses a target that is not empty, and leaves it as it was', async () => {
    const store = Store.open(join(dir, 'b.db'));
    store.addDevice(getPublicKey(seedB), { name: 'only' });
    const url = await freshDatabase(server.url);
    const target = await PgStore.open(url, { ingest: false });
    await target.registry.register(getPublicKey(seedA), { name: 'already-here' });
    await expect(copyStore(store, target)).rejects.toMatchObject({ code: 'target-not-empty' });
    expect((await target.listDevices()).map((d) => d.name)).toEqual(['already-here']);
    await target.close();
    store.close();
  });

  it('with the CLI: db copy --json (progress on stderr), a password in the URL refused; db backup and restore of SQLite', async () => {
    const file = join(dir, 'cli.db');
    const { store } = await populated(file);
    store.close();
    const url = await freshDatabase(server.url);
    const copied = sceau(['db', 'copy', '--from', file, '--to', url, '--json']);
    expect(copied.stderr).toMatch(/frames: 199 of 199/);
    expect(copied.status).toBe(0);
    const counts = { devices: 2, keys: 3, frames: 199, windows: 2, contentKeys: 1, tombstones: 1 };
    expect(JSON.parse(copied.stdout)).toMatchObject({ source: counts, target: counts });
    const again = sceau(['db', 'copy', '--from', file, '--to', url]);
    expect(again.status).toBe(3);
    expect(again.stderr).toMatch(/not empty.*\[target-not-empty\]/);
    const withPassword = sceau(['db', 'copy', '--from', file, '--to', url.replace('postgres@', 'postgres:secret@')]);
    expect(withPassword.status).toBe(3);
    expect(withPassword.stderr).toMatch(/password in the database URL is refused/);

    const backup = join(dir, 'cli-backup.db');
    const b = sceau(['db', 'backup', '--db', file, '--to', backup, '--json']);
    expect(b.status).toBe(0);
    expect(sceau(['db', 'backup', '--db', file, '--to', backup]).status).toBe(3);
    expect(sceau(['db', 'backup', '--db', url, '--to', backup]).stderr).toMatch(/pg_dump -Fc/);
    // The store moves on, then is restored: the backup's frames again.
    const later = Store.open(file);
    later.addDevice(getPublicKey(new Uint8Array(32).fill(0x70)), { name: 'after-backup' });
    later.close();
    expect(sceau(['db', 'restore', '--from', backup, '--db', file]).status).toBe(3);
    const r = sceau(['db', 'restore', '--from', backup, '--db', file, '--force', '--json']);
    expect(r.status).toBe(0);
    const restored = Store.open(file, { readonly: true });
    expect((await restored.listDevices()).map((d) => d.name)).toEqual(['meter-a', 'meter-b', 'meter-a']);
    expect(await restored.queryFrames({ limit: 1000 })).toHaveLength(199);
    restored.close();
  }, 120_000);
});
