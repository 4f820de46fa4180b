// cbor-x on the host paths where general CBOR is what users bring (cbor-general.ts, the one
// module that imports it): SenML CBOR export (RFC 8428 §6) checked byte for byte and with the
// protocol's strict reader, and `frame inspect` of CBOR and COSE that are not sceau frames,
// with RFC 9052's COSE_Sign1 example. The built CLI runs as a child process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, parseCbor, sealRecord, toHex, type CborItem } from '@sceau/protocol';

const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'bin', 'sceau.cjs');

function sceau(args: string[], input?: string | Uint8Array): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { input, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

// A fixed key, so that the kid and the bytes below never change.
const seed = new Uint8Array(32).fill(0x5c);
const publicKey = getPublicKey(seed);
const kid = toHex(kidOf(publicKey));
let dir: string;
let db: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sceau-cbor-'));
  db = join(dir, 'store.db');
  expect(sceau(['devices', 'add', '--db', db, '--public-key', toHex(publicKey)]).status).toBe(0);
  // temperature 21.5 Cel (channel 1, wire 2150), humidity 40 %RH (channel 2, wire 4000) and a
  // user channel 130 the gateway does not know.
  const frame = sealRecord({ version: 1, counter: 1, time: 1700000100, readings: [{ channel: 1, value: 2150 }, { channel: 2, value: 4000 }, { channel: 130, value: 1234 }] }, seed);
  expect(sceau(['frame', 'verify', '-', '--db', db], toHex(frame)).status).toBe(0);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function text(s: string): string {
  return toHex(new TextEncoder().encode(s));
}

describe('sceau export --format senml-cbor (RFC 8428 §6)', () => {
  it('writes integer labels (bn -2, n 0, u 1, v 2, t 6): golden bytes', () => {
    const r = sceau(['export', '--db', db, '--format', 'senml-cbor']);
    expect(r.status).toBe(0);
    const bn = `urn:dev:sceau:${kid}:`;
    expect(bn.length).toBe(31);
    const expected =
      '83' + // array(3)
      'a5' + '21' + '781f' + text(bn) + '00' + '6b' + text('temperature') + '01' + '63' + text('Cel') + '02' + 'fb4035800000000000' + '06' + '1a6553f164' +
      'a4' + '00' + '68' + text('humidity') + '01' + '63' + text('%RH') + '02' + '1828' + '06' + '1a6553f164' +
      'a3' + '00' + '6b' + text('channel-130') + '02' + '1904d2' + '06' + '1a6553f164';
    expect(toHex(new Uint8Array(r.stdout))).toBe(expected);
  });

  it('the strict reader parses it, and it says what the SenML JSON export says', () => {
    const cbor = sceau(['export', '--db', db, '--format', 'senml-cbor']).stdout;
    const parsed = parseCbor(new Uint8Array(cbor));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.item.kind !== 'array') throw new Error('expected an array');
    const json = JSON.parse(sceau(['export', '--db', db, '--format', 'senml']).stdout.toString()) as Array<Record<string, unknown>>;
    const names: Record<number, string> = { [-2]: 'bn', 0: 'n', 1: 'u', 2: 'v', 6: 't' };
    const value = (item: CborItem): unknown => ('value' in item ? item.value : undefined);
    const fromCbor = parsed.item.items.map((record) => {
      if (record.kind !== 'map') throw new Error('expected a map');
      return Object.fromEntries(record.entries.map(([k, v]) => [names[Number(value(k))], value(v)]));
    });
    expect(fromCbor).toEqual(json);
  });

  it('--channels names a user channel the store kept as channel-<id>, in every export format', () => {
    const channels = join(dir, 'channels.json');
    writeFileSync(channels, JSON.stringify([{ id: 130, name: 'tank-level', unit: '%', scale: 0.1, description: 'soil' }]));
    const json = JSON.parse(sceau(['export', '--db', db, '--format', 'json', '--channels', channels]).stdout.toString()) as Array<Record<string, unknown>>;
    expect(json.find((r) => r.channel === 130)).toMatchObject({ name: 'tank-level', unit: '%', value: 123.4, raw: 1234 });
    const without = JSON.parse(sceau(['export', '--db', db, '--format', 'json']).stdout.toString()) as Array<Record<string, unknown>>;
    expect(without.find((r) => r.channel === 130)).toMatchObject({ name: 'channel-130', unit: '', value: 1234 });
    const cbor = toHex(new Uint8Array(sceau(['export', '--db', db, '--format', 'senml-cbor', '--channels', channels]).stdout));
    expect(cbor).toContain('00' + '6a' + text('tank-level') + '01' + '61' + text('%') + '02' + 'fb' + toHex(new Uint8Array(new Float64Array([123.4]).buffer).reverse()));
  });
});

describe('sceau frame inspect of CBOR and COSE that are not sceau frames (cbor-x)', () => {
  // RFC 9052 Appendix C.2.1: a COSE_Sign1 with ES256, payload "This is the content.".
  const rfc9052Sign1 = 'd28443a10126a10442313154546869732069732074686520636f6e74656e742e58408eb33e4ca31d1c465ab05aac34cc6b23d58fef5c083106c4d25a91aef0b0117e2af9a291aa32e14ab834dc56ed2a223444547e01f11d3b0916e5a4c345cacb36';

  it('shows RFC 9052 C.2.1 as a COSE_Sign1 in diagnostic notation', () => {
    const r = sceau(['frame', 'inspect', '-', '--json'], `${rfc9052Sign1}\n`);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.toString().trim()) as Record<string, unknown>;
    expect(out).toMatchObject({ sceau: false, cose: 'COSE_Sign1', bytes: 98 });
    expect(out.diagnostic).toBe(`18([h'a10126', {4: h'3131'}, h'${text('This is the content.')}', h'${rfc9052Sign1.slice(-128)}'])`);
  });

  it('shows non-canonical and indefinite-length CBOR the strict reader refuses, and SenML CBOR from the export', () => {
    const r = sceau(['frame', 'inspect', '-'], 'bf6161190001ff\n'); // {_ "a": 1 in 3 bytes}
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toContain('{"a": 1}');
    const senml = join(dir, 'pack.senmlc');
    writeFileSync(senml, sceau(['export', '--db', db, '--format', 'senml-cbor']).stdout);
    const s = sceau(['frame', 'inspect', senml]);
    expect(s.status).toBe(0);
    expect(s.stdout.toString()).toContain(`[{-2: "urn:dev:sceau:${kid}:", 0: "temperature", 1: "Cel", 2: 21.5, 6: 1700000100}`);
  });

  it('refuses input that is not well-formed CBOR (a lone break), exit 1', () => {
    const r = sceau(['frame', 'inspect', '-'], 'ff\n');
    expect(r.status).toBe(1);
    expect(r.stdout.toString()).toContain('not CBOR');
  });

  it('a sceau frame is still shown with its record; --channels names user channels', () => {
    const frame = sealRecord({ version: 1, counter: 2, time: null, readings: [{ channel: 130, value: 500 }] }, seed);
    const channels = join(dir, 'channels-2.json');
    writeFileSync(channels, JSON.stringify([{ id: 130, name: 'tank-level', unit: '%', scale: 0.1, description: 'soil' }]));
    const r = sceau(['frame', 'inspect', '-', '--channels', channels], toHex(frame));
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toContain('tank-level = 50 %');
    expect(sceau(['frame', 'inspect', '-'], toHex(frame)).stdout.toString()).toContain('channel-130 = 500');
  });
});
