// The proof of `sceau sim lorawan` (issue 12): the simulator's virtual gateways and devices against
// a network-server stand-in written HERE from the LoRaWAN L2 1.0.4 specification and the packet
// forwarder's PROTOCOL.TXT. It shares no code with the simulator: its LoRaWAN crypto is
// tests/helpers/lorawan-reference.ts (the independent node:crypto oracle of the firmware tests),
// its GWMP parsing is below, and its sceau checks are @sceau/protocol's verifyFrame and Reassembler.
//
// It receives GWMP on loopback UDP, acknowledges PUSH_DATA and PULL_DATA, answers each join-request
// with a PULL_RESP join-accept scheduled at the uplink's tmst + 5 s (JOIN_ACCEPT_DELAY1, RX1 on the
// uplink frequency), checks every MIC, decrypts every FRMPayload, and verifies the sceau frames.
// Wall-clock assertions leave generous margins; the file runs serially (describe.sequential).
import { spawn } from 'node:child_process';
import { type RemoteInfo, createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryKeyring, Reassembler, fromHex, verifyFrame } from '@sceau/protocol';
import { GwmpGateway, simCli } from '@sceau/simulator';
import * as ref from './helpers/lorawan-reference.js';

const dir = mkdtempSync(join(tmpdir(), 'sceau-sim-lorawan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RXPK_FIELDS = ['time', 'tmst', 'chan', 'rfch', 'freq', 'stat', 'modu', 'datr', 'codr', 'rssi', 'lsnr', 'size', 'data'] as const;

interface Session { devEui: string; devAddr: string; nwkSKey: string; appSKey: string; lastFCnt: number; fCntDown: number }

/** A data uplink as the stand-in saw it: its MAC commands (FOpts, or the FPort 0 payload decrypted with NwkSKey). */
interface SeenUplink {
  devAddr: string; devEui: string; fCnt: number; fPort: number | null; fOpts: string; port0: string | null; adr: boolean;
  /** The same FCnt again: a repetition (NbTrans) of the previous uplink. */
  repeat: boolean;
  tmst: number; freq: number; datr: string; atMs: number;
}

/** A downlink the test wants sent after an uplink: when (µs after its end), where, and which MAC commands. */
interface PlannedDownlink { delayUs: number; freq: number; datr: string; fOpts?: string; port0?: string }

/**
 * RX1 of an uplink with RX1DROffset 0 (RP002-1.0.3): EU868 on the uplink's frequency and data rate;
 * US915 on 923.3 + 0.6·(channel mod 8) MHz at DR10..13 (SF10..7, 500 kHz) for DR0..3 and DR13 for DR4.
 */
function rx1Of(rx: Record<string, unknown>): { freq: number; datr: string } {
  const freq = rx.freq as number;
  if (freq < 902 || freq > 928) return { freq, datr: rx.datr as string };
  const wide = (rx.datr as string).endsWith('BW500');
  const ch = wide ? 64 + Math.round((freq - 903.0) / 1.6) : Math.round((freq - 902.3) / 0.2);
  const sf = Number(/^SF(\d+)/.exec(rx.datr as string)![1]);
  const dr = wide ? 4 : 10 - sf; // SF10..7 at 125 kHz are DR0..3
  return { freq: Math.round((923.3 + 0.6 * (ch % 8)) * 10) / 10, datr: `SF${dr === 4 ? 7 : 10 - dr}BW500` };
}

/** Payload bytes of the MAC commands by CID (LoRaWAN L2 1.0.4 section 5, table 4): network to device, device to network. */
const DOWN_BYTES: Record<number, number> = { 0x02: 2, 0x03: 4, 0x04: 1, 0x05: 4, 0x06: 0, 0x07: 5, 0x08: 1, 0x09: 1, 0x0a: 4, 0x0d: 5 };
const UP_BYTES: Record<number, number> = { 0x02: 0, 0x03: 1, 0x04: 0, 0x05: 1, 0x06: 2, 0x07: 1, 0x08: 0, 0x09: 0, 0x0a: 1, 0x0d: 0 };

/** The CIDs of the MAC commands in `hex` (FOpts or an FPort 0 payload), read with `sizes`; an unknown or cut command fails the test. */
function macCids(hex: string, sizes: Record<number, number>): number[] {
  const b = Buffer.from(hex, 'hex');
  const cids: number[] = [];
  for (let i = 0; i < b.length; ) {
    const size = sizes[b[i]!];
    if (size === undefined || i + 1 + size > b.length) throw new Error(`MAC commands ${hex}: unknown or cut at byte ${i}`);
    cids.push(b[i]!);
    i += 1 + size;
  }
  return cids;
}

/** The MAC commands a device's uplinks carried (FOpts and FPort 0), once per FCnt, as the stand-in saw them. */
function macCommandsUp(ups: readonly SeenUplink[]): number {
  return ups.filter((u) => !u.repeat).reduce((a, u) => a + macCids(u.fOpts, UP_BYTES).length + macCids(u.port0 ?? '', UP_BYTES).length, 0);
}

/** A LoRaWAN 1.0.x network server in miniature, from the specification. */
class StandInNetworkServer {
  readonly socket = createSocket('udp4');
  port = 0;
  joinDelayUs = 5_000_000;
  answerJoins = true;
  /** Answer each device's first data uplink with a downlink in RX1 (FOpts LinkCheckAns, no FPort). */
  dataDownlinks = false;
  readonly downlinked = new Set<string>();
  /** The MAC commands of every data downlink sent (FOpts or FPort 0 payload, hex), by DevEUI. */
  readonly commandsSent = new Map<string, string[]>();
  /** Set by the test: downlinks to send after a data uplink (MAC-command tests). */
  onUplink: ((u: SeenUplink, s: Session) => PlannedDownlink[]) | null = null;
  readonly seen: SeenUplink[] = [];
  /** Join-requests as they came: which device, where. */
  readonly joinsSeen: Array<{ devEui: string; devNonce: number; freq: number; datr: string; atMs: number }> = [];
  /** sceau frames verified: the record's time against the stand-in's clock when it came (s). */
  readonly frameTimes: Array<{ counter: number; time: number | null; nowS: number }> = [];
  /** Set by the test: where the simulator writes lorawan-devices.json. */
  keysDir = '';
  readonly errors: string[] = [];
  readonly pullAddr = new Map<string, RemoteInfo>();
  readonly gatewaysSeen = new Set<string>();
  readonly sessions = new Map<string, Session>();
  readonly devNonces = new Map<string, Set<number>>();
  readonly pendingTxAck = new Map<number, string>();
  readonly dedup = new Map<string, number>();
  registry: Array<Record<string, string>> | null = null;
  registryExistedAtFirstPacket: boolean | null = null;
  keyring = new MemoryKeyring();
  reassembler = new Reassembler({ senderHint: false });
  counts = { pushData: 0, pullData: 0, joinRequests: 0, joinAccepts: 0, txAck: 0, txAckNone: 0, uplinks: 0, duplicates: 0, micFailures: 0, repetitions: 0 };
  readonly verified = new Map<string, number[]>(); // kid -> counters
  /** Record versions of the frames verified, by kid (2: readings encrypted for the owner). */
  readonly versions = new Map<string, number[]>();
  private nextDevAddr = 0x00000100;
  private joinNonce = 1;

  async start(): Promise<void> {
    this.socket.on('message', (m, r) => {
      try {
        this.receive(m, r);
      } catch (e) {
        this.errors.push(`stand-in: ${(e as Error).stack}`);
      }
    });
    await new Promise<void>((res) => this.socket.bind(0, '127.0.0.1', () => res()));
    this.port = this.socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((res) => this.socket.close(() => res()));
  }

  private fail(text: string): void {
    this.errors.push(text);
  }

  private loadRegistry(): void {
    if (this.registry !== null) return;
    const file = join(this.keysDir, 'lorawan-devices.json');
    this.registryExistedAtFirstPacket = existsSync(file);
    this.registry = JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, string>>;
    for (const d of this.registry) {
      this.keyring.add(fromHex(d.publicKey!));
      if (d.devAddr !== undefined) this.sessions.set(d.devAddr, { devEui: d.devEui!, devAddr: d.devAddr, nwkSKey: d.nwkSKey!, appSKey: d.appSKey!, lastFCnt: -1, fCntDown: 0 });
    }
  }

  private receive(msg: Buffer, from: RemoteInfo): void {
    if (msg[0] !== 2) return this.fail(`protocol version ${msg[0]}, expected 2`);
    const token = msg.readUInt16BE(1);
    const id = msg[3];
    if (id === 0x02) {
      // PULL_DATA: version, token, 0x02, gateway EUI
      if (msg.length !== 12) return this.fail(`PULL_DATA of ${msg.length} bytes`);
      this.counts.pullData++;
      this.pullAddr.set(msg.subarray(4, 12).toString('hex'), from);
      this.socket.send(Buffer.from([2, msg[1]!, msg[2]!, 0x04]), from.port, from.address);
      return;
    }
    if (id === 0x05) {
      // TX_ACK: the PULL_RESP's token, gateway EUI, optional {"txpk_ack":{"error":...}}
      const eui = this.pendingTxAck.get(token);
      if (eui === undefined) return this.fail(`TX_ACK with unknown token ${token}`);
      if (msg.subarray(4, 12).toString('hex') !== eui) this.fail('TX_ACK from another gateway');
      this.pendingTxAck.delete(token);
      this.counts.txAck++;
      const error = msg.length > 12 ? (JSON.parse(msg.subarray(12).toString()) as { txpk_ack: { error: string } }).txpk_ack.error : 'NONE';
      if (error === 'NONE') this.counts.txAckNone++;
      else this.fail(`TX_ACK error ${error}`);
      return;
    }
    if (id !== 0x00) return this.fail(`unexpected packet id ${id}`);
    // PUSH_DATA: acknowledge at once (PROTOCOL.TXT 3.3)
    this.socket.send(Buffer.from([2, msg[1]!, msg[2]!, 0x01]), from.port, from.address);
    this.counts.pushData++;
    const eui = msg.subarray(4, 12).toString('hex');
    this.gatewaysSeen.add(eui);
    const body = JSON.parse(msg.subarray(12).toString('utf8')) as { rxpk?: Record<string, unknown>[] };
    for (const rx of body.rxpk ?? []) this.uplink(eui, rx);
  }

  private uplink(gatewayEui: string, rx: Record<string, unknown>): void {
    this.loadRegistry();
    for (const f of RXPK_FIELDS) if (!(f in rx)) this.fail(`rxpk without ${f}`);
    const tmst = rx.tmst as number;
    if (!Number.isInteger(tmst) || tmst < 0 || tmst >= 2 ** 32) this.fail(`tmst ${tmst} is not a 32-bit counter`);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(rx.time as string)) this.fail(`time ${rx.time as string}: expected ISO 8601 with microseconds`);
    if (rx.stat !== 1 || rx.modu !== 'LORA' || !/^SF\d+BW\d+$/.test(rx.datr as string) || rx.codr !== '4/5') this.fail(`rxpk radio fields ${JSON.stringify(rx)}`);
    const phy = Buffer.from(rx.data as string, 'base64');
    if (phy.length !== rx.size) this.fail(`size ${rx.size as number} but data has ${phy.length} bytes`);
    // deduplicate the copies of several gateways (network servers wait ~200 ms)
    const key = phy.toString('hex');
    const seen = this.dedup.get(key);
    if (seen !== undefined && performance.now() - seen < 200) {
      this.counts.duplicates++;
      return;
    }
    this.dedup.set(key, performance.now());
    const mhdr = phy[0]!;
    if (mhdr === 0x00) this.join(gatewayEui, rx, phy);
    else if (mhdr === 0x40) this.data(gatewayEui, rx, phy);
    else this.fail(`MHDR 0x${mhdr.toString(16)}`);
  }

  private join(gatewayEui: string, rx: Record<string, unknown>, phy: Buffer): void {
    this.counts.joinRequests++;
    if (phy.length !== 23) return this.fail(`join-request of ${phy.length} bytes`);
    const joinEui = Buffer.from(phy.subarray(1, 9)).reverse().toString('hex');
    const devEui = Buffer.from(phy.subarray(9, 17)).reverse().toString('hex');
    const devNonce = phy.readUInt16LE(17);
    const dev = this.registry!.find((d) => d.devEui === devEui);
    if (dev === undefined) return this.fail(`join-request from unknown DevEUI ${devEui}`);
    if (dev.joinEui !== joinEui) this.fail(`JoinEUI ${joinEui}, registered ${dev.joinEui}`);
    const mic = ref.cmac(Buffer.from(dev.appKey!, 'hex'), phy.subarray(0, 19)).subarray(0, 4);
    if (!mic.equals(phy.subarray(19))) {
      this.counts.micFailures++;
      return this.fail(`join-request MIC of ${devEui}`);
    }
    this.joinsSeen.push({ devEui, devNonce, freq: rx.freq as number, datr: rx.datr as string, atMs: Date.now() });
    const nonces = this.devNonces.get(devEui) ?? new Set<number>();
    if (nonces.has(devNonce)) return this.fail(`DevNonce ${devNonce} reused by ${devEui}`);
    nonces.add(devNonce);
    this.devNonces.set(devEui, nonces);
    if (!this.answerJoins) return;
    const devAddr = (this.nextDevAddr++).toString(16).padStart(8, '0');
    const joinNonce = (this.joinNonce++).toString(16).padStart(6, '0');
    const netId = '000013';
    const dn = devNonce.toString(16).padStart(4, '0');
    const accept = Buffer.from(ref.encodeJoinAccept(dev.appKey!, { joinNonce, netId, devAddr, dlSettings: 0, rxDelay: 1, cfList: null }), 'hex');
    const keys = ref.sessionKeys(dev.appKey!, joinNonce, netId, dn);
    // a fresh join replaces the session under a new DevAddr
    for (const [a, s] of this.sessions) if (s.devEui === devEui) this.sessions.delete(a);
    this.sessions.set(devAddr, { devEui, devAddr, ...keys, lastFCnt: -1, fCntDown: 0 });
    this.counts.joinAccepts++;
    const txpk = {
      imme: false,
      tmst: ((rx.tmst as number) + this.joinDelayUs) % 2 ** 32, // RX1 = JOIN_ACCEPT_DELAY1 after the end of the uplink
      ...rx1Of(rx), // RX1: DR offset 0
      rfch: 0,
      powe: 14,
      modu: 'LORA',
      codr: '4/5',
      ipol: true,
      size: accept.length,
      data: accept.toString('base64'),
    };
    const to = this.pullAddr.get(gatewayEui);
    if (to === undefined) return this.fail(`no PULL_DATA yet from gateway ${gatewayEui}`);
    const token = Math.floor(Math.random() * 65536);
    this.pendingTxAck.set(token, gatewayEui);
    this.socket.send(Buffer.concat([Buffer.from([2, token >> 8, token & 0xff, 0x03]), Buffer.from(JSON.stringify({ txpk }))]), to.port, to.address);
  }

  private pullResp(gatewayEui: string, txpk: Record<string, unknown>): void {
    const to = this.pullAddr.get(gatewayEui);
    if (to === undefined) return this.fail(`no PULL_DATA yet from gateway ${gatewayEui}`);
    const token = Math.floor(Math.random() * 65536);
    this.pendingTxAck.set(token, gatewayEui);
    this.socket.send(Buffer.concat([Buffer.from([2, token >> 8, token & 0xff, 0x03]), Buffer.from(JSON.stringify({ txpk }))]), to.port, to.address);
  }

  private data(gatewayEui: string, rx: Record<string, unknown>, phy: Buffer): void {
    const devAddr = Buffer.from(phy.subarray(1, 5)).reverse().toString('hex');
    const s = this.sessions.get(devAddr);
    if (s === undefined) return this.fail(`uplink from unknown DevAddr ${devAddr}`);
    const fCtrl = phy[5]!;
    const fOptsLen = fCtrl & 15;
    const f16 = phy.readUInt16LE(6);
    const low = s.lastFCnt & 0xffff;
    // the same 16 bits again: a repetition of the last uplink (NbTrans), not a wrap
    const repeat = s.lastFCnt >= 0 && f16 === low;
    const fCnt = s.lastFCnt < 0 || repeat ? (repeat ? s.lastFCnt : f16) : (s.lastFCnt & 0xffff0000) + f16 + (f16 < low ? 0x10000 : 0);
    const msgLen = phy.length - 4;
    if (!ref.dataMic(s.nwkSKey, 0, devAddr, fCnt, phy.subarray(0, msgLen)).equals(phy.subarray(msgLen))) {
      this.counts.micFailures++;
      return this.fail(`uplink MIC of ${devAddr} at FCnt ${fCnt}`);
    }
    s.lastFCnt = fCnt;
    this.counts.uplinks++;
    const hasPort = msgLen > 8 + fOptsLen;
    const port = hasPort ? phy[8 + fOptsLen]! : null;
    const seen: SeenUplink = {
      devAddr, devEui: s.devEui, fCnt, fPort: port, fOpts: phy.subarray(8, 8 + fOptsLen).toString('hex'),
      port0: port === 0 ? ref.frmPayload(s.nwkSKey, 0, devAddr, fCnt, phy.subarray(9, msgLen)).toString('hex') : null,
      adr: (fCtrl & 0x80) !== 0, repeat, tmst: rx.tmst as number, freq: rx.freq as number, datr: rx.datr as string, atMs: performance.now(),
    };
    this.seen.push(seen);
    for (const d of this.onUplink?.(seen, s) ?? []) {
      const fPort = d.port0 !== undefined ? 0 : null;
      const down = Buffer.from(ref.encodeData(1, { nwkSKey: s.nwkSKey, appSKey: s.appSKey, devAddr, fCnt: s.fCntDown++, fPort, payload: d.port0 ?? '', confirmed: false, fOpts: d.fOpts ?? null }), 'hex');
      this.commandsSent.set(s.devEui, [...(this.commandsSent.get(s.devEui) ?? []), d.port0 ?? d.fOpts ?? '']);
      this.pullResp(gatewayEui, { imme: false, tmst: ((rx.tmst as number) + d.delayUs) % 2 ** 32, freq: d.freq, rfch: 0, powe: 14, modu: 'LORA', datr: d.datr, codr: '4/5', ipol: true, size: down.length, data: down.toString('base64') });
    }
    if (repeat) {
      this.counts.repetitions++;
      return;
    }
    if (port === 0) return; // MAC commands only
    if (this.dataDownlinks && !this.downlinked.has(devAddr)) {
      this.downlinked.add(devAddr);
      const down = Buffer.from(ref.encodeData(1, { nwkSKey: s.nwkSKey, appSKey: s.appSKey, devAddr, fCnt: s.fCntDown++, fPort: null, payload: '', confirmed: false, fOpts: '020a01' }), 'hex');
      this.commandsSent.set(s.devEui, [...(this.commandsSent.get(s.devEui) ?? []), '020a01']);
      // RX1 of a data uplink: RxDelay (1 s, as in the join-accept) after its end
      this.pullResp(gatewayEui, { imme: false, tmst: ((rx.tmst as number) + 1_000_000) % 2 ** 32, ...rx1Of(rx), rfch: 0, powe: 14, modu: 'LORA', codr: '4/5', ipol: true, size: down.length, data: down.toString('base64') });
    }
    const fPort = phy[8 + fOptsLen];
    if (fPort !== 1) return this.fail(`FPort ${fPort}`);
    const datagram = ref.frmPayload(s.appSKey, 0, devAddr, fCnt, phy.subarray(9 + fOptsLen, msgLen));
    const pushed = this.reassembler.push(new Uint8Array(datagram), performance.now(), s.devEui);
    if (pushed.kind === 'invalid') return this.fail(`datagram: ${pushed.detail}`);
    if (pushed.kind !== 'frame') return;
    const v = verifyFrame(pushed.frame, this.keyring, { recordVersions: [1, 2] });
    if (!v.ok) return this.fail(`sceau frame of ${s.devEui} refused: ${v.code} ${v.detail}`);
    this.versions.set(v.kid, [...(this.versions.get(v.kid) ?? []), v.encrypted === undefined ? 1 : 2]);
    const dev = this.registry!.find((d) => d.devEui === s.devEui)!;
    if (v.kid !== dev.kid) this.fail(`frame of ${s.devEui} signed by ${v.kid}, registered ${dev.kid}`);
    this.frameTimes.push({ counter: v.counter, time: v.time, nowS: Date.now() / 1000 });
    this.verified.set(v.kid, [...(this.verified.get(v.kid) ?? []), v.counter]);
  }
}

interface Captured { code: number; stdout: string; stderr: string }
async function runCli(args: string[]): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await simCli(['lorawan', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stderrIsTty: false });
  return { code, stdout, stderr };
}

describe.sequential('sceau sim lorawan against a stand-in network server (GWMP v2 on loopback)', () => {
  it('OTAA: every device joins through the join-accept at tmst + 5 s, every uplink MIC checks, every sceau frame verifies', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'otaa');
    ns.dataDownlinks = true;
    try {
      const started = performance.now();
      const r = await runCli([
        '--gwmp', `127.0.0.1:${ns.port}`, '--gateways', '2', '--devices', '3', '--duration', '22s', '--interval', '8s',
        '--link', 'lorawan-eu868-dr5', '--activation', 'otaa', '--keys-out', ns.keysDir, '--seed', 'e2e-otaa', '--json',
      ]);
      const wall = performance.now() - started;
      expect(ns.errors).toEqual([]);
      expect(r.stderr).not.toMatch(/FAIL|internal error/);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, number>;
      for (const k of ['devices', 'joinsRequested', 'joinsAccepted', 'uplinks', 'pushAckMissing', 'downlinks', 'downlinksAnswered', 'dutyCycleWaits', 'wallMs']) expect(summary).toHaveProperty(k);
      expect(ns.registryExistedAtFirstPacket).toBe(true);
      expect(ns.registry).toHaveLength(3);
      for (const d of ns.registry!) expect(Object.keys(d).sort()).toEqual(['appKey', 'devEui', 'joinEui', 'kid', 'publicKey']);
      // every device joined, each with exactly one join (the stand-in answers all)
      expect(summary.devices).toBe(3);
      expect(summary.joinsAccepted).toBe(3);
      expect(summary.joinsRequested).toBe(3);
      expect(ns.counts.joinAccepts).toBe(3);
      // one PULL_RESP per join and one after each device's first uplink, each answered by TX_ACK
      // error NONE, each landing in RX1 and opening (join-accept MIC, data downlink MIC)
      expect(ns.downlinked.size).toBe(3);
      expect(summary.downlinks).toBe(6);
      expect(summary.downlinksAnswered).toBe(6);
      expect(ns.counts.txAck).toBe(6);
      expect(ns.counts.txAckNone).toBe(6);
      expect(summary.downlinksReceived).toBe(6);
      expect(summary.downlinksMissed).toBe(0);
      // both gateways forwarded; the stand-in dropped the second copies
      expect(ns.gatewaysSeen.size).toBe(2);
      expect(ns.counts.duplicates).toBe(ns.counts.pushData - ns.counts.joinRequests - ns.counts.uplinks);
      expect(summary.pushAckMissing).toBe(0);
      // every uplink passed its MIC; every device's frames verified, counters increasing
      expect(ns.counts.micFailures).toBe(0);
      expect(summary.uplinks).toBeGreaterThanOrEqual(3);
      expect(ns.counts.uplinks).toBe(summary.uplinks);
      expect(ns.verified.size).toBe(3);
      for (const d of ns.registry!) {
        const counters = ns.verified.get(d.kid!) ?? [];
        expect(counters.length).toBeGreaterThanOrEqual(1);
        expect(counters).toEqual([...counters].sort((a, b) => a - b));
      }
      // SF7 at 1 %: a 120-byte uplink (~200 ms) silences the device ~20 s, longer than the 8 s interval
      expect(summary.dutyCycleWaits).toBeGreaterThanOrEqual(1);
      expect(wall).toBeLessThan(60_000);
    } finally {
      await ns.close();
    }
  }, 90_000);

  it('ABP on US915 DR1: frames larger than the 53-byte MTU travel as fragments and are rebuilt; state persists DevNonce/FCnt/counters', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'abp');
    try {
      const args = [
        '--gwmp', `127.0.0.1:${ns.port}`, '--devices', '2', '--duration', '1s', '--interval', '1m',
        '--link', 'lorawan-us915-dr1', '--activation', 'abp', '--keys-out', ns.keysDir, '--dev-addr-prefix', '26000000/8', '--seed', 'e2e-abp', '--json',
      ];
      const r = await runCli(args);
      expect(ns.errors).toEqual([]);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, number>;
      expect(summary.records).toBe(2);
      expect(summary.uplinks).toBeGreaterThanOrEqual(4); // at least 2 fragments per frame
      expect(summary.joinsRequested).toBe(0);
      for (const d of ns.registry!) {
        expect(Object.keys(d).sort()).toEqual(['appSKey', 'devAddr', 'devEui', 'kid', 'nwkSKey', 'publicKey']);
        expect(d.devAddr!.startsWith('26')).toBe(true);
        expect(ns.verified.get(d.kid!)).toEqual([1]);
      }
      // a second run continues FCntUp and the sceau counters (the server would refuse replays)
      const state = JSON.parse(readFileSync(join(ns.keysDir, 'lorawan-state.json'), 'utf8')) as Record<string, { fCntUp: number; counter: number }>;
      for (const s of Object.values(state)) expect(s).toMatchObject({ counter: 2 });
      expect(Object.values(state).every((s) => s.fCntUp >= 2)).toBe(true);
      const r2 = await runCli(args);
      expect(ns.errors).toEqual([]);
      expect(r2.code).toBe(0);
      for (const d of ns.registry!) expect(ns.verified.get(d.kid!)).toEqual([1, 2]);
    } finally {
      await ns.close();
    }
  }, 90_000);

  it('exit 1 when the server never accepts a join; the registration file exists before the first packet', async () => {
    const ns = new StandInNetworkServer();
    ns.answerJoins = false;
    await ns.start();
    ns.keysDir = join(dir, 'nojoin');
    try {
      const r = await runCli(['--gwmp', `127.0.0.1:${ns.port}`, '--devices', '1', '--duration', '3s', '--interval', '10s', '--link', 'lorawan-eu868-dr5', '--activation', 'otaa', '--keys-out', ns.keysDir, '--join-delay', '1s', '--json']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/FAIL: joins: 0 of 1 devices joined/);
      expect(ns.registryExistedAtFirstPacket).toBe(true);
      const summary = JSON.parse(r.stdout) as Record<string, number>;
      expect(summary.joinsRequested).toBeGreaterThanOrEqual(1);
      expect(summary.joinsAccepted).toBe(0);
      expect(summary.uplinks).toBe(0);
      // DevNonces never repeat, even across the retries
      expect(ns.devNonces.get(ns.registry![0]!.devEui!)!.size).toBe(ns.counts.joinRequests);
    } finally {
      await ns.close();
    }
  }, 30_000);
});

/** A frequency in Hz as MAC commands carry it: 24 bits little-endian in units of 100 Hz. */
const f24 = (hz: number): string => {
  const v = Math.round(hz / 100);
  return Buffer.from([v & 255, (v >> 8) & 255, (v >> 16) & 255]).toString('hex');
};

describe.sequential('sceau sim lorawan: MAC commands (LoRaWAN 1.0.4 class A)', () => {
  it('answers a downlink\'s MAC commands in the FOpts of the next uplink and then sends, listens and keeps time as they say', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'mac');
    // the network's clock runs 7 s ahead of ours: DeviceTimeAns must move the device's clock
    const AHEAD_S = 7;
    const gpsNow = () => Math.floor(Date.now() / 1000) - 315_964_800 + 18 + AHEAD_S;
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b.toString('hex');
    };
    // built when the uplink comes: DeviceTimeAns gives the time of its end
    const commands = () => [
      '020a02', // LinkCheckAns: margin 10 dB, 2 gateways
      `0d${u32(gpsNow())}00`, // DeviceTimeAns
      `0703${f24(869_500_000)}50`, // NewChannelReq: channel 3 at 869.5 MHz, DR0..5 (the 10 % sub-band)
      '03510800' + '02', // LinkADRReq: DR5, TXPower 1, ChMask channel 3 only (ChMaskCntl 0), NbTrans 2
      '06', // DevStatusReq
      '0401', // DutyCycleReq: at most 1/2 of the time
      '0802', // RXTimingSetupReq: RX1 2 s after the uplink
      `0503${f24(869_462_500)}`, // RXParamSetupReq: RX1DROffset 0, RX2 at DR3 on 869.4625 MHz
      `0a03${f24(869_600_000)}`, // DlChannelReq: RX1 of channel 3 on 869.6 MHz
    ].join('');
    ns.onUplink = (u) => {
      const nth = ns.seen.filter((x) => !x.repeat).length;
      // the first uplink: every command, on FPort 0 (35 bytes: more than FOpts holds), in RX1
      if (nth === 1 && !u.repeat) return [{ delayUs: 1_000_000, freq: u.freq, datr: u.datr, port0: commands() }];
      // the second uplink's repetition: a decoy where RX1 used to be (1 s), then the real one in the new RX2
      if (nth === 2 && u.repeat) {
        return [
          { delayUs: 1_000_000, freq: 869.6, datr: u.datr },
          { delayUs: 3_000_000, freq: 869.4625, datr: 'SF9BW125' },
        ];
      }
      return [];
    };
    try {
      const r = await runCli([
        '--gwmp', `127.0.0.1:${ns.port}`, '--devices', '1', '--duration', '34s', '--interval', '4s', '--link', 'lorawan-eu868-dr5',
        '--activation', 'abp', '--keys-out', ns.keysDir, '--seed', 'e2e-mac', '--adr', '--link-check', '--device-time', '--json',
      ]);
      expect(ns.errors).toEqual([]);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, number>;
      const ups = ns.seen;
      expect(ups.length).toBeGreaterThanOrEqual(4);
      const [first, second, again, third] = ups as [SeenUplink, SeenUplink, SeenUplink, SeenUplink];
      // 1: the requests ride in FOpts beside the sceau datagram; ADR bit set
      expect(first).toMatchObject({ fPort: 1, fOpts: '020d', adr: true, repeat: false });
      expect([868.1, 868.3, 868.5]).toContain(first.freq);
      // 2: only channel 3 is enabled; the answers, in command order, in FOpts (13 bytes)
      expect(second).toMatchObject({ fPort: 1, freq: 869.5, datr: 'SF7BW125', adr: true, repeat: false });
      const a = Buffer.from(second.fOpts, 'hex');
      expect(a.subarray(0, 4).toString('hex')).toBe('07030307'); // NewChannelAns ok, LinkADRAns ok (power, DR, mask)
      expect(a[4]).toBe(0x06); // DevStatusAns: battery 1..254, margin 6-bit signed
      expect(a[5]).toBeGreaterThanOrEqual(1);
      expect(a[5]).toBeLessThanOrEqual(254);
      const margin = a[6]! >= 32 ? a[6]! - 64 : a[6]!;
      expect(margin).toBeGreaterThanOrEqual(-5);
      expect(margin).toBeLessThanOrEqual(10);
      expect(a.subarray(7).toString('hex')).toBe('04' + '08' + '0507' + '0a03'); // DutyCycleAns, RXTimingSetupAns, RXParamSetupAns ok, DlChannelAns ok
      // NbTrans 2: the same uplink again (no downlink answered the first copy), and so every uplink after
      expect(ns.counts.repetitions).toBeGreaterThanOrEqual(2);
      expect(again).toMatchObject({ repeat: true, fCnt: second.fCnt, fOpts: second.fOpts, freq: 869.5 });
      // 3: the RX2 downlink ended the sticky answers; the others went out once
      expect(third).toMatchObject({ repeat: false, fCnt: second.fCnt + 1, fOpts: '', freq: 869.5 });
      expect(ups.filter((x) => x.port0 !== null)).toEqual([]);
      // the decoy in the old RX1 was missed; the RX1 downlink and the new-RX2 one were heard
      expect(summary).toMatchObject({ downlinks: 3, downlinksReceived: 2, downlinksMissed: 1, macCommands: 9, macAnswers: 9, repetitions: ns.counts.repetitions, linkChecks: 1, timeSyncs: 1, macUplinks: 0 });
      // DeviceTimeAns: records sealed after it carry the network's time (7 s ahead), the first one ours
      expect(summary.maxClockCorrectionMs).toBeGreaterThan(5000);
      expect(summary.maxClockCorrectionMs).toBeLessThan(8500);
      expect(ns.frameTimes.length).toBeGreaterThanOrEqual(2);
      // a record without time would make these NaN and fail
      const [t1, t2] = ns.frameTimes.map(({ time, nowS }) => ({ time: time ?? NaN, nowS })) as [{ time: number; nowS: number }, { time: number; nowS: number }];
      expect(Math.abs(t1.time - t1.nowS)).toBeLessThan(2);
      expect(t2.time - t2.nowS).toBeGreaterThan(AHEAD_S - 2.5);
      expect(t2.time - t2.nowS).toBeLessThan(AHEAD_S + 1.5);
      // every datagram verified
      expect(ns.counts.micFailures).toBe(0);
      expect(ns.frameTimes.length).toBe(summary.records);
    } finally {
      await ns.close();
    }
  }, 90_000);
});

describe.sequential('sceau sim lorawan: a lower data rate in the middle of a frame', () => {
  it('LinkADRReq to US915 DR0 after the first fragment: the answer goes first on FPort 0, the frame is cut again under the next tag and still verifies', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'adr-down');
    ns.onUplink = (u) =>
      // the first uplink (a 53-byte fragment at DR1): LinkADRReq DR0, TXPower 0, channels 8..15 (ChMaskCntl 0), NbTrans 1,
      // in RX1: US915 RX1 is at DR11 (SF9/500 kHz) for DR1 and offset 0, on 923.3 + 0.6 * (channel mod 8) MHz
      ns.seen.length === 1 ? [{ delayUs: 1_000_000, freq: Math.round((923.3 + 0.6 * ((Math.round((u.freq - 902.3) / 0.2)) % 8)) * 10) / 10, datr: 'SF9BW500', fOpts: '0300ff0001' }] : [];
    try {
      const r = await runCli([
        '--gwmp', `127.0.0.1:${ns.port}`, '--devices', '1', '--duration', '2s', '--interval', '1m', '--link', 'lorawan-us915-dr1',
        '--activation', 'abp', '--keys-out', ns.keysDir, '--seed', 'e2e-adr-down', '--adr', '--json',
      ]);
      expect(ns.errors).toEqual([]);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, number>;
      const [first, answer, ...rest] = ns.seen;
      expect(first).toMatchObject({ fPort: 1, datr: 'SF9BW125', fOpts: '' });
      // LinkADRAns (2 bytes) does not fit beside an 11-byte fragment at DR0 (N = 11): an FPort 0 uplink of its own
      expect(answer).toMatchObject({ fPort: 0, port0: '0307', fOpts: '', datr: 'SF10BW125' });
      expect(rest.length).toBeGreaterThanOrEqual(8);
      for (const u of rest) expect(u).toMatchObject({ fPort: 1, datr: 'SF10BW125', fOpts: '' });
      expect(summary).toMatchObject({ records: 1, macCommands: 1, macAnswers: 1, macUplinks: 1, downlinksReceived: 1 });
      // the frame's first fragment under the old tag never completes; the frame cut again does, once
      expect(ns.frameTimes.map((f) => f.counter)).toEqual([1]);
      expect(summary.datagrams).toBe(1 + rest.length);
    } finally {
      await ns.close();
    }
  }, 90_000);
});

describe.sequential('sceau sim lorawan: join back-off', () => {
  it('retransmits join-requests at most 1 % of the time in the first hour, even where the band has no duty cycle (US915)', async () => {
    const ns = new StandInNetworkServer();
    ns.answerJoins = false;
    await ns.start();
    ns.keysDir = join(dir, 'backoff');
    try {
      // SF7, 23 bytes: ~57 ms on air, so the next join-request may leave ~5.7 s after the first;
      // RX2 closes 1.2 s after it (--join-delay 200ms) and a retry would otherwise follow 1-3 s later
      const r = await runCli(['--gwmp', `127.0.0.1:${ns.port}`, '--devices', '1', '--duration', '5500ms', '--interval', '1s', '--link', 'lorawan-us915-dr3', '--activation', 'otaa', '--keys-out', ns.keysDir, '--join-delay', '200ms', '--json']);
      expect(r.code).toBe(1);
      const summary = JSON.parse(r.stdout) as Record<string, number>;
      expect(summary.joinsRequested).toBe(1);
      expect(ns.counts.joinRequests).toBe(1);
      expect(summary.dutyCycleWaits).toBe(1); // the retry fell due inside the back-off, after which the run was over
      expect(summary.wallMs).toBeLessThan(9000);
    } finally {
      await ns.close();
    }
  }, 30_000);
});

describe.sequential('sceau sim lorawan: Ctrl-C', () => {
  it('SIGINT ends a long run at once with its summary', async () => {
    const { spawn } = await import('node:child_process');
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'sigint');
    try {
      const root = join(import.meta.dirname, '..');
      const child = spawn(process.execPath, [join(root, 'simulator', 'bin', 'sceau-sim.js'), 'lorawan', '--gwmp', `127.0.0.1:${ns.port}`, '--devices', '3', '--duration', '1h', '--interval', '2s',
        '--link', 'lorawan-us915-dr3', '--activation', 'abp', '--keys-out', ns.keysDir, '--json']);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      // wait until every device has sent at least once, then interrupt
      const started = performance.now();
      while (ns.counts.uplinks < 3 && performance.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
      const interrupted = performance.now();
      child.kill('SIGINT');
      const code = await exited;
      expect(performance.now() - interrupted).toBeLessThan(8000);
      expect(stderr).toMatch(/stopping \(signal\)/);
      expect(code).toBe(0);
      const summary = JSON.parse(stdout) as Record<string, number>;
      expect(summary.uplinks).toBeGreaterThanOrEqual(3);
      expect(summary.uplinks).toBe(ns.counts.uplinks);
      expect(summary.wallMs).toBeLessThan(30_000);
      expect(ns.errors).toEqual([]);
    } finally {
      await ns.close();
    }
  }, 60_000);
});

describe.sequential('GwmpGateway', () => {
  /** A raw UDP server that records what it gets and answers as told. */
  async function rawServer(answer: (msg: Buffer, from: RemoteInfo, sock: ReturnType<typeof createSocket>) => void) {
    const sock = createSocket('udp4');
    const got: Buffer[] = [];
    sock.on('message', (m, r) => {
      got.push(m);
      answer(m, r, sock);
    });
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    return { sock, got, port: sock.address().port, close: () => new Promise<void>((res) => sock.close(() => res())) };
  }

  it('counts PUSH_ACKs and PULL_ACKs that never come', async () => {
    const srv = await rawServer(() => undefined);
    const gw = new GwmpGateway({ eui: fromHex('0200000000000001'), host: '127.0.0.1', port: srv.port, ackTimeoutMs: 100, keepaliveMs: 60_000 });
    await gw.start();
    gw.push({ phyPayload: new Uint8Array(13), freq: 868.1, chan: 0, datr: 'SF7BW125', rssi: -80, lsnr: 7 });
    gw.push({ phyPayload: new Uint8Array(13), freq: 868.3, chan: 1, datr: 'SF7BW125', rssi: -80, lsnr: 7 });
    await gw.stop();
    expect(gw.stats).toMatchObject({ pushData: 2, pushAck: 0, pushAckMissing: 2, pullData: 1, pullAckMissing: 1 });
    expect(srv.got.map((m) => m[3])).toEqual([0x02, 0x00, 0x00]);
    expect(srv.got[0]!.subarray(4).toString('hex')).toBe('0200000000000001');
    await srv.close();
  });

  it('an ACK that arrived while the event loop was busy counts as received, not missing (timers run before sockets are read)', async () => {
    // the network server in another process, so it answers while this one is blocked
    const server = spawn(process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4');
      s.on('message', (m, r) => { if (m[3] === 0 || m[3] === 2) s.send(Buffer.from([2, m[1], m[2], m[3] === 0 ? 1 : 4]), r.port, r.address); });
      s.bind(0, '127.0.0.1', () => console.log(s.address().port));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((res) => server.stdout!.once('data', (d: Buffer) => res(Number(d.toString().trim()))));
      const gw = new GwmpGateway({ eui: fromHex('0200000000000004'), host: '127.0.0.1', port, ackTimeoutMs: 50, keepaliveMs: 60_000 });
      await gw.start();
      await new Promise((r) => setTimeout(r, 300)); // the PULL_DATA's ACK, on an idle loop
      gw.push({ phyPayload: new Uint8Array(13), freq: 868.1, chan: 0, datr: 'SF7BW125', rssi: -80, lsnr: 7 });
      // busy for 6 times the ACK timeout (a firmware VM signing): the ACK comes in meanwhile, unread
      const until = Date.now() + 300;
      while (Date.now() < until);
      await new Promise((r) => setTimeout(r, 100));
      await gw.stop();
      expect(gw.stats).toMatchObject({ pushData: 1, pushAck: 1, pushAckMissing: 0, pullData: 1, pullAck: 1, pullAckMissing: 0 });
    } finally {
      server.kill();
    }
  });

  it('rxpk: tmst is a 32-bit µs counter that wraps (71.6 min), dated with `time` at the end of the packet', async () => {
    const srv = await rawServer(() => undefined);
    const gw = new GwmpGateway({ eui: fromHex('0200000000000003'), host: '127.0.0.1', port: srv.port, ackTimeoutMs: 50, keepaliveMs: 60_000, tmstStart: 2 ** 32 - 50_000 });
    await gw.start();
    const before = gw.push({ phyPayload: new Uint8Array(13), freq: 868.1, chan: 0, datr: 'SF7BW125', rssi: -80, lsnr: 7 });
    await new Promise((r) => setTimeout(r, 120));
    const end = performance.now() - 40;
    const after = gw.push({ phyPayload: new Uint8Array(13), freq: 868.1, chan: 0, datr: 'SF7BW125', rssi: -80, lsnr: 7, endWallMs: end });
    await gw.stop();
    expect(before.tmst as number).toBeGreaterThan(2 ** 32 - 50_000);
    expect(after.tmst as number).toBeLessThan(10_000_000); // wrapped: about 80 ms past 2^32
    expect(after.tmst).toBe(gw.tmstAt(end));
    const t = Date.parse((after.time as string).replace(/(\.\d{3})\d{3}Z$/, '$1Z'));
    expect(Math.abs(t - (performance.timeOrigin + end))).toBeLessThan(2);
    expect(after.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await srv.close();
  });

  it('answers each PULL_RESP with a TX_ACK: NONE in time, TOO_LATE in the past, TOO_EARLY beyond 30 s, GPS_UNLOCKED for `time`; emits at tmst', async () => {
    const acks: { token: number; error: string }[] = [];
    let gwAddr: RemoteInfo | null = null;
    const srv = await rawServer((m, from, sock) => {
      if (m[3] === 0x02) {
        gwAddr = from;
        sock.send(Buffer.from([2, m[1]!, m[2]!, 0x04]), from.port, from.address);
      }
      if (m[3] === 0x05) acks.push({ token: m.readUInt16BE(1), error: (JSON.parse(m.subarray(12).toString()) as { txpk_ack: { error: string } }).txpk_ack.error });
    });
    const emitted: { tmst: number; wallMs: number; at: number }[] = [];
    // start the counter just below the wrap: schedules must cross it
    const gw = new GwmpGateway({ eui: fromHex('0200000000000002'), host: '127.0.0.1', port: srv.port, keepaliveMs: 60_000, tmstStart: 2 ** 32 - 100_000, onEmit: (e) => emitted.push({ tmst: e.tmst, wallMs: e.wallMs, at: performance.now() }) });
    await gw.start();
    while (gwAddr === null) await new Promise((r) => setTimeout(r, 5));
    const send = (token: number, txpk: object) => srv.sock.send(Buffer.concat([Buffer.from([2, token >> 8, token & 0xff, 3]), Buffer.from(JSON.stringify({ txpk }))]), gwAddr!.port, gwAddr!.address);
    const data = Buffer.from([0x60, 1, 2, 3, 4, 0, 0, 0, 1, 2, 3, 4]).toString('base64');
    const target = (gw.tmstNow() + 300_000) % 2 ** 32;
    send(0x1111, { tmst: target, freq: 869.525, data });
    send(0x2222, { tmst: (gw.tmstNow() - 1000 + 2 ** 32) % 2 ** 32, data });
    send(0x3333, { tmst: (gw.tmstNow() + 40_000_000) % 2 ** 32, data });
    send(0x4444, { time: '2026-01-01T00:00:00Z', data });
    send(0x5555, { imme: true, data });
    await new Promise((r) => setTimeout(r, 600));
    await gw.stop();
    expect(acks.sort((a, b) => a.token - b.token)).toEqual([
      { token: 0x1111, error: 'NONE' }, { token: 0x2222, error: 'TOO_LATE' }, { token: 0x3333, error: 'TOO_EARLY' }, { token: 0x4444, error: 'GPS_UNLOCKED' }, { token: 0x5555, error: 'NONE' },
    ]);
    expect(gw.stats).toMatchObject({ pullResp: 5, txAck: 5, txAckErrors: 3, pullAck: 1, pullAckMissing: 0 });
    expect(emitted).toHaveLength(2);
    const scheduled = emitted.find((e) => e.tmst === target)!;
    expect(target).toBeLessThan(300_000); // it wrapped
    expect(Math.abs(scheduled.at - scheduled.wallMs)).toBeLessThan(100);
    await srv.close();
  });
});

describe('sceau sim lorawan: usage', () => {
  it('runs through both binaries: sceau-sim lorawan and sceau sim lorawan', async () => {
    const { spawnSync } = await import('node:child_process');
    const root = join(import.meta.dirname, '..');
    const own = spawnSync(process.execPath, [join(root, 'simulator', 'bin', 'sceau-sim.js'), 'lorawan', '--help'], { encoding: 'utf8' });
    expect(own.status).toBe(0);
    expect(own.stdout).toMatch(/--gwmp HOST:PORT/);
    const host = spawnSync(process.execPath, [join(root, 'host-tools', 'bin', 'sceau.cjs'), 'sim', 'lorawan', '--devices', 'x'], { encoding: 'utf8' });
    expect(host.status).toBe(2);
    expect(host.stderr).toMatch(/--devices: expected an integer|--gwmp is required/);
  });
  it('refuses more --firmware-vm devices than --devices', async () => {
    const r = await runCli(['--gwmp', '127.0.0.1:1700', '--devices', '1', '--duration', '1s', '--interval', '1s', '--link', 'lorawan-eu868-dr5', '--activation', 'otaa', '--keys-out', join(dir, 'u'), '--firmware-vm', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--firmware-vm: 2 firmware devices, but only --devices 1/);
    expect(existsSync(join(dir, 'u'))).toBe(false);
  });
  it('names the missing or bad option (exit 2), writes nothing', async () => {
    const base = ['--devices', '1', '--duration', '1s', '--interval', '1s', '--activation', 'otaa', '--keys-out', join(dir, 'v')];
    expect((await runCli([...base, '--link', 'lorawan-eu868-dr5'])).stderr).toMatch(/--gwmp is required/);
    expect((await runCli([...base, '--gwmp', 'localhost', '--link', 'lorawan-eu868-dr5'])).stderr).toMatch(/--gwmp: expected HOST:PORT/);
    const sigfox = await runCli([...base, '--gwmp', '127.0.0.1:1700', '--link', 'sigfox']);
    expect(sigfox.code).toBe(2);
    expect(sigfox.stderr).toMatch(/--link: expected lorawan-eu868-drX or lorawan-us915-drX/);
    expect(existsSync(join(dir, 'v'))).toBe(false);
  });
  it('--duration 0s writes the registration file and prints the gateway EUIs, sends nothing', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    try {
      const keys = join(dir, 'zero');
      const r = await runCli(['--gwmp', `127.0.0.1:${ns.port}`, '--gateways', '2', '--devices', '4', '--duration', '0s', '--interval', '1m', '--link', 'lorawan-eu868-dr3', '--activation', 'otaa', '--keys-out', keys, '--json']);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { gateways: string[]; devices: number };
      expect(out.devices).toBe(4);
      expect(out.gateways).toHaveLength(2);
      expect(out.gateways[0]).toMatch(/^[0-9a-f]{16}$/);
      expect(r.stderr).toContain(out.gateways.join(' '));
      expect(JSON.parse(readFileSync(join(keys, 'lorawan-devices.json'), 'utf8'))).toHaveLength(4);
      await new Promise((res) => setTimeout(res, 200));
      expect(ns.counts.pushData + ns.counts.pullData).toBe(0);
    } finally {
      await ns.close();
    }
  });

  it('warns when --keys-out is inside a git work tree', async () => {
    const repo = join(dir, 'repo');
    const { execFileSync } = await import('node:child_process');
    execFileSync('git', ['init', '-q', repo]);
    writeFileSync(join(repo, 'README'), 'x');
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(repo, 'keys');
    try {
      const r = await runCli(['--gwmp', `127.0.0.1:${ns.port}`, '--devices', '1', '--duration', '1s', '--interval', '1m', '--link', 'lorawan-us915-dr3', '--activation', 'abp', '--keys-out', ns.keysDir]);
      expect(r.stderr).toMatch(/warning: --keys-out .* is inside a git work tree/);
      expect(r.code).toBe(0);
      expect(ns.errors).toEqual([]);
    } finally {
      await ns.close();
    }
  }, 30_000);
});

describe.sequential('sceau sim lorawan --firmware-vm: the real firmware behind the virtual gateways', () => {
  it('a firmware VM joins through the stand-in (OTAA, RX1 at tmst + 5 s), hears RX1 downlinks, its frames verify; its DevNonce continues in the next run', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'firmware-vm');
    ns.dataDownlinks = true;
    const args = [
      '--gwmp', `127.0.0.1:${ns.port}`, '--devices', '2', '--firmware-vm', '1', '--duration', '50s', '--interval', '10s',
      '--link', 'lorawan-eu868-dr5', '--activation', 'otaa', '--keys-out', ns.keysDir, '--seed', 'e2e-firmware-vm', '--json',
    ];
    try {
      const r = await runCli(args);
      expect(ns.errors).toEqual([]);
      expect(r.stderr, r.stderr).not.toMatch(/FAIL|internal error/);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, any>;
      // both devices (the firmware one is device 0 of the registration file) are registered and joined
      expect(ns.registry).toHaveLength(2);
      const [vm, model] = ns.registry! as [Record<string, string>, Record<string, string>];
      expect(summary).toMatchObject({ devices: 2, joinsAccepted: 2 });
      expect(summary.firmwareVms).toMatchObject({ devices: 1, joins: 1, joinRequests: 1, wrongSyncWord: 0 });
      // the firmware's join-request went out on a default channel at DR5 (the radio set to the MAC's channel and rate)
      const vmJoin = ns.joinsSeen.filter((j) => j.devEui === vm.devEui);
      expect(vmJoin).toHaveLength(1);
      expect([868.1, 868.3, 868.5]).toContain(vmJoin[0]!.freq);
      expect(vmJoin[0]!.datr).toBe('SF7BW125');
      // its uplinks passed their MICs; its sceau frames (sealed by the firmware) verify under its registered key
      const vmUps = ns.seen.filter((u) => u.devEui === vm.devEui);
      expect(vmUps.length).toBeGreaterThanOrEqual(2);
      expect(vmUps.every((u) => [868.1, 868.3, 868.5].includes(u.freq) && u.datr === 'SF7BW125')).toBe(true);
      expect(ns.counts.micFailures).toBe(0);
      // (its first frame is sealed after the join, so it goes whole at DR5's N = 222 bytes, like the
      // others: one datagram per frame, not the 3 fragments of DR0's 51 bytes it was cut to before)
      const counters = ns.verified.get(vm.kid!) ?? [];
      expect(counters.length).toBeGreaterThanOrEqual(1);
      expect(counters).toEqual([...counters].sort((a, b) => a - b));
      expect(summary.firmwareVms.datagrams).toBeGreaterThanOrEqual(counters.length);
      expect(summary.firmwareVms.datagrams).toBeLessThanOrEqual(counters.length + 1); // the last may be on its way
      // the simulator's own check of the VM's frames (decrypted with the session of the join-accept it took) agrees
      expect(summary.firmwareVms.records).toBe(counters.length);
      expect(summary.records).toBe(counters.length + (ns.verified.get(model.kid!) ?? []).length);
      expect((ns.verified.get(model.kid!) ?? []).length).toBeGreaterThanOrEqual(1);
      // the join-accept and the LinkCheckAns after its first uplink reached the VM's RX1 windows
      expect(summary.firmwareVms.downlinksHeard).toBe(2);
      expect(summary.downlinksMissed).toBe(0);
      expect(summary.downlinksReceived).toBe(summary.downlinks);
      expect(summary.firmwareVms.datagrams).toBe(vmUps.filter((u) => u.fPort === 1 && !u.repeat).length);
      // counted for the VM as for the model device (issue 12): the LinkCheckAns the stand-in sent each device
      // (the firmware's "sceau-lorawan mac 02"), the MAC commands their uplinks carried (the VM's DeviceTimeReq)
      const sentTo = (eui: string) => (ns.commandsSent.get(eui) ?? []).flatMap((h) => macCids(h, DOWN_BYTES));
      expect(sentTo(vm.devEui!)).toEqual([0x02]);
      expect(summary.firmwareVms).toMatchObject({ macCommands: 1, linkChecks: 1, timeSyncs: 0, repetitions: 0 });
      expect(summary).toMatchObject({ macCommands: sentTo(vm.devEui!).length + sentTo(model.devEui!).length, linkChecks: 2 });
      expect(macCommandsUp(vmUps)).toBeGreaterThanOrEqual(1);
      expect(summary.firmwareVms.macAnswers).toBe(macCommandsUp(vmUps));
      expect(summary.macAnswers).toBe(macCommandsUp(ns.seen));
      // and its duty-cycle waits (1 % at EU868: a ~115-byte DR5 uplink owes ~20 s, more than the 10 s interval and its windows):
      // at most one per transmission (and one under way when the run ends); the model device's are in the total too
      expect(summary.firmwareVms.dutyCycleWaits).toBeGreaterThanOrEqual(1);
      expect(summary.firmwareVms.dutyCycleWaits).toBeLessThanOrEqual(summary.firmwareVms.joinRequests + summary.firmwareVms.uplinks + 1);
      expect(summary.dutyCycleWaits).toBeGreaterThan(summary.firmwareVms.dutyCycleWaits);
      expect(summary.firmwareVms.frameBytes).toBeGreaterThan(0);
      expect(summary.frameBytes).toBeGreaterThan(summary.firmwareVms.frameBytes);

      // a second run on the same DIR: the VM's flash was kept, so its DevNonce goes on (the stand-in refuses a reused one).
      // Like a board after a power cut, the VM first waits the duty-cycle time-off it stored ahead
      // (docs/hardware.md, "What survives a power cut": up to 40 s at EU868 DR5), so this run is longer.
      const started = Date.now();
      const r2 = await runCli([...args.slice(0, 7), '60s', ...args.slice(8)]);
      expect(ns.errors).toEqual([]);
      expect(r2.code).toBe(0);
      // the time-off it waited after the reboot, before its join-request, is counted
      expect((JSON.parse(r2.stdout) as Record<string, any>).firmwareVms.dutyCycleWaits).toBeGreaterThanOrEqual(1);
      const vmJoins = ns.joinsSeen.filter((j) => j.devEui === vm.devEui).map((j) => j.devNonce);
      expect(vmJoins).toHaveLength(2);
      expect(vmJoins[1]).toBeGreaterThan(vmJoins[0]!);
      // the reboot kept the time-off: no join-request before the stored reserve (generous bound: 20 s of the 40 s)
      const secondJoin = ns.joinsSeen.filter((j) => j.devEui === vm.devEui)[1]!;
      expect(secondJoin.atMs - started).toBeGreaterThan(20_000);
    } finally {
      await ns.close();
    }
  }, 300_000);

  it('OTAA on US915 DR3: a model device and a firmware VM join on sub-band 2 (RX1 at 923.3 + 0.6·(ch mod 8) MHz, SF7/500 kHz) and their frames verify', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'firmware-vm-us915');
    try {
      const r = await runCli([
        '--gwmp', `127.0.0.1:${ns.port}`, '--devices', '2', '--firmware-vm', '1', '--duration', '32s', '--interval', '5s',
        '--link', 'lorawan-us915-dr3', '--activation', 'otaa', '--keys-out', ns.keysDir, '--seed', 'e2e-firmware-vm-us915', '--json',
      ]);
      expect(ns.errors).toEqual([]);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, any>;
      expect(summary).toMatchObject({ devices: 2, joinsAccepted: 2 });
      expect(summary.firmwareVms).toMatchObject({ joins: 1, joinRequests: 1, wrongSyncWord: 0 });
      for (const j of ns.joinsSeen) expect(Math.round((j.freq - 903.9) / 0.2)).toBeGreaterThanOrEqual(0);
      for (const j of ns.joinsSeen) expect(Math.round((j.freq - 903.9) / 0.2)).toBeLessThanOrEqual(7);
      for (const d of ns.registry!) expect((ns.verified.get(d.kid!) ?? []).length).toBeGreaterThanOrEqual(1);
      expect(summary.downlinksMissed).toBe(0);
      // the VM's counts (issue 12): US915 has no duty cycle and its first join owes no back-off, so it waited
      // nothing; no MAC command came down; its uplinks carried its DeviceTimeReq
      const vmUps = ns.seen.filter((u) => u.devEui === ns.registry![0]!.devEui);
      expect(summary.firmwareVms).toMatchObject({ dutyCycleWaits: 0, macCommands: 0, linkChecks: 0, timeSyncs: 0 });
      expect(macCommandsUp(vmUps)).toBeGreaterThanOrEqual(1);
      expect(summary.firmwareVms.macAnswers).toBe(macCommandsUp(vmUps));
      expect(summary.macAnswers).toBe(macCommandsUp(ns.seen));
    } finally {
      await ns.close();
    }
  }, 120_000);

  it('ABP on US915 DR3 with --record 2: the firmware VM sends on sub-band 2 at SF7/125 kHz, its version 2 frames verify, the bridge finds its FCnt and counts its MAC commands', async () => {
    const ns = new StandInNetworkServer();
    await ns.start();
    ns.keysDir = join(dir, 'firmware-vm-abp');
    // in RX1 of the VM's first uplink, on FPort 0 (19 bytes): DevStatusReq, RXTimingSetupReq (1 s, as it is),
    // LinkCheckAns, DeviceTimeAns, LinkADRReq (DR and power kept, channels 8-15 of sub-band 2, NbTrans 2)
    const gps = Buffer.alloc(4);
    gps.writeUInt32LE(Math.floor(Date.now() / 1000) - 315_964_800 + 18);
    const commands = '06' + '0801' + '020a02' + `0d${gps.toString('hex')}00` + '03ff00ff02';
    ns.onUplink = (u) => (!u.repeat && ns.seen.filter((x) => !x.repeat).length === 1 ? [{ delayUs: 1_000_000, ...rx1Of({ freq: u.freq, datr: u.datr }), port0: commands }] : []);
    try {
      const r = await runCli([
        '--gwmp', `127.0.0.1:${ns.port}`, '--devices', '1', '--firmware-vm', '1', '--duration', '18s', '--interval', '5s',
        '--link', 'lorawan-us915-dr3', '--activation', 'abp', '--keys-out', ns.keysDir, '--dev-addr-prefix', '26000000/8', '--seed', 'e2e-firmware-vm-abp', '--record', '2', '--json',
      ]);
      expect(ns.errors).toEqual([]);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, any>;
      const vm = ns.registry![0]!;
      expect(Object.keys(vm).sort()).toEqual(['appSKey', 'devAddr', 'devEui', 'kid', 'nwkSKey', 'publicKey']);
      expect(summary).toMatchObject({ devices: 1, joinsRequested: 0 });
      expect(summary.firmwareVms).toMatchObject({ devices: 1, joins: 0, joinRequests: 0, wrongSyncWord: 0 });
      // sub-band 2: 903.9 + 0.2·n MHz, n = 0..7; DR3 is SF7 at 125 kHz
      expect(ns.seen.length).toBeGreaterThanOrEqual(2);
      for (const u of ns.seen) {
        expect(u.devAddr).toBe(vm.devAddr);
        expect(u.datr).toBe('SF7BW125');
        expect(Math.round((u.freq - 903.9) / 0.2)).toBeGreaterThanOrEqual(0);
        expect(Math.round((u.freq - 903.9) / 0.2)).toBeLessThanOrEqual(7);
        expect(Math.abs((u.freq - 903.9) / 0.2 - Math.round((u.freq - 903.9) / 0.2))).toBeLessThan(1e-6);
      }
      const counters = ns.verified.get(vm.kid!) ?? [];
      expect(counters.length).toBeGreaterThanOrEqual(1);
      expect(summary.firmwareVms.records).toBe(counters.length);
      expect(summary.records).toBe(counters.length);
      // --record 2 reaches the firmware: it seals record version 2 (its content key in its settings)
      expect(ns.versions.get(vm.kid!)).toEqual(counters.map(() => 2));
      // the VM's MAC counts in the summary (issue 12): the 5 commands it applied ("sceau-lorawan mac 0608020d03"),
      // the commands its uplinks carried (DeviceTimeReq; DevStatusAns, LinkADRAns and RXTimingSetupAns, sticky:
      // in every uplink after, no downlink ended it), the repetitions NbTrans 2 made; no duty cycle in US915
      expect(macCids(commands, DOWN_BYTES)).toHaveLength(5);
      expect(summary.firmwareVms).toMatchObject({ macCommands: 5, linkChecks: 1, timeSyncs: 1, dutyCycleWaits: 0 });
      expect(summary).toMatchObject({ macCommands: 5, linkChecks: 1, timeSyncs: 1, dutyCycleWaits: 0 });
      expect(macCommandsUp(ns.seen)).toBeGreaterThanOrEqual(4);
      expect(summary.firmwareVms.macAnswers).toBe(macCommandsUp(ns.seen));
      expect(summary.macAnswers).toBe(macCommandsUp(ns.seen));
      // one LinkADRAns, all three bits set (so NbTrans 2 applies)
      const adrAnswers = ns.seen.filter((u) => !u.repeat).flatMap((u) => {
        const b = Buffer.from(u.fOpts, 'hex');
        const status: number[] = [];
        for (let i = 0; i < b.length; i += 1 + UP_BYTES[b[i]!]!) if (b[i] === 0x03) status.push(b[i + 1]!);
        return status;
      });
      expect(adrAnswers).toEqual([7]);
      expect(ns.counts.repetitions).toBeGreaterThanOrEqual(1);
      expect(summary.firmwareVms.repetitions).toBe(ns.counts.repetitions);
      expect(summary.repetitions).toBe(ns.counts.repetitions);
    } finally {
      await ns.close();
    }
  }, 120_000);
});
