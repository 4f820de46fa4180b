// Issue 13, the CLI as users run it: the built `sceau` as a child process, its stdout, stderr
// and exit codes (bounded input, stdin as a stream, key file kinds, missing databases, console
// lines and captures, clear usage errors, secrets and git, hardware paths, cbor-x paths).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines as readJsonLines, sceau } from './helpers/cli.js';

/** Every JSON line, the final summary included. */
const jsonLines = (text: string) => readJsonLines(text, { summary: true });
import { Store } from '@sceau/host-tools';
import { getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';

const require = createRequire(import.meta.url);
const hostTools = dirname(require.resolve('@sceau/host-tools/package.json'));
const bin = join(hostTools, 'bin', 'sceau.cjs');

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

  it('a secret key given as --keys is refused with key-is-secret (exit 2)', () => {
    const r = sceau(['frame', 'verify', '-', '--keys', keyFile], toHex(seal(1)));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('[key-is-secret]');
    expect(sceau(['frame', 'verify', '-', '--keys', pubFile], toHex(seal(1))).status).toBe(0);
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

/** Runs sceau with a pipe on stdin; resolves when it exits. */
function spawnSceau(args: string[]): { child: ReturnType<typeof spawn>; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('frame verify reads stdin as a stream', () => {
  it('sceau frame seal | sceau frame verify - (a pipe from another process)', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${bin}" frame seal --key "${keyFile}" --counter 40 --reading temperature=21.5 | "${process.execPath}" "${bin}" frame verify - --keys "${keyDir}"`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).not.toContain('EAGAIN');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`stdin:1: ok kid=${kid} counter=40 temperature=21.5 Cel`);
    expect(r.stderr).toContain('summary: 1 frame (ok 1)');
  });

  it('a slow producer: (sleep; cat) | sceau frame verify -', () => {
    const file = join(dir, 'slow.hex');
    writeFileSync(file, `${toHex(seal(41))}\n`);
    const r = spawnSync('sh', ['-c', `(sleep 1; cat "${file}") | "${process.execPath}" "${bin}" frame verify - --keys "${keyDir}" --json`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ ok: true, counter: 41 });
  });

  it('prints each line\'s result as the line arrives, before the input ends (--keys and --db)', async () => {
    const db = join(dir, 'stream.db');
    expect(sceau(['devices', 'add', '--db', db, '--public-key', pubFile]).status).toBe(0);
    for (const [option, value] of [['--keys', keyDir], ['--db', db]] as const) {
      const p = spawnSceau(['frame', 'verify', '-', option, value, '--json']);
      p.child.stdin!.write(`${toHex(seal(option === '--keys' ? 50 : 60))}\n`);
      await waitFor(() => p.stdout().includes('\n'));
      expect(jsonLines(p.stdout())).toHaveLength(1);
      expect(jsonLines(p.stdout())[0]).toMatchObject({ ok: true, counter: option === '--keys' ? 50 : 60 });
      p.child.stdin!.write(`${toHex(seal(option === '--keys' ? 51 : 61))}\n`);
      await waitFor(() => p.stdout().split('\n').length > 2);
      expect(jsonLines(p.stdout())[1]).toMatchObject({ ok: true, counter: option === '--keys' ? 51 : 61 });
      p.child.stdin!.end();
      expect(await p.exit).toBe(0);
      expect(jsonLines(p.stdout()).at(-1)).toEqual({ summary: expect.objectContaining({ frames: 2, codes: { ok: 2 } }) });
    }
  });
});

describe('frame verify --db when the store fails mid-stream', () => {
  it('ends with store-failed (exit 3) while the input is still open, not at its end', async () => {
    const db = join(dir, 'locked.db');
    expect(sceau(['devices', 'add', '--db', db, '--public-key', pubFile]).status).toBe(0);
    // Another process holds the write lock (beyond SQLite's 5 s busy timeout).
    const sqlite = createRequire(join(hostTools, 'package.json')).resolve('better-sqlite3');
    const locker = spawn(process.execPath, ['-e', `const D = require(${JSON.stringify(sqlite)}); const db = new D(${JSON.stringify(db)}); db.exec('BEGIN EXCLUSIVE'); console.log('locked'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => locker.stdout!.once('data', () => resolve()));
      const p = spawnSceau(['frame', 'verify', '-', '--db', db, '--json']);
      p.child.stdin!.write(`${toHex(seal(120))}\n`); // and the input stays open
      const code = await Promise.race([p.exit, new Promise<string>((r) => setTimeout(() => r('still running'), 15_000))]);
      expect(code).toBe(3);
      expect(p.stderr()).toContain('[store-failed]');
      expect(p.stderr()).not.toContain('internal error');
      p.child.stdin!.destroy();
    } finally {
      locker.kill();
    }
  }, 30_000);
});

describe('frame verify reads NDJSON from a pipe as it comes', () => {
  it('an MQTT-style stream of JSON lines, the first one arriving in two pieces: each result before the input ends', async () => {
    const p = spawnSceau(['frame', 'verify', '-', '--keys', keyDir, '--json']);
    const line = (counter: number) => `${JSON.stringify({ frame: toHex(seal(counter)) })}\n`;
    const first = line(110);
    p.child.stdin!.write(first.slice(0, 20));
    await new Promise((r) => setTimeout(r, 200));
    p.child.stdin!.write(first.slice(20));
    await waitFor(() => p.stdout().includes('\n'));
    expect(jsonLines(p.stdout())[0]).toMatchObject({ where: 'stdin:1', ok: true, counter: 110 });
    p.child.stdin!.write(line(111));
    await waitFor(() => p.stdout().split('\n').length > 2);
    expect(jsonLines(p.stdout())[1]).toMatchObject({ where: 'stdin:2', ok: true, counter: 111 });
    p.child.stdin!.end();
    expect(await p.exit).toBe(0);
  });
});

describe('bounded input', () => {
  it('frame verify /dev/urandom --format bin stops at the bound (exit 2, input-too-large)', () => {
    for (const args of [['--format', 'bin'], []]) {
      const r = sceau(['frame', 'verify', '/dev/urandom', '--keys', keyDir, ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('[input-too-large]');
    }
  });

  it('a ChirpStack Protobuf body is refused in one line that says to set the encoding to JSON, with no binary echoed', () => {
    const protobuf = Uint8Array.from([0x0a, 0x24, 0x08, 0x12, 0x00, 0x01, 0xff, 0xfe, 0x1a, 0x10, 0x00, 0x04, 0xa3, 0x0b]);
    const r = sceau(['frame', 'verify', '-', '--keys', keyDir, '--format', 'chirpstack'], protobuf);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("set the integration's encoding to JSON [input-not-json]");
    expect(r.stderr).not.toMatch(/[\x00-\x08\x0e-\x1f]/);
  });

  it('a line longer than the bound is reported and skipped; the lines after it are verified', () => {
    const r = sceau(['frame', 'verify', '-', '--keys', keyDir, '--format', 'hex', '--json'], `${'ab'.repeat(600_000)}\n${toHex(seal(70))}\n`);
    expect(r.status).toBe(1);
    const lines = jsonLines(r.stdout);
    expect(lines[0]).toMatchObject({ where: 'stdin:1', code: 'unreadable-input' });
    expect(String(lines[0]!.detail)).toContain('longer than');
    expect(lines[1]).toMatchObject({ where: 'stdin:2', ok: true, counter: 70 });
  });
});

/** The firmware's console printing (firmware/src/console-lines.ts): chunks of 200 hex digits. */
function consoleLines(tag: string, hex: string): string[] {
  const out: string[] = [];
  let off = 0;
  while (hex.length - off > 200) {
    out.push(`${tag}+ ${hex.slice(off, off + 200)}`);
    off += 200;
  }
  out.push(`${tag} ${hex.slice(off)}`);
  return out;
}

describe('inputs users have', () => {
  it('a serial console log: boot lines ignored, sceau-frame continuation lines joined, fragments reassembled, sceau-error reported', async () => {
    const { fragment } = await import('@sceau/protocol');
    const long = sealRecord({ version: 1, counter: 80, time: null, readings: Array.from({ length: 20 }, (_, i) => ({ channel: 1, value: 2000 + i, age: i * 60 })) }, seed);
    expect(long.length).toBeGreaterThan(100);
    const pieces = fragment(seal(81), { name: 'console-40', mtu: 40, identifiesSender: true } as never);
    expect(pieces.length).toBeGreaterThan(1);
    const log = [
      'ESP-ROM:esp32c3-api1-20210207',
      'boot: chip revision v0.4',
      `[00:00:01.950] sceau-key v1 kid=${kid} pub=${readFileSync(pubFile, 'utf8').trim()}`,
      ...consoleLines('sceau-frame', toHex(long)).map((l) => `[00:00:02.100] ${l}`),
      ...pieces.flatMap((p) => consoleLines('sceau-fragment', toHex(p))),
      'sceau-error settings did not answer in time',
      `sceau-frame ${toHex(seal(80))}`,
    ].join('\r\n');
    const file = join(dir, 'console.log');
    writeFileSync(file, `${log}\r\n`);
    const r = sceau(['frame', 'verify', file, '--keys', keyDir, '--json']);
    const lines = jsonLines(r.stdout);
    expect(lines.slice(0, -1).map((l) => [l.code, l.counter])).toEqual([
      ['ok', 80],
      ['ok', 81],
      ['replay', 80],
    ]);
    expect(lines[1]).toMatchObject({ fragments: pieces.length });
    expect(lines.at(-1)).toEqual({ summary: { frames: 3, codes: { ok: 2, replay: 1 }, fragments: pieces.length, reassembled: 1, duplicateFragments: 0, incomplete: 0, ignoredLines: 3 } });
    expect(r.stderr).toContain('firmware error: settings did not answer in time');
    expect(r.status).toBe(1);
    // Text mode: the summary goes to stderr, results to stdout.
    const text = sceau(['frame', 'verify', file, '--keys', keyDir]);
    expect(text.stdout).not.toContain('summary');
    expect(text.stderr).toContain(`summary: 3 frames (ok 2, replay 1); ${pieces.length} fragments, 1 frames reassembled, 0 incomplete messages; 3 lines without a frame ignored`);
  });

  it('a console datagram cut short (continuation lines without their final line) is unreadable, not dropped', () => {
    const hex = toHex(sealRecord({ version: 1, counter: 90, time: null, readings: Array.from({ length: 20 }, (_, i) => ({ channel: 1, value: i })) }, seed));
    const lines = consoleLines('sceau-frame', hex);
    const r = sceau(['frame', 'verify', '-', '--keys', keyDir, '--json'], `${lines.slice(0, -1).join('\n')}\n`);
    expect(r.status).toBe(1);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ code: 'unreadable-input' });
  });

  it('a JSON array of uplinks under --format auto (network-server export), devices by DevEUI', () => {
    const eui = '0004a30b001c0531';
    const db = join(dir, 'uplinks.db');
    expect(sceau(['devices', 'add', '--db', db, '--public-key', pubFile, '--dev-eui', eui]).status).toBe(0);
    const uplinks = [100, 101].map((counter) => ({
      end_device_ids: { device_id: 'd', dev_eui: eui.toUpperCase() },
      received_at: '2024-05-01T10:00:00Z',
      uplink_message: { f_port: 1, frm_payload: Buffer.from(seal(counter, { kid: false })).toString('base64') },
    }));
    const file = join(dir, 'uplinks.json');
    writeFileSync(file, JSON.stringify(uplinks, null, 2));
    const r = sceau(['frame', 'verify', file, '--db', db, '--json']);
    expect(r.status).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.slice(0, 2).map((l) => [l.where, l.code, l.counter, l.kid])).toEqual([
      [`${file}[0]`, 'ok', 100, kid],
      [`${file}[1]`, 'ok', 101, kid],
    ]);
    expect(lines[2]).toMatchObject({ summary: { frames: 2, codes: { ok: 2 } } });
  });

  it('a capture with hinted fragments of several senders, interleaved: reassembled per kid; sceau sim verify judges attacks', async () => {
    const { fragment } = await import('@sceau/protocol');
    const otherSeed = new Uint8Array(32).fill(9);
    const otherKid = toHex(kidOf(getPublicKey(otherSeed)));
    const keys = join(dir, 'capture-keys');
    mkdirSync(keys);
    writeFileSync(join(keys, `${kid}.pub`), readFileSync(pubFile));
    writeFileSync(join(keys, `${otherKid}.pub`), `${toHex(getPublicKey(otherSeed))}\n`);
    const profile = { name: 'raw-lora', mtu: 30, identifiesSender: false } as never;
    const a = fragment(seal(200), profile);
    const b = fragment(sealRecord({ version: 1, counter: 200, time: null, readings: [{ channel: 1, value: 5 }] }, otherSeed), profile);
    const tampered = seal(201);
    tampered[tampered.length - 1]! ^= 1;
    const record = (k: string, d: Uint8Array, attack: string | null, t: number) => JSON.stringify({ t, kid: k, datagram: toHex(d), attack });
    const lines: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]) lines.push(record(kid, a[i]!, null, i));
      if (b[i]) lines.push(record(otherKid, b[i]!, null, i));
    }
    lines.push(record(kid, tampered, 'tamper', 100));
    lines.push(record(kid, a[0]!, null, 101)); // a lost message's first fragment: incomplete
    const capture = join(dir, 'capture.ndjson');
    writeFileSync(capture, `${lines.join('\n')}\n`);
    const r = sceau(['sim', 'verify', capture, '--keys', keys, '--json']);
    const out = jsonLines(r.stdout);
    expect(out.slice(0, 3).map((l) => [l.kid, l.code, l.attack])).toEqual([
      [kid, 'ok', null],
      [otherKid, 'ok', null],
      [kid, 'bad-signature', 'tamper'],
    ]);
    expect(out[0]!.fragments).toBe(a.length);
    expect(out.at(-1)).toMatchObject({ summary: { frames: 3, codes: { ok: 2, 'bad-signature': 1 }, reassembled: 2, incomplete: 1, attacksAccepted: 0, genuineRejected: 0 } });
    expect(r.status).toBe(0);
    // An injected datagram that verifies is a failure of the run.
    writeFileSync(capture, `${record(kid, seal(300), 'replay', 1)}\n`);
    const accepted = sceau(['sim', 'verify', capture, '--keys', keys, '--json']);
    expect(accepted.status).toBe(1);
    expect(jsonLines(accepted.stdout).at(-1)).toMatchObject({ summary: { attacksAccepted: 1 } });
  });

  it('fragments of two LoRaWAN devices without kid, same tag, interleaved: reassembled per DevEUI', async () => {
    const { fragment, linkProfile } = await import('@sceau/protocol');
    const otherSeed = new Uint8Array(32).fill(11);
    const db = join(dir, 'deveui.db');
    const [euiA, euiB] = ['70b3d57ed0000001', '70b3d57ed0000002'];
    expect(sceau(['devices', 'add', '--db', db, '--public-key', pubFile, '--dev-eui', euiA]).status).toBe(0);
    expect(sceau(['devices', 'add', '--db', db, '--public-key', toHex(getPublicKey(otherSeed)), '--dev-eui', euiB]).status).toBe(0);
    const readings = Array.from({ length: 6 }, (_, i) => ({ channel: 1, value: 2000 + i, age: 60 * i }));
    const dr0 = linkProfile('lorawan-eu868-dr0');
    const a = fragment(sealRecord({ version: 1, counter: 8, time: null, readings }, seed, { kid: false }), dr0);
    const b = fragment(sealRecord({ version: 1, counter: 16, time: null, readings }, otherSeed, { kid: false }), dr0);
    expect(a.length).toBeGreaterThan(1);
    expect(a[0]![0]! >> 4).toBe(b[0]![0]! >> 4); // the same message tag
    const lines: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]) lines.push(JSON.stringify({ frame: toHex(a[i]!), devEui: euiA }));
      if (b[i]) lines.push(JSON.stringify({ frame: toHex(b[i]!), devEui: euiB }));
    }
    const r = sceau(['frame', 'verify', '-', '--db', db, '--json'], `${lines.join('\n')}\n`);
    expect(r.status).toBe(0);
    const out = jsonLines(r.stdout);
    expect(out.slice(0, 2).map((l) => [l.code, l.counter, l.kidInFrame])).toEqual([
      ['ok', 8, false],
      ['ok', 16, false],
    ]);
    expect(out[2]).toMatchObject({ summary: { frames: 2, reassembled: 2, incomplete: 0 } });
  });

  it('sceau sim verify on a capture written by sceau sim run (fragments on LoRaWAN DR0, attacks)', () => {
    const capture = join(dir, 'sim.ndjson');
    const keys = join(dir, 'sim-keys');
    const run = sceau(['sim', 'run', '--devices', '2', '--duration', '1h', '--interval', '20m', '--link', 'lorawan-eu868-dr0', '--seed', 'cli-h', '--attack', 'replay=0.2,tamper=0.2', '--capture', capture, '--keys-out', keys, '--json']);
    expect(run.status).toBe(0);
    const r = sceau(['sim', 'verify', capture, '--keys', keys, '--json']);
    expect(r.status).toBe(0);
    const summary = jsonLines(r.stdout).at(-1)!.summary as { fragments: number; reassembled: number; frames: number; attacksAccepted: number; genuineRejected: number };
    expect(summary.fragments).toBeGreaterThan(summary.reassembled);
    expect(summary.frames).toBeGreaterThan(0);
    expect(summary.attacksAccepted).toBe(0);
    expect(summary.genuineRejected).toBe(0);
  });
});

describe('sceau flash', () => {
  let image: string;
  let fakeDevs: string;

  beforeAll(() => {
    image = join(dir, 'devicescript-esp32c3 (1).bin');
    writeFileSync(image, new Uint8Array(16));
    // A stand-in for `devs` that fails as it does without a board: colours and a stack trace.
    fakeDevs = join(dir, 'fake-devs');
    writeFileSync(
      fakeDevs,
      `#!${process.execPath}\n` +
        `if (process.env.FAKE_DEVS_OK) { console.log(JSON.stringify(process.argv.slice(2))); process.exit(0); }\n` +
        `console.log('\\x1b[34musing devs: v2.16.4\\x1b[0m');\n` +
        `console.error('/x/devicescript-cli.cjs:4242\\n    throw new Error("No serial port found");\\n    ^\\n\\nError: No serial port found\\n    at flashEsp32 (/x/devicescript-cli.cjs:4242:11)\\n    at main (/x/devicescript-cli.cjs:1:1)\\n\\nNode.js v20.20.2');\n` +
        `process.exit(1);\n`,
      { mode: 0o755 },
    );
  });

  it('without a board: one clear line and exit 3, before the wrapped tool runs', () => {
    const missingPort = sceau(['flash', '--board', 'esp32c3_bare', '--image', image, '--port', join(dir, 'ttyUSB9'), '--devs', fakeDevs]);
    expect(missingPort.status).toBe(3);
    expect(missingPort.stderr).toContain('does not exist: is the board connected?');
    expect(missingPort.stderr).toContain('[no-board]');
    expect(missingPort.stderr).not.toContain('devs:');
  });

  it('the wrapped tool\'s failure is shown without ANSI codes or stack trace (exit 3)', () => {
    const r = sceau(['flash', '--board', 'esp32c3_bare', '--image', image, '--port', '/dev/null', '--devs', fakeDevs]);
    expect(r.status).toBe(3);
    expect(r.stderr).not.toMatch(/\x1b\[/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toContain('Node.js v');
    expect(r.stderr).toContain('sceau: devs flash failed (exit 1): Error: No serial port found [flash-failed]');
  });

  it('--dry-run prints a command line that runs as printed (quoting included)', () => {
    const r = sceau(['flash', '--board', 'esp32c3_bare', '--image', image, '--port', '/dev/ttyUSB0', '--dry-run', '--devs', fakeDevs]);
    expect(r.status).toBe(0);
    const line = r.stdout.trim();
    expect(line).toBe(`${fakeDevs} flash esp32 --board esp32c3_bare --file '${image}' --once --port /dev/ttyUSB0`);
    const ran = spawnSync('sh', ['-c', line], { encoding: 'utf8', env: { ...process.env, FAKE_DEVS_OK: '1' } });
    expect(ran.status).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual(['flash', 'esp32', '--board', 'esp32c3_bare', '--file', image, '--once', '--port', '/dev/ttyUSB0']);
  });
});

describe('before a build', () => {
  it('the sceau command in a checkout that was never built prints one line saying to build (no ERR_MODULE_NOT_FOUND)', () => {
    const pkg = join(dir, 'unbuilt', 'host-tools');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    writeFileSync(join(pkg, 'bin', 'sceau.cjs'), readFileSync(bin));
    const r = spawnSync(process.execPath, [join(pkg, 'bin', 'sceau.cjs'), '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(4);
    expect(r.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('run `npm run build`');
  });

  it('the root package builds on install (prepare) and its engines field matches vite\'s', () => {
    const root = join(hostTools, '..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };
    expect(pkg.scripts.prepare).toBe('node scripts/prepare.mjs');
    const vite = JSON.parse(readFileSync(join(root, 'node_modules', 'vite', 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(vite.engines.node);
  });
});
