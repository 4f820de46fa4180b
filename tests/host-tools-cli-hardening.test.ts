// Issue 13, the CLI as users run it: the built `sceau` as a child process, its stdout, stderr
// and exit codes (bounded input, stdin as a stream, key file kinds, missing databases, console
// lines and captures, clear usage errors, secrets and git, hardware paths, cbor-x paths).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '@sceau/host-tools';
import { getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';

const require = createRequire(import.meta.url);
const hostTools = dirname(require.resolve('@sceau/host-tools/package.json'));
const bin = join(hostTools, 'bin', 'sceau.cjs');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function sceau(args: string[], input?: string | Uint8Array, options: { cwd?: string } = {}): Run {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', timeout: 30_000, cwd: options.cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let dir: string;
let keyDir: string;
let keyFile: string;
let pubFile: string;
let kid: string;
let seed: Uint8Array;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-cli-h-'));
  keyDir = join(dir, 'keys');
  const r = sceau(['keys', 'generate', '--out', keyDir]);
  expect(r.status).toBe(0);
  kid = (JSON.parse(r.stdout) as { kid: string }).kid;
  keyFile = join(keyDir, `${kid}.key`);
  pubFile = join(keyDir, `${kid}.pub`);
  const { createPrivateKey } = require('node:crypto') as typeof import('node:crypto');
  seed = new Uint8Array(Buffer.from(createPrivateKey(readFileSync(keyFile, 'utf8')).export({ format: 'jwk' }).d!, 'base64url'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function seal(counter: number, options: { kid?: boolean; value?: number } = {}): Uint8Array {
  return sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: options.value ?? 2000 + counter }] }, seed, { kid: options.kid ?? true });
}

describe('key file kinds (--key)', () => {
  it('refuses a public key given as --key, whatever its mode, with code key-is-public (exit 2)', () => {
    for (const mode of [0o600, 0o644]) {
      chmodSync(pubFile, mode);
      const r = sceau(['frame', 'seal', '--key', pubFile, '--counter', '1', '--reading', 'temperature=1']);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('is a public key');
      expect(r.stderr).toContain('[key-is-public]');
      expect(r.stderr).not.toContain('chmod');
    }
    chmodSync(pubFile, 0o644);
    // The same 64 hex under another name, but named after its own fingerprint: still a public key.
    const renamed = join(dir, `${kid}.hex`);
    writeFileSync(renamed, readFileSync(pubFile), { mode: 0o600 });
    expect(sceau(['frame', 'seal', '--key', renamed, '--counter', '1', '--reading', 'temperature=1']).stderr).toContain('[key-is-public]');
    // Key metadata JSON (DIR/<kid>.json) is not a secret key either.
    const meta = join(dir, 'meta.json');
    writeFileSync(meta, JSON.stringify({ kid, publicKey: readFileSync(pubFile, 'utf8').trim() }), { mode: 0o600 });
    expect(sceau(['frame', 'seal', '--key', meta, '--counter', '1', '--reading', 'temperature=1']).stderr).toContain('[key-is-public]');
  });

  it('a directory as --key is a usage error (exit 2), not an internal error', () => {
    const r = sceau(['frame', 'seal', '--key', keyDir, '--counter', '1', '--reading', 'temperature=1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('[key-is-directory]');
    expect(r.stderr).not.toContain('internal error');
  });

  it('the secret key still seals, and a 64-hex seed file still reads as a seed', () => {
    expect(sceau(['frame', 'seal', '--key', keyFile, '--counter', '1', '--reading', 'temperature=1']).stdout.trim()).toBe(toHex(sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 100 }] }, seed)));
    const hexSeed = join(dir, 'seed.hex');
    writeFileSync(hexSeed, toHex(seed), { mode: 0o600 });
    expect(sceau(['frame', 'seal', '--key', hexSeed, '--counter', '1', '--reading', 'temperature=1']).status).toBe(0);
  });
});

describe('keys generate', () => {
  it('--out naming an existing file is a usage error (exit 2, no stack trace)', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = sceau(['keys', 'generate', '--out', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('[out-not-a-directory]');
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('warns on stderr when --out is inside a git work tree and not ignored; not when ignored', () => {
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    expect(spawnSync('git', ['init', '-q', repo]).status).toBe(0);
    const warned = sceau(['keys', 'generate', '--out', join(repo, 'secrets')]);
    expect(warned.status).toBe(0);
    expect(warned.stderr).toMatch(/warning: secret key .*inside the git work tree .* not ignored/);
    writeFileSync(join(repo, '.gitignore'), 'secrets/\n');
    const quiet = sceau(['keys', 'generate', '--out', join(repo, 'secrets')]);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toContain('warning');
    const outside = sceau(['keys', 'generate', '--out', join(dir, 'elsewhere')]);
    expect(outside.stderr).not.toContain('warning');
  });

  it('the repository ignores keys/ and firmware/.env.local', () => {
    const root = join(hostTools, '..');
    for (const path of ['keys/abc.key', 'firmware/.env.local']) {
      expect(spawnSync('git', ['-C', root, 'check-ignore', '-q', '--no-index', path]).status, path).toBe(0);
    }
  });
});

describe('databases that do not exist (read commands)', () => {
  it('frame verify --db, devices list/show, export refuse a missing path (exit 3) and create nothing', () => {
    const typo = join(dir, 'typo.db');
    const frame = toHex(seal(1));
    for (const args of [['frame', 'verify', '--db', typo, '-'], ['devices', 'list', '--db', typo], ['devices', 'show', kid, '--db', typo], ['export', '--db', typo], ['devices', 'revoke', kid, '--db', typo]]) {
      const r = sceau(args, frame);
      expect(r.status, args.join(' ')).toBe(3);
      expect(r.stderr).toContain('[database-missing]');
      expect(() => readFileSync(typo)).toThrow();
    }
  });

  it('an empty file or a file that is not a sceau database gets a clear message (exit 3)', () => {
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    const r = sceau(['devices', 'list', '--db', empty]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('empty file, not a sceau database');
    const text = join(dir, 'text.db');
    writeFileSync(text, 'hello\n');
    expect(sceau(['devices', 'list', '--db', text]).stderr).toContain('[database-not-sceau]');
  });

  it('devices list on a registry without devices says so on stderr', () => {
    const db = join(dir, 'reg.db');
    expect(sceau(['devices', 'add', '--db', db, '--public-key', pubFile]).status).toBe(0);
    expect(sceau(['devices', 'revoke', kid, '--db', db]).status).toBe(0);
    const fresh = join(dir, 'fresh.db');
    // A registry created by the gateway's store, with no device yet.
    Store.open(fresh).close();
    const r = sceau(['devices', 'list', '--db', fresh]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no devices registered');
  });
});
