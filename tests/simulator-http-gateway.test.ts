// The simulator against the real gateway over its HTTP API: keys registered through
// POST /v1/devices behind the bearer token (--token-file), LoRaWAN fragments as The Things Stack
// webhooks reassembled by the gateway, other links' frames and fragments as raw bodies.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '@sceau/host-tools';
import { simCli, type CliIo } from '@sceau/simulator';

const TOKEN = 'simulator-http-token-0123456789abcdef';
let dir: string;
let gw: Gateway;
let tokenFile: string;

async function sim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stderrIsTty: false };
  const code = await simCli(args, io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-sim-http-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  gw = await startGateway({ db: join(dir, 'g.db'), http: '127.0.0.1:0', token: TOKEN, log: () => undefined });
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sceau-sim --gateway http://', () => {
  for (const link of ['lorawan-eu868-dr0', 'nbiot']) {
    it(`registers the fleet through the API and every delivered frame is verified (${link})`, async () => {
      // One gateway per fleet: the simulator names its devices fleet-N whatever the seed. No loss:
      // the gateway's reassembly runs on real time, where a lost fragment's message never expires
      // within the run and could meet a later message's fragments.
      const own = link === 'nbiot' ? gw : await startGateway({ db: join(dir, `${link}.db`), http: '127.0.0.1:0', token: TOKEN, log: () => undefined });
      let out;
      try {
        out = await sim(['run', '--seed', `http-${link}`, '--devices', '3', '--duration', '3h', '--interval', '20m', '--batch', '4', '--link', link, '--loss', '0', '--dup', '0.1', '--attack', 'replay=0.2,forge=0.2', '--gateway', own.addresses.http!.url, '--token-file', tokenFile, '--json']);
        // LoRaWAN DR0 fragments every frame (webhooks); NB-IoT carries whole frames (raw bodies).
        if (link !== 'nbiot') expect(own.metrics.fragments.get('reassembled') ?? 0).toBeGreaterThan(0);
      } finally {
        if (own !== gw) await own.close();
      }
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const s = JSON.parse(out.stdout) as { delivered: number; verified: number; attacksInjected: number; attacksDetected: number; falseAccepts: number };
      expect(s.delivered).toBeGreaterThan(0);
      expect(s.verified).toBe(s.delivered);
      expect(s.attacksDetected).toBe(s.attacksInjected);
      expect(s.falseAccepts).toBe(0);
    });
  }

  it('runs again with the same seed: registrations unchanged, every frame a duplicate delivery (exit 0)', async () => {
    const before = gw.metrics.duplicateDeliveries();
    const out = await sim(['run', '--seed', 'http-nbiot', '--devices', '3', '--duration', '3h', '--interval', '20m', '--batch', '4', '--link', 'nbiot', '--loss', '0', '--dup', '0.1', '--attack', 'replay=0.2,forge=0.2', '--gateway', gw.addresses.http!.url, '--token-file', tokenFile, '--json']);
    expect(out.code).toBe(0);
    const s = JSON.parse(out.stdout) as { delivered: number };
    expect(gw.metrics.duplicateDeliveries() - before).toBeGreaterThanOrEqual(s.delivered);
  });

  it('stops with exit 3 when the token is wrong or a registration conflicts; 2 for a token without an HTTP gateway', async () => {
    const wrong = join(dir, 'wrong');
    writeFileSync(wrong, 'not-the-token-but-long-enough', { mode: 0o600 });
    const unauthorized = await sim(['run', '--devices', '1', '--duration', '1h', '--gateway', gw.addresses.http!.url, '--token-file', wrong]);
    expect(unauthorized.code).toBe(3);
    expect(unauthorized.stderr).toMatch(/registration refused \(HTTP 401/);
    // The same seed's keys under the names of another seed's devices: the gateway refuses, lists why.
    const clash = await sim(['run', '--seed', 'other-seed', '--devices', '3', '--duration', '1h', '--link', 'nbiot', '--gateway', gw.addresses.http!.url, '--token-file', tokenFile]);
    expect(clash.code).toBe(3);
    expect(clash.stderr).toMatch(/HTTP 409 (registration-conflict|name-taken)/);
    expect((await sim(['run', '--devices', '1', '--token-file', tokenFile])).code).toBe(2);
    // The token file is checked as the gateway checks its own: missing, readable by others, short.
    expect((await sim(['run', '--devices', '1', '--gateway', gw.addresses.http!.url, '--token-file', join(dir, 'missing')])).code).toBe(2);
    const open = join(dir, 'open');
    writeFileSync(open, `${TOKEN}\n`, { mode: 0o644 });
    const readable = await sim(['run', '--devices', '1', '--gateway', gw.addresses.http!.url, '--token-file', open]);
    expect(readable.code).toBe(2);
    expect(readable.stderr).toMatch(/readable by group or others/);
    expect((await sim(['run', '--gateway', 'builtin'])).code).toBe(2);
  });
});
