// The CLI and store locations: a command opens a registered backend by its URL scheme (here a
// backend in memory, registered in this process and run through runCli); an unknown scheme is a
// usage error with its code; commands that change a registry open SQLite files only and say so.
import { afterEach, describe, expect, it } from 'vitest';
import { getPublicKey } from '@sceau/protocol';
import { EXIT, registerStoreBackend, runCli, unregisterStoreBackend } from '@sceau/host-tools';
import { sceau } from './helpers/cli';
import { MemoryStore } from './helpers/memory-store';

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

  it('an unknown scheme is a usage error (exit 2) with its code', async () => {
    const r = await run(['devices', 'list', '--db', 'nosuch://x']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err.join('\n')).toMatch(/no store backend opens nosuch:\/\/ locations.*\[store-backend-unknown\]/);
    const e = sceau(['export', '--db', 'nosuch://x']);
    expect(e.status).toBe(EXIT.usage);
    expect(e.stderr).toMatch(/\[store-backend-unknown\]/);
  });

  it('commands that change the registry refuse a URL: SQLite files only (exit 2)', () => {
    const r = sceau(['devices', 'revoke', 'pump', '--db', 'postgres://127.0.0.1/sceau']);
    expect(r.status).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/SQLite files only.*\[sqlite-only\]/);
  });
});
