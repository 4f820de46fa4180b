// The whole firmware (src/main.ts, LINK = "lorawan-fake") in the DeviceScript VM on a virtual clock,
// its fake SX1276 on an "air" shared with a network-server model written here from LoRaWAN L2 1.0.4
// and RP002-1.0.3 (frames through tests/helpers/lorawan-reference.ts; no firmware code):
//
// US915, sub-band 2 (LORAWAN_SUB_BAND = 2, REJOIN_AFTER N = 8, TRACE_SEALING on), the board's own
// DevEUI (credentials without one):
// - join on a sub-band 2 channel at DR0, the join-accept in RX1 (923.3 + 0.6 * (ch mod 8) MHz, DR10)
//   with a CFList type 1 ChMask; uplinks on enabled channels at the DR's modulation, within the
//   400 ms dwell limit and RP002's N; RX1 on the mapped frequency and DR, RX2 at 923.3 MHz DR8;
// - a LinkADRReq block (ChMaskCntl 7 then 0: sub-band 2, DR3), a control downlink in RX2;
// - fragments cut to N of the DR (11 bytes at DR0), reassembled and verified with @sceau/protocol;
// - rejoin after N uplinks without a downlink (LinkCheckReq from N/2), then after a downlink
//   beyond MAX_FCNT_GAP, each with a fresh DevNonce; LinkADRReq with ChMaskCntl 5 in session 3, to
//   DR3 then DR4 (the 500 kHz channel 65, RX1 on 923.9 MHz DR13);
// - no signature between any transmission and the close of its last receive window.
//
// EU868 with LORAWAN_RX2_DR = 3 (The Things Network's SF9 RX2): a board without credentials says
// so and stays off the air, announcing its own DevEUI; `sceau provision --log` registers that
// DevEUI from the console; credentials without a DevEUI (`provision --settings`) then join with it,
// the join-accept heard in RX2 at SF9.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryKeyring, Reassembler, fromHex, loraAirtimeMs, verifyFrame } from '@sceau/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { sceau } from './helpers/cli.js';
import { type AirBoot, type Downlink, type TxEvent, cyclesOf, runAirBoot } from './helpers/firmware-air.js';
import * as ref from './helpers/lorawan-reference.js';

const appKey = '2b7e151628aed2a6abf7158809cf4f3c';
const joinEui = '70b3d57ed0000002';
const netId = '000013';
// (each 32-bit half below 2^31: the VM glue takes the id as two int32 and clamps others)
const deviceId = '5ce0b142d3e4f501';
/** The board's own DevEUI, as docs/hardware.md defines it: the device id, first byte & 0xfc | 0x02. */
const boardEui = '5ee0b142d3e4f501';
const hex4 = (n: number) => n.toString(16).padStart(4, '0');
const hex6 = (n: number) => n.toString(16).padStart(6, '0');

// RP002-1.0.3 US915: uplink DR0..4 and downlink DR8..13 (SF, bandwidth), N per uplink DR under the
// 400 ms dwell limit, and the RX1 DR by uplink DR and RX1DROffset 0..3
const US_DR: Record<number, { sf: number; bw: number }> = {
  0: { sf: 10, bw: 125e3 }, 1: { sf: 9, bw: 125e3 }, 2: { sf: 8, bw: 125e3 }, 3: { sf: 7, bw: 125e3 }, 4: { sf: 8, bw: 500e3 },
  8: { sf: 12, bw: 500e3 }, 9: { sf: 11, bw: 500e3 }, 10: { sf: 10, bw: 500e3 }, 11: { sf: 9, bw: 500e3 }, 12: { sf: 8, bw: 500e3 }, 13: { sf: 7, bw: 500e3 },
};
const US_N = [11, 53, 125, 242, 242];
const US_RX1_DR = [[10, 9, 8, 8], [11, 10, 9, 8], [12, 11, 10, 9], [13, 12, 11, 10], [13, 13, 12, 11]];
const upDrOf = (sf: number, bw: number) => [0, 1, 2, 3, 4].find(d => US_DR[d]!.sf === sf && US_DR[d]!.bw === bw) ?? -1;
/** US915 uplink channel of a frequency: 125 kHz channels 0..63 from 902.3 MHz by 200 kHz, 500 kHz 64..71 from 903.0 MHz by 1.6 MHz. */
const usChannel = (f: number, bw: number) => (bw === 125e3 ? (f - 902.3e6) / 200e3 : 64 + (f - 903.0e6) / 1.6e6);
const usRx1Freq = (ch: number) => 923.3e6 + 600e3 * (ch % 8);
/** Sub-band 2: 125 kHz channels 8..15 and 500 kHz channel 65. */
const SUB_BAND_2 = [8, 9, 10, 11, 12, 13, 14, 15, 65];
const airtime = (sf: number, bw: number, bytes: number) =>
  loraAirtimeMs({ spreadingFactor: sf, bandwidthHz: bw, preambleSymbols: 8, lowDataRateOptimize: (2 ** sf / bw) * 1000 >= 16, explicitHeader: true, crc: true, codingRate: 1 } as any, bytes);

/** Device-to-network MAC commands of an uplink (FOpts, or an FPort 0 payload): their CIDs, up to an unknown one. */
function upCids(hex: string): number[] {
  const len: Record<number, number> = { 2: 0, 3: 1, 4: 0, 5: 1, 6: 2, 7: 1, 8: 0, 0x0a: 1, 0x0d: 0 };
  const b = Buffer.from(hex, 'hex');
  const out: number[] = [];
  for (let i = 0; i < b.length; ) {
    const n = len[b[i]!];
    if (n === undefined) break;
    out.push(b[i]!);
    i += 1 + n;
  }
  return out;
}

interface Up { tx: TxEvent; session: number; k: number; fCnt: number; fPort: number; mac: string; payload: Buffer; ch: number; dr: number }
interface Join { tx: TxEvent; devNonce: number; ch: number; dr: number; window: 1 | 2 }
/** What the model answers after uplink k of a session: a window, an FPort and payload, a counter jump. */
interface Reply { window: 1 | 2; fPort: number | null; payload: string; fCntJump?: number }

/** The network-server model of one OTAA device in a region of `plan`. */
class Network {
  joins: Join[] = [];
  ups: Up[] = [];
  sessions = 0;
  joinNonce = 0x200;
  session: { devAddr: string; nwkSKey: string; appSKey: string; lastUp: number; down: number } | null = null;
  replies: { session: number; k: number; window: 1 | 2; downFCnt: number; jump: boolean }[] = [];
  constructor(
    readonly devEui: string,
    readonly plan: {
      /** the uplink DR and channel of a transmission (-1 when the region has none for it) */
      drOf(tx: TxEvent): number;
      channelOf(tx: TxEvent): number;
      rx1(ch: number, dr: number, offset: number): Downlink;
      rx2(): Downlink;
      /** join-accept: DLSettings, CFList (hex or null), window of join n (1-based) */
      dlSettings: number;
      cfList: string | null;
      joinWindow(n: number): 1 | 2;
      reply(session: number, k: number, up: Up): Reply | null;
    },
  ) {}

  onTx(tx: TxEvent): Downlink | null {
    const phy = tx.phy;
    const dr = this.plan.drOf(tx);
    const ch = this.plan.channelOf(tx);
    if (phy[0] === 0x00) {
      const devNonce = phy.readUInt16LE(17);
      expect(phy.toString('hex'), 'join-request MIC with the board\'s DevEUI').toBe(ref.joinRequest(appKey, joinEui, this.devEui, hex4(devNonce)));
      const window = this.plan.joinWindow(this.joins.length + 1);
      this.joins.push({ tx, devNonce, ch, dr, window });
      const jn = hex6(++this.joinNonce);
      const devAddr = `260c${hex4(this.joinNonce)}`;
      this.session = { devAddr, ...ref.sessionKeys(appKey, jn, netId, hex4(devNonce)), lastUp: -1, down: 0 };
      this.sessions++;
      const accept = ref.encodeJoinAccept(appKey, { joinNonce: jn, netId, devAddr, dlSettings: this.plan.dlSettings, rxDelay: 1, cfList: this.plan.cfList });
      return { ...(window === 1 ? this.plan.rx1(ch, dr, 0) : this.plan.rx2()), hex: accept };
    }
    expect(phy[0], 'unconfirmed data up').toBe(0x40);
    const s = this.session!;
    expect(Buffer.from(phy.subarray(1, 5)).reverse().toString('hex')).toBe(s.devAddr);
    const fCtrl = phy[5]!;
    const f16 = phy.readUInt16LE(6);
    let fCnt = s.lastUp < 0 ? f16 : Math.floor(s.lastUp / 65536) * 65536 + f16;
    if (s.lastUp >= 0 && fCnt <= s.lastUp) fCnt += 65536;
    const msg = phy.subarray(0, phy.length - 4);
    expect(ref.dataMic(s.nwkSKey, 0, s.devAddr, fCnt, msg).toString('hex'), 'uplink MIC').toBe(phy.subarray(phy.length - 4).toString('hex'));
    s.lastUp = fCnt;
    const nOpts = fCtrl & 15;
    const fPort = msg.length > 8 + nOpts ? msg[8 + nOpts]! : -1;
    const payload = fPort < 0 ? Buffer.alloc(0) : ref.frmPayload(fPort === 0 ? s.nwkSKey : s.appSKey, 0, s.devAddr, fCnt, msg.subarray(9 + nOpts));
    const k = this.ups.filter(u => u.session === this.sessions).length + 1;
    const up: Up = { tx, session: this.sessions, k, fCnt, fPort, mac: fPort === 0 ? payload.toString('hex') : phy.subarray(8, 8 + nOpts).toString('hex'), payload, ch, dr };
    this.ups.push(up);
    const r = this.plan.reply(this.sessions, k, up);
    if (r === null) return null;
    const downFCnt = s.down + (r.fCntJump ?? 0);
    s.down = downFCnt + 1;
    this.replies.push({ session: this.sessions, k, window: r.window, downFCnt, jump: (r.fCntJump ?? 0) > 0 });
    const hex = ref.encodeData(1, { nwkSKey: s.nwkSKey, appSKey: s.appSKey, devAddr: s.devAddr, fCnt: downFCnt, fPort: r.fPort, payload: r.payload, confirmed: false });
    return { ...(r.window === 1 ? this.plan.rx1(ch, dr, 0) : this.plan.rx2()), hex };
  }
}

/** The sealed frames of the FPort 1 datagrams, reassembled and verified with @sceau/protocol. */
function framesOf(ups: Up[], devEui: string, keyring: MemoryKeyring) {
  const r = new Reassembler();
  const out: { t: number; counter: number; fragments: number }[] = [];
  for (const u of ups.filter(x => x.fPort === 1)) {
    const p = r.push(new Uint8Array(u.payload), u.tx.t, devEui);
    if (p.kind !== 'frame') continue;
    const v: any = verifyFrame(p.frame, keyring);
    expect(v.ok, JSON.stringify(v)).toBe(true);
    out.push({ t: u.tx.t, counter: v.counter, fragments: p.fragments });
  }
  return out;
}

const keyLineOf = (b: AirBoot) => b.lines.find(x => x.l.startsWith('sceau-key '))!.l;
const publicKeyOf = (b: AirBoot) => /pub=([0-9a-f]{64})/.exec(keyLineOf(b))![1]!;

const byte = (v: number) => v.toString(16).padStart(2, '0');
/** LinkADRReq: CID, DataRate_TXPower, ChMask (little-endian), Redundancy (ChMaskCntl << 4 | NbTrans 1). */
const linkAdr = (dr: number, txPower: number, chMask: number, cntl: number) => `03${byte((dr << 4) | txPower)}${byte(chMask & 255)}${byte(chMask >> 8)}${byte((cntl << 4) | 1)}`;
/** CFList type 1 (US915): ChMask words 0..4 little-endian, 5 RFU bytes, CFListType 1. */
const cfListType1 = (masks: number[]) => masks.map(m => byte(m & 255) + byte(m >> 8)).join('') + '00'.repeat(5) + '01';

describe('US915 sub-band 2: the whole firmware against a network model in the VM', () => {
  const N = 8;
  let boot: AirBoot;
  const keyring = new MemoryKeyring();
  const plan = {
    drOf: (tx: TxEvent) => upDrOf(tx.sf, tx.bw),
    channelOf: (tx: TxEvent) => usChannel(tx.freq, tx.bw),
    rx1: (ch: number, dr: number, offset: number): Downlink => ({ freq: usRx1Freq(ch), sf: US_DR[US_RX1_DR[dr]![offset]!]!.sf, bw: US_DR[US_RX1_DR[dr]![offset]!]!.bw, hex: '' }),
    rx2: (): Downlink => ({ freq: 923.3e6, sf: US_DR[8]!.sf, bw: US_DR[8]!.bw, hex: '' }),
    // RX1DROffset 0, RX2 DR8; CFList type 1: ChMask words 0..4 = ff00 0000 0000 0000 0002 (sub-band 2)
    dlSettings: 0x08,
    cfList: cfListType1([0xff00, 0, 0, 0, 0x0002]),
    joinWindow: (n: number) => (n === 2 ? 2 : 1) as 1 | 2,
    reply(session: number, k: number): Reply | null {
      if (session === 1) {
        if (k === 1 || k === 8) return { window: 1, fPort: 0, payload: '06' }; // DevStatusReq
        // one block: all 125 kHz channels off and 500 kHz channel 65 on, then channels 8..15 on, DR3, TXPower 2
        if (k === 4) return { window: 1, fPort: 0, payload: linkAdr(3, 2, 0x0002, 7) + linkAdr(3, 2, 0xff00, 0) };
        if (k === 6) return { window: 2, fPort: 2, payload: '0100000014' }; // sampling every 20 s, in RX2
        return null; // from uplink 9 on: silence
      }
      // the session's first downlink, genuine but at FCnt 20000: beyond MAX_FCNT_GAP (16384) from NFCntDown 0
      if (session === 2 && k === 2) return { window: 1, fPort: 0, payload: '06', fCntJump: 20000 };
      // ChMaskCntl 5: bit 1 = sub-band 2 (channels 8..15 and 65), DR3; then DR4, the 500 kHz channel 65 only
      if (session === 3 && k === 1) return { window: 1, fPort: 0, payload: linkAdr(3, 0, 0x0002, 5) };
      if (session === 3 && k === 3) return { window: 1, fPort: 0, payload: linkAdr(4, 0, 0x0002, 5) };
      return null;
    },
  };
  const net = new Network(boardEui, plan);

  beforeAll(async () => {
    const CONFIG = { LINK: 'lorawan-fake', VM_SENSORS: 'jacdac', SAMPLE_INTERVAL_MS: 60000, COUNTER_BLOCK: 4, LORAWAN_FCNT_BLOCK: 4, LORAWAN_REGION: 'US915', LORAWAN_SUB_BAND: 2, LORAWAN_REJOIN_AFTER: N, TRACE_SEALING: true };
    const { binary } = buildEntry('src/main.ts', { 'src/config.ts': configSource(CONFIG) });
    const s3 = () => net.ups.filter(u => u.session === 3 && u.fPort === 1 && u.dr === 4).length;
    boot = await runAirBoot(binary, {
      deviceId, flash: {}, t0: 0, maxMs: 3_600_000,
      // credentials without a DevEUI: the board's own
      settings: { sceau_otaa: `:${joinEui}:${appKey}` },
      onTx: tx => net.onTx(tx),
      until: () => s3() >= 2,
    });
    keyring.add(fromHex(publicKeyOf(boot)));
  }, 900_000);

  it('announces its own DevEUI and joins with it three times, each with a fresh DevNonce, on sub-band 2 at DR0', () => {
    expect(keyLineOf(boot)).toMatch(new RegExp(`^sceau-key v1 kid=[0-9a-f]{16} pub=[0-9a-f]{64} deveui=${boardEui}( new)?$`));
    expect(net.joins).toHaveLength(3);
    const nonces = net.joins.map(j => j.devNonce);
    expect(nonces).toEqual([...nonces].sort((a, b) => a - b));
    expect(new Set(nonces).size).toBe(3);
    for (const j of net.joins) {
      expect(j.dr).toBe(0);
      expect(SUB_BAND_2).toContain(j.ch);
      expect(j.tx.sync).toBe(0x34); // LoRaWAN's public sync word
    }
    expect(boot.lines.filter(x => x.l.startsWith('sceau-lorawan joined'))).toHaveLength(3);
  });

  it('sends every uplink on an enabled sub-band 2 channel that carries its DR, within N and the 400 ms dwell limit', () => {
    expect(net.ups.length).toBeGreaterThan(20);
    for (const u of net.ups) {
      expect(u.dr).toBeGreaterThanOrEqual(0);
      expect(SUB_BAND_2).toContain(u.ch);
      expect(u.ch < 64 ? u.dr <= 3 : u.dr === 4).toBe(true);
      expect(u.tx.sync).toBe(0x34);
      // MACPayload minus FHDR and FPort: FRMPayload plus FOpts at most N
      expect(u.tx.phy.length - 13, `uplink at DR${u.dr}`).toBeLessThanOrEqual(US_N[u.dr]!);
      expect(airtime(u.tx.sf, u.tx.bw, u.tx.phy.length)).toBeLessThanOrEqual(400);
    }
    // DR0 until the LinkADRReq block (answered in uplink 5), DR3 after it
    const s1 = net.ups.filter(u => u.session === 1);
    expect(s1.slice(0, 4).map(u => u.dr)).toEqual([0, 0, 0, 0]);
    expect(s1.slice(4).every(u => u.dr === 3)).toBe(true);
    // at DR0 the uplinks used several channels of the sub-band, at 11 bytes of FRMPayload and FOpts at most
    const atDr0 = net.ups.filter(u => u.dr === 0);
    expect(atDr0.some(u => u.tx.phy.length - 13 === 11)).toBe(true);
    expect(new Set(net.ups.map(u => u.ch)).size).toBeGreaterThan(2);
    // DR4 (SF8 / 500 kHz) only on the sub-band's 500 kHz channel, 904.6 MHz
    expect(net.ups.filter(u => u.dr === 4).length).toBeGreaterThanOrEqual(2);
    for (const u of net.ups.filter(x => x.dr === 4)) expect(u.tx.freq).toBe(904.6e6);
  });

  it('opens RX1 on 923.3 + 0.6 * (ch mod 8) MHz at the RX1 DR of the table and RX2 on 923.3 MHz DR8, both with inverted IQ, at RxDelay and RxDelay + 1 s', () => {
    const cycles = cyclesOf(boot.events);
    // every transmission, but perhaps the last one (the run ended before its windows)
    expect(cycles.length).toBeGreaterThanOrEqual(net.joins.length + net.ups.length - 1);
    expect(cycles.length).toBeLessThanOrEqual(net.joins.length + net.ups.length);
    for (const c of cycles) {
      const join = c.tx.phy[0] === 0x00;
      const ch = usChannel(c.tx.freq, c.tx.bw);
      const dr = upDrOf(c.tx.sf, c.tx.bw);
      const rx1 = US_DR[US_RX1_DR[dr]![0]!]!;
      expect(c.rx.length).toBeGreaterThanOrEqual(1);
      expect({ freq: c.rx[0]!.freq, sf: c.rx[0]!.sf, bw: c.rx[0]!.bw, inverted: c.rx[0]!.inverted }).toEqual({ freq: usRx1Freq(ch), sf: rx1.sf, bw: rx1.bw, inverted: true });
      // each window opens LORAWAN_RX_ERROR_MS (20 ms) before RxDelay (RX2: RxDelay + 1 s) after the
      // end of the transmission, to the VM's 1 ms step on its virtual clock
      const d1 = join ? 5000 : 1000;
      expect(Math.abs(c.rx[0]!.opened - c.tx.t - (d1 - 20)), `RX1 ${c.rx[0]!.opened - c.tx.t} ms after TX`).toBeLessThanOrEqual(1);
      if (c.rx[0]!.got && c.rx.length === 1) continue; // a downlink accepted in RX1: no RX2
      expect(c.rx).toHaveLength(2);
      expect({ freq: c.rx[1]!.freq, sf: c.rx[1]!.sf, bw: c.rx[1]!.bw, inverted: c.rx[1]!.inverted }).toEqual({ freq: 923.3e6, sf: 12, bw: 500e3, inverted: true });
      expect(Math.abs(c.rx[1]!.opened - c.tx.t - (d1 + 1000 - 20)), `RX2 ${c.rx[1]!.opened - c.tx.t} ms after TX`).toBeLessThanOrEqual(1);
    }
    // every downlink was heard in the window it was sent in: join-accepts 1 and 3 in RX1, 2 in RX2
    const byTx = new Map(cycles.map(c => [c.tx, c]));
    for (const j of net.joins) {
      const c = byTx.get(j.tx)!;
      expect(c.rx.map(r => r.got)).toEqual(j.window === 1 ? [true] : [false, true]);
    }
    for (const r of net.replies.filter(x => !x.jump)) {
      const u = net.ups.find(x => x.session === r.session && x.k === r.k)!;
      const c = byTx.get(u.tx)!;
      expect(c.rx.map(x => x.got), `reply to uplink ${r.k} of session ${r.session}`).toEqual(r.window === 1 ? [true] : [false, true]);
    }
  });

  it('answers the LinkADRReq blocks (ChMaskCntl 7 + 0, then 5) with one status per command, DevStatusReq, and the RX2 control downlink', () => {
    const s1 = net.ups.filter(u => u.session === 1);
    expect(upCids(s1[1]!.mac)).toContain(0x06); // DevStatusAns after uplink 1's request
    expect(s1[4]!.mac).toContain('03070307'); // two LinkADRAns, channel mask, DR and power all OK
    expect(upCids(s1[8]!.mac)).toContain(0x06);
    expect(boot.lines.some(x => x.l === 'sceau-control interval=20')).toBe(true);
    const s3 = net.ups.filter(u => u.session === 3);
    for (const i of [1, 3]) {
      expect(s3[i]!.mac).toContain('0307');
      expect(upCids(s3[i]!.mac).filter(c => c === 0x03)).toHaveLength(1);
    }
    expect(s3.slice(1, 3).map(u => u.dr)).toEqual([3, 3]);
    expect(s3.slice(3).every(u => u.dr === 4 && u.ch === 65)).toBe(true);
  });

  it('cuts fragments to N of the DR, and every frame reassembles and verifies with @sceau/protocol', () => {
    const frames = framesOf(net.ups, boardEui, keyring);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames[0]!.fragments).toBeGreaterThan(8); // sealed at DR0's 11 bytes
    expect(frames.some(f => f.fragments === 1)).toBe(true); // sealed at DR3's 242
    const counters = frames.map(f => f.counter);
    expect(new Set(counters).size).toBe(counters.length);
    for (const u of net.ups.filter(x => x.fPort === 1)) expect(u.payload.length).toBeLessThanOrEqual(US_N[u.dr]! - (u.tx.phy[5]! & 15));
  });

  it(`rejoins after N = ${N} uplinks without a downlink, asking LinkCheckReq from N/2 on, with a fresh DevNonce`, () => {
    const s1 = net.ups.filter(u => u.session === 1);
    const lastReply = Math.max(...net.replies.filter(r => r.session === 1).map(r => r.k));
    const silent = s1.filter(u => u.k > lastReply);
    expect(silent).toHaveLength(N);
    for (const u of silent) expect(upCids(u.mac).includes(0x02), `uplink ${u.k}`).toBe(u.k - lastReply > N / 2);
    expect(boot.lines.some(x => x.l === `sceau-lorawan session-lost silent=${N}`)).toBe(true);
    // the next transmission after the N-th silent uplink is the second join-request
    const cycles = cyclesOf(boot.events);
    const i = cycles.findIndex(c => c.tx === silent.at(-1)!.tx);
    expect(cycles[i + 1]!.tx).toBe(net.joins[1]!.tx);
    expect(net.joins[1]!.devNonce).toBeGreaterThan(net.joins[0]!.devNonce);
  });

  it('rejoins after a genuine downlink beyond MAX_FCNT_GAP (the session\'s first, counted from NFCntDown 0), refused, with a fresh DevNonce', () => {
    const gap = net.replies.find(r => r.jump)!;
    expect(gap.session).toBe(2);
    expect(gap.downFCnt).toBeGreaterThan(16384);
    const up = net.ups.find(u => u.session === 2 && u.k === gap.k)!;
    const cycles = cyclesOf(boot.events);
    const i = cycles.findIndex(c => c.tx === up.tx);
    // heard in RX1 (a valid MIC) but refused: the MAC listened in RX2 as well, then joined again
    expect(cycles[i]!.rx.map(r => r.got)).toEqual([true, false]);
    expect(boot.lines.some(x => x.l === 'sceau-lorawan session-lost fcnt-gap')).toBe(true);
    expect(cycles[i + 1]!.tx).toBe(net.joins[2]!.tx);
    expect(net.joins[2]!.devNonce).toBeGreaterThan(net.joins[1]!.devNonce);
  });

  it('never signs between a transmission and the close of its last receive window', () => {
    const seals = boot.events.filter(e => e.kind === 'seal');
    expect(seals.length).toBeGreaterThanOrEqual(5);
    const cycles = cyclesOf(boot.events);
    for (const c of cycles) expect(c.sealsInside, `cycle at ${c.tx.t} ms`).toEqual([]);
    // and by the clock: no seal line inside [TX end, window close]
    for (const c of cycles) {
      const end = c.rx.at(-1)!.t;
      for (const s of seals) expect(s.t > c.tx.t && s.t < end, `seal at ${s.t} in [${c.tx.t}, ${end}]`).toBe(false);
    }
  });
});

describe('EU868 with RX2 at SF9 (LORAWAN_RX2_DR = 3): no credentials, then the board\'s own DevEUI through sceau provision', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sceau-lorawan-eui-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const EU_FREQS = [868.1e6, 868.3e6, 868.5e6];
  const euDr = (sf: number) => 12 - sf; // DR0..5 = SF12..7 at 125 kHz
  const net = new Network(boardEui, {
    drOf: tx => (tx.bw === 125e3 ? euDr(tx.sf) : -1),
    channelOf: tx => EU_FREQS.indexOf(tx.freq),
    rx1: (ch, dr, offset) => ({ freq: EU_FREQS[ch]!, sf: 12 - Math.max(0, dr - offset), bw: 125e3, hex: '' }),
    rx2: () => ({ freq: 869.525e6, sf: 9, bw: 125e3, hex: '' }),
    // RX1DROffset 0, RX2 DR3 (SF9), as The Things Network's EU868 plan; no CFList
    dlSettings: 0x03,
    cfList: null,
    joinWindow: () => 2,
    reply: () => null,
  });
  const keyring = new MemoryKeyring();
  let silent: AirBoot;
  let joined: AirBoot;
  let fromLog: ReturnType<typeof sceau>;
  let mismatch: ReturnType<typeof sceau>;
  let settingsRun: ReturnType<typeof sceau>;
  let envText: string;

  beforeAll(async () => {
    const CONFIG = { LINK: 'lorawan-fake', VM_SENSORS: 'jacdac', SAMPLE_INTERVAL_MS: 60000, LORAWAN_JOIN_DR: 5, LORAWAN_RX2_DR: 3 };
    const { binary } = buildEntry('src/main.ts', { 'src/config.ts': configSource(CONFIG) });
    const flash: { data?: Uint8Array } = {};
    // first boot: no LoRaWAN credentials at all, three sampling rounds
    silent = await runAirBoot(binary, { deviceId, flash, t0: 0, maxMs: 180_000, settings: {}, onTx: tx => net.onTx(tx), until: () => false });
    // the console saved as a log, registered from it; credentials without a DevEUI written beside
    const log = join(dir, 'console.log');
    writeFileSync(log, silent.lines.map(x => `[${x.t}] ${x.l}`).join('\n') + '\n');
    const db = join(dir, 'registry.db');
    fromLog = sceau(['provision', '--db', db, '--log', log, '--name', 'field-7', '--json']);
    mismatch = sceau(['provision', '--db', join(dir, 'other.db'), '--log', log, '--dev-eui', '0004a30b001c0530', '--json']);
    const creds = join(dir, 'otaa.json');
    writeFileSync(creds, JSON.stringify({ joinEui, appKey }), { mode: 0o600 });
    const env = join(dir, 'board.env');
    settingsRun = sceau(['provision', '--settings', env, '--lorawan', creds, '--json']);
    envText = readFileSync(env, 'utf8');
    // the settings file deployed (the DeviceScript CLI JSON-parses each value), then a second boot
    const settings: Record<string, string> = {};
    for (const line of envText.split('\n').filter(l => l.includes('='))) settings[line.slice(0, line.indexOf('='))] = JSON.parse(line.slice(line.indexOf('=') + 1));
    joined = await runAirBoot(binary, { deviceId, flash, t0: silent.end + 1000, maxMs: 1_800_000, settings, onTx: tx => net.onTx(tx), until: () => net.ups.filter(u => u.fPort === 1).length >= 4 });
    keyring.add(fromHex(publicKeyOf(joined)));
  }, 900_000);

  it('without credentials says so once, stays off the air, and announces the DevEUI it would join with', () => {
    expect(silent.lines.filter(x => x.l.startsWith('sceau-lorawan no credentials'))).toHaveLength(1);
    expect(silent.lines.some(x => x.l.startsWith('sceau-radio'))).toBe(false);
    expect(silent.events.filter(e => e.kind === 'tx')).toEqual([]);
    expect(keyLineOf(silent)).toMatch(new RegExp(`^sceau-key v1 kid=[0-9a-f]{16} pub=[0-9a-f]{64} deveui=${boardEui}( new)?$`));
  });

  it('sceau provision --log registers the DevEUI from the key line, refuses a different --dev-eui, and writes credentials without one', () => {
    expect(fromLog.status, fromLog.stderr).toBe(0);
    expect(JSON.parse(fromLog.stdout)).toMatchObject({ name: 'field-7', devEui: boardEui, alreadyRegistered: false });
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr).toContain('dev-eui-mismatch');
    expect(settingsRun.status, settingsRun.stderr).toBe(0);
    expect(JSON.parse(settingsRun.stdout)).toMatchObject({ mode: 'otaa', devEui: null, written: ['sceau_otaa'] });
    expect(envText).toBe(`sceau_otaa=":${joinEui}:${appKey}"\n`);
  });

  it('joins with the board\'s DevEUI, the join-accept heard in RX2 at SF9, and its frames verify', () => {
    expect(keyLineOf(joined)).toContain(`deveui=${boardEui}`);
    expect(net.joins).toHaveLength(1);
    const cycles = cyclesOf(joined.events);
    const join = cycles.find(c => c.tx === net.joins[0]!.tx)!;
    // RX1 on the uplink channel at DR5 (SF7): nothing; RX2 at 869.525 MHz SF9 (not RP002's SF12): the join-accept
    expect(join.rx.map(r => ({ freq: r.freq, sf: r.sf, got: r.got }))).toEqual([
      { freq: join.tx.freq, sf: 7, got: false },
      { freq: 869.525e6, sf: 9, got: true },
    ]);
    expect(joined.lines.some(x => x.l.startsWith('sceau-lorawan joined'))).toBe(true);
    for (const c of cycles.filter(x => x.tx.phy[0] !== 0x00)) expect(c.rx.at(-1)!.sf).toBe(9);
    expect(framesOf(net.ups, boardEui, keyring).length).toBeGreaterThanOrEqual(1);
  });
});

describe('cyclesOf (the timeline the sealing check reads)', () => {
  const tx = (t: number) => ({ kind: 'tx' as const, t, phy: Buffer.alloc(1), freq: 0, sf: 7, bw: 125e3, sync: 0x34, pa: 0 });
  const rx = (t: number, got: boolean) => ({ kind: 'rx' as const, t, opened: t, freq: 0, sf: 7, bw: 125e3, inverted: true, got });
  const seal = (t: number) => ({ kind: 'seal' as const, t });

  it('counts a signature printed between a transmission and its last window as inside, and one after it as outside', () => {
    const c = cyclesOf([seal(0), tx(10), rx(1000, false), seal(1500), rx(2000, false), seal(2100), tx(3000), rx(4000, true), seal(4100), tx(5000)]);
    expect(c).toHaveLength(2); // the last transmission had no window before the end of the run
    expect(c[0]!.sealsInside.map(s => s.t)).toEqual([1500]);
    expect(c[1]!.sealsInside).toEqual([]);
    // a downlink refused in RX1 (still "got") and RX2 after it: a signature between them is inside
    expect(cyclesOf([tx(0), rx(1000, true), seal(1200), rx(2000, false)])[0]!.sealsInside.map(s => s.t)).toEqual([1200]);
  });
});
