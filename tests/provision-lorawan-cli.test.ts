// `sceau provision --lorawan FILE` / `--reset-lorawan` (host-tools/src/provision-lorawan.ts): LoRaWAN
// credentials from a file (never argv) into the firmware's settings file, in the format the
// firmware's src/lorawan-credentials.ts reads; merged beside a seed, never replaced silently.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, toHex } from '@sceau/protocol';
import { sceau } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sceau-provision-lorawan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const otaa = { devEui: '0004A30B001C0530', joinEui: '70b3d57ed0000001', appKey: '8d7ffe2a1c9b4e3f5a6b7c8d9e0f1a2b' };
const file = (name: string, v: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v), { mode: 0o600 });
  return p;
};

describe('provision --lorawan', () => {
  it('writes the OTAA keys beside the seed at factory provisioning and registers the DevEUI', () => {
    const db = join(dir, 'a.db');
    const env = join(dir, 'a.env');
    const r = sceau(['provision', '--db', db, '--write-key', env, '--lorawan', file('otaa.json', otaa), '--name', 'field-1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'field-1', devEui: '0004a30b001c0530' });
    const text = readFileSync(env, 'utf8');
    expect(text).toMatch(/^sceau_seed="[0-9a-f]{64}"\nsceau_otaa="0004a30b001c0530:70b3d57ed0000001:8d7ffe2a1c9b4e3f5a6b7c8d9e0f1a2b"\n$/);
    expect(statSync(env).mode & 0o777).toBe(0o600);
    expect(r.stdout + r.stderr).not.toContain(otaa.appKey); // a secret is never printed
  });

  it('adds ABP keys to a board that has its key (--settings), refuses a different value without --force', () => {
    const env = file('b.env', 'sceau_seed="' + '1'.repeat(64) + '"\n');
    const abp = { devEui: '0004a30b001c0531', devAddr: '260b0a0b', nwkSKey: '2b7e151628aed2a6abf7158809cf4f3c', appSKey: '000102030405060708090a0b0c0d0e0f' };
    const r = sceau(['provision', '--settings', env, '--lorawan', file('abp.json', abp)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('sceau_abp');
    expect(readFileSync(env, 'utf8')).toBe(`sceau_seed="${'1'.repeat(64)}"\nsceau_abp="0004a30b001c0531:260b0a0b:2b7e151628aed2a6abf7158809cf4f3c:000102030405060708090a0b0c0d0e0f"\n`);
    const before = readFileSync(env, 'utf8');
    const other = sceau(['provision', '--settings', env, '--lorawan', file('abp2.json', { ...abp, devAddr: '260b0a0c' })]);
    expect(other.status).toBe(3);
    expect(other.stderr).toContain('lorawan-exists');
    expect(readFileSync(env, 'utf8')).toBe(before);
    expect(sceau(['provision', '--settings', env, '--lorawan', file('abp3.json', { ...abp, devAddr: '260b0a0c' }), '--force']).status).toBe(0);
    expect(readFileSync(env, 'utf8')).toContain('260b0a0c');
  });

  it('refuses malformed credentials with a typed code and writes nothing', () => {
    const env = join(dir, 'c.env');
    for (const bad of [{ ...otaa, appKey: 'xyz' }, { devEui: otaa.devEui }, 'not json', { ...otaa, extra: 1 }]) {
      const r = sceau(['provision', '--settings', env, '--lorawan', file('bad.json', bad)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('lorawan-credentials');
    }
    expect(() => statSync(env)).toThrow();
    expect(sceau(['provision', '--settings', env]).status).toBe(2);
  });

  it('--reset-lorawan writes a fresh token each time (a new reset), keeping the other settings', () => {
    const env = file('d.env', 'sceau_otaa="0004a30b001c0530:70b3d57ed0000001:8d7ffe2a1c9b4e3f5a6b7c8d9e0f1a2b"\n');
    expect(sceau(['provision', '--settings', env, '--reset-lorawan']).status).toBe(0);
    const t1 = /sceau_lwreset="([0-9a-f]{16})"/.exec(readFileSync(env, 'utf8'))![1];
    expect(sceau(['provision', '--settings', env, '--reset-lorawan']).status).toBe(0);
    const text = readFileSync(env, 'utf8');
    const t2 = /sceau_lwreset="([0-9a-f]{16})"/.exec(text)![1];
    expect(t2).not.toBe(t1);
    expect(text.split('\n').filter(l => l.startsWith('sceau_lwreset='))).toHaveLength(1);
    expect(text).toContain('sceau_otaa=');
  });

  it('registers the DevEUI a board announces on its key line (--log), and credentials without one leave the field empty', () => {
    const seed = new Uint8Array(32).fill(9);
    const pub = toHex(getPublicKey(seed));
    const kid = toHex(kidOf(getPublicKey(seed)));
    const log = file('board.log', `boot\n12:00:01 sceau-key v1 kid=${kid} pub=${pub} deveui=5ee0b142d3e4f501 new\n`);
    const db = join(dir, 'e.db');
    const r = sceau(['provision', '--db', db, '--log', log, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kid, devEui: '5ee0b142d3e4f501' });
    // the same DevEUI given again (any spelling) is fine; another one is refused before anything is written
    expect(sceau(['provision', '--db', db, '--log', log, '--dev-eui', '5E-E0-B1-42-D3-E4-F5-01', '--json']).status).toBe(0);
    const other = sceau(['provision', '--db', join(dir, 'f.db'), '--log', log, '--dev-eui', '0004a30b001c0530']);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain('dev-eui-mismatch');
    expect(() => statSync(join(dir, 'f.db'))).toThrow();
    const env = join(dir, 'e.env');
    const w = sceau(['provision', '--settings', env, '--lorawan', file('nodev.json', { joinEui: otaa.joinEui, appKey: otaa.appKey })]);
    expect(w.status, w.stderr).toBe(0);
    expect(w.stdout).toContain("the board's own");
    expect(readFileSync(env, 'utf8')).toBe(`sceau_otaa=":${otaa.joinEui}:${otaa.appKey}"\n`);
    // --settings with the board's console: the announced DevEUI is written (pinned), a different one refused
    const pinned = join(dir, 'g.env');
    const p = sceau(['provision', '--settings', pinned, '--lorawan', file('nodev.json', { joinEui: otaa.joinEui, appKey: otaa.appKey }), '--log', log, '--json']);
    expect(p.status, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ mode: 'otaa', devEui: '5ee0b142d3e4f501' });
    expect(readFileSync(pinned, 'utf8')).toBe(`sceau_otaa="5ee0b142d3e4f501:${otaa.joinEui}:${otaa.appKey}"\n`);
    const wrong = sceau(['provision', '--settings', join(dir, 'h.env'), '--lorawan', file('otaa2.json', otaa), '--log', log]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('dev-eui-mismatch');
    const plain = file('plain.log', `sceau-key v1 kid=${kid} pub=${pub}\n`);
    const none = sceau(['provision', '--settings', join(dir, 'h.env'), '--lorawan', file('nodev2.json', { joinEui: otaa.joinEui, appKey: otaa.appKey }), '--log', plain]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no-dev-eui');
    expect(() => statSync(join(dir, 'h.env'))).toThrow();
  });
});
