// Bad input on `sceau-sim lorawan` and `sceau-sim lns` (issue 19, the simulator's LoRaWAN
// commands), as on `sceau-sim run` (simulator-bad-input.test.ts): one line
// `sceau-sim: <message> [<code>]` on stderr (and at most the --help hint), no stack trace, the
// exit status of the shared table (2 usage, 3 I/O), with --json the code on stdout as
// {"error", "detail"}; and nothing left behind: no registration file, no wrapped keys, no
// directory the refused run created, no temporary file. Most cases call the CLI in-process (the
// same `main` the binary runs); a few run the built binaries, as users do.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '@sceau/host-tools';
import { DEVICES_FILE, GwmpError, GwmpGateway, STATE_FILE, WRAPPED_KEYS_FILE, makeFleet, registrationEntries, simCli, writeRegistration } from '@sceau/simulator';

const root = join(import.meta.dirname, '..');
const simBin = join(root, 'simulator', 'bin', 'sceau-sim.js');
const sceauBin = join(root, 'host-tools', 'bin', 'sceau.cjs');
let dir: string;
let ownerPub: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-lorawan-bad-'));
  // an owner public key: the X25519 key's 32 bytes in hex, as sceau owner keys generate writes it
  ownerPub = join(dir, 'owner.pub');
  const spki = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' });
  writeFileSync(ownerPub, `${Buffer.from(spki.subarray(-32)).toString('hex')}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

async function sim(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const status = await simCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stderrIsTty: false });
  return { status, stdout, stderr };
}

/** Every code a test saw: each must be in docs/simulator.md's table. */
const seen = new Set<string>();

/** The refusal's shape; returns the detail (or the line, without --json). */
function refused(r: Run, exit: number, code: string, { json = true, hint }: { json?: boolean; hint?: string } = {}): string {
  const context = `stdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect(r.status, context).toBe(exit);
  const lines = r.stderr.trim().split('\n');
  expect(lines[0], context).toMatch(new RegExp(`^sceau-sim: .+ \\[${code}\\]$`));
  // the hint only after a usage error
  expect(lines.slice(1), context).toEqual(exit === EXIT.usage && hint !== undefined ? [hint] : []);
  expect(r.stderr, context).not.toMatch(/\n\s+at |internal error/);
  seen.add(code);
  if (!json) {
    expect(r.stdout, context).toBe('');
    return lines[0]!;
  }
  const body = JSON.parse(r.stdout.trim()) as { error: string; detail: string };
  expect(body.error, context).toBe(code);
  expect(`sceau-sim: ${body.detail} [${code}]`).toBe(lines[0]);
  return body.detail;
}

const LORAWAN_HINT = '(sceau-sim lorawan --help for the options)';
const LNS_HINT = '(sceau-sim lns --help for the options)';

/** A run that would be taken, on DIR; each case changes one option. */
function lorawan(keysOut: string, change: Record<string, string | null> = {}, extra: string[] = []): string[] {
  const options: Record<string, string | null> = {
    '--gwmp': '127.0.0.1:1700', '--devices': '2', '--duration': '10s', '--interval': '5s', '--link': 'lorawan-eu868-dr5', '--activation': 'otaa', '--keys-out': keysOut, ...change,
  };
  const args = ['lorawan'];
  // --option=value: a value may start with a dash (-1s), and may be empty
  for (const [k, v] of Object.entries(options)) if (v !== null) args.push(`${k}=${v}`);
  return [...args, ...extra, '--json'];
}

/** DIR holds nothing but what was there before the run (`before`), or does not exist. */
function untouched(keysOut: string, before?: string[]): void {
  if (before === undefined) expect(existsSync(keysOut), `${keysOut} was created`).toBe(false);
  else expect(readdirSync(keysOut).sort()).toEqual([...before].sort());
}

describe('sceau-sim lorawan: options', () => {
  it('rule: an unknown option, a stray argument or a missing one is bad-option (exit 2), before DIR is created', async () => {
    const out = join(dir, 'opt');
    expect(refused(await sim(lorawan(out, {}, ['--bogus'])), EXIT.usage, 'bad-option', { hint: LORAWAN_HINT })).toBe("Unknown option '--bogus'");
    refused(await sim(lorawan(out, {}, ['stray'])), EXIT.usage, 'bad-option', { hint: LORAWAN_HINT });
    refused(await sim([...lorawan(out).slice(0, -1), '--devices']), EXIT.usage, 'bad-option', { json: false, hint: LORAWAN_HINT }); // no value
    refused(await sim(['lorawan', '--devices', '-1']), EXIT.usage, 'bad-option', { json: false, hint: LORAWAN_HINT }); // a value that looks like an option
    for (const missing of ['--gwmp', '--devices', '--duration', '--interval', '--link', '--activation', '--keys-out']) {
      expect(refused(await sim(lorawan(out, { [missing]: null })), EXIT.usage, 'bad-option', { hint: LORAWAN_HINT })).toBe(`${missing} is required`);
    }
    expect(refused(await sim(lorawan(out, { '--activation': 'otab' })), EXIT.usage, 'bad-option', { hint: LORAWAN_HINT })).toBe('--activation: expected otaa or abp, got "otab"');
    for (const loss of ['', 'x', '-0.1', '1.5']) refused(await sim(lorawan(out, { '--loss': loss })), EXIT.usage, 'bad-option', { hint: LORAWAN_HINT });
    expect(refused(await sim(lorawan(out, { '--dev-addr-prefix': '26000000/8' })), EXIT.usage, 'bad-option', { hint: LORAWAN_HINT })).toMatch(/^--dev-addr-prefix: only with --activation abp/);
    expect(refused(await sim(lorawan(out, { '--owner': ownerPub })), EXIT.usage, 'bad-option', { hint: LORAWAN_HINT })).toBe('--owner: only with --record 2');
    untouched(out);
  });

  it('rule: a count that is not an integer in range is bad-count (exit 2)', async () => {
    const out = join(dir, 'count');
    for (const [option, value] of [['--devices', '0'], ['--devices', '1.5'], ['--devices', '1e3'], ['--devices', '-1'], ['--devices', '99999999999999999999'], ['--gateways', '0'], ['--gateways', 'two'], ['--firmware-vm', 'x'], ['--firmware-vm', '-1']] as const) {
      expect(refused(await sim(lorawan(out, { [option]: value })), EXIT.usage, 'bad-count', { hint: LORAWAN_HINT }), `${option} ${value}`).toBe(`${option}: expected an integer >= ${option === '--firmware-vm' ? 0 : 1}, got ${JSON.stringify(value)}`);
    }
    expect(refused(await sim(lorawan(out, { '--firmware-vm': '3' })), EXIT.usage, 'bad-count', { hint: LORAWAN_HINT })).toBe('--firmware-vm: 3 firmware devices, but only --devices 2');
    untouched(out);
  });

  it('rule: a duration that is not one is bad-duration (exit 2), as is an --interval of 0', async () => {
    const out = join(dir, 'duration');
    for (const [option, value] of [['--duration', '5x'], ['--duration', '-1s'], ['--duration', ''], ['--interval', '1 minute'], ['--join-delay', 'soon']] as const) {
      expect(refused(await sim(lorawan(out, { [option]: value })), EXIT.usage, 'bad-duration', { hint: LORAWAN_HINT })).toMatch(new RegExp(`^${option}: expected a duration`));
    }
    expect(refused(await sim(lorawan(out, { '--interval': '0s' })), EXIT.usage, 'bad-duration', { hint: LORAWAN_HINT })).toBe('--interval: expected a positive duration');
    untouched(out);
  });

  it('rule: a link that is not a LoRaWAN data rate of EU868 or US915 is bad-link (exit 2), naming --link', async () => {
    const out = join(dir, 'link');
    for (const link of ['lorawan-as923-dr2', 'lorawan-eu868-dr6', 'sigfox', 'udp', 'toString', '']) {
      expect(refused(await sim(lorawan(out, { '--link': link })), EXIT.usage, 'bad-link', { hint: LORAWAN_HINT }), link).toMatch(/^--link: /);
    }
    untouched(out);
  });

  it('rule: a record version other than 1 or 2 is bad-record; a DevAddr block that is not one, or too small, bad-dev-addr-prefix (exit 2)', async () => {
    const out = join(dir, 'record');
    for (const record of ['3', '0', 'v9', '']) refused(await sim(lorawan(out, { '--record': record })), EXIT.usage, 'bad-record', { hint: LORAWAN_HINT });
    refused(await sim(lorawan(out, { '--activation': 'abp', '--dev-addr-prefix': 'zz' })), EXIT.usage, 'bad-dev-addr-prefix', { hint: LORAWAN_HINT });
    // a /31 block has room for 2 DevAddrs
    expect(refused(await sim(lorawan(out, { '--activation': 'abp', '--devices': '3', '--dev-addr-prefix': '26000000/31' })), EXIT.usage, 'bad-dev-addr-prefix', { hint: LORAWAN_HINT })).toBe('--dev-addr-prefix 26000000/31: room for 2 DevAddrs, not 3');
    untouched(out);
  });

  it('rule: a network server address that is not HOST:PORT is bad-endpoint (exit 2); a host name that does not resolve is gwmp-unreachable (exit 3)', async () => {
    const out = join(dir, 'gwmp');
    for (const gwmp of ['localhost', '127.0.0.1:0', '127.0.0.1:70000', 'bad host:1700', '256.1.1.1:1700', '[not-v6]:1700', ':1700']) {
      expect(refused(await sim(lorawan(out, { '--gwmp': gwmp })), EXIT.usage, 'bad-endpoint', { hint: LORAWAN_HINT }), gwmp).toContain('--gwmp');
    }
    // .invalid never resolves (RFC 6761)
    expect(refused(await sim(lorawan(out, { '--gwmp': 'lns.sceau.invalid:1700' })), EXIT.io, 'gwmp-unreachable')).toMatch(/^--gwmp lns\.sceau\.invalid:1700: lns\.sceau\.invalid does not resolve: /);
    untouched(out);
    // --duration 0s sends nothing: the name is not looked up (keys may be written for a server not reachable from here)
    expect((await sim(lorawan(out, { '--gwmp': 'lns.sceau.invalid:1700', '--duration': '0s' }))).status).toBe(EXIT.ok);
    expect(readdirSync(out)).toEqual([DEVICES_FILE]);
  });

  it('the gateway itself: a host name that does not resolve rejects start() with GwmpError gwmp/socket, and stop() still returns', async () => {
    const g = new GwmpGateway({ eui: new Uint8Array(8), host: 'lns.sceau.invalid', port: 1700, ackTimeoutMs: 50 });
    const error = await g.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GwmpError);
    expect((error as GwmpError).code).toBe('gwmp/socket');
    expect((error as Error).message).toMatch(/cannot reach lns\.sceau\.invalid:1700: .*ENOTFOUND/);
    await g.stop();
    expect(g.stats.pullData).toBe(0); // nothing was sent
  });
});

describe('sceau-sim lorawan: files', () => {
  it('rule: an --owner file that cannot be read is file-unreadable (exit 3); one that is no owner key owner-key-format (exit 2)', async () => {
    const out = join(dir, 'owner');
    expect(refused(await sim(lorawan(out, { '--record': '2', '--owner': join(dir, 'missing.pub') })), EXIT.io, 'file-unreadable')).toMatch(/^cannot read owner public key .*missing\.pub: ENOENT/);
    writeFileSync(join(dir, 'not-a-key.pub'), 'hello\n');
    refused(await sim(lorawan(out, { '--record': '2', '--owner': join(dir, 'not-a-key.pub') })), EXIT.usage, 'owner-key-format', { hint: LORAWAN_HINT });
    untouched(out);
  });

  it('rule: a bad --keys-out is bad-out or out-not-a-directory (exit 2), one that cannot be created out-unwritable (exit 3); nothing is created', async () => {
    refused(await sim(lorawan('')), EXIT.usage, 'bad-out', { hint: LORAWAN_HINT });
    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep me');
    expect(refused(await sim(lorawan(file)), EXIT.usage, 'out-not-a-directory', { hint: LORAWAN_HINT })).toBe(`--keys-out ${file} is an existing file; --keys-out takes a directory`);
    refused(await sim(lorawan(join(file, 'fleet'))), EXIT.usage, 'out-not-a-directory', { hint: LORAWAN_HINT });
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    // /proc: no one creates directories there (and Node's recursive mkdir never returns under it)
    expect(refused(await sim(lorawan('/proc/self/sceau-fleet/keys')), EXIT.io, 'out-unwritable')).toMatch(/^--keys-out \/proc\/self\/sceau-fleet\/keys: cannot create it: /);
    expect(existsSync('/proc/self/sceau-fleet')).toBe(false);
  });

  it('rule: when the registration file or the wrapped keys cannot be written, out-unwritable (exit 3) and neither is kept, nor a directory the run created', async () => {
    // the registration file's place is taken by a directory
    const taken = join(dir, 'taken');
    mkdirSync(join(taken, DEVICES_FILE), { recursive: true });
    expect(refused(await sim(lorawan(taken, { '--duration': '0s' })), EXIT.io, 'out-unwritable')).toMatch(/^--keys-out .*: cannot write it \(nothing kept\): EISDIR/);
    untouched(taken, [DEVICES_FILE]);
    // the wrapped keys' place is taken: the registration file written just before goes again
    const wrapped = join(dir, 'wrapped');
    mkdirSync(join(wrapped, WRAPPED_KEYS_FILE), { recursive: true });
    const r = await sim(lorawan(wrapped, { '--duration': '0s', '--record': '2', '--owner': ownerPub }));
    refused(r, EXIT.io, 'out-unwritable');
    expect(r.stderr).not.toContain('wrote '); // nothing announced that was not kept
    untouched(wrapped, [WRAPPED_KEYS_FILE]);
  });

  it('rule: a lorawan-state.json that is not the state file is bad-state-file (exit 3): the run does not start, nothing is written', async () => {
    for (const [name, text] of [
      ['not-json', '{"0200000000000000": {"devNonce": 1,'],
      ['array', '[]'],
      ['bad-eui', '{"x": {"devNonce": 1, "fCntUp": 0, "counter": 1}}'],
      ['bad-field', '{"0200000000000000": {"devNonce": -1, "fCntUp": 0, "counter": 1}}'],
      ['missing-field', '{"0200000000000000": {"devNonce": 1, "counter": 1}}'],
    ] as const) {
      const out = join(dir, `state-${name}`);
      mkdirSync(out);
      writeFileSync(join(out, STATE_FILE), text);
      expect(refused(await sim(lorawan(out)), EXIT.io, 'bad-state-file'), name).toContain(join(out, STATE_FILE));
      untouched(out, [STATE_FILE]);
      expect(readFileSync(join(out, STATE_FILE), 'utf8')).toBe(text);
    }
  });
});

describe('sceau-sim lns', () => {
  let fleetDir: string;
  beforeAll(() => {
    fleetDir = join(dir, 'lns-fleet');
    writeRegistration(fleetDir, registrationEntries(makeFleet('lns-bad', 2, 'otaa'), 'otaa'));
  });

  it('rule: an unknown command or option, a missing --from or id, a bad --format is bad-option (exit 2), nothing on stdout', async () => {
    expect(refused(await sim(['lns', 'import']), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT })).toBe('sceau-sim: unknown command lns "import"; expected devices or formatter [bad-option]');
    refused(await sim(['lns', 'devices', '--from', fleetDir, '--format', 'csv', '--bogus']), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    refused(await sim(['lns', 'devices', '--from', fleetDir, '--format', 'csv', '--json']), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    refused(await sim(['lns', 'devices', '--format', 'csv']), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    refused(await sim(['lns', 'devices', '--from', fleetDir, '--format', 'xml']), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    refused(await sim(['lns', 'devices', '--from', fleetDir]), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    refused(await sim(['lns', 'formatter', '--format', 'csv']), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    refused(await sim(['lns', 'devices', '--from', fleetDir, '--format', 'chirpstack', '--application-id', 'a']), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    const script = join(dir, 'never.sh');
    refused(await sim(['lns', 'devices', '--from', fleetDir, '--format', 'csv', '--script', script]), EXIT.usage, 'bad-option', { json: false, hint: LNS_HINT });
    expect(existsSync(script)).toBe(false);
  });

  it('rule: a registration file that cannot be read is file-unreadable, one that is not a fleet\'s bad-devices-file (exit 3)', async () => {
    expect(refused(await sim(['lns', 'devices', '--from', join(dir, 'nowhere'), '--format', 'csv']), EXIT.io, 'file-unreadable', { json: false })).toMatch(/ENOENT/);
    const isDir = join(dir, 'lns-dir');
    mkdirSync(join(isDir, DEVICES_FILE), { recursive: true });
    refused(await sim(['lns', 'devices', '--from', isDir, '--format', 'tts']), EXIT.io, 'file-unreadable', { json: false });
    const bad = join(dir, 'lns-bad');
    mkdirSync(bad);
    for (const [text, detail] of [
      ['nope', /lorawan-devices\.json: not JSON: /],
      ['{}', /lorawan-devices\.json: expected a JSON array of devices/],
      ['[{"kid": "zz"}]', /lorawan-devices\.json: device 0: kid: expected 8 bytes of hex/],
    ] as const) {
      writeFileSync(join(bad, DEVICES_FILE), text);
      expect(refused(await sim(['lns', 'devices', '--from', bad, '--format', 'csv']), EXIT.io, 'bad-devices-file', { json: false })).toMatch(detail);
    }
  });

  it('rule: a --script that cannot be written is out-unwritable (exit 3): no script, no temporary file, nothing on stdout', async () => {
    const scriptDir = join(dir, 'script-dir');
    mkdirSync(join(scriptDir, 'post.sh'), { recursive: true }); // its place is taken by a directory
    refused(await sim(['lns', 'devices', '--from', fleetDir, '--format', 'chirpstack', '--application-id', 'a', '--device-profile-id', 'p', '--script', join(scriptDir, 'post.sh')]), EXIT.io, 'out-unwritable', { json: false });
    expect(readdirSync(scriptDir)).toEqual(['post.sh']);
    refused(await sim(['lns', 'devices', '--from', fleetDir, '--format', 'chirpstack', '--application-id', 'a', '--device-profile-id', 'p', '--script', join(dir, 'no-such-dir', 'post.sh')]), EXIT.io, 'out-unwritable', { json: false });
  });
});

describe('the binaries', () => {
  const spawn = (bin: string, args: string[]): Run => {
    const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('rule: sceau-sim, sceau sim lorawan and sceau lns exit with the code\'s status and print the same line, no stack trace', () => {
    const out = join(dir, 'bin');
    const own = spawn(simBin, lorawan(out, { '--link': 'lorawan-eu868-dr9' }));
    expect(refused(own, EXIT.usage, 'bad-link', { hint: LORAWAN_HINT })).toMatch(/^--link: link profile: unknown "lorawan-eu868-dr9"/);
    const host = spawn(sceauBin, ['sim', ...lorawan(out, { '--link': 'lorawan-eu868-dr9' })]);
    expect(host.status).toBe(EXIT.usage);
    expect(host.stderr).toBe(own.stderr);
    expect(host.stdout).toBe(own.stdout);
    refused(spawn(sceauBin, ['lns', 'devices', '--from', join(dir, 'nowhere'), '--format', 'csv']), EXIT.io, 'file-unreadable', { json: false });
    refused(spawn(simBin, ['emulate', '--json']), EXIT.usage, 'bad-option', { hint: '(sceau-sim --help for the commands)' });
    untouched(out);
  });
});

describe('docs', () => {
  it('every code these tests saw is in docs/simulator.md#lorawan-errors', () => {
    const docs = readFileSync(join(root, 'docs', 'simulator.md'), 'utf8');
    const section = docs.slice(docs.indexOf('<a id="lorawan-errors"></a>'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| command | code |')));
    expect(seen.size).toBeGreaterThan(10);
    for (const code of seen) expect(table, code).toContain(`\`${code}\``);
  });
});
