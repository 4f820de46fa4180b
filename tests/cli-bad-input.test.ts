// Bad input on the `sceau` command line (issue 19: "CLI: keys generate, frame inspect, devices
// revoke, export --since, and gateway serve with bad addresses or token files"), run as users run
// it: the built binary in a child process. The rule every test guards: a refusal is one line on
// stderr, `sceau: <message> [<code>]` (a registry refusal: `sceau: <code>: <detail>`), with no
// stack trace; the exit status is the shared table's (host-tools/src/exit-codes.ts: 2 usage, 3 I/O,
// 1 a rejected input); with --json the same code is on stdout as {"error", "detail"}
// (docs/integrators.md#cli-errors); and nothing is left half-written.
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';
import { EXIT, SceauError, writeKeyPair } from '@sceau/host-tools';
import { sceau, type Run } from './helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-cli-bad-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The refusal's shape: exit status, one stderr line naming the code, no stack trace; with
 * `json`, the last stdout line is {"error": code, "detail": ...}. Returns the detail.
 */
function refused(r: Run, exit: number, code: string, json = true): string {
  const context = `stdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect(r.status, context).toBe(exit);
  const lines = r.stderr.trim().split('\n');
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(new RegExp(`^sceau: (${code}: .+|.+ \\[${code}\\])$`));
  expect(r.stderr, context).not.toMatch(/\n\s+at |internal error/);
  if (!json) return lines[0]!;
  const body = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { error: string; detail: string };
  expect(body.error, context).toBe(code);
  expect(body.detail.length, context).toBeGreaterThan(0);
  return body.detail;
}

describe('keys generate', () => {
  it('rule: a bad --out is a usage error with its code, and writes nothing', () => {
    refused(sceau(['keys', 'generate', '--out', '', '--json']), EXIT.usage, 'bad-out');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep me');
    refused(sceau(['keys', 'generate', '--out', file, '--json']), EXIT.usage, 'out-not-a-directory');
    refused(sceau(['keys', 'generate', '--out', join(file, 'keys'), '--json']), EXIT.usage, 'out-not-a-directory');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('rule: a directory that cannot be created is an I/O error (exit 3, out-unwritable), and nothing is written; the command never hangs', () => {
    // Root may write anywhere but not create directories in /proc (where Node's recursive mkdir used to spin forever).
    let target: string;
    if (process.getuid?.() === 0) target = '/proc/self/sceau-keys';
    else {
      const locked = join(dir, 'locked');
      mkdirSync(locked, { mode: 0o555 });
      chmodSync(locked, 0o555);
      target = join(locked, 'keys');
    }
    const detail = refused(sceau(['keys', 'generate', '--out', target, '--json'], undefined, { timeoutMs: 20_000 }), EXIT.io, 'out-unwritable');
    expect(detail).toContain(target);
    expect(existsSync(target)).toBe(false);
  });

  it('rule: a pair is written whole or not at all: a .pub that cannot be written removes the .key just written; an existing .key is never replaced', () => {
    const seed = new Uint8Array(32).fill(0x19);
    const kid = toHex(kidOf(getPublicKey(seed)));
    const out = join(dir, 'pair');
    mkdirSync(join(out, `${kid}.pub`), { recursive: true }); // a directory where the .pub goes
    expect(() => writeKeyPair(out, seed)).toThrow(expect.objectContaining({ code: 'out-unwritable', exitCode: EXIT.io }));
    expect(readdirSync(out)).toEqual([`${kid}.pub`]); // no .key left behind
    rmSync(join(out, `${kid}.pub`), { recursive: true });
    writeFileSync(join(out, `${kid}.key`), 'an older secret');
    let thrown: unknown;
    try {
      writeKeyPair(out, seed, 'pump');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SceauError);
    expect(thrown).toMatchObject({ code: 'key-exists', exitCode: EXIT.io });
    expect(readdirSync(out)).toEqual([`${kid}.key`]);
    expect(readFileSync(join(out, `${kid}.key`), 'utf8')).toBe('an older secret');
  });
});

describe('frame inspect', () => {
  const seed = new Uint8Array(32).fill(0x20);
  const frame = toHex(sealRecord({ version: 1, counter: 7, time: null, readings: [{ channel: 1, value: 2150 }] }, seed));

  it('rule: bad hex, a truncated frame and bytes that are not CBOR are each reported with a code, the next line still inspected, exit 1', () => {
    const input = ['zz', frame.slice(0, frame.length / 2), 'ff', frame].join('\n');
    const r = sceau(['frame', 'inspect', '-', '--format', 'hex', '--json'], `${input}\n`);
    expect(r.status, r.stderr).toBe(EXIT.verificationFailed);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual({ where: 'stdin:1', ok: false, code: 'unreadable-input', detail: 'not hex' });
    expect(lines[1]).toMatchObject({ where: 'stdin:2', ok: false, code: 'malformed-cbor', diagnostic: null });
    expect(lines[1]!.detail).toMatch(/^malformed CBOR at offset \d+: .*exceeds the input/); // cut inside the payload's byte string
    expect(lines[2]).toMatchObject({ where: 'stdin:3', ok: false, code: 'malformed-cbor', detail: expect.stringContaining('break') });
    expect(lines[3]).toMatchObject({ where: 'stdin:4', kid: toHex(kidOf(getPublicKey(seed))) });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // The text form names the same codes.
    const text = sceau(['frame', 'inspect', '-', '--format', 'hex'], `${input}\n`);
    expect(text.status).toBe(EXIT.verificationFailed);
    expect(text.stdout).toContain('stdin:1: unreadable-input: not hex');
    expect(text.stdout).toMatch(/\(not CBOR: malformed-cbor: malformed CBOR at offset \d+: .*exceeds the input\)/);
  });

  it('rule: a missing file is input-unreadable (exit 3), an input with no frame no-frames (exit 2)', () => {
    refused(sceau(['frame', 'inspect', join(dir, 'missing.hex'), '--json']), EXIT.io, 'input-unreadable');
    refused(sceau(['frame', 'inspect', '-', '--json'], ''), EXIT.usage, 'no-frames');
  });
});

describe('devices revoke', () => {
  let db: string;
  const seed = new Uint8Array(32).fill(0x21);
  beforeAll(() => {
    db = join(dir, 'registry.db');
    const added = sceau(['devices', 'add', '--db', db, '--public-key', toHex(getPublicKey(seed)), '--name', 'pump']);
    expect(added.status, added.stderr).toBe(0);
  });

  it('rule: an unknown or malformed reference is unknown-device (exit 2) and revokes nothing', () => {
    for (const ref of ['nobody', '', '70b3d57ed00000zz', '%zz']) {
      const detail = refused(sceau(['devices', 'revoke', ref, '--db', db, '--json']), EXIT.usage, 'unknown-device');
      expect(detail).toBe(`no device ${JSON.stringify(ref)} in the registry`);
    }
    expect(JSON.parse(sceau(['devices', 'show', 'pump', '--db', db, '--json']).stdout)).toMatchObject({ name: 'pump', revoked: false });
  });

  it('rule: a missing database is database-missing (exit 3) and is not created; an unknown scheme is store-backend-unknown (exit 2)', () => {
    const missing = join(dir, 'nope.db');
    refused(sceau(['devices', 'revoke', 'pump', '--db', missing, '--json']), EXIT.io, 'database-missing');
    expect(existsSync(missing)).toBe(false);
    refused(sceau(['devices', 'revoke', 'pump', '--db', 'foo://x', '--json']), EXIT.usage, 'store-backend-unknown');
  });
});

describe('export --since', () => {
  it('rule: a time that is not Unix seconds, ISO 8601 or a duration is bad-time (exit 2), before any output', () => {
    const db = join(dir, 'registry.db');
    for (const since of ['yesterday', '2026-13-45', '2026-02-30', '-5', 'x 2020', '99999999999999999999', '24x', '']) {
      const r = sceau(['export', '--db', db, '--since', since]);
      refused(r, EXIT.usage, 'bad-time', false);
      expect(r.stdout, since).toBe('');
    }
    refused(sceau(['export', '--db', db, '--until', '2026-12-01T25:00:00Z']), EXIT.usage, 'bad-time', false);
    // The same forms, well written, are taken.
    for (const since of ['1700000000', '2026-02-28', '2026-12-01T10:00:00Z', '24h']) expect(sceau(['export', '--db', db, '--since', since]).status, since).toBe(0);
  });
});

describe('gateway serve', () => {
  const serve = (args: string[], db = join(dir, 'gateway.db')): Run => sceau(['gateway', 'serve', '--db', db, ...args, '--json'], undefined, { timeoutMs: 30_000 });

  it('rule: a malformed address is bad-endpoint (exit 2), refused before the database is created', () => {
    const db = join(dir, 'never-created.db');
    for (const [option, value] of [
      ['--http', 'bad host:80'],
      ['--http', '256.1.1.1:8750'],
      ['--tcp', '127.0.0.1:99999'],
      ['--udp', '127.0.0.1:abc'],
      ['--http', '127.0.0.1:1e3'],
      ['--http', '[not-v6]:80'],
    ] as const) {
      const detail = refused(serve([option, value], db), EXIT.usage, 'bad-endpoint');
      expect(detail).toContain(option);
    }
    expect(existsSync(db)).toBe(false);
  });

  describe('an address in use', () => {
    let tcp: Server;
    let port: number;
    const udp = createSocket('udp4');
    let udpPort: number;
    beforeAll(async () => {
      tcp = createServer();
      await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
      port = (tcp.address() as { port: number }).port;
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
      udpPort = udp.address().port;
    });
    afterAll(async () => {
      await new Promise<void>((r) => tcp.close(() => r()));
      udp.close();
    });

    it('rule: HTTP, TCP or UDP on a port in use is address-in-use (exit 3), in one line naming the option', () => {
      for (const [option, p] of [['--http', () => port], ['--tcp', () => port], ['--udp', () => udpPort]] as const) {
        const detail = refused(serve([option, `127.0.0.1:${p()}`]), EXIT.io, 'address-in-use');
        expect(detail).toBe(`${option} 127.0.0.1:${p()}: address already in use (EADDRINUSE)`);
      }
    });

    it('rule: a start refused for an address in use leaves no new database behind (nor its -wal, -shm), and keeps an existing one', () => {
      const fresh = join(dir, 'in-use', 'fresh.db');
      mkdirSync(join(dir, 'in-use'));
      // HTTP second: the UDP listener has started (and been closed again) when HTTP is refused
      refused(serve(['--udp', '127.0.0.1:0', '--http', `127.0.0.1:${port}`], fresh), EXIT.io, 'address-in-use');
      expect(readdirSync(join(dir, 'in-use'))).toEqual([]);
      const kept = join(dir, 'in-use', 'kept.db');
      refused(serve(['--udp', `127.0.0.1:${udpPort}`], kept), EXIT.io, 'address-in-use');
      expect(readdirSync(join(dir, 'in-use'))).toEqual([]);
      // an existing database is the operator's: a refused start leaves it as it was
      const publicKey = toHex(getPublicKey(new Uint8Array(32).fill(7)));
      expect(sceau(['devices', 'add', '--db', kept, '--public-key', publicKey]).status).toBe(0);
      const before = readFileSync(kept);
      refused(serve(['--tcp', `127.0.0.1:${port}`], kept), EXIT.io, 'address-in-use');
      expect(readFileSync(kept).equals(before)).toBe(true);
      expect(sceau(['devices', 'list', '--db', kept, '--json']).stdout).toContain(publicKey);
    });
  });

  it('rule: a token file that is missing, a directory, readable by others or too short is refused with its code (exit 2) before anything listens or is created', () => {
    const token = (name: string, text: string, mode: number): string => {
      const file = join(dir, name);
      writeFileSync(file, text, { mode });
      chmodSync(file, mode);
      return file;
    };
    refused(serve(['--http', '127.0.0.1:0', '--token-file', join(dir, 'no-token')]), EXIT.usage, 'file-unreadable');
    mkdirSync(join(dir, 'token-dir'), { mode: 0o700 });
    refused(serve(['--http', '127.0.0.1:0', '--token-file', join(dir, 'token-dir')]), EXIT.usage, 'not-a-file');
    const open = token('open-token', 'a-token-long-enough-1234\n', 0o644);
    expect(refused(serve(['--http', '127.0.0.1:0', '--token-file', open]), EXIT.usage, 'file-mode')).toContain(`chmod 600 ${open}`);
    refused(serve(['--http', '127.0.0.1:0', '--token-file', token('short-token', 'short\n', 0o600)]), EXIT.usage, 'token-too-short');
    refused(serve(['--http', '127.0.0.1:0', '--token-file', token('empty-token', '', 0o600)], join(dir, 'token-never.db')), EXIT.usage, 'token-too-short');
    expect(existsSync(join(dir, 'token-never.db'))).toBe(false);
  });
});
