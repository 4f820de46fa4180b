// Owner keys (issue 17): `sceau owner keys generate`, content keys wrapped for the owner (HPKE),
// and `frame verify --keys --owner-key --wrapped-keys` opening record version 2 readings.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, getPublicKey, kidOf, sealRecordV2, sha256, toHex } from '@sceau/protocol';
import { unwrapContentKey, wrapContentKey } from '../host-tools/src/content-key-wrap.js';
import { readOwnerPrivateKey } from '../host-tools/src/owner-keys.js';
import { jsonLines, sceau } from './helpers/cli.js';

let dir: string;
let owner: { ownerKeyId: string; publicKey: string; secretKeyFile: string; publicKeyFile: string };
const seed = sha256(new TextEncoder().encode('owner keys test device'));
const contentKey = sha256(new TextEncoder().encode('owner keys test content key'));
const kid = toHex(kidOf(getPublicKey(seed)));
const record = { counter: 5, time: 1764331200, readings: [{ channel: 1, value: 2150 }, { channel: 5, value: 3012 }, { channel: 2, value: 4530, age: 60 }] };
let keysDir: string;
let framesFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-owner-'));
  const r = sceau(['owner', 'keys', 'generate', '--out', join(dir, 'owner'), '--json']);
  expect(r.status, r.stderr).toBe(0);
  owner = JSON.parse(r.stdout);
  keysDir = join(dir, 'keys');
  mkdirSync(keysDir);
  writeFileSync(join(keysDir, `${kid}.pub`), `${toHex(getPublicKey(seed))}\n`);
  framesFile = join(dir, 'frames.hex');
  writeFileSync(framesFile, `${toHex(sealRecordV2(record, seed, contentKey))}\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sceau owner keys generate', () => {
  it('writes owner-<id>.key (X25519 PKCS#8 PEM, 0600) and owner-<id>.pub (64 hex), id = SHA-256(pub)[0..8]', () => {
    expect(owner.ownerKeyId).toMatch(/^[0-9a-f]{16}$/);
    expect(owner.secretKeyFile.endsWith(`owner-${owner.ownerKeyId}.key`)).toBe(true);
    expect(statSync(owner.secretKeyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(owner.secretKeyFile, 'utf8')).toContain('-----BEGIN PRIVATE KEY-----');
    expect(readFileSync(owner.publicKeyFile, 'utf8').trim()).toBe(owner.publicKey);
    expect(toHex(sha256(fromHex(owner.publicKey))).slice(0, 16)).toBe(owner.ownerKeyId);
    const key = readOwnerPrivateKey(owner.secretKeyFile);
    expect(key.publicKey.toString('hex')).toBe(owner.publicKey);
  });

  it('refuses an owner key file others can read, and a public key given as the private one', () => {
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, readFileSync(owner.secretKeyFile));
    chmodSync(loose, 0o644);
    expect(() => readOwnerPrivateKey(loose)).toThrow(/readable by group or others/);
    expect(() => readOwnerPrivateKey(owner.publicKeyFile)).toThrow(/public key/);
  });
});

describe('content keys wrapped for the owner', () => {
  it('unwrap with the owner key only, and only for the kid they were wrapped for', () => {
    const ownerKey = readOwnerPrivateKey(owner.secretKeyFile);
    const wrapped = wrapContentKey(fromHex(owner.publicKey), kid, contentKey);
    expect(JSON.stringify(wrapped)).not.toContain(toHex(contentKey));
    expect(toHex(unwrapContentKey(ownerKey, wrapped))).toBe(toHex(contentKey));
    expect(() => unwrapContentKey(ownerKey, { ...wrapped, kid: '0011223344556677' })).toThrow(/does not open/);
    const other = sceau(['owner', 'keys', 'generate', '--out', join(dir, 'other'), '--json']);
    const otherKey = readOwnerPrivateKey(JSON.parse(other.stdout).secretKeyFile);
    expect(() => unwrapContentKey(otherKey, wrapped)).toThrow(/wrapped for owner key/);
    expect(() => unwrapContentKey(otherKey, { ...wrapped, ownerKeyId: otherKey.ownerKeyId })).toThrow(/does not open/);
  });
});

describe('sceau owner rotate', () => {
  it('re-wraps every content key for the new owner key: the new key opens them, the old one not the new file', () => {
    const wrappedFile = join(dir, 'rotate-in.json');
    writeFileSync(wrappedFile, JSON.stringify({ wrappedKeys: [wrapContentKey(fromHex(owner.publicKey), kid, contentKey), wrapContentKey(fromHex(owner.publicKey), '0011223344556677', sha256(contentKey))] }));
    const next = JSON.parse(sceau(['owner', 'keys', 'generate', '--out', join(dir, 'next'), '--json']).stdout);
    const out = join(dir, 'rotate-out.json');
    const r = sceau(['owner', 'rotate', '--owner-key', owner.secretKeyFile, '--to', next.publicKeyFile, '--wrapped-keys', wrappedFile, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ rotated: 2, ownerKeyId: next.ownerKeyId });
    const rotated = JSON.parse(readFileSync(out, 'utf8')).wrappedKeys;
    expect(rotated.map((w: any) => w.ownerKeyId)).toEqual([next.ownerKeyId, next.ownerKeyId]);
    expect(toHex(unwrapContentKey(readOwnerPrivateKey(next.secretKeyFile), rotated[0]))).toBe(toHex(contentKey));
    expect(() => unwrapContentKey(readOwnerPrivateKey(owner.secretKeyFile), rotated[0])).toThrow(/wrapped for owner key/);
    // never overwrites, and a wrong current owner key writes nothing
    expect(sceau(['owner', 'rotate', '--owner-key', owner.secretKeyFile, '--to', next.publicKeyFile, '--wrapped-keys', wrappedFile, '--out', out]).status).toBe(3);
    const wrong = sceau(['owner', 'rotate', '--owner-key', next.secretKeyFile, '--to', owner.publicKeyFile, '--wrapped-keys', wrappedFile, '--out', join(dir, 'rotate-bad.json')]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/wrong-owner-key/);
    expect(() => readFileSync(join(dir, 'rotate-bad.json'))).toThrow();
  });
});

describe('sceau frame verify on record version 2', () => {
  it('without the owner key: verified, clear readings only, readings null', () => {
    const r = sceau(['frame', 'verify', framesFile, '--keys', keysDir, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const [line] = jsonLines(r.stdout);
    expect(line).toMatchObject({ ok: true, code: 'ok', kid, counter: 5, encrypted: true, readings: null });
    expect(line!.clearReadings.map((x: any) => x.name)).toEqual(['battery']);
    const text = sceau(['frame', 'verify', framesFile, '--keys', keysDir]);
    expect(text.stdout).toMatch(/battery=3\.012 V encrypted \(\d+ bytes\)/);
  });

  it('with --owner-key and --wrapped-keys: every reading, decrypted and dated', () => {
    const wrappedFile = join(dir, 'wrapped.json');
    writeFileSync(wrappedFile, JSON.stringify({ wrappedKeys: [wrapContentKey(fromHex(owner.publicKey), kid, contentKey)] }));
    const r = sceau(['frame', 'verify', framesFile, '--keys', keysDir, '--owner-key', owner.secretKeyFile, '--wrapped-keys', wrappedFile, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const [line] = jsonLines(r.stdout);
    expect(line!.encrypted).toBe(true);
    expect(line!.readings.map((x: any) => [x.name, x.raw, x.at])).toEqual([['battery', 3012, 1764331200], ['temperature', 2150, 1764331200], ['humidity', 4530, 1764331140]]);
  });

  it('a wrong owner key is a clear error (exit 1, wrong-owner-key), never readings', () => {
    const other = JSON.parse(sceau(['owner', 'keys', 'generate', '--out', join(dir, 'third'), '--json']).stdout);
    const wrappedFile = join(dir, 'wrapped-other.json');
    // wrapped for the right owner, opened with another one
    writeFileSync(wrappedFile, JSON.stringify({ wrappedKeys: [wrapContentKey(fromHex(owner.publicKey), kid, contentKey)] }));
    const r = sceau(['frame', 'verify', framesFile, '--keys', keysDir, '--owner-key', other.secretKeyFile, '--wrapped-keys', wrappedFile, '--json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/wrong-owner-key/);
    expect(r.stdout).not.toMatch(/temperature/);
  });

  it('a content key that is not the device\'s fails as decrypt-failed (exit 1)', () => {
    const wrappedFile = join(dir, 'wrapped-wrong-ck.json');
    writeFileSync(wrappedFile, JSON.stringify({ wrappedKeys: [wrapContentKey(fromHex(owner.publicKey), kid, sha256(contentKey))] }));
    const r = sceau(['frame', 'verify', framesFile, '--keys', keysDir, '--owner-key', owner.secretKeyFile, '--wrapped-keys', wrappedFile]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/decrypt-failed/);
    expect(r.stdout).not.toMatch(/temperature/);
  });

  it('the store path (frame verify --db, as the gateway ingests) stores version 2 and shows no encrypted readings without the owner key', () => {
    const db = join(dir, 'registry.db');
    expect(sceau(['devices', 'add', '--db', db, '--public-key', toHex(getPublicKey(seed))]).status).toBe(0);
    const r = sceau(['frame', 'verify', framesFile, '--db', db, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ ok: true, code: 'ok', kid, encrypted: true, readings: null });
    expect(r.stdout).not.toMatch(/temperature|humidity/);
  });

  it('--owner-key with --keys but no --wrapped-keys, or --wrapped-keys with --db, is a usage error', () => {
    expect(sceau(['frame', 'verify', framesFile, '--keys', keysDir, '--owner-key', owner.secretKeyFile]).stderr).toMatch(/owner-key-incomplete/);
    const r = sceau(['frame', 'verify', framesFile, '--db', join(dir, 'registry.db'), '--owner-key', owner.secretKeyFile, '--wrapped-keys', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/wrapped-keys-with-db/);
  });
});
