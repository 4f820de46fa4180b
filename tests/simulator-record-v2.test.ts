// Record version 2 in the virtual-time simulator (issue 17: "It costs at most 18 bytes over a
// version 1 record with the same readings. The simulator's bytes on air and airtime show it."):
// the same seeded scenario run as version 1 and as version 2 into the host-tools gateway, every
// frame read back from the capture (fragments reassembled by @sceau/protocol), each v2 frame
// verified and opened with its device's content key and compared with the v1 frame of the same
// device and counter; the summary's bytes and airtime against the capture; determinism; and a
// simulated fleet's readings opened by `sceau export --owner-key` through `--owner`.
import { generateKeyPairSync } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Bytes,
  type Reading,
  type SceauRecordV2,
  MemoryKeyring,
  OPERATIONAL_CHANNELS,
  encryptedReadingsBytes,
  Reassembler,
  airtimeMs,
  fromHex,
  getPublicKey,
  kidOf,
  linkProfile,
  openRecordReadings,
  readCanonicalFrame,
  toHex,
  verifyFrame,
} from '@sceau/protocol';
import { type RunResult, type ScenarioInput, HostToolsGatewaySink, LORAWAN_GROUP, deviceContentKey, deviceSecret, makeFleet, resolveScenario, runSimulation, sealVersioned, simCli, worstRecordBytes } from '@sceau/simulator';
import { jsonLines, sceau } from './helpers/cli.js';
import * as ref from './helpers/lorawan-reference.js';

const dir = mkdtempSync(join(tmpdir(), 'sceau-sim-v2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SEED = 'record-v2';
// Fragmenting (EU868 DR0), whole frames without kid and with a sender named by the link (DR5),
// and an IP link with a clock (record time) and more sensors; sensor faults for records of
// varying size. Batches are fixed so v1 and v2 seal the same records.
const SCENARIO: ScenarioInput = {
  seed: SEED,
  duration: '8h',
  drain: '3h',
  // no power cuts: every record sealed goes on the air whole (one lost in RAM mid-send would
  // leave fragments in the capture that complete no frame); the first record reports the boot
  reboots: 0,
  faults: 0.02,
  groups: [
    { name: 'dr0', devices: 4, link: 'lorawan-eu868-dr0', interval: '20m', batch: 1 },
    { name: 'dr5', devices: 3, link: 'lorawan-eu868-dr5', interval: '10m', batch: 2, kid: false },
    { name: 'ip', devices: 3, link: 'udp', interval: '5m', batch: 2, sensors: ['temperature', 'humidity', 'pressure', 'co2', 'battery'] },
  ],
};

interface Frame {
  kid: string;
  group: string;
  member: number;
  bytes: Bytes;
  /** Bytes and airtime of the datagrams that carried it. */
  onAir: number;
  airtimeMs: number;
  datagrams: number;
}

interface Run {
  result: RunResult;
  capture: Buffer;
  /** Every frame put on the air, by `kid/counter`. */
  frames: Map<string, Frame>;
  db: string;
}

/** The fleet's devices by kid, as the simulator derives them. */
const fleet = new Map<string, { group: string; member: number; link: string; publicKey: Bytes }>();
for (const g of SCENARIO.groups!) {
  for (let i = 0; i < g.devices!; i++) {
    const publicKey = getPublicKey(deviceSecret(SEED, g.name!, i));
    fleet.set(toHex(kidOf(publicKey)), { group: g.name!, member: i, link: g.link!, publicKey });
  }
}

/** The capture's datagrams reassembled into frames per device (the link's own fragmentation rules). */
function framesOf(capture: Buffer): Map<string, Frame> {
  const frames = new Map<string, Frame>();
  const pending = new Map<string, { onAir: number; airtimeMs: number; datagrams: number }>();
  const reassemblers = new Map<string, Reassembler>();
  for (const line of capture.toString('utf8').trimEnd().split('\n')) {
    const o = JSON.parse(line) as { t: number; kid: string; datagram: string; attack: string | null };
    expect(o.attack).toBeNull();
    const device = fleet.get(o.kid)!;
    const profile = linkProfile(device.link);
    const datagram = fromHex(o.datagram);
    const p = pending.get(o.kid) ?? { onAir: 0, airtimeMs: 0, datagrams: 0 };
    p.onAir += datagram.length;
    p.airtimeMs += airtimeMs(profile, datagram.length);
    p.datagrams++;
    pending.set(o.kid, p);
    let r = reassemblers.get(o.kid);
    if (r === undefined) reassemblers.set(o.kid, (r = new Reassembler({ senderHint: !profile.identifiesSender })));
    const pushed = r.push(datagram, o.t, o.kid);
    if (pushed.kind !== 'frame') continue;
    const frame = readCanonicalFrame(pushed.frame);
    expect(frame).toBeDefined();
    const counter = counterOf(pushed.frame, o.kid);
    frames.set(`${o.kid}/${counter}`, { kid: o.kid, group: device.group, member: device.member, bytes: pushed.frame, ...p });
    pending.delete(o.kid);
  }
  expect([...pending.keys()]).toEqual([]); // no frame left half sent
  return frames;
}

function verify(bytes: Bytes, kid: string) {
  const keyring = new MemoryKeyring();
  keyring.add(fleet.get(kid)!.publicKey, { deviceIds: [`kid:${kid}`] });
  return verifyFrame(bytes, keyring, { recordVersions: [1, 2], deviceId: `kid:${kid}` });
}

function counterOf(bytes: Bytes, kid: string): number {
  const v = verify(bytes, kid);
  if (!v.ok) throw new Error(`${kid}: ${v.code} ${v.detail}`);
  return v.counter;
}

async function run(record: 1 | 2, name: string): Promise<Run> {
  const capture = join(dir, `${name}.ndjson`);
  const db = join(dir, `${name}.db`);
  const sink = await HostToolsGatewaySink.start({ db });
  const result = await runSimulation(resolveScenario({ ...SCENARIO, record }), { sink, capture });
  expect(result.failures).toEqual([]);
  const bytes = readFileSync(capture);
  return { result, capture: bytes, frames: framesOf(bytes), db };
}

const runs: { v1?: Run; v2?: Run } = {};
async function both(): Promise<{ v1: Run; v2: Run }> {
  runs.v1 ??= await run(1, 'v1');
  runs.v2 ??= await run(2, 'v2');
  return runs as { v1: Run; v2: Run };
}

const operational = (r: Reading): boolean => OPERATIONAL_CHANNELS.includes(r.channel);

describe('sceau-sim run --record 2', () => {
  it('seals the records v1 would, readings encrypted under each device\'s content key, each record 17 or 18 bytes larger', async () => {
    const { v1, v2 } = await both();
    expect(v2.frames.size).toBeGreaterThan(300);
    expect([...v2.frames.keys()].sort()).toEqual([...v1.frames.keys()].sort());
    const recordOverhead = new Set<number>();
    const frameOverhead = new Set<number>();
    for (const [key, f2] of v2.frames) {
      const f1 = v1.frames.get(key)!;
      const a = verify(f1.bytes, f1.kid);
      const b = verify(f2.bytes, f2.kid);
      if (!a.ok || !b.ok) throw new Error(`${key} does not verify`);
      expect(a.record.version).toBe(1);
      expect(b.record.version).toBe(2);
      expect([b.counter, b.time, b.kidInFrame]).toEqual([a.counter, a.time, a.kidInFrame]);
      const v1Readings = (a.record as { readings: Reading[] }).readings;
      const record = b.record as SceauRecordV2;
      // the encrypted part opens with the device's content key to exactly v1's other readings
      const opened = openRecordReadings(record, deviceContentKey(SEED, f2.group, f2.member), f2.kid);
      if (!opened.ok) throw new Error(`${key}: ${opened.code} ${opened.detail}`);
      expect(opened.readings).toEqual(v1Readings.filter((r) => !operational(r)));
      // and with no other device's key
      expect(openRecordReadings(record, deviceContentKey(SEED, f2.group, f2.member + 1), f2.kid).ok).toBe(false);
      // in clear: the operational readings only (battery may differ by a drain of airtime; boot does not)
      const clear = v1Readings.filter(operational);
      expect(record.clearReadings.map((r) => r.channel)).toEqual(clear.map((r) => r.channel));
      expect(record.clearReadings.filter((r) => r.channel === 32)).toEqual(clear.filter((r) => r.channel === 32));
      // the record: 17 bytes more while the ciphertext is under 24 bytes, then 18 (issue 17: at most 18)
      const p1 = readCanonicalFrame(f1.bytes)!.payload.length;
      const p2 = readCanonicalFrame(f2.bytes)!.payload.length;
      const ciphertext = encryptedReadingsBytes(record) + 8; // the plaintext and CCM's 8-byte tag
      expect(p2 - p1).toBe(ciphertext < 24 ? 17 : 18);
      recordOverhead.add(p2 - p1);
      // the frame: that, and one byte more when the payload's bstr head grows (a v1 record under 24 bytes)
      expect(f2.bytes.length - f1.bytes.length).toBe(p2 - p1 + (p1 < 24 && p2 >= 24 ? 1 : 0));
      frameOverhead.add(f2.bytes.length - f1.bytes.length);
    }
    expect([...recordOverhead].sort()).toEqual([17, 18]);
    expect(Math.max(...frameOverhead)).toBeLessThanOrEqual(19);
  });

  it('reports bytes on air and airtime by record version, consistent with the capture frame by frame', async () => {
    const { v1, v2 } = await both();
    expect(v1.result.summary.byRecordVersion).toBeUndefined(); // a v1 summary keeps issue 5's keys
    const t1 = v1.result.byRecordVersion.v1!;
    const t2 = v2.result.summary.byRecordVersion!.v2!;
    expect(v2.result.summary.byRecordVersion!.v1).toBeUndefined();
    expect(v2.result.byRecordVersion).toEqual(v2.result.summary.byRecordVersion);
    // no attacker: the tallies are the totals
    for (const [r, t] of [[v1, t1], [v2, t2]] as const) {
      expect(t).toMatchObject({ records: r.result.summary.recordsSealed, datagrams: r.result.summary.datagrams, bytesOnAir: r.result.summary.bytesOnAir, airtimeMs: r.result.summary.airtimeMs });
      const frames = [...r.frames.values()];
      expect(t.frameBytes).toBe(frames.reduce((s, f) => s + f.bytes.length, 0));
      expect(t.bytesOnAir).toBe(frames.reduce((s, f) => s + f.onAir, 0));
      expect(t.datagrams).toBe(frames.reduce((s, f) => s + f.datagrams, 0));
      expect(t.airtimeMs).toBeCloseTo(frames.reduce((s, f) => s + f.airtimeMs, 0), 2);
    }
    // the differences of the summaries are the sums of the per-frame differences
    let bytes = 0;
    let onAir = 0;
    let air = 0;
    const byGroup = new Map<string, { frames: number; bytes: number; onAir: number; air: number }>();
    for (const [key, f2] of v2.frames) {
      const f1 = v1.frames.get(key)!;
      bytes += f2.bytes.length - f1.bytes.length;
      onAir += f2.onAir - f1.onAir;
      air += f2.airtimeMs - f1.airtimeMs;
      const g = byGroup.get(f2.group) ?? { frames: 0, bytes: 0, onAir: 0, air: 0 };
      g.frames++;
      g.bytes += f2.bytes.length - f1.bytes.length;
      g.onAir += f2.onAir - f1.onAir;
      g.air += f2.airtimeMs - f1.airtimeMs;
      byGroup.set(f2.group, g);
    }
    expect(t2.frameBytes - t1.frameBytes).toBe(bytes);
    expect(t2.bytesOnAir - t1.bytesOnAir).toBe(onAir);
    expect(t2.airtimeMs - t1.airtimeMs).toBeCloseTo(air, 2);
    // whole frames: the frame's extra bytes on air, 17 or 18 each; DR0 fragments: those and the
    // headers of each extra fragment
    for (const name of ['dr5', 'ip']) {
      const g = byGroup.get(name)!;
      expect(g.onAir).toBe(g.bytes);
      expect(g.bytes).toBeLessThanOrEqual(19 * g.frames);
      expect(g.bytes).toBeGreaterThanOrEqual(17 * g.frames);
    }
    const dr0 = byGroup.get('dr0')!;
    expect(dr0.onAir).toBeGreaterThan(dr0.bytes);
    // more airtime on LoRa (an IP link's airtime is not modelled: 0)
    expect(byGroup.get('dr0')!.air).toBeGreaterThan(byGroup.get('dr5')!.air);
    expect(byGroup.get('dr5')!.air).toBeGreaterThan(0);
    expect(byGroup.get('ip')!.air).toBe(0);
    // the text summary shows them
    expect((await import('@sceau/simulator')).formatSummary(v2.result)).toMatch(new RegExp(`record v2 +${t2.records} records: ${t2.frameBytes} bytes sealed, ${t2.bytesOnAir} bytes on air in ${t2.datagrams} datagrams`));
  });

  it('is stored by the host-tools gateway as version 2: verified, the readings kept encrypted', async () => {
    const { v2 } = await both();
    const raw = new Database(v2.db, { readonly: true });
    try {
      const stored = raw.prepare("SELECT count(*) AS n FROM frames WHERE outcome = 'ok' AND encrypted > 0").get() as { n: number };
      expect(stored.n).toBe(v2.result.summary.verified);
      const channels = raw.prepare('SELECT DISTINCT channel FROM readings ORDER BY channel').all().map((r) => (r as { channel: number }).channel);
      expect(channels.every((c) => OPERATIONAL_CHANNELS.includes(c))).toBe(true);
      expect(channels).toContain(5);
    } finally {
      raw.close();
    }
  });

  it('sizes batches for version 2 frames (the worst record 17 to 19 bytes larger); a frame can be 19 bytes larger', () => {
    for (const g of resolveScenario(SCENARIO).groups) {
      const extra = worstRecordBytes({ ...g, record: 2 }, 2) - worstRecordBytes({ ...g, record: 1 }, 2);
      expect(extra).toBeGreaterThanOrEqual(17);
      expect(extra).toBeLessThanOrEqual(19);
    }
    // US915 DR0 (11-byte datagrams): fragments, and more of them for v2
    const us = resolveScenario({ link: 'lorawan-us915-dr0', record: 2, interval: '1h' }).groups[0]!;
    expect(us.record).toBe(2);
    expect(() => resolveScenario({ record: 3 })).toThrow(/record: expected a record version, 1 or 2/);
    expect(resolveScenario({ record: 'v2' }).groups[0]!.record).toBe(2);
    expect(resolveScenario({}).groups[0]!.record).toBe(1);
    // the frame's worst case (docs/privacy.md): a v1 record under 24 bytes whose encrypted readings
    // take 16 bytes of CBOR: the record grows by 18, the payload's bstr head by 1
    const rec = { counter: 1, time: null, readings: [{ channel: 1, value: 1505 }, { channel: 2, value: 5464 }, { channel: 4, value: 420 }] };
    const secret = deviceSecret(SEED, 'x', 0);
    const v1 = sealVersioned(1, rec, secret, null);
    const v2 = sealVersioned(2, rec, secret, deviceContentKey(SEED, 'x', 0));
    expect([readCanonicalFrame(v1)!.payload.length, readCanonicalFrame(v2)!.payload.length, v2.length - v1.length]).toEqual([20, 38, 19]);
    expect(() => sealVersioned(2, rec, secret, null)).toThrow(/content key/);
  });

  it('gives the same bytes for the same seed, and other bytes for another seed', async () => {
    const { v2 } = await both();
    const again = await run(2, 'v2-again');
    expect(again.capture.equals(v2.capture)).toBe(true);
    const { wallMs: _a, ...s1 } = v2.result.summary;
    const { wallMs: _b, ...s2 } = again.result.summary;
    expect(s2).toEqual(s1);
    const other = await runSimulation(resolveScenario({ ...SCENARIO, seed: 'another seed', record: 2 }), { sink: await HostToolsGatewaySink.start(), capture: join(dir, 'other.ndjson') });
    expect(other.failures).toEqual([]);
    expect(readFileSync(join(dir, 'other.ndjson')).equals(v2.capture)).toBe(false);
  });
});

describe('--owner: a simulated fleet\'s readings opened by the owner', () => {
  it('wraps each content key for the owner into the in-process registry and --keys-out; export and sim verify open them', async () => {
    const pair = generateKeyPairSync('x25519');
    const ownerPub = join(dir, 'owner.pub');
    const ownerKey = join(dir, 'owner.key');
    writeFileSync(ownerPub, `${toHex(new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)))}\n`);
    writeFileSync(ownerKey, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const db = join(dir, 'owned.db');
    const keys = join(dir, 'owned-keys');
    const capture = join(dir, 'owned.ndjson');
    let stdout = '';
    const io = { stdout: (t: string) => void (stdout += t), stderr: () => {}, stderrIsTty: false };
    const args = ['run', '--devices', '3', '--duration', '2h', '--interval', '20m', '--link', 'lorawan-eu868-dr3', '--seed', 'owned', '--record', '2'];
    expect(await simCli([...args, '--owner', ownerPub, '--db', db, '--keys-out', keys, '--capture', capture, '--json'], io)).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.byRecordVersion.v2.records).toBe(summary.recordsSealed);
    expect(readdirSync(keys).sort()).toEqual([...readdirSync(keys).filter((f) => f.endsWith('.pub')), 'wrapped-keys.json'].sort());
    const wrapped = JSON.parse(readFileSync(join(keys, 'wrapped-keys.json'), 'utf8')).wrappedKeys as Array<{ kid: string }>;
    expect(wrapped.map((w) => w.kid).sort()).toEqual(readdirSync(keys).filter((f) => f.endsWith('.pub')).map((f) => f.slice(0, 16)).sort());
    // the content keys never in clear in the registry or the key files
    const contentKeys = [0, 1, 2].map((i) => toHex(deviceContentKey('owned', 'fleet', i)));
    for (const ck of contentKeys) {
      expect(readFileSync(db).toString('hex')).not.toContain(ck);
      expect(readFileSync(join(keys, 'wrapped-keys.json'), 'utf8')).not.toContain(ck);
    }

    const closed = sceau(['export', '--db', db, '--format', 'json']);
    expect(closed.status, closed.stderr).toBe(0);
    const hidden = (JSON.parse(closed.stdout) as Array<Record<string, any>>).filter((x) => x.encrypted);
    expect(hidden.length).toBe(summary.verified);
    expect(hidden.every((x) => x.readings === null)).toBe(true);
    const opened = sceau(['export', '--db', db, '--format', 'json', '--owner-key', ownerKey]);
    expect(opened.status, opened.stderr).toBe(0);
    const rows = JSON.parse(opened.stdout) as Array<Record<string, any>>;
    const temperatures = rows.filter((x) => x.name === 'temperature');
    expect(temperatures.length).toBe(summary.verified);
    expect(temperatures.every((x) => x.encrypted === true)).toBe(true);

    const verified = sceau(['sim', 'verify', capture, '--keys', keys, '--owner-key', ownerKey, '--wrapped-keys', join(keys, 'wrapped-keys.json'), '--json']);
    expect(verified.status, verified.stderr).toBe(0);
    const lines = jsonLines(verified.stdout);
    expect(lines.length).toBe(summary.recordsSealed);
    expect(lines.every((l) => l.ok && l.encrypted && l.readings.some((r: { name: string }) => r.name === 'temperature'))).toBe(true);

    // a usage error: --owner without a group sealing version 2
    let err = '';
    expect(await simCli(['run', '--devices', '1', '--duration', '1h', '--owner', ownerPub], { stdout: () => {}, stderr: (t) => void (err += t), stderrIsTty: false })).toBe(2);
    expect(err).toMatch(/--owner: no group seals record version 2/);
  });
});

/**
 * A network server reduced to what this test needs, from LoRaWAN L2 1.0.4 and the packet
 * forwarder's PROTOCOL.TXT: acknowledges PUSH_DATA and PULL_DATA, checks each ABP uplink's MIC,
 * decrypts its FRMPayload (tests/helpers/lorawan-reference.ts) and rebuilds the sceau frames.
 */
class AbpReceiver {
  readonly socket = createSocket('udp4');
  readonly frames: Array<{ devAddr: string; frame: Bytes }> = [];
  readonly errors: string[] = [];
  private readonly reassembler = new Reassembler({ senderHint: false });
  sessions = new Map<string, { nwkSKey: string; appSKey: string }>();

  async start(): Promise<number> {
    this.socket.on('message', (m, r) => {
      try {
        this.receive(m, r.port, r.address);
      } catch (e) {
        this.errors.push((e as Error).stack ?? String(e));
      }
    });
    await new Promise<void>((res) => this.socket.bind(0, '127.0.0.1', () => res()));
    return this.socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((res) => this.socket.close(() => res()));
  }

  private receive(msg: Buffer, port: number, address: string): void {
    const id = msg[3];
    if (id === 0x02) return void this.socket.send(Buffer.from([2, msg[1]!, msg[2]!, 0x04]), port, address); // PULL_ACK
    if (id !== 0x00) return;
    this.socket.send(Buffer.from([2, msg[1]!, msg[2]!, 0x01]), port, address); // PUSH_ACK
    const body = JSON.parse(msg.subarray(12).toString('utf8')) as { rxpk?: Array<{ data: string }> };
    for (const rx of body.rxpk ?? []) {
      const phy = Buffer.from(rx.data, 'base64');
      if (phy[0] !== 0x40) continue; // unconfirmed data up only
      const devAddr = Buffer.from(phy.subarray(1, 5)).reverse().toString('hex');
      const s = this.sessions.get(devAddr);
      if (s === undefined) throw new Error(`unknown DevAddr ${devAddr}`);
      const fOptsLen = phy[5]! & 15;
      const fCnt = phy.readUInt16LE(6); // a fresh ABP session: far from the 16-bit wrap
      const msgLen = phy.length - 4;
      if (!ref.dataMic(s.nwkSKey, 0, devAddr, fCnt, phy.subarray(0, msgLen)).equals(phy.subarray(msgLen))) throw new Error(`MIC of ${devAddr}`);
      if (phy[8 + fOptsLen] !== 1) continue; // FPort 1: sceau datagrams
      const datagram = ref.frmPayload(s.appSKey, 0, devAddr, fCnt, phy.subarray(9 + fOptsLen, msgLen));
      const pushed = this.reassembler.push(new Uint8Array(datagram), performance.now(), devAddr);
      if (pushed.kind === 'frame') this.frames.push({ devAddr, frame: pushed.frame });
    }
  }
}

describe('sceau sim lorawan --record 2', () => {
  it('seals record version 2 on the wall-clock LoRaWAN fleet; --owner writes the wrapped content keys', async () => {
    const rx = new AbpReceiver();
    const port = await rx.start();
    const keysDir = join(dir, 'live');
    const ownerPub = join(dir, 'live-owner.pub');
    const pair = generateKeyPairSync('x25519');
    writeFileSync(ownerPub, toHex(new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))));
    const seed = 'live-v2';
    // the registration (ABP session keys) is written before the first packet; the receiver reads it then
    const fleet = makeFleet(seed, 2, 'abp');
    for (const d of fleet) rx.sessions.set(toHex(d.devAddr!), { nwkSKey: toHex(d.nwkSKey!), appSKey: toHex(d.appSKey!) });
    let stdout = '';
    let stderr = '';
    try {
      const code = await simCli(
        ['lorawan', '--gwmp', `127.0.0.1:${port}`, '--devices', '2', '--duration', '1s', '--interval', '1m', '--link', 'lorawan-us915-dr3', '--activation', 'abp', '--keys-out', keysDir, '--seed', seed, '--record', '2', '--owner', ownerPub, '--json'],
        { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stderrIsTty: false },
      );
      expect(rx.errors).toEqual([]);
      expect(code, stderr).toBe(0);
    } finally {
      await rx.close();
    }
    const summary = JSON.parse(stdout) as { records: number; recordVersion: number; frameBytes: number };
    expect(summary).toMatchObject({ records: 2, recordVersion: 2 });
    expect(rx.frames.length).toBe(2);
    expect(summary.frameBytes).toBe(rx.frames.reduce((s, f) => s + f.frame.length, 0));
    for (const { devAddr, frame } of rx.frames) {
      const d = fleet.find((x) => toHex(x.devAddr!) === devAddr)!;
      const keyring = new MemoryKeyring();
      keyring.add(d.publicKey);
      const v = verifyFrame(frame, keyring, { recordVersions: [1, 2] });
      if (!v.ok) throw new Error(`${v.code} ${v.detail}`);
      expect(v.record.version).toBe(2);
      const opened = openRecordReadings(v.record as SceauRecordV2, deviceContentKey(seed, LORAWAN_GROUP, d.index), v.kid);
      if (!opened.ok) throw new Error(`${opened.code} ${opened.detail}`);
      expect(opened.readings.map((r) => r.channel)).toEqual([1, 2, 3]);
      expect(v.readings.map((r) => r.channel)).toEqual([5]);
    }
    const wrapped = JSON.parse(readFileSync(join(keysDir, 'wrapped-keys.json'), 'utf8')).wrappedKeys as Array<{ kid: string }>;
    expect(wrapped.map((w) => w.kid).sort()).toEqual(fleet.map((d) => toHex(d.kid)).sort());
    // --owner needs --record 2
    let err = '';
    const usage = await simCli(['lorawan', '--gwmp', '127.0.0.1:9', '--devices', '1', '--duration', '0s', '--interval', '1m', '--link', 'lorawan-us915-dr3', '--activation', 'abp', '--keys-out', join(dir, 'live-usage'), '--owner', ownerPub], { stdout: () => {}, stderr: (t) => void (err += t), stderrIsTty: false });
    expect(usage).toBe(2);
    expect(err).toMatch(/--owner: only with --record 2/);
  }, 60_000);
});

describe('--firmware-vm with --record 2', () => {
  it('gives the real firmware its content key: its frames are version 2 and open with deviceContentKey, like the model\'s', async () => {
    const scenario: ScenarioInput = { seed: 'fw-v2', duration: '10m', drain: '10m', interval: '2m', link: 'udp', devices: 2, firmwareVm: 1, firmwareTick: '1s', reboots: 0, faults: 0, record: 2 };
    const capture = join(dir, 'fw-v2.ndjson');
    const r = await runSimulation(resolveScenario(scenario), { sink: await HostToolsGatewaySink.start(), capture });
    expect(r.failures).toEqual([]);
    expect(r.firmware!.frames).toBeGreaterThanOrEqual(4);
    expect(r.summary.verified).toBe(r.summary.recordsSealed);
    const lines = readFileSync(capture, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kid: string; datagram: string });
    const byDevice = [0, 1].map((i) => {
      const publicKey = getPublicKey(deviceSecret('fw-v2', 'fleet', i));
      const kid = toHex(kidOf(publicKey));
      const keyring = new MemoryKeyring();
      keyring.add(publicKey);
      let opened = 0;
      for (const l of lines.filter((x) => x.kid === kid)) {
        const v = verifyFrame(fromHex(l.datagram), keyring, { recordVersions: [1, 2] });
        if (!v.ok) throw new Error(`${v.code} ${v.detail}`);
        expect(v.record.version).toBe(2);
        const o = openRecordReadings(v.record as SceauRecordV2, deviceContentKey('fw-v2', 'fleet', i), kid);
        if (!o.ok) throw new Error(`${o.code} ${o.detail}`);
        expect(o.readings.map((x) => x.channel)).toEqual([1, 2]);
        opened++;
      }
      return opened;
    });
    expect(byDevice[0]).toBe(r.firmware!.frames); // device 0 is the firmware VM
    expect(byDevice[1]).toBeGreaterThanOrEqual(4);
  }, 300_000);
});
