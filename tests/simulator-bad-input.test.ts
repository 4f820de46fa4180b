// Bad input on `sceau-sim run` (issue 19: "a malformed YAML scenario and a bad gateway URL"), run
// as users run it: the built binary in a child process. The rule every test guards: one line
// `sceau-sim: <message> [<code>]` on stderr (and at most the --help hint), no stack trace, the
// exit status of the shared table (host-tools/src/exit-codes.ts: 2 usage, 3 I/O), with --json the
// code on stdout as {"error", "detail"}; and no run started (no report, no capture written).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '@sceau/host-tools';

const bin = join(import.meta.dirname, '..', 'simulator', 'bin', 'sceau-sim.js');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-sim-bad-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sim(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, 'run', ...args, '--json', '--report', join(dir, 'report.json')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The refusal's shape; returns the detail. */
function refused(r: ReturnType<typeof sim>, exit: number, code: string): string {
  const context = `stdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect(r.status, context).toBe(exit);
  const lines = r.stderr.trim().split('\n');
  expect(lines[0], context).toMatch(new RegExp(`^sceau-sim: .+ \\[${code}\\]$`));
  expect(lines.slice(1), context).toEqual(lines.length > 1 ? ['(sceau-sim run --help for the options)'] : []);
  expect(r.stderr, context).not.toMatch(/\n\s+at |internal error/);
  const body = JSON.parse(r.stdout.trim()) as { error: string; detail: string };
  expect(body.error, context).toBe(code);
  expect(existsSync(join(dir, 'report.json')), 'no run, no report').toBe(false);
  return body.detail;
}

function scenario(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

describe('a malformed scenario', () => {
  it('rule: a YAML or JSON syntax error is bad-scenario (exit 2), with the line and column, not a stack trace', () => {
    const detail = refused(sim(['--scenario', scenario('syntax.yaml', 'devices: [1, 2\nduration: 1h\n')]), EXIT.usage, 'bad-scenario');
    expect(detail).toMatch(/^scenario syntax\.yaml: not YAML: .+ at line 2, column 1$/);
    expect(refused(sim(['--scenario', scenario('syntax.json', '{"devices": 2,')]), EXIT.usage, 'bad-scenario')).toMatch(/^scenario syntax\.json: not JSON: /);
    expect(refused(sim(['--scenario', scenario('list.yaml', '- devices: 2\n')]), EXIT.usage, 'bad-scenario')).toBe('scenario list.yaml: expected a mapping at the top level');
  });

  it('rule: an unknown key, at the top or in a group, is bad-scenario naming it, never ignored', () => {
    expect(refused(sim(['--scenario', scenario('typo.yaml', 'devices: 2\nduraton: 1h\n')]), EXIT.usage, 'bad-scenario')).toMatch(/^scenario typo\.yaml: unknown key "duraton"; known: .*\bduration\b/);
    expect(refused(sim(['--scenario', scenario('group-typo.yaml', 'groups:\n  - devices: 1\n    intervall: 5m\n')]), EXIT.usage, 'bad-scenario')).toMatch(/^scenario group-typo\.yaml: groups\[0\]: unknown key "intervall"/);
    expect(refused(sim(['--scenario', scenario('groups-map.yaml', 'groups: { a: 1 }\n')]), EXIT.usage, 'bad-scenario')).toBe('scenario groups-map.yaml: groups: expected a list of groups');
  });

  it('rule: a value of the wrong type or a negative duration is bad-scenario (exit 2)', () => {
    expect(refused(sim(['--scenario', scenario('type.yaml', 'devices: two\nduration: 1h\n')]), EXIT.usage, 'bad-scenario')).toBe('group 0 devices: expected an integer >= 0, got "two"');
    expect(refused(sim(['--scenario', scenario('negative.yaml', 'devices: 1\nduration: -1h\n')]), EXIT.usage, 'bad-scenario')).toMatch(/^duration: expected a duration .*got "-1h"$/);
    expect(refused(sim(['--scenario', scenario('negative-group.yaml', 'devices: 1\nduration: 1h\ngroups:\n  - interval: -5m\n')]), EXIT.usage, 'bad-scenario')).toMatch(/interval: expected a duration .*got "-5m"$/);
  });

  it('rule: a scenario file that cannot be read is file-unreadable (exit 3)', () => {
    refused(sim(['--scenario', 'missing.yaml']), EXIT.io, 'file-unreadable');
  });
});

describe('a bad gateway URL', () => {
  let closed: Server;
  let closedPort: number;
  beforeAll(async () => {
    // A port nothing listens on: bind one, note it, close it.
    closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
  });

  it('rule: a URL that is not a gateway URL is bad-gateway-url (exit 2), before any device is simulated', () => {
    for (const url of ['ftp://127.0.0.1:8750', 'http://127.0.0.1:99999', 'udp://127.0.0.1', 'udp://127.0.0.1:70000', 'http://', 'http://127.0.0.1:8750/?x=1']) {
      expect(refused(sim(['--devices', '1', '--duration', '1h', '--gateway', url]), EXIT.usage, 'bad-gateway-url')).toContain(JSON.stringify(url));
    }
    // Credentials in the URL are refused without being echoed (CI logs keep stderr).
    const secret = sim(['--devices', '1', '--duration', '1h', '--gateway', 'http://user:s3cret-pw@127.0.0.1:8750']);
    expect(refused(secret, EXIT.usage, 'bad-gateway-url')).toBe('gateway: credentials do not belong in the URL; give the bearer token with --token-file');
    expect(secret.stderr + secret.stdout).not.toContain('s3cret-pw');
  });

  it('rule: a gateway that does not answer is gateway-unreachable (exit 3), with the system\'s reason', () => {
    const detail = refused(sim(['--devices', '1', '--duration', '1h', '--gateway', `http://127.0.0.1:${closedPort}`]), EXIT.io, 'gateway-unreachable');
    expect(detail).toBe(`gateway http://127.0.0.1:${closedPort}: fetch failed: connect ECONNREFUSED 127.0.0.1:${closedPort}`);
  });
});

describe('a bad --owner key', () => {
  it('rule: an owner key file that cannot be read is file-unreadable (exit 3; it was bad-scenario, exit 2); one that is no key owner-key-format (exit 2)', () => {
    expect(refused(sim(['--devices', '1', '--duration', '1h', '--record', '2', '--owner', 'missing.pub']), EXIT.io, 'file-unreadable')).toMatch(/^cannot read owner public key missing\.pub: ENOENT/);
    refused(sim(['--devices', '1', '--duration', '1h', '--record', '2', '--owner', scenario('not-a-key.pub', 'hello\n')]), EXIT.usage, 'owner-key-format');
  });
});
