// startGateway as a library (what the simulator uses), in a process of its own.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'sceau-gwlib-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const root = join(import.meta.dirname, '..');
let scripts = 0;
/** Runs an ES module script in a fresh Node process (a file, so worker threads start as in production). */
function runScript(script: string): string {
  // Under node_modules/ so that the script resolves the workspace packages by name.
  const file = join(root, 'node_modules', '.cache', `sceau-gateway-library-${process.pid}-${scripts++}.mjs`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, script);
  try {
    return execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  } finally {
    rmSync(file, { force: true });
  }
}

describe('startGateway in-process', () => {
  it('with signature checks on the thread pool (workers), a caller awaiting only ingestDatagram gets its answer (the process does not exit early)', () => {
    const db = join(dir, 'workers.db');
    const out = runScript(`
      import { startGateway } from '@sceau/host-tools';
      import { getPublicKey, sealRecord, sha256 } from '@sceau/protocol';
      const seed = sha256(Uint8Array.of(1));
      const gw = await startGateway({ db: ${JSON.stringify(db)}, workers: 1, log: () => {} });
      gw.store.addDevice(getPublicKey(seed), { name: 'w' });
      const results = [];
      for (let counter = 1; counter <= 3; counter++) {
        const frame = sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 }] }, seed);
        results.push(await gw.ingestDatagram(frame, { source: 'test' }));
      }
      await gw.close();
      console.log(JSON.stringify(results.map((r) => r.code ?? r.kind)));
    `);
    expect(JSON.parse(out.trim())).toEqual(['ok', 'ok', 'ok']);
  });

  it('expires fragments on the clock it is given (virtual time), not the wall clock', () => {
    const out = runScript(`
      import { startGateway } from '@sceau/host-tools';
      import { fragment, getPublicKey, linkProfile, sealRecord, sha256 } from '@sceau/protocol';
      const seed = sha256(Uint8Array.of(2));
      let now = 0;
      const gw = await startGateway({ db: ':memory:', clock: () => now, reassemblyExpiryMs: 60_000, log: () => {} });
      gw.store.addDevice(getPublicKey(seed), { name: 'f' });
      const send = async (counter, gapMs) => {
        const frame = sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 }, { channel: 2, value: 5000 }] }, seed);
        let last;
        for (const part of fragment(frame, linkProfile('sigfox'))) {
          now += gapMs;
          const r = await gw.ingestDatagram(part, { source: 'sigfox:1' });
          last = r.kind ?? r.code;
        }
        return last;
      };
      const paced = await send(1, 30_000); // 30 s between fragments, 60 s expiry: completes
      const stalled = await send(2, 90_000); // 90 s between fragments: every part expires before the next
      const metrics = gw.renderMetrics();
      await gw.close();
      console.log(JSON.stringify({ paced, stalled, expired: /sceau_reassembly_expired_total (\\d+)/.exec(metrics)?.[1] }));
    `);
    const r = JSON.parse(out.trim()) as { paced: string; stalled: string; expired: string };
    expect(r.paced).toBe('ok');
    expect(r.stalled).toBe('pending');
    expect(Number(r.expired)).toBeGreaterThan(0);
  });
});
