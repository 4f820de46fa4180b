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
import * as ref from './helpers/lorawan-reference';

const root = join(import.meta.dirname, '..');
const published = JSON.parse(readFileSync(join(root, 'protocol', 'vectors', 'lorawan.json'), 'utf8')).vectors as {
  name: string; source: string; input: Record<string, unknown>; expected: Record<string, unknown>;
}[];

// xorshift32 with a pinned seed: the same cases on every run
let state = 0x5cea0001;
const next = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
};
const int = (n: number) => next() % n;
const hex = (bytes: number) => Buffer.from(Array.from({ length: bytes }, () => int(256))).toString('hex');
const bool = () => int(2) === 1;
// counters: small, around the 16-bit boundary, and full 32-bit (high bit set included)
const fCnt = () => [int(70000), 0xffff + int(3) - 1, next(), 0xffffffff - int(3), 0x80000000 + int(100000)][int(5)];
const payload = (max: number) => hex([0, 1, 15, 16, 17, 32, 51, 115, 200, 242][int(10)] % (max + 1));
const flip = (h: string) => {
  const b = Buffer.from(h, 'hex');
  b[int(b.length)] ^= 1 << int(8);
  return b.toString('hex');
};

const N = Number(process.env.LORAWAN_N ?? 1000);
type Case = { input: Record<string, unknown>; expected: Record<string, unknown>; flipped?: boolean };
const cases: Case[] = [];

// join-request
for (let i = 0; i < N; i++) {
  const input = { op: 'join-request', appKey: hex(16), joinEui: hex(8), devEui: hex(8), devNonce: hex(2) };
  cases.push({ input, expected: { phyPayload: ref.joinRequest(input.appKey, input.joinEui, input.devEui, input.devNonce) } });
}
// join-accept: 3 in 4 genuine (with and without CFList), 1 in 4 with a flipped bit
for (let i = 0; i < N; i++) {
  const appKey = hex(16);
  const devNonce = hex(2);
  const f = { joinNonce: hex(3), netId: hex(3), devAddr: hex(4), dlSettings: int(256), rxDelay: int(16), cfList: bool() ? hex(16) : null };
  const wire = ref.encodeJoinAccept(appKey, f);
  const bad = i % 4 === 3;
  cases.push({
    input: { op: 'join-accept', appKey, devNonce, phyPayload: bad ? flip(wire) : wire },
    expected: bad
      ? { ok: false, joinNonce: null, netId: null, devAddr: null, dlSettings: null, rxDelay: null, cfList: null, nwkSKey: null, appSKey: null }
      : { ok: true, ...f, ...ref.sessionKeys(appKey, f.joinNonce, f.netId, devNonce) },
  });
}
// uplink: every FPort kind (none, 0 = MAC commands under NwkSKey, 1..255), FOpts, flags, 32-bit FCnt
const dataFrame = (i: number): ref.DataFrame => {
  const kind = i % 5;
  const fPort = kind === 0 ? null : kind === 1 ? 0 : 1 + int(255);
  const fOpts = fPort === 0 || bool() ? null : hex(int(16));
  const room = 255 - 13 - (fOpts === null ? 0 : fOpts.length / 2);
  return {
    nwkSKey: hex(16), appSKey: hex(16), devAddr: hex(4), fCnt: fCnt(), fPort,
    payload: fPort === null ? '' : payload(room), confirmed: bool(), fOpts, adr: bool(), ack: bool(),
  };
};
for (let i = 0; i < N; i++) {
  const f = { ...dataFrame(i), adrAckReq: bool() };
  cases.push({ input: { op: 'uplink', ...f }, expected: { phyPayload: ref.encodeData(0, f) } });
}
// downlink: genuine ones decoded; 1 in 5 tampered (a bit flipped, or announced under another FCnt)
for (let i = 0; i < N; i++) {
  const f = { ...dataFrame(i), fPending: bool() };
  const wire = ref.encodeData(1, f);
  const input = { op: 'downlink', nwkSKey: f.nwkSKey, appSKey: f.appSKey, devAddr: f.devAddr, fCntDown: f.fCnt, phyPayload: wire };
  if (i % 5 === 4) {
    const flipped = bool();
    if (flipped) input.phyPayload = flip(wire);
    else input.fCntDown = (f.fCnt + 0x10000) % 0x100000000; // same 16 bits on air, wrong 32-bit counter
    cases.push({ flipped, input, expected: { ok: false, fPort: null, payload: null, fOpts: null, ack: null, fPending: null, adr: null, confirmed: null } });
    continue;
  }
  cases.push({
    input,
    expected: { ok: true, fPort: f.fPort, payload: f.payload, fOpts: f.fOpts ?? '', ack: f.ack, fPending: f.fPending, adr: f.adr, confirmed: f.confirmed },
  });
}
// the single steps: raw AES-128/256, CMAC on random lengths, session keys, keystream, data MIC
for (let i = 0; i < N; i++) {
  const key = hex(bool() ? 16 : 32);
  const plaintext = hex(16);
  cases.push({ input: { op: 'aes', key, plaintext }, expected: { ciphertext: ref.aes(Buffer.from(key, 'hex'), Buffer.from(plaintext, 'hex')).toString('hex') } });
  const message = hex(int(80));
  cases.push({ input: { op: 'cmac', key, message }, expected: { mac: ref.cmac(Buffer.from(key, 'hex'), Buffer.from(message, 'hex')).toString('hex') } });
  const sk = { appKey: hex(16), joinNonce: hex(3), netId: hex(3), devNonce: hex(2) };
  cases.push({ input: { op: 'session-keys', ...sk }, expected: ref.sessionKeys(sk.appKey, sk.joinNonce, sk.netId, sk.devNonce) });
  const dir = bool() ? 'up' : 'down';
  const step = { key: hex(16), devAddr: hex(4), fCnt: fCnt(), data: hex(int(120)) };
  cases.push({
    input: { op: 'frm-payload', dir, key: step.key, devAddr: step.devAddr, fCnt: step.fCnt, payload: step.data },
    expected: { payload: ref.frmPayload(step.key, dir === 'up' ? 0 : 1, step.devAddr, step.fCnt, Buffer.from(step.data, 'hex')).toString('hex') },
  });
  const msg = hex(1 + int(120));
  cases.push({
    input: { op: 'data-mic', dir, nwkSKey: step.key, devAddr: step.devAddr, fCnt: step.fCnt, msg },
    expected: { mic: ref.dataMic(step.key, dir === 'up' ? 0 : 1, step.devAddr, step.fCnt, Buffer.from(msg, 'hex')).toString('hex') },
  });
}

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
    const i = tts.input as Record<string, string>;
    expect(ref.joinRequest(i.appKey, i.joinEui, i.devEui, i.devNonce)).toBe(tts.expected.phyPayload);
    const readme = published.find(v => v.source.includes('README') && v.input.op === 'uplink')!;
    expect(ref.encodeData(0, readme.input as unknown as ref.DataFrame)).toBe(readme.expected.phyPayload);
  });

  it('passes every published vector (FIPS-197, RFC 4493, lorawan-stack, chirpstack, lora-packet)', () => {
    expect(published.length).toBeGreaterThanOrEqual(30);
    for (const op of ['aes', 'cmac', 'session-keys', 'join-request', 'join-accept', 'uplink', 'downlink', 'frm-payload', 'data-mic'])
      expect(published.some(v => v.input.op === op), op).toBe(true);
    published.forEach((v, i) => {
      const got = vectorResults[i];
      for (const [k, want] of Object.entries(v.expected)) expect(got[k], `${v.name} (${v.source}): ${k}`).toEqual(want);
    });
  });

  it(`matches the independent implementation on ${N} random cases of every op`, () => {
    const counts: Record<string, number> = {};
    cases.forEach((c, i) => {
      const op = c.input.op as string;
      counts[op] = (counts[op] ?? 0) + 1;
      const { error, ...got } = randomResults[i];
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
