// The store's schema version 2 keeps each frame's readings in its row (JSON) behind a `readings`
// view; version 3 splits the registry into devices with unique names and their keys. A version-1 database (a `readings` table) is read as it is when opened read-only, and
// migrated in one transaction when opened for writing, with the same readings in the same order.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, getPublicKey, kidOf, toHex } from '@sceau/protocol';
import { EXIT, FrameBatch, MIGRATIONS, migrateSqlite, SCHEMA_VERSION, Store, StoreError } from '@sceau/host-tools';

const bin = join(dirname(createRequire(import.meta.url).resolve('@sceau/host-tools/package.json')), 'bin', 'sceau.cjs');
const sceau = (args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
const kidOfHex = (publicKey: string): string => toHex(kidOf(fromHex(publicKey)));

const dir = mkdtempSync(join(tmpdir(), 'sceau-migrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A database as sceau's schema version 1 wrote it: two accepted frames, one refused. */
function versionOneDatabase(file: string): void {
  const db = new Database(file);
  // Migration 1 is schema version 1 as sceau wrote it (its tables and indexes, unchanged since).
  MIGRATIONS[0]!.sqlite(db);
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('schema_version', '1');
    INSERT INTO frames VALUES (1, 1700000000000, 'http:127.0.0.1', 'ok', '00112233445566aa', 1, NULL, x'd2840101');
    INSERT INTO frames VALUES (2, 1700000001000, 'http:127.0.0.1', 'bad-signature', '00112233445566aa', NULL, 'Ed25519 signature does not verify', x'd2840102');
    INSERT INTO frames VALUES (3, 1700000002000, 'udp:127.0.0.1:5000', 'ok', '00112233445566aa', 2, NULL, x'd2840103');
    INSERT INTO readings VALUES (1, 1, '00112233445566aa', 1, 1, 'temperature', 21.5, 'Cel', 2150, 0, 1700000000);
    INSERT INTO readings VALUES (2, 1, '00112233445566aa', 1, 5, 'battery', 3.3, 'V', 3300, 30, 1699999970);
    INSERT INTO readings VALUES (3, 3, '00112233445566aa', 2, 1, 'temperature', -4.25, 'Cel', -425, 0, NULL);
    INSERT INTO readings VALUES (4, 3, '00112233445566aa', 2, 99, 'channel-99', 7, '', 7, 0, 1700000002);
    INSERT INTO replay_windows VALUES ('00112233445566aa', 2, '0000000000000003', 1700000002000);
  `);
  db.close();
}

const expected = [
  { kid: '00112233445566aa', counter: 2, frameId: 3, channel: 1, name: 'temperature', value: -4.25, unit: 'Cel', raw: -425, age: 0, at: null },
  { kid: '00112233445566aa', counter: 1, frameId: 1, channel: 5, name: 'battery', value: 3.3, unit: 'V', raw: 3300, age: 30, at: 1699999970 },
  { kid: '00112233445566aa', counter: 1, frameId: 1, channel: 1, name: 'temperature', value: 21.5, unit: 'Cel', raw: 2150, age: 0, at: 1700000000 },
  { kid: '00112233445566aa', counter: 2, frameId: 3, channel: 99, name: 'channel-99', value: 7, unit: '', raw: 7, age: 0, at: 1700000002 },
];

describe('a store of schema version 1', () => {
  it('is read as it is when opened read-only', async () => {
    const file = join(dir, 'readonly.db');
    versionOneDatabase(file);
    const store = Store.open(file, { readonly: true });
    try {
      expect(store.schemaVersion).toBe(1);
      expect((await store.queryReadings())).toEqual(expected);
      expect((await store.queryReadings({ kid: '00112233445566AA', since: 1700000000 })).map((r) => r.channel)).toEqual([1, 99]);
    } finally {
      store.close();
    }
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: '1' });
    db.close();
  });

  it('is migrated (through version 2 to 3) when opened for writing: same readings, same order, same frames', async () => {
    const file = join(dir, 'migrate.db');
    versionOneDatabase(file);
    const store = Store.open(file);
    try {
      expect(store.schemaVersion).toBe(SCHEMA_VERSION);
      expect((await store.queryReadings())).toEqual(expected);
      expect((await store.queryFrames()).map((f) => [f.id, f.outcome, f.counter])).toEqual([[1, 'ok', 1], [2, 'bad-signature', null], [3, 'ok', 2]]);
      const objects = store.db.prepare("SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'index', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name").all();
      expect(objects).toEqual([
        { type: 'table', name: 'content_keys' },
        { type: 'view', name: 'devices' },
        { type: 'table', name: 'erased_keys' },
        { type: 'table', name: 'frame_hours' },
        { type: 'table', name: 'frames' },
        { type: 'index', name: 'frames_by_kid' },
        { type: 'table', name: 'meta' },
        { type: 'view', name: 'readings' },
        { type: 'table', name: 'registry_devices' },
        { type: 'table', name: 'registry_keys' },
        { type: 'index', name: 'registry_keys_by_device' },
        { type: 'index', name: 'registry_one_registered_key' },
        { type: 'table', name: 'replay_windows' },
      ]);
      const stored = store.db.prepare('SELECT id, readings FROM frames ORDER BY id').all() as Array<{ id: number; readings: string | null }>;
      expect(stored[1]!.readings).toBeNull();
      expect(JSON.parse(stored[0]!.readings!)).toEqual([[1, 'temperature', 21.5, 'Cel', 2150, 0, 1700000000], [5, 'battery', 3.3, 'V', 3300, 30, 1699999970]]);
      expect(store.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(SCHEMA_VERSION) });
      // The replay window survived, and new frames are stored in the new form.
      expect(store.replay.get('00112233445566aa').highestAccepted).toBe(2);
      store.writeBatch(FrameBatch.of([{ raw: Uint8Array.of(9), receivedAt: 1700000003000, source: 'test', outcome: 'ok', kid: '00112233445566aa', counter: 3, readings: [{ channel: 2, name: 'humidity', value: 45, unit: '%RH', raw: 4500, age: 0, at: 1700000003 }] }]));
      expect((await store.queryReadings({ since: 1700000003 }))).toEqual([{ kid: '00112233445566aa', counter: 3, frameId: 4, channel: 2, name: 'humidity', value: 45, unit: '%RH', raw: 4500, age: 0, at: 1700000003 }]);
    } finally {
      store.close();
    }
    // Still at most one accepted frame per counter of a key.
    const raw = new Database(file);
    expect(() => raw.prepare("INSERT INTO frames (received_at, source, outcome, kid, counter, raw) VALUES (1, 'x', 'ok', '00112233445566aa', 2, x'00')").run()).toThrow(/UNIQUE/);
    raw.prepare("INSERT INTO frames (received_at, source, outcome, kid, counter, raw) VALUES (1, 'x', 'replay', '00112233445566aa', 2, x'00')").run();
    raw.close();
    // Opening it again finds version 2 and changes nothing.
    const again = Store.open(file);
    expect((await again.queryReadings())).toHaveLength(5);
    expect((await again.queryFrames({ kid: '00112233445566aa' })).map((f) => f.outcome)).toEqual(['ok', 'bad-signature', 'ok', 'ok', 'replay']);
    again.close();
  });

  it('refuses a schema version it does not know, with a typed store error (exit 3 in the CLI)', () => {
    const file = join(dir, 'future.db');
    versionOneDatabase(file);
    const db = new Database(file);
    db.exec("UPDATE meta SET value = '7' WHERE key = 'schema_version'");
    db.close();
    expect(() => Store.open(file)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'schema-too-new', message: expect.stringMatching(/schema version 7/) }));
    expect(() => Store.open(file, { readonly: true })).toThrow(StoreError);
    const cli = sceau(['devices', 'list', '--db', file]);
    expect(cli.status).toBe(EXIT.io);
    expect(cli.stderr).toMatch(/schema version 7, this sceau reads versions 1 to \d+ \[schema-too-new\]/);
  });
});

describe('numbered migrations', () => {
  const schemaOf = (file: string): string[] => {
    const db = new Database(file, { readonly: true });
    const rows = db.prepare("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as Array<{ type: string; name: string }>;
    db.close();
    return rows.map((r) => `${r.type} ${r.name}`);
  };

  it('are numbered 1..N without gaps, the last being the schema version written', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(MIGRATIONS.every((m) => m.description.length > 0)).toBe(true);
  });

  it('build a new database to the same schema as an old one migrated, and applying them again changes nothing', () => {
    const fresh = join(dir, 'fresh.db');
    Store.open(fresh).close();
    const old = join(dir, 'old.db');
    versionOneDatabase(old);
    Store.open(old).close();
    expect(schemaOf(fresh)).toEqual(schemaOf(old));
    expect(schemaOf(fresh)).toEqual(expect.arrayContaining(['index frames_by_kid', 'table registry_keys', 'view readings', 'view devices']));
    const db = new Database(fresh);
    expect(migrateSqlite(db, fresh)).toEqual({ applied: [], renamed: [] });
    expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(SCHEMA_VERSION) });
    db.close();
    // An empty database gets every migration, in order.
    const blank = new Database(':memory:');
    expect(migrateSqlite(blank, ':memory:').applied).toEqual(MIGRATIONS.map((m) => m.version));
    blank.close();
  });
});

/**
 * A database as sceau's schema version 2 wrote it, with what version 2 let in: two devices
 * named `pump`, a device named like a kid, a revoked key with a DevEUI, and an accepted frame.
 */
function versionTwoDatabase(file: string, keys: { a: string; b: string; c: string; d: string }): void {
  const db = new Database(file);
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('schema_version', '2');
    CREATE TABLE devices (kid TEXT PRIMARY KEY, public_key BLOB NOT NULL, name TEXT, dev_eui TEXT UNIQUE, revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, revoked_at INTEGER);
    CREATE TABLE frames (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, source TEXT NOT NULL, outcome TEXT NOT NULL, kid TEXT, counter INTEGER, detail TEXT, raw BLOB NOT NULL, readings TEXT);
    CREATE UNIQUE INDEX frames_by_kid ON frames (kid, counter, (CASE WHEN outcome = 'ok' THEN 0 ELSE id END));
    CREATE TABLE replay_windows (kid TEXT PRIMARY KEY, highest INTEGER NOT NULL, bitmap TEXT NOT NULL, updated_at INTEGER NOT NULL);
  `);
  const add = db.prepare('INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?)');
  add.run(kidOfHex(keys.a), Buffer.from(keys.a, 'hex'), 'pump', null, 0, 1700000000000, null);
  add.run(kidOfHex(keys.b), Buffer.from(keys.b, 'hex'), 'pump', '70b3d57ed0000002', 1, 1700000001000, 1700000005000);
  add.run(kidOfHex(keys.c), Buffer.from(keys.c, 'hex'), '0011223344556677', null, 0, 1700000002000, null);
  add.run(kidOfHex(keys.d), Buffer.from(keys.d, 'hex'), 'tank', null, 0, 1700000003000, null);
  db.prepare("INSERT INTO frames VALUES (1, 1700000004000, 'test', 'ok', ?, 7, NULL, x'00', '[[1,\"temperature\",21.5,\"Cel\",2150,0,1700000004]]')").run(kidOfHex(keys.a));
  db.prepare("INSERT INTO replay_windows VALUES (?, 7, '0000000000000001', 1700000004000)").run(kidOfHex(keys.a));
  db.close();
}

describe('a store of schema version 2 with duplicate names', () => {
  const keys = { a: toHex(getPublicKey(new Uint8Array(32).fill(71))), b: toHex(getPublicKey(new Uint8Array(32).fill(72))), c: toHex(getPublicKey(new Uint8Array(32).fill(73))), d: toHex(getPublicKey(new Uint8Array(32).fill(74))) };
  const [a, b, c, d] = [keys.a, keys.b, keys.c, keys.d].map(kidOfHex) as [string, string, string, string];

  it('is read as it is when opened read-only: a shared name is ambiguous, never the first device', async () => {
    const file = join(dir, 'v2-readonly.db');
    versionTwoDatabase(file, keys);
    const store = Store.open(file, { readonly: true });
    try {
      expect(store.schemaVersion).toBe(2);
      expect((await store.listDevices()).map((x) => [x.kid, x.name, x.state])).toEqual([[a, 'pump', 'registered'], [b, 'pump', 'revoked'], [c, '0011223344556677', 'registered'], [d, 'tank', 'registered']]);
      await expect(store.getDevice('pump')).rejects.toThrow(expect.objectContaining({ code: 'ambiguous-device', name: 'RegistryError' }));
      expect((await store.getDevice('70B3D57ED0000002'))?.kid).toBe(b);
      expect(store.registry.kidsOf('tank')).toEqual([d]);
    } finally {
      store.close();
    }
  });

  it('is migrated to version 3 when opened for writing: shared and kid-like names become name~kid, recorded in meta', async () => {
    const file = join(dir, 'v2-migrate.db');
    versionTwoDatabase(file, keys);
    const store = Store.open(file);
    try {
      expect(store.schemaVersion).toBe(SCHEMA_VERSION);
      const renamed = [
        { kid: a, from: 'pump', to: `pump~${a}` },
        { kid: b, from: 'pump', to: `pump~${b}` },
        { kid: c, from: '0011223344556677', to: `0011223344556677~${c}` },
      ];
      expect(store.renamedByMigration).toEqual(renamed);
      expect(JSON.parse((store.db.prepare("SELECT value FROM meta WHERE key = 'renamed_by_migration_3'").get() as { value: string }).value)).toEqual(renamed);
      expect((await store.listDevices()).map((x) => [x.kid, x.name, x.devEui, x.state, x.revokedAt])).toEqual([
        [a, `pump~${a}`, null, 'registered', null],
        [b, `pump~${b}`, '70b3d57ed0000002', 'revoked', new Date(1700000005000).toISOString()],
        [c, `0011223344556677~${c}`, null, 'registered', null],
        [d, 'tank', null, 'registered', null],
      ]);
      expect((await store.getDevice('pump'))).toBeUndefined();
      expect(() => store.registry.resolve('pump')).toThrow(/unknown-device.*known: pump~/);
      expect((await store.getDevice(`pump~${a}`))?.highestCounter).toBe(7);
      // The version-2 columns stay readable by SQL through the `devices` view.
      expect(store.db.prepare('SELECT kid, name, dev_eui, revoked FROM devices WHERE kid = ?').get(b)).toEqual({ kid: b, name: `pump~${b}`, dev_eui: '70b3d57ed0000002', revoked: 1 });
      // Names are unique from now on.
      expect(() => store.registry.update(`pump~${a}`, { name: 'tank' })).toThrow(/name-taken/);
      expect(await store.queryReadings({ kids: store.registry.kidsOf(`pump~${a}`) })).toHaveLength(1);
    } finally {
      store.close();
    }
    const again = Store.open(file);
    expect(again.renamedByMigration).toEqual([]);
    again.close();
  });

  it('with the CLI: read commands report the ambiguity (exit 2); the first write migrates and says what it renamed', () => {
    const file = join(dir, 'v2-cli.db');
    versionTwoDatabase(file, keys);
    const show = sceau(['devices', 'show', 'pump', '--db', file]);
    expect(show.status).toBe(2);
    expect(show.stderr).toMatch(/ambiguous-device: "pump" names 2 devices/);
    const revoke = sceau(['devices', 'revoke', 'tank', '--db', file]);
    expect(revoke.status).toBe(0);
    expect(revoke.stderr).toContain(`warning: ${file}: device ${a} renamed "pump" -> "pump~${a}"`);
    expect(revoke.stderr.match(/renamed/g)).toHaveLength(3);
    expect(sceau(['devices', 'show', `pump~${b}`, '--db', file, '--json']).stdout).toContain('"state":"revoked"');
  });
});
