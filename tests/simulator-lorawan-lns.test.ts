// `sceau lns` (= `sceau sim lns`, `sceau-sim lns`): the registration files a network server imports, and the generated payload
// formatter. The formatter is checked against its runtimes' limits (ES5.1 grammar with acorn,
// 40 KB, 100 ms per frame) and against verifyFrame on every golden frame of
// protocol/vectors/frames.json: the same readings, in units of the channel registry.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { parse } from 'acorn';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryKeyring, channels, fromHex, fragment, linkProfile, verifyFrame } from '@sceau/protocol';
import { makeFleet, registrationEntries, simCli, writeRegistration } from '@sceau/simulator';

const dir = mkdtempSync(join(tmpdir(), 'sceau-sim-lns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await simCli(['lns', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stderrIsTty: false });
  return { code, stdout, stderr };
}

const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'protocol', 'vectors', 'frames.json'), 'utf8')) as {
  keys: { name: string; publicKey: string; deviceIds: string[]; revoked: boolean }[];
  positive: { name: string; key: string; kid: boolean; frame: string }[];
  negative: { name: string; frame: string }[];
};

type Decoded = { data?: Record<string, unknown> & { readings?: { channel: number; name: string; unit: string; value: number; age: number }[] }; warnings?: string[]; errors?: string[] };

describe('sceau sim lns formatter', () => {
  for (const target of ['tts', 'chirpstack'] as const) {
    describe(target, async () => {
      const r = await run(['formatter', '--format', target]);
      const source = r.stdout;
      const decodeUplink = runInNewContext(`${source}\ndecodeUplink`, {}) as (input: { bytes: number[]; fPort?: number }) => Decoded;

      it('is ECMAScript 5.1 (acorn ecmaVersion 5) and under 40 KB', () => {
        expect(r.code).toBe(0);
        expect(() => parse(source, { ecmaVersion: 5 })).not.toThrow();
        expect(Buffer.byteLength(source)).toBeLessThan(40_960);
        expect(source).toMatch(/SIGNATURE IS NOT\s*\n?\/\/\s*VERIFIED HERE/);
        // a grammar it must not accept: proves the parser is strict ES5
        expect(() => parse('let x = () => 1;', { ecmaVersion: 5 })).toThrow();
      });

      it('decodes every golden frame into the readings verifyFrame gives, in units, each under 100 ms', () => {
        const keyring = new MemoryKeyring();
        for (const k of golden.keys) keyring.add(fromHex(k.publicKey), { deviceIds: k.deviceIds, revoked: k.revoked });
        for (const p of golden.positive) {
          const key = golden.keys.find((k) => k.name === p.key)!;
          const bytes = fromHex(p.frame);
          const v = verifyFrame(bytes, keyring, key.deviceIds.length > 0 ? { deviceId: key.deviceIds[0]! } : {});
          expect(v.ok, p.name).toBe(true);
          if (!v.ok) continue;
          // best of 5: the budget is the formatter's own cost, not a GC pause or a busy shared CI core
          let best = Infinity;
          let out: Decoded = {};
          for (let i = 0; i < 5; i++) {
            const t = performance.now();
            out = decodeUplink({ bytes: [...bytes], fPort: 1 });
            best = Math.min(best, performance.now() - t);
          }
          expect(best, p.name).toBeLessThan(100);
          expect(out.errors, p.name).toBeUndefined();
          expect(out.data!.signature).toBe('unverified');
          expect(out.data!.counter).toBe(v.counter);
          expect(out.data!.time).toBe(v.time);
          expect(out.data!.kid).toBe(v.kidInFrame ? v.kid : null);
          expect(out.data!.readings!.map((x) => [x.channel, x.value, x.age]), p.name).toEqual(v.readings.map((x) => [x.channel, channels.toUnit(x.channel, x.value), x.age ?? 0]));
          for (const x of out.data!.readings!) expect(x.name).toBe(channels.get(x.channel)?.name ?? `channel-${x.channel}`);
        }
      });

      it('decodes record version 2: the clear readings, and "encrypted (N bytes)" for the rest (frames-v2.json)', () => {
        const v2 = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'protocol', 'vectors', 'frames-v2.json'), 'utf8')) as { positive: { name: string; record: [number, number, number | null, number[][], unknown]; frame: string; encrypt0: string }[] };
        for (const p of v2.positive) {
          const out = decodeUplink({ bytes: [...fromHex(p.frame)], fPort: 1 });
          expect(out.errors, p.name).toBeUndefined();
          const clear = p.record[3].filter((r) => [5, 32, 33].includes(r[0]!));
          expect(out.data!.readings!.map((x) => [x.channel, x.value]), p.name).toEqual(clear.map((r) => [r[0], channels.toUnit(r[0]!, r[1]!)]));
          // the ciphertext's bytes less the 8-byte tag: d0 83 43a1010b a0 <bstr head> ciphertext
          const encrypt0 = fromHex(p.encrypt0);
          const ciphertext = encrypt0.length - 7 - (encrypt0[7]! >= 0x58 ? 2 : 1);
          expect(out.data!.encryptedBytes, p.name).toBe(ciphertext - 8);
          expect(out.data!.encrypted).toBe(`encrypted (${ciphertext - 8} bytes)`);
          expect(JSON.stringify(out)).not.toMatch(/temperature|humidity/);
        }
      });

      it('answers a fragment with a warning that formatters cannot reassemble', () => {
        const frame = fromHex(golden.positive[7]!.frame);
        const parts = fragment(frame, linkProfile('lorawan-eu868-dr0'));
        expect(parts.length).toBeGreaterThan(1);
        const out = decodeUplink({ bytes: [...parts[0]!], fPort: 1 });
        expect(out.errors).toBeUndefined();
        expect(out.warnings!.join(' ')).toMatch(/cannot reassemble/);
        expect(out.data!.fragment).toMatchObject({ remaining: parts.length - 1 });
      });

      it('answers malformed input with errors, never throws', () => {
        const frame = [...fromHex(golden.positive[0]!.frame)];
        const cases: number[][] = [[], frame.slice(0, 20), [...frame, 0], [0xd1, ...frame.slice(1)], [0xff, 0xff], [0x98, 0x04]];
        for (const bytes of cases) {
          const out = decodeUplink({ bytes, fPort: 1 });
          expect(out.errors?.length, JSON.stringify(bytes.slice(0, 4))).toBeGreaterThan(0);
        }
        expect(decodeUplink({ bytes: frame, fPort: 2 }).errors![0]).toMatch(/FPort 2/);
        for (const n of golden.negative) expect(() => decodeUplink({ bytes: [...fromHex(n.frame)], fPort: 1 })).not.toThrow();
      });
    });
  }
});

describe('sceau sim lns devices', () => {
  const otaaDir = join(dir, 'otaa');
  const abpDir = join(dir, 'abp');
  const otaa = registrationEntries(makeFleet('lns', 3, 'otaa'), 'otaa');
  const abp = registrationEntries(makeFleet('lns', 2, 'abp', '26000000/8'), 'abp');
  writeRegistration(otaaDir, otaa);
  writeRegistration(abpDir, abp);

  it('the registration file is 0600 and has the issue\'s fields', () => {
    expect(statSync(join(otaaDir, 'lorawan-devices.json')).mode & 0o777).toBe(0o600);
    expect(Object.keys(otaa[0]!).sort()).toEqual(['appKey', 'devEui', 'joinEui', 'kid', 'publicKey']);
    expect(Object.keys(abp[0]!).sort()).toEqual(['appSKey', 'devAddr', 'devEui', 'kid', 'nwkSKey', 'publicKey']);
    for (const e of abp) expect((e as { devAddr: string }).devAddr.slice(0, 2)).toBe('26');
  });

  it('tts: an end device per line, MAC 1.0.4, RP002, the frequency plan, root keys or session', async () => {
    const r = await run(['devices', '--from', otaaDir, '--format', 'tts', '--frequency-plan', 'US_902_928_FSB_2']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines).toHaveLength(3);
    lines.forEach((d, i) => {
      expect(d.ids).toEqual({ device_id: `sceau-${otaa[i]!.devEui}`, dev_eui: otaa[i]!.devEui.toUpperCase(), join_eui: (otaa[i] as { joinEui: string }).joinEui.toUpperCase() });
      expect(d).toMatchObject({ lorawan_version: 'MAC_V1_0_4', lorawan_phy_version: 'RP002_V1_0_3', frequency_plan_id: 'US_902_928_FSB_2', supports_join: true });
      expect(d.root_keys.app_key.key).toBe((otaa[i] as { appKey: string }).appKey.toUpperCase());
    });
    const a = await run(['devices', '--from', abpDir, '--format', 'tts']);
    const first = JSON.parse(a.stdout.split('\n')[0]!) as Record<string, any>;
    expect(first).toMatchObject({ supports_join: false, frequency_plan_id: 'EU_863_870_TTN', session: { dev_addr: (abp[0] as { devAddr: string }).devAddr.toUpperCase() } });
  });

  it('chirpstack: device and key bodies, the AppKey in nwkKey (1.0.x), and a script that passes sh -n and keeps the token off argv', async () => {
    const script = join(dir, 'post.sh');
    const r = await run(['devices', '--from', otaaDir, '--format', 'chirpstack', '--application-id', 'app-1', '--device-profile-id', 'prof-1', '--script', script]);
    expect(r.code).toBe(0);
    const imp = JSON.parse(r.stdout) as { devices: { device: Record<string, unknown> }[]; deviceKeys: { deviceKeys: Record<string, string> }[] };
    expect(imp.devices).toHaveLength(3);
    expect(imp.devices[0]!.device).toMatchObject({ devEui: otaa[0]!.devEui, applicationId: 'app-1', deviceProfileId: 'prof-1' });
    expect(imp.deviceKeys[0]!.deviceKeys.nwkKey).toBe((otaa[0] as { appKey: string }).appKey);
    const text = readFileSync(script, 'utf8');
    execFileSync('sh', ['-n', script]);
    expect(text).toContain(`/api/devices/${otaa[2]!.devEui}/keys`);
    expect(text).toMatch(/-H @"\$headers"/);
    const missing = await run(['devices', '--from', otaaDir, '--format', 'chirpstack']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--application-id is required/);
  });

  it('csv: a header and a line per device', async () => {
    const r = await run(['devices', '--from', abpDir, '--format', 'csv']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('device_id,dev_eui,dev_addr,nwk_s_key,app_s_key,kid,public_key');
    expect(lines).toHaveLength(3);
    expect(lines[1]!.split(',')[2]).toBe((abp[0] as { devAddr: string }).devAddr);
  });

  it('refuses a missing or malformed registration file (exit 3) and an unknown format (exit 2)', async () => {
    expect((await run(['devices', '--from', join(dir, 'nowhere'), '--format', 'csv'])).code).toBe(3);
    expect((await run(['devices', '--from', otaaDir, '--format', 'xml'])).code).toBe(2);
    const bad = join(dir, 'bad');
    writeRegistration(bad, [{ kid: 'zz' } as never]);
    const r = await run(['devices', '--from', bad, '--format', 'csv']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/device 0: kid: expected 8 bytes of hex/);
  });
});

describe('sceau lns: the top-level host command', () => {
  it('runs the simulator\'s lns commands: the same output and exit codes as sceau-sim lns', async () => {
    const root = join(import.meta.dirname, '..');
    const sceau = (args: string[]) => spawnSync(process.execPath, [join(root, 'host-tools', 'bin', 'sceau.cjs'), 'lns', ...args], { encoding: 'utf8' });
    const fleetDir = join(dir, 'host');
    writeRegistration(fleetDir, registrationEntries(makeFleet('lns-host', 2, 'abp', '26000000/8'), 'abp'));
    const csv = sceau(['devices', '--from', fleetDir, '--format', 'csv']);
    expect(csv.status).toBe(0);
    expect(csv.stdout).toBe((await run(['devices', '--from', fleetDir, '--format', 'csv'])).stdout);
    expect(csv.stdout.trimEnd().split('\n')).toHaveLength(3);
    const formatter = sceau(['formatter', '--format', 'tts']);
    expect(formatter.status).toBe(0);
    expect(formatter.stdout).toBe((await run(['formatter', '--format', 'tts'])).stdout);
    expect(formatter.stdout).toContain('function decodeUplink(input)');
    const bad = sceau(['devices', '--from', fleetDir, '--format', 'xml']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--format: expected tts, chirpstack or csv/);
    expect(sceau(['devices', '--from', join(dir, 'nowhere'), '--format', 'csv']).status).toBe(3);
    expect(sceau(['--help']).stdout).toMatch(/sceau-sim lns devices --from DIR/);
  });
});
