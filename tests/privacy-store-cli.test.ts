// Privacy through the CLI and the registry (issue 17, docs/privacy.md): `provision --owner` writes
// the board's content key into its settings and keeps it in the registry only wrapped for the
// owner; `frame verify --db --owner-key` opens with the registry's wrapped keys; `owner rotate --db`
// re-wraps them all; `export --owner-key`; provision without --owner. Each on both store
// backends: an SQLite file and a PostgreSQL database (a real server on a loopback port,
// tests/helpers/system-servers.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, getPublicKey, kidOf, sealRecordV2, toHex } from '@sceau/protocol';
import { jsonLines, sceau } from './helpers/cli.js';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';

describe.each(['sqlite', 'postgres'] as const)('%s', (backend) => {
  let dir: string;
  let db: string;
  let env: string;
  let owner: { ownerKeyId: string; secretKeyFile: string; publicKeyFile: string };
  let kid: string;
  let seed: Uint8Array;
  let contentKey: Uint8Array;
  let framesFile: string;
  // temperature 2137 (21.37 Cel) and humidity 4711 (47.11 %RH): values found nowhere else.
  const hidden = [{ channel: 1, value: 2137 }, { channel: 2, value: 4711, age: 30 }];

  function settingOf(text: string, name: string): string {
    return /^[a-z_]+="([0-9a-f]{64})"$/m.exec(text.split('\n').find((l) => l.startsWith(`${name}=`)) ?? '')![1]!;
  }

  function ownerKeys(name: string): typeof owner {
    const r = sceau(['owner', 'keys', 'generate', '--out', join(dir, name), '--json']);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  }

  let server: Awaited<ReturnType<typeof startPostgres>> | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sceau-privacy-cli-'));
    db = backend === 'sqlite' ? join(dir, 'sceau.db') : await freshDatabase((server = await startPostgres()).url);
    env = join(dir, '.env.local');
    owner = ownerKeys('owner');
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The rows a query gives on this backend's database. */
  async function rows(sql: string): Promise<unknown[]> {
    if (backend === 'sqlite') {
      const raw = new Database(db, { readonly: true });
      try {
        return raw.prepare(sql).all();
      } finally {
        raw.close();
      }
    }
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  describe('sceau provision --owner', () => {
    it('writes sceau_seed and sceau_ckey into the settings file, and keeps the content key in the registry only wrapped for the owner', async () => {
      const r = sceau(['provision', '--db', db, '--write-key', env, '--owner', owner.publicKeyFile, '--name', 'flat-2', '--json']);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      kid = out.kid;
      expect(out).toMatchObject({ name: 'flat-2', result: 'created', contentKeyWrappedFor: owner.ownerKeyId });
      const settings = readFileSync(env, 'utf8');
      seed = fromHex(settingOf(settings, 'sceau_seed'));
      contentKey = fromHex(settingOf(settings, 'sceau_ckey'));
      const ckHex = toHex(contentKey);
      // never on the console, never in clear in the database
      expect(r.stdout + r.stderr).not.toContain(ckHex);
      if (backend === 'sqlite') {
        expect(readFileSync(db).toString('hex')).not.toContain(ckHex);
        expect(readFileSync(db, 'latin1')).not.toContain(ckHex);
      }
      expect(await rows('SELECT kid, owner_key_id, ciphertext FROM content_keys')).toEqual([{ kid, owner_key_id: owner.ownerKeyId, ciphertext: expect.not.stringContaining(ckHex) }]);
      framesFile = join(dir, 'frames.hex');
      const frames = [1, 2].map((counter) => toHex(sealRecordV2({ counter, time: 1764331200 + counter, readings: [...hidden, { channel: 5, value: 3012 }] }, seed, contentKey)));
      writeFileSync(framesFile, `${frames.join('\n')}\n`);
    });

    it('--owner without --write-key is a usage error (the content key must reach the board)', () => {
      const r = sceau(['provision', '--db', db, '--log', join(dir, 'none.log'), '--owner', owner.publicKeyFile]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/owner-needs-write-key/);
    });
  });

  describe('sceau provision without --owner', () => {
    it('registers a board from its console line (--json, no content key), again is no change, --rotate revokes its key; a refusal writes no settings', async () => {
      const pub = getPublicKey(new Uint8Array(32).fill(0x77));
      const boardKid = toHex(kidOf(pub));
      const log = join(dir, 'board.log');
      writeFileSync(log, `boot\nsceau-key v1 kid=${boardKid} pub=${toHex(pub)}\n`);
      const r = sceau(['provision', '--db', db, '--log', log, '--name', 'board-1', '--json']);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(expect.objectContaining({ kid: boardKid, name: 'board-1', result: 'created', provisionedFrom: log, alreadyRegistered: false }));
      expect(JSON.parse(r.stdout)).not.toHaveProperty('contentKeyWrappedFor');
      expect(JSON.parse(sceau(['provision', '--db', db, '--log', log, '--json']).stdout)).toMatchObject({ kid: boardKid, result: 'unchanged', alreadyRegistered: true });
      const rotateEnv = join(dir, '.env.rotate');
      const rotated = sceau(['provision', '--db', db, '--rotate', 'board-1', '--write-key', rotateEnv, '--json']);
      expect(rotated.status, rotated.stderr).toBe(0);
      expect(JSON.parse(rotated.stdout)).toMatchObject({ name: 'board-1', result: 'created', revoked: [boardKid] });
      expect(readFileSync(rotateEnv, 'utf8')).toMatch(/^sceau_seed="[0-9a-f]{64}"$/m);
      expect(await rows("SELECT k.state FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id WHERE d.name = 'board-1' ORDER BY k.id")).toEqual([{ state: 'revoked' }, { state: 'registered' }]);
      // A refused registration (the name is another device's) leaves no settings file and no wrapped key.
      const refusedEnv = join(dir, '.env.refused');
      const refused = sceau(['provision', '--db', db, '--write-key', refusedEnv, '--owner', owner.publicKeyFile, '--name', 'board-1', '--json']);
      expect(refused.status).toBe(3);
      expect(jsonLines(refused.stdout)[0]).toMatchObject({ error: 'name-taken' });
      expect(existsSync(refusedEnv)).toBe(false);
      expect(await rows('SELECT kid FROM content_keys')).toEqual([{ kid }]);
    });
  });

  describe('sceau frame verify --db with and without --owner-key', () => {
    it('without the owner key: stored, encrypted, readings null', () => {
      const r = sceau(['frame', 'verify', framesFile, '--db', db, '--json']);
      expect(r.status, r.stderr).toBe(0);
      const lines = jsonLines(r.stdout);
      expect(lines.map((l) => [l.code, l.encrypted, l.readings])).toEqual([['ok', true, null], ['ok', true, null]]);
      expect(r.stdout).not.toMatch(/temperature|21\.37/);
    });

    it('with --owner-key: the wrapped key from the registry opens the readings', () => {
      const r = sceau(['frame', 'verify', framesFile, '--db', db, '--owner-key', owner.secretKeyFile, '--json']);
      expect(r.status, r.stderr).toBe(0);
      const [first] = jsonLines(r.stdout);
      expect(first).toMatchObject({ code: 'ok', encrypted: true, delivery: 'duplicate' });
      expect(first!.readings.map((x: any) => [x.name, x.value])).toEqual([['battery', 3.012], ['temperature', 21.37], ['humidity', 47.11]]);
    });

    it('a wrong owner key is a clear error (exit 1, wrong-owner-key), no readings', () => {
      const other = ownerKeys('other');
      const r = sceau(['frame', 'verify', framesFile, '--db', db, '--owner-key', other.secretKeyFile, '--json']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/wrong-owner-key/);
      expect(r.stdout).not.toMatch(/temperature|21\.37/);
      expect(sceau(['frame', 'verify', framesFile, '--db', db, '--owner-key', owner.secretKeyFile, '--wrapped-keys', 'x.json']).stderr).toMatch(/wrapped-keys-with-db/);
    });
  });

  describe('sceau owner rotate --db', () => {
    it('re-wraps every content key of the registry for the new owner key; the old key then fails cleanly', () => {
      const next = ownerKeys('next');
      const wrong = sceau(['owner', 'rotate', '--db', db, '--owner-key', next.secretKeyFile, '--to', next.publicKeyFile]);
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toMatch(/wrong-owner-key/);
      const r = sceau(['owner', 'rotate', '--db', db, '--owner-key', owner.secretKeyFile, '--to', next.publicKeyFile, '--json']);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ rotated: 1, from: owner.ownerKeyId, to: next.ownerKeyId });
      const opened = sceau(['frame', 'verify', framesFile, '--db', db, '--owner-key', next.secretKeyFile, '--json']);
      expect(jsonLines(opened.stdout)[1]!.readings.map((x: any) => x.raw)).toEqual([3012, 2137, 4711]);
      const old = sceau(['frame', 'verify', framesFile, '--db', db, '--owner-key', owner.secretKeyFile, '--json']);
      expect(old.status).toBe(1);
      expect(old.stderr).toMatch(/wrong-owner-key/);
      owner = next;
    });
  });

  describe('sceau export and record version 2', () => {
    it('without --owner-key: one "encrypted (N bytes)" row per frame in json and csv, none in SenML, the clear readings as usual', () => {
      const r = sceau(['export', '--db', db, '--format', 'json']);
      expect(r.status, r.stderr).toBe(0);
      const rows = JSON.parse(r.stdout);
      expect(rows.filter((x: any) => x.encrypted).map((x: any) => [x.counter, x.encryptedBytes, x.readings])).toEqual([[1, 13, null], [2, 13, null]]);
      expect(rows.filter((x: any) => !x.encrypted).map((x: any) => [x.counter, x.name])).toEqual([[1, 'battery'], [2, 'battery']]);
      expect(r.stdout).not.toMatch(/temperature|21\.37/);
      expect(r.stderr).toMatch(/exported 2 readings; the readings of 2 frames stay encrypted/);
      const csv = sceau(['export', '--db', db, '--format', 'csv']);
      expect(csv.stdout).toContain(`2025-11-28T12:00:01.000Z,1764331201,${kid},flat-2,1,,encrypted (13 bytes),,,\r\n`);
      const senml = sceau(['export', '--db', db, '--format', 'senml']);
      expect(JSON.parse(senml.stdout).map((x: any) => x.n)).toEqual(['battery', 'battery']);
    });

    it('with --owner-key: the encrypted readings opened, in time order, marked encrypted', () => {
      const r = sceau(['export', '--db', db, '--format', 'json', '--owner-key', owner.secretKeyFile]);
      expect(r.status, r.stderr).toBe(0);
      const rows = JSON.parse(r.stdout);
      expect(rows.map((x: any) => [x.counter, x.name, x.value, x.at, x.encrypted ?? false])).toEqual([
        [1, 'humidity', 47.11, 1764331171, true],
        [2, 'humidity', 47.11, 1764331172, true],
        [1, 'battery', 3.012, 1764331201, false],
        [1, 'temperature', 21.37, 1764331201, true],
        [2, 'battery', 3.012, 1764331202, false],
        [2, 'temperature', 21.37, 1764331202, true],
      ]);
      expect(r.stderr).toMatch(/exported 6 readings$/m);
    });

    it('a wrong owner key: exit 1, wrong-owner-key, nothing written', () => {
      const other = ownerKeys('export-other');
      const r = sceau(['export', '--db', db, '--owner-key', other.secretKeyFile]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/wrong-owner-key/);
      expect(r.stdout).toBe('');
    });
  });
});
