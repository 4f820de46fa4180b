// The sceau CLI run as a child process, as users and scripts run it: stdout, stderr, exit codes.
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, sceau } from './helpers/cli.js';
import { fromHex, getPublicKey, kidOf, sealRecord, toHex } from '@sceau/protocol';

const require = createRequire(import.meta.url);
const hostTools = dirname(require.resolve('@sceau/host-tools/package.json'));
const bin = join(hostTools, 'bin', 'sceau.cjs');
const fixtures = join(hostTools, 'test-fixtures', 'lns');

let dir: string;
let keyDir: string;
let keyFile: string;
let kid: string;
let publicKey: string;
let seed: Uint8Array;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-cli-'));
  keyDir = join(dir, 'keys');
  const r = sceau(['keys', 'generate', '--out', keyDir, '--name', 'bench-1']);
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout) as { kid: string; publicKey: string };
  kid = out.kid;
  publicKey = out.publicKey;
  keyFile = join(keyDir, `${kid}.key`);
  // The seed, read back the way a user would: through the CLI's own parser is not public, so
  // use node:crypto on the PEM.
  const pem = readFileSync(keyFile, 'utf8');
  const { createPrivateKey } = require('node:crypto') as typeof import('node:crypto');
  seed = new Uint8Array(Buffer.from(createPrivateKey(pem).export({ format: 'jwk' }).d!, 'base64url'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sceau keys generate', () => {
  it('writes <kid>.key 0600 (PKCS#8 PEM) and <kid>.pub (64 hex), kid = SHA-256(pub)[0..8]', () => {
    expect(kid).toMatch(/^[0-9a-f]{16}$/);
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toContain('-----BEGIN PRIVATE KEY-----');
    expect(readFileSync(join(keyDir, `${kid}.pub`), 'utf8').trim()).toBe(publicKey);
    expect(toHex(getPublicKey(seed))).toBe(publicKey);
    expect(toHex(kidOf(fromHex(publicKey)))).toBe(kid);
    expect(JSON.parse(readFileSync(join(keyDir, `${kid}.json`), 'utf8')).name).toBe('bench-1');
  });

  it('never overwrites a secret key', () => {
    const again = join(dir, 'again');
    const first = sceau(['keys', 'generate', '--out', again]);
    expect(first.status).toBe(0);
    expect(readdirSync(again).filter((f) => f.endsWith('.key'))).toHaveLength(1);
  });
});

describe('sceau frame seal / inspect / verify', () => {
  it('seals readings given in channel units, and the frame verifies with --keys', () => {
    const seal = sceau(['frame', 'seal', '--key', keyFile, '--counter', '5', '--time', '1700000000', '--reading', 'temperature=21.5', '--reading', '2=45.5@600']);
    expect(seal.status).toBe(0);
    const hex = seal.stdout.trim();
    expect(hex).toBe(toHex(sealRecord({ version: 1, counter: 5, time: 1700000000, readings: [{ channel: 1, value: 2150 }, { channel: 2, value: 4550, age: 600 }] }, seed)));
    const file = join(dir, 'one.hex');
    writeFileSync(file, `${hex}\n`);
    const verify = sceau(['frame', 'verify', file, '--keys', keyDir, '--json']);
    expect(verify.status).toBe(0);
    const [result] = jsonLines(verify.stdout);
    expect(result).toMatchObject({ ok: true, code: 'ok', kid, counter: 5, time: 1700000000 });
    expect(result!.readings).toEqual([
      { channel: 1, name: 'temperature', value: 21.5, unit: 'Cel', raw: 2150, at: 1700000000 },
      { channel: 2, name: 'humidity', value: 45.5, unit: '%RH', raw: 4550, age: 600, at: 1699999400 },
    ]);
  });

  it('inspects without verifying: diagnostic notation and the decoded record', () => {
    const frame = sealRecord({ version: 1, counter: 9, time: null, readings: [{ channel: 5, value: 3300 }] }, seed);
    const r = sceau(['frame', 'inspect', '-'], toHex(frame));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("18([<< {1: -8} >>, {4: h'" + kid + "'}, << [1, 9, null, [[5, 3300]]] >>");
    expect(r.stdout).toContain('battery = 3.3 V');
    const j = sceau(['frame', 'inspect', '--json', '-'], Buffer.from(frame).toString('base64'));
    expect(jsonLines(j.stdout)[0]).toMatchObject({ kid, record: { counter: 9, time: null } });
  });

  it('reads frames from stdin in hex, base64 and raw binary, one result per frame; exit 1 when any is rejected', () => {
    const a = sealRecord({ version: 1, counter: 10, time: null, readings: [{ channel: 1, value: 100 }] }, seed);
    const b = sealRecord({ version: 1, counter: 11, time: null, readings: [{ channel: 1, value: 200 }] }, seed);
    const tampered = a.slice();
    tampered[tampered.length - 1]! ^= 1;
    const hexRun = sceau(['frame', 'verify', '--keys', keyDir, '--json'], `${toHex(a)}\n${toHex(b)}\n`);
    expect(hexRun.status).toBe(0);
    expect(jsonLines(hexRun.stdout).map((r) => r.counter)).toEqual([10, 11]);
    const b64Run = sceau(['frame', 'verify', '--keys', keyDir, '--format', 'base64', '--json'], `${Buffer.from(a).toString('base64')}\n${Buffer.from(tampered).toString('base64')}\n`);
    expect(b64Run.status).toBe(1);
    expect(jsonLines(b64Run.stdout).map((r) => r.code)).toEqual(['ok', 'bad-signature']);
    const binRun = sceau(['frame', 'verify', '--keys', keyDir, '--format', 'bin'], a);
    expect(binRun.status).toBe(0);
    expect(binRun.stdout).toMatch(/ok kid=[0-9a-f]{16} counter=10 temperature=1 Cel/);
  });

  it('catches a replay within one run with --keys (in-memory window)', () => {
    const a = toHex(sealRecord({ version: 1, counter: 3, time: null, readings: [{ channel: 1, value: 1 }] }, seed));
    const r = sceau(['frame', 'verify', '--keys', keyDir, '--json'], `${a}\n${a}\n`);
    expect(r.status).toBe(1);
    expect(jsonLines(r.stdout).map((x) => x.code)).toEqual(['ok', 'replay']);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ summary: { frames: 2, codes: { ok: 1, replay: 1 } } });
  });

  it('reports an unknown kid and garbage lines with a code, never a crash', () => {
    const other = sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, new Uint8Array(32).fill(7));
    const r = sceau(['frame', 'verify', '--keys', keyDir, '--format', 'ndjson', '--json'], `{"frame":"${toHex(other)}"}\n{"frame":"d2ff"}\nnot json\n`);
    expect(r.status).toBe(1);
    expect(jsonLines(r.stdout).map((x) => x.code)).toEqual(['unknown-kid', 'malformed-cbor', 'unreadable-input']);
  });

  it('refuses a group- or world-readable secret key (exit 2)', () => {
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, toHex(seed), { mode: 0o644 });
    chmodSync(loose, 0o644);
    const r = sceau(['frame', 'seal', '--key', loose, '--counter', '1', '--reading', 'temperature=1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('readable by group or others');
    chmodSync(loose, 0o600);
    const ok = sceau(['frame', 'seal', '--key', loose, '--counter', '1', '--reading', 'temperature=1']);
    expect(ok.status).toBe(0);
  });

  it('exits 2 on usage errors', () => {
    expect(sceau(['frame', 'verify', '--format', 'xml', '--keys', keyDir]).status).toBe(2);
    expect(sceau(['frame', 'verify', join(dir, 'one.hex')]).status).toBe(2); // neither --keys nor --db
    expect(sceau(['frame', 'seal', '--key', keyFile, '--counter', '0', '--reading', 'temperature=1']).status).toBe(2);
    expect(sceau(['frame', 'seal', '--key', keyFile, '--counter', '1', '--reading', 'temperature=21.555']).status).toBe(2);
    expect(sceau(['frame', 'seal', '--key', keyFile, '--counter', '1', '--reading', 'nope=1']).status).toBe(2);
    expect(sceau(['no-such-command']).status).toBe(2);
    expect(sceau(['--help']).status).toBe(0);
  });

  it('exits 3 when an input file cannot be read', () => {
    expect(sceau(['frame', 'verify', join(dir, 'missing.hex'), '--keys', keyDir]).status).toBe(3);
  });
});

describe('sceau devices, frame verify --db, network-server uplinks, export', () => {
  const eui = '0004A30B001C0530';
  let db: string;

  beforeAll(() => {
    db = join(dir, 'store.db');
  });

  it('adds, lists, shows a device by kid, DevEUI or name', () => {
    const add = sceau(['devices', 'add', '--db', db, '--public-key', join(keyDir, `${kid}.pub`), '--name', 'greenhouse-1', '--dev-eui', eui, '--json']);
    expect(add.status).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ kid, publicKey, name: 'greenhouse-1', devEui: eui.toLowerCase(), revoked: false });
    const list = sceau(['devices', 'list', '--db', db, '--json']);
    expect(jsonLines(list.stdout).map((d) => d.kid)).toEqual([kid]);
    for (const ref of [kid, eui, 'greenhouse-1']) {
      const show = sceau(['devices', 'show', ref, '--db', db, '--json']);
      expect(show.status).toBe(0);
      expect(JSON.parse(show.stdout).kid).toBe(kid);
    }
    expect(sceau(['devices', 'show', 'nobody', '--db', db]).status).toBe(2);
    expect(sceau(['devices', 'add', '--db', db, '--public-key', 'zz']).status).toBe(2);
  });

  it('applies the replay window across runs with --db; the same bytes again are a duplicate delivery', () => {
    const frame = toHex(sealRecord({ version: 1, counter: 100, time: 1700000100, readings: [{ channel: 1, value: 2000 }] }, seed));
    const first = sceau(['frame', 'verify', '--db', db, '--json'], frame);
    expect(first.status).toBe(0);
    // The same bytes again: a duplicate delivery, the original verdict, not stored twice.
    const again = sceau(['frame', 'verify', '--db', db, '--json'], frame);
    expect(again.status).toBe(0);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ ok: true, code: 'ok', kid, counter: 100, delivery: 'duplicate' });
    const other = toHex(sealRecord({ version: 1, counter: 100, time: 1700000100, readings: [{ channel: 1, value: 2001 }] }, seed));
    const second = sceau(['frame', 'verify', '--db', db, '--json'], other);
    expect(second.status).toBe(1);
    expect(jsonLines(second.stdout)[0]).toMatchObject({ ok: false, code: 'replay', kid, counter: 100 });
  });

  it('verifies a The Things Stack v3 uplink (frame without kid, device by DevEUI)', () => {
    const frame = sealRecord({ version: 1, counter: 101, time: null, readings: [{ channel: 1, value: 1875 }] }, seed, { kid: false });
    const message = JSON.parse(readFileSync(join(fixtures, 'tts_uplink.json'), 'utf8'));
    message.uplink_message.frm_payload = Buffer.from(frame).toString('base64');
    const file = join(dir, 'tts.json');
    writeFileSync(file, JSON.stringify(message, null, 2));
    const r = sceau(['frame', 'verify', file, '--db', db, '--json']);
    expect(r.status).toBe(0);
    const [result] = jsonLines(r.stdout);
    // Readings of a record without time are dated by the network server's receive time.
    expect(result).toMatchObject({ ok: true, kid, kidInFrame: false, counter: 101, time: null });
    expect((result!.readings as Array<{ at: number; value: number }>)[0]).toMatchObject({ value: 18.75, at: Math.floor(Date.parse('2020-02-12T15:15:45.789585559Z') / 1000) });
  });

  it('verifies a ChirpStack v4 uplink event; an unmapped DevEUI is unknown-kid', () => {
    const frame = sealRecord({ version: 1, counter: 102, time: null, readings: [{ channel: 2, value: 5000 }] }, seed, { kid: false });
    const event = JSON.parse(readFileSync(join(fixtures, 'chirpstack_uplink.json'), 'utf8'));
    event.data = Buffer.from(frame).toString('base64');
    const file = join(dir, 'cs.json');
    writeFileSync(file, JSON.stringify(event));
    // The documented example's DevEUI (0101010101010101) is not in the registry.
    const unknown = sceau(['frame', 'verify', file, '--db', db, '--format', 'chirpstack', '--json']);
    expect(unknown.status).toBe(1);
    expect(jsonLines(unknown.stdout)[0]).toMatchObject({ ok: false, code: 'unknown-kid' });
    event.deviceInfo.devEui = eui.toLowerCase();
    writeFileSync(file, JSON.stringify(event));
    const known = sceau(['frame', 'verify', file, '--db', db, '--json']);
    expect(known.status).toBe(0);
    expect(jsonLines(known.stdout)[0]).toMatchObject({ ok: true, kid, counter: 102 });
  });

  it('exports readings in real units: json, csv, senml (RFC 8428)', () => {
    const json = sceau(['export', '--db', db, '--format', 'json']);
    expect(json.status).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows).toContainEqual(expect.objectContaining({ kid, counter: 100, name: 'temperature', value: 20, unit: 'Cel', at: 1700000100, time: '2023-11-14T22:15:00.000Z' }));
    expect(rows).toContainEqual(expect.objectContaining({ counter: 102, name: 'humidity', value: 50, unit: '%RH' }));
    const csv = sceau(['export', '--db', db, '--format', 'csv', '--kid', 'greenhouse-1']);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).toBe('time,at,kid,device,counter,channel,name,value,unit,raw');
    expect(lines).toContain(`2023-11-14T22:15:00.000Z,1700000100,${kid},greenhouse-1,100,1,temperature,20,Cel,2000`);
    const senml = JSON.parse(sceau(['export', '--db', db, '--format', 'senml', '--since', '1700000000']).stdout) as Array<Record<string, unknown>>;
    expect(senml[0]).toEqual({ bn: `urn:dev:sceau:${kid}:`, n: 'temperature', u: 'Cel', v: 20, t: 1700000100 });
    expect(senml.every((r) => typeof r.v === 'number' && typeof r.t === 'number')).toBe(true);
    expect(sceau(['export', '--db', db, '--format', 'xml']).status).toBe(2);
    expect(sceau(['export', '--db', join(dir, 'none.db')]).status).toBe(3);
  });

  it('revokes a device: its frames are then key-revoked', () => {
    expect(sceau(['devices', 'revoke', 'greenhouse-1', '--db', db]).status).toBe(0);
    const frame = toHex(sealRecord({ version: 1, counter: 200, time: null, readings: [{ channel: 1, value: 1 }] }, seed));
    const r = sceau(['frame', 'verify', '--db', db, '--json'], frame);
    expect(r.status).toBe(1);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ code: 'key-revoked', kid });
  });
});

describe('sceau provision and flash', () => {
  it('registers a board from the "sceau-key v1 kid=… pub=…" console line in a saved log', () => {
    const deviceSeed = new Uint8Array(32).fill(42);
    const pub = toHex(getPublicKey(deviceSeed));
    const k = toHex(kidOf(getPublicKey(deviceSeed)));
    const log = join(dir, 'console.log');
    writeFileSync(log, `ESP-ROM:esp32c3-api1-20210207\n[00:00:01.002] sceau firmware 0.1.0\n[00:00:01.950] sceau-key v1 kid=${k} pub=${pub} new\nboot 1\n`);
    const db = join(dir, 'provision.db');
    const r = sceau(['provision', '--db', db, '--log', log, '--name', 'line-7', '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kid: k, publicKey: pub, name: 'line-7', alreadyRegistered: false });
    // A corrupted line (kid does not match the key) is not registered.
    const bad = join(dir, 'bad.log');
    writeFileSync(bad, `sceau-key v1 kid=0000000000000000 pub=${pub}\n`);
    const refused = sceau(['provision', '--db', db, '--log', bad]);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain('not the fingerprint');
  });

  it('factory provisioning writes the key into the firmware settings file (0600) and registers it', () => {
    const env = join(dir, '.env.local');
    writeFileSync(env, 'WIFI_SSID=lab\n', { mode: 0o600 });
    const db = join(dir, 'provision.db');
    const r = sceau(['provision', '--db', db, '--write-key', env, '--key', keyFile, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kid, publicKey });
    expect(readFileSync(env, "utf8")).toBe(`WIFI_SSID=lab\nsceau_seed="${toHex(seed)}"\n`);
    expect(statSync(env).mode & 0o777).toBe(0o600);
    expect(sceau(['provision', '--db', db]).status).toBe(2);
  });

  it('flash: builds the devs command for a board and image, and fails clearly without the image', () => {
    const image = join(dir, 'devicescript-esp32c3.bin');
    writeFileSync(image, new Uint8Array(16));
    const plan = sceau(['flash', '--board', 'esp32c3_bare', '--image', image, '--port', '/dev/ttyUSB0', '--dry-run', '--json', '--devs', '/opt/devs']);
    expect(plan.status).toBe(0);
    expect(JSON.parse(plan.stdout)).toEqual({ command: '/opt/devs', family: 'esp32', args: ['flash', 'esp32', '--board', 'esp32c3_bare', '--file', image, '--once', '--port', '/dev/ttyUSB0'] });
    const uf2 = join(dir, 'devicescript-rp2040w.uf2');
    writeFileSync(uf2, new Uint8Array(16));
    expect(JSON.parse(sceau(['flash', '--board', 'pico_w', '--image', uf2, '--dry-run', '--json', '--devs', 'devs']).stdout).args).toEqual(['flash', 'rp2040', '--board', 'pico_w', '--file', uf2, '--once']);
    const missing = sceau(['flash', '--board', 'esp32c3_bare', '--image', join(dir, 'nope.bin')]);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain('runtime image');
    expect(sceau(['flash', '--board', 'not_a_board', '--image', image]).status).toBe(2);
    expect(sceau(['flash', '--board', 'pico', '--image', image]).status).toBe(2); // .bin for an RP2040
    expect(sceau(['flash', '--board', 'pico']).status).toBe(2);
  });
});

describe('sceau output into a closed pipe', () => {
  it('a reader that stops early (`sceau ... | head`) is not an error for sceau', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [bin, 'keys', 'generate', '--out', join(dir, 'pipe-keys')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before sceau writes
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(stderr).not.toMatch(/EPIPE|internal error/);
    expect(status).toBe(0);
  });
});

describe('sceau sim (delegates to @sceau/simulator)', () => {
  it('runs a small fleet through sceau-sim and passes its exit status and options through', () => {
    const ok = sceau(['sim', 'run', '--devices', '3', '--duration', '1h', '--interval', '10m', '--seed', '7', '--json']);
    expect(ok.status).toBe(0);
    const summary = JSON.parse(ok.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ devices: 3, recordsSealed: 18, falseAccepts: 0, dutyCycleViolations: 0 });
    const help = sceau(['sim', 'run', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/sceau-sim run/);
    expect(sceau(['sim', 'run', '--no-such-option']).status).toBe(2);
  });
});

describe('sceau gateway serve and signals', () => {
  it('stops cleanly (exit 0) on a SIGTERM sent the moment its addresses are printed, every time', async () => {
    const { spawn } = await import('node:child_process');
    for (let i = 0; i < 6; i++) {
      const child = spawn(process.execPath, [bin, 'gateway', 'serve', '--db', join(dir, 'signals.db'), '--http', '127.0.0.1:0', '--udp', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^udp /m.test(out)) child.kill('SIGTERM'); // a supervisor reacting at once
      });
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
      expect({ code, signal }, `attempt ${i}`).toEqual({ code: 0, signal: null });
    }
  });
});
