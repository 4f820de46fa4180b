// The CLI and store locations: a command opens a registered backend by its URL scheme (here a
// backend in memory, registered in this process and run through runCli); an unknown scheme is a
// usage error with its code; a backend without registry transactions cannot provision, one
// without a privacy store cannot erase.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPublicKey, kidOf, toHex } from '@sceau/protocol';
import { EXIT, registerStoreBackend, RegistryError, runCli, unregisterStoreBackend, type Device } from '@sceau/host-tools';
import { sceau } from './helpers/cli.js';
import { MemoryStore } from './helpers/memory-store.js';

afterEach(() => {
  unregisterStoreBackend('memory');
});

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['node', 'sceau', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('store locations in the CLI', () => {
  it('devices list opens a backend registered for its scheme, and closes it', async () => {
    const store = new MemoryStore('memory://fleet');
    store.registry.register(getPublicKey(new Uint8Array(32).fill(3)), { name: 'pump' });
    registerStoreBackend({ name: 'memory', schemes: ['memory'], open: async () => store });
    const r = await run(['devices', 'list', '--db', 'memory://fleet', '--json']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out.map((l) => JSON.parse(l).name)).toEqual(['pump']);
    expect(store.closed).toBe(true);
  });

  it('devices revoke changes a registry the backend opens with openRegistry; a backend without one is refused (exit 2)', async () => {
    const store = new MemoryStore('memory://fleet');
    const { device } = store.registry.register(getPublicKey(new Uint8Array(32).fill(4)), { name: 'tank' });
    const revoke = async (ref: string): Promise<Device> => {
      const d = store.devices.find((x) => x.kid === ref || x.name === ref);
      if (d === undefined) throw new RegistryError('unknown-device', `no device ${JSON.stringify(ref)} in the registry`);
      Object.assign(d, { revoked: true, state: 'revoked' });
      return d;
    };
    const unsupported = (): never => {
      throw new Error('not used by this test');
    };
    let closed = false;
    const registry = { ...store.registry, revoke, unrevoke: unsupported, update: unsupported, delete: unsupported };
    registerStoreBackend({ name: 'memory', schemes: ['memory'], open: async () => store, openRegistry: async () => ({ registry, close: () => void (closed = true) }) });
    const r = await run(['devices', 'revoke', 'tank', '--db', 'memory://fleet', '--json']);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ kid: device.kid, revoked: true });
    expect(closed).toBe(true);
    // A refusal of that registry goes through the CLI edge's mapping like SQLite's: exit 2, the JSON body on stdout.
    const missing = await run(['devices', 'revoke', 'nobody', '--db', 'memory://fleet', '--json']);
    expect(missing.code).toBe(EXIT.usage);
    expect(JSON.parse(missing.out[0]!)).toEqual({ error: 'unknown-device', detail: 'no device "nobody" in the registry' });
    unregisterStoreBackend('memory');
    registerStoreBackend({ name: 'memory', schemes: ['memory'], open: async () => store });
    const refused = await run(['devices', 'revoke', 'tank', '--db', 'memory://fleet']);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.err.join('\n')).toMatch(/memory store backend has no registry commands can change.*\[registry-unchangeable\]/);
  });

  it('an unknown scheme is a usage error (exit 2) with its code', async () => {
    const r = await run(['devices', 'list', '--db', 'nosuch://x']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err.join('\n')).toMatch(/no store backend opens nosuch:\/\/ locations.*\[store-backend-unknown\]/);
    const e = sceau(['export', '--db', 'nosuch://x']);
    expect(e.status).toBe(EXIT.usage);
    expect(e.stderr).toMatch(/\[store-backend-unknown\]/);
  });

  it('provision needs a backend that runs registry transactions, erase one with a privacy store; others are refused (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sceau-locations-'));
    try {
      const store = new MemoryStore('memory://fleet');
      store.registry.register(getPublicKey(new Uint8Array(32).fill(6)), { name: 'well' });
      let closed = 0;
      registerStoreBackend({ name: 'memory', schemes: ['memory'], open: async () => store, openRegistry: async () => ({ registry: store.registry as never, close: () => void closed++ }) });
      const publicKey = getPublicKey(new Uint8Array(32).fill(5));
      const log = join(dir, 'console.log');
      writeFileSync(log, `sceau-key v1 kid=${toHex(kidOf(publicKey))} pub=${toHex(publicKey)}\n`);
      const r = await run(['provision', '--log', log, '--db', 'memory://fleet']);
      expect(r.code).toBe(EXIT.usage);
      expect(r.err.join('\n')).toMatch(/memory:\/\/fleet: this store backend cannot provision.*\[registry-unchangeable\]/);
      const erase = await run(['devices', 'erase', 'well', '--yes', '--db', 'memory://fleet']);
      expect(erase.code).toBe(EXIT.usage);
      expect(erase.err.join('\n')).toMatch(/keeps no wrapped content keys, erasure or retention.*\[no-privacy\]/);
      expect(closed).toBe(2);
      expect(store.devices.map((d) => d.name)).toEqual(['well']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
