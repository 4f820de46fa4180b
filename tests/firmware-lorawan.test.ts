// The firmware's LoRaWAN crypto and frame coding (firmware/src/aes.ts, cmac.ts, lorawan-frames.ts),
// run in the DeviceScript VM through `npm run -w firmware lorawan-vectors`:
// - every published vector of protocol/vectors/lorawan.json (FIPS-197, RFC 4493, lorawan-stack,
//   chirpstack, lora-packet; see protocol/vectors/SOURCES.md);
// - a differential test of 1,000 random cases of every op against tests/helpers/lorawan-reference.ts,
//   an independent implementation from the specifications on node:crypto (no shared code);
// - the command's contract: exit codes, malformed input, results with ok: false, whole output files.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLorawanVectors } from '../firmware/scripts/lorawan-vectors.mjs';
import * as ref from './helpers/lorawan-reference.js';
import { lorawanCases } from './helpers/lorawan-cases.js';

const root = join(import.meta.dirname, '..');
const published = JSON.parse(readFileSync(join(root, 'protocol', 'vectors', 'lorawan.json'), 'utf8')).vectors as {
  name: string; source: string; input: Record<string, unknown>; expected: Record<string, unknown>;
}[];

const N = Number(process.env.LORAWAN_N ?? 1000);
const cases = lorawanCases(N);

describe('firmware LoRaWAN crypto in the DeviceScript VM', () => {
  let vectorResults: Record<string, unknown>[];
  let randomResults: Record<string, unknown>[];
  beforeAll(async () => {
    // one VM run for everything (the image is built once per process)
    const all = await runLorawanVectors([...published.map(v => v.input), ...cases.map(c => c.input)], { detail: true });
    vectorResults = all.slice(0, published.length);
    randomResults = all.slice(published.length);
  }, 600_000);

  it('the AES tables in src/aes-tables.ts are what scripts/gen-aes.mjs computes from FIPS-197', () => {
    execFileSync(process.execPath, [join(root, 'firmware', 'scripts', 'gen-aes.mjs'), '--check']);
  });

  it('the reference implementation reproduces the published vectors it covers (it is a fair judge)', () => {
    const tts = published.find(v => v.name.startsWith('tts-join-request'))!;
    const i = tts.input as { appKey: string; joinEui: string; devEui: string; devNonce: string };
    expect(ref.joinRequest(i.appKey, i.joinEui, i.devEui, i.devNonce)).toBe(tts.expected.phyPayload);
    const readme = published.find(v => v.source.includes('README') && v.input.op === 'uplink')!;
    expect(ref.encodeData(0, readme.input as unknown as ref.DataFrame)).toBe(readme.expected.phyPayload);
  });

  it('passes every published vector (FIPS-197, RFC 4493, lorawan-stack, chirpstack, lora-packet)', () => {
    expect(published.length).toBeGreaterThanOrEqual(30);
    for (const op of ['aes', 'cmac', 'session-keys', 'join-request', 'join-accept', 'uplink', 'downlink', 'frm-payload', 'data-mic'])
      expect(published.some(v => v.input.op === op), op).toBe(true);
    published.forEach((v, i) => {
      const got = vectorResults[i]!;
      for (const [k, want] of Object.entries(v.expected)) expect(got[k], `${v.name} (${v.source}): ${k}`).toEqual(want);
    });
  });

  it(`matches the independent implementation on ${N} random cases of every op`, () => {
    const counts: Record<string, number> = {};
    cases.forEach((c, i) => {
      const op = c.input.op as string;
      counts[op] = (counts[op] ?? 0) + 1;
      const { error, ...got } = randomResults[i]!;
      expect(got, `case ${i} ${JSON.stringify(c.input)}`).toEqual(c.expected);
      // a flipped bit is caught by the first check it meets (MHDR, address, lengths, FCnt, then the MIC);
      // a wrong high half of the 32-bit counter (same 16 bits on air) only by the MIC
      if (c.expected.ok === false) expect(error, `case ${i}`).toMatch(c.input.op === 'downlink' && !c.flipped ? /^mic$/ : /^(mic|mtype|dev-addr|length|fopts|fcnt)$/);
    });
    for (const op of ['join-request', 'join-accept', 'uplink', 'downlink', 'aes', 'cmac', 'session-keys', 'frm-payload', 'data-mic'])
      expect(counts[op], op).toBeGreaterThanOrEqual(N);
  });

  it('refuses join-accepts and downlinks that are not what they claim, with the reason', async () => {
    const appKey = '000102030405060708090a0b0c0d0e0f';
    const ja = ref.encodeJoinAccept(appKey, { joinNonce: '000001', netId: '000013', devAddr: '26011234', dlSettings: 0, rxDelay: 1, cfList: null });
    const f = { nwkSKey: appKey, appSKey: appKey, devAddr: '26011234', fCnt: 7, fPort: 1, payload: '00', confirmed: false };
    const down = ref.encodeData(1, f);
    const up = ref.encodeData(0, f);
    const portZeroWithFOpts = ref.encodeData(1, { ...f, fPort: 0, fOpts: '02' });
    const res = await runLorawanVectors(
      [
        { op: 'join-accept', appKey, devNonce: '0001', phyPayload: ja.slice(0, -2) }, // 16 bytes
        { op: 'join-accept', appKey, devNonce: '0001', phyPayload: '00' + ja.slice(2) }, // not a join-accept
        { op: 'downlink', ...f, fCntDown: 7, phyPayload: up }, // an uplink
        { op: 'downlink', ...f, devAddr: '26011235', fCntDown: 7, phyPayload: down }, // someone else's
        { op: 'downlink', ...f, fCntDown: 7, phyPayload: down.slice(0, 22) }, // truncated
        { op: 'downlink', ...f, fCntDown: 7, phyPayload: portZeroWithFOpts }, // MAC commands twice
        { op: 'downlink', ...f, fCntDown: 7, phyPayload: down }, // genuine
      ].map(x => {
        const { fCnt, fPort, payload, confirmed, ...rest } = x as Record<string, unknown>;
        return rest.op === 'downlink' ? rest : x;
      }),
      { detail: true },
    );
    expect(res.map(r => r.error ?? 'ok')).toEqual(['length', 'mtype', 'mtype', 'dev-addr', 'length', 'fopts', 'ok']);
    expect(res[6]).toMatchObject({ ok: true, fPort: 1, payload: '00', fOpts: '' });
  }, 120_000);
});

describe('npm run -w firmware lorawan-vectors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sceau-lorawan-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (items: unknown) => {
    const inPath = join(dir, 'in.json');
    const outPath = join(dir, 'out.json');
    rmSync(outPath, { force: true });
    writeFileSync(inPath, typeof items === 'string' ? items : JSON.stringify(items));
    const r = spawnSync('npm', ['run', '-s', '-w', 'firmware', 'lorawan-vectors', '--', inPath, outPath], { cwd: root, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr, out: existsSync(outPath) ? JSON.parse(readFileSync(outPath, 'utf8')) : null };
  };

  it('exit 0 with one result per item, a bad MIC included (ok: false, every other field null)', () => {
    const good = published.find(v => v.name === 'lora-packet-readme-test-frame-uplink') ?? published.find(v => v.input.op === 'uplink')!;
    const appKey = '0102030405060708090a0b0c0d0e0f10';
    const r = run([
      good.input,
      { op: 'join-accept', appKey, devNonce: '0102', phyPayload: '2023cf335489aae3183c0be0baa8dee5f4' },
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toHaveLength(2);
    expect(r.out[0]).toEqual({ phyPayload: good.expected.phyPayload });
    expect(r.out[1]).toEqual({ ok: false, joinNonce: null, netId: null, devAddr: null, dlSettings: null, rxDelay: null, cfList: null, nwkSKey: null, appSKey: null });
  }, 120_000);

  it('exit 2 for malformed input, naming the item and field, and no output file', () => {
    const k = '00'.repeat(16);
    for (const [items, msg] of [
      ['{not json', /in\.json/],
      [{ op: 'uplink' }, /expected a JSON array/],
      [[{ op: 'join-request', appKey: k, joinEui: '00'.repeat(8), devEui: '00'.repeat(8), devNonce: 1 }], /item 0: devNonce: expected 4 hex digits/],
      [[{ op: 'sign' }], /item 0: op: expected one of/],
      [[{ op: 'downlink', nwkSKey: k, appSKey: k, devAddr: '0000000', fCntDown: 1, phyPayload: '' }], /item 0: devAddr/],
      [[{ op: 'uplink', nwkSKey: k, appSKey: k, devAddr: '00000000', fCnt: 2 ** 32, fPort: 1, payload: '', confirmed: false }], /item 0: fCnt/],
      [[{ op: 'uplink', nwkSKey: k, appSKey: k, devAddr: '00000000', fCnt: 1, fPort: 0, payload: '', confirmed: false, fOpts: '02' }], /fPort 0/],
      [[{ op: 'uplink', nwkSKey: k, appSKey: k, devAddr: '00000000', fCnt: 1, fPort: 1, payload: '00'.repeat(243), confirmed: false }], /at most 255/],
    ] as [unknown, RegExp][]) {
      const r = run(items);
      expect(r.status, JSON.stringify(items)).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.out).toBeNull();
    }
  }, 60_000);
});
