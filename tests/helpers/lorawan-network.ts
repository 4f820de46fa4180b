// A LoRaWAN network-server model for whole-firmware runs in the DeviceScript VM
// (tests/firmware-lorawan-link.test.ts, tests/firmware-lorawan-abp.test.ts), written from
// LoRaWAN L2 1.0.4 with the frame coding of ./lorawan-reference.ts: no firmware code. It checks
// every join-request and uplink MIC, answers in RX2 (869.525 MHz: SF12 for join-accepts and ABP,
// SF9 after the join-accept's RX2DR 3), and keeps every uplink it heard. `runBoot` runs the
// firmware (src/main.ts, LINK = "lorawan-fake") for one power-on on the virtual clock of
// firmware/scripts/sim-device.mjs, with a power cut at a chosen flash write.
import { MemoryKeyring, Reassembler, verifyFrame } from '@sceau/protocol';
import { expect } from 'vitest';
import { SimFirmwareDevice } from '../../firmware/scripts/sim-device.mjs';
import * as ref from './lorawan-reference.js';

export const appKey = '8d7ffe2a1c9b4e3f5a6b7c8d9e0f1a2b';
export const joinEui = '70b3d57ed0000001';
export const devEui = '0004a30b001c0530';
export const netId = '000013';
/** GPS seconds at virtual time 0 (2024-05-18), what the model's DeviceTimeAns counts from */
export const GPS0 = 1_400_000_000;
export const RX2 = 869_525_000;
const hex6 = (n: number) => n.toString(16).padStart(6, '0');
export const hex4 = (n: number) => n.toString(16).padStart(4, '0');

export interface Up { t: number; boot: number; session: number; fCnt: number; fPort: number; fOpts: string; payload: Buffer; adrAckReq: boolean; phyLen: number }
export interface Air { freq: number; sf: number; bw: number; hex: string }
/** A downlink the model sent: its 32-bit FCnt, when, and what went on air (to replay it later). */
export interface Down { t: number; fCnt: number; air: Air }

/** The network-server model: one device, OTAA or ABP. */
export class Network {
  devNonces: number[] = [];
  joinTimes: number[] = [];
  joinNonce = 0x100;
  session: { devAddr: string; nwkSKey: string; appSKey: string; lastUp: number; down: number; rx2Sf: number } | null = null;
  sessions = 0;
  ups: Up[] = [];
  downs: Down[] = [];
  boot = 0;
  /** downlinks to send after the Nth uplink of session 1 (FPort, payload hex) */
  script = new Map<number, { fPort: number; payload: string }>();
  /** when set, decides the downlink after each uplink instead of `script` */
  plan: ((up: Up) => { fPort: number; payload: string } | null) | null = null;
  /** a downlink sent before, put on air again after the next uplink (a replay), then cleared */
  replayNext: Air | null = null;
  deviceTime: { t: number; gps: number } | null = null;

  constructor(readonly abp: { devAddr: string; nwkSKey: string; appSKey: string } | null) {
    if (abp) this.session = { ...abp, lastUp: -1, down: 0, rx2Sf: 12 };
  }

  onUplink(hex: string, t: number): Air | null {
    const phy = Buffer.from(hex, 'hex');
    if (phy[0] === 0x00) return this.onJoinRequest(hex, phy, t);
    expect(phy[0], 'unconfirmed data up').toBe(0x40);
    const s = this.session!;
    const devAddr = Buffer.from(phy.subarray(1, 5)).reverse().toString('hex');
    expect(devAddr).toBe(s.devAddr);
    const fCtrl = phy[5]!;
    const f16 = phy.readUInt16LE(6);
    // the 32-bit counter: the smallest above the last one with these low bits
    let fCnt = s.lastUp < 0 ? f16 : Math.floor(s.lastUp / 65536) * 65536 + f16;
    if (s.lastUp >= 0 && fCnt <= s.lastUp) fCnt += 65536;
    const msg = phy.subarray(0, phy.length - 4);
    expect(ref.dataMic(s.nwkSKey, 0, s.devAddr, fCnt, msg).toString('hex'), `MIC of uplink ${hex}`).toBe(phy.subarray(phy.length - 4).toString('hex'));
    s.lastUp = fCnt;
    const nOpts = fCtrl & 15;
    const fOpts = phy.subarray(8, 8 + nOpts).toString('hex');
    const fPort = msg.length > 8 + nOpts ? msg[8 + nOpts]! : -1;
    const enc = msg.subarray(9 + nOpts);
    const payload = fPort < 0 ? Buffer.alloc(0) : ref.frmPayload(fPort === 0 ? s.nwkSKey : s.appSKey, 0, s.devAddr, fCnt, enc);
    const up: Up = { t, boot: this.boot, session: this.sessions, fCnt, fPort, fOpts: fPort === 0 ? payload.toString('hex') : fOpts, payload, adrAckReq: (fCtrl & 0x40) !== 0, phyLen: phy.length };
    this.ups.push(up);
    if (this.replayNext) {
      const air = this.replayNext;
      this.replayNext = null;
      return air;
    }
    const k = this.ups.filter(u => u.session === this.sessions).length;
    const plan = this.plan ? this.plan(up) : this.sessions === 1 ? this.script.get(k) : undefined;
    const body = plan ? { ...plan } : null;
    if (up.fOpts.includes('0d') && /^(..)*0d/.test(up.fOpts) && body && body.fPort === 0) {
      // DeviceTimeAns: the GPS time at the end of this uplink (the model's clock is the virtual one)
      const secs = GPS0 + Math.floor(t / 1000);
      const frac = Math.floor(((t % 1000) * 256) / 1000);
      const b = Buffer.alloc(6);
      b[0] = 0x0d;
      b.writeUInt32LE(secs, 1);
      b[5] = frac;
      body.payload = b.toString('hex') + body.payload;
      this.deviceTime = { t, gps: secs + frac / 256 };
    }
    if (!body) return null;
    const fCntDown = s.down++;
    const down = ref.encodeData(1, { nwkSKey: s.nwkSKey, appSKey: s.appSKey, devAddr: s.devAddr, fCnt: fCntDown, fPort: body.fPort, payload: body.payload, confirmed: false });
    const air = { freq: RX2, sf: s.rx2Sf, bw: 125_000, hex: down };
    this.downs.push({ t, fCnt: fCntDown, air });
    return air;
  }

  onJoinRequest(hex: string, phy: Buffer, t: number): Air {
    const devNonce = phy.readUInt16LE(17);
    expect(hex, 'join-request MIC').toBe(ref.joinRequest(appKey, joinEui, devEui, hex4(devNonce)));
    this.devNonces.push(devNonce);
    this.joinTimes.push(t);
    const jn = hex6(++this.joinNonce);
    const devAddr = `260b${hex4(this.joinNonce)}`;
    const keys = ref.sessionKeys(appKey, jn, netId, hex4(devNonce));
    this.session = { devAddr, ...keys, lastUp: -1, down: 0, rx2Sf: 9 };
    this.sessions++;
    // RX1DROffset 0, RX2 DR3 (SF9); RxDelay 1 s; no CFList (the 3 default channels)
    const accept = ref.encodeJoinAccept(appKey, { joinNonce: jn, netId, devAddr, dlSettings: 0x03, rxDelay: 1, cfList: null });
    return { freq: RX2, sf: 12, bw: 125_000, hex: accept };
  }
}

export interface FlashIo { store?: Uint8Array }

/**
 * Where a boot's power goes: at the Nth flash write (counted from power-on, or from the first write
 * at which `after()` holds; with `key`, only the writes that store that setting once the firmware
 * printed its key line: the deploy at power-on rewrites the program, whose strings name settings
 * too), which lands (`keep`) or not.
 */
export interface Cut { n: number; keep: boolean; after?: () => boolean; key?: string }

function occurrences(image: Uint8Array | undefined, key: Buffer): number {
  if (!image) return 0;
  const b = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  let n = 0;
  for (let i = b.indexOf(key); i >= 0; i = b.indexOf(key, i + 1)) n++;
  return n;
}

/**
 * Whether flash image `next` stores setting `key` anew over `prev`: the runtime's settings live in
 * a log in flash, each write appending an entry that names its key.
 */
export function storesSetting(prev: Uint8Array | undefined, next: Uint8Array, key: string): boolean {
  const k = Buffer.from(key, 'latin1');
  return occurrences(next, k) > occurrences(prev, k);
}

/** One boot; `cut`: the power cut, or null; `until`: stop when it returns true. */
export async function runBoot(binary: Uint8Array, net: Network, flash: FlashIo, t0: number, cut: Cut | null, until: () => boolean, settings: Record<string, string>, watch?: (l: string) => void) {
  let writes = 0;
  let counted = 0;
  let dead = false;
  let cutAt = -1;
  let keyLine = false;
  const writeTimes: number[] = [];
  let dev: any = null;
  const io = {
    get data() { return flash.store ?? new Uint8Array(0); },
    set data(v: Uint8Array) {
      if (dead) return;
      writes++;
      const now = dev ? dev.now : t0;
      writeTimes.push(now);
      if (process.env.LW_DEBUG) {
        const txt = Buffer.from(v).toString('latin1');
        const all = [...txt.matchAll(/sceau_[a-z]+.{0,120}/g)].map(m => m[0].replace(/[^ -~]+/g, '.'));
        console.log(now, `flash write ${writes} (${v.length} bytes): ${all.join(' | ')}`);
      }
      if (cut && (counted > 0 || !cut.after || cut.after()) && (!cut.key || (keyLine && storesSetting(flash.store, v, cut.key)))) counted++;
      if (cut && counted === cut.n) {
        if (cut.keep) flash.store = v;
        dead = true;
        cutAt = now;
        return;
      }
      flash.store = v;
    },
  };
  dev = await SimFirmwareDevice.start(binary, { deviceId: '5ce0a0000000000a', read: (kind: string) => (kind === 'temperature' ? 2150 : 4800), random: (n: number) => new Uint8Array(n).fill(7), flash: io, t0 });
  const lines: { t: number; l: string }[] = [];
  let airSeq = t0 + 1; // above any sequence of an earlier boot (the radio keeps its last in RAM only)
  const pendingAir: string[] = [];
  let radio = '';
  dev.onLine = (l: string, t: number) => {
    if (dead) return;
    if (process.env.LW_DEBUG) console.log(t, l.slice(0, 120));
    lines.push({ t, l });
    if (l.startsWith('sceau-key ')) keyLine = true;
    watch?.(l);
    // a packet longer than 100 bytes comes as "sceau-radio+ <chunk>" lines, then the last chunk
    const m = /^sceau-radio(\+?) ([0-9a-f]*)$/.exec(l);
    if (!m) return;
    radio += m[2];
    if (m[1] === '+') return;
    const air = net.onUplink(radio, t);
    radio = '';
    if (air) pendingAir.push(`${airSeq++}:${air.freq}:${air.sf}:${air.bw}:${air.hex}`);
  };
  for (const [k, v] of Object.entries(settings)) await dev.setSetting(k, v);
  let t = t0;
  // at most 30 virtual minutes per boot (a boot that never reaches its end fails the assertions)
  while (!dead && !until() && t < t0 + 1_800_000) {
    t = dev.step(t);
    while (pendingAir.length > 0) await dev.setSetting('sceau_air', pendingAir.shift());
  }
  dev.stop();
  return { lines, cut: dead, cutAt, end: t, writes, writeTimes, t0 };
}

export type Boot = Awaited<ReturnType<typeof runBoot>>;

/** A boot that ends when a console line satisfies `pred` (or after 30 virtual minutes). */
export async function runBootUntil(binary: Uint8Array, net: Network, flash: FlashIo, t0: number, pred: (l: string) => boolean, settings: Record<string, string>) {
  let hit = false;
  return runBoot(binary, net, flash, t0, null, () => hit, settings, l => {
    if (pred(l)) hit = true;
  });
}

export const datagramsOf = (ups: Up[]) => ups.filter(u => u.fPort === 1).map(u => ({ t: u.t, d: new Uint8Array(u.payload) }));

/** The sealed frames of the FPort 1 uplinks, reassembled and verified with @sceau/protocol (each must verify). */
export function framesOf(ups: Up[], keyring: MemoryKeyring) {
  const r = new Reassembler();
  const out: any[] = [];
  for (const { t, d } of datagramsOf(ups)) {
    const p = r.push(d, t, devEui);
    if (p.kind !== 'frame') continue;
    const v = verifyFrame(p.frame, keyring);
    expect(v.ok, JSON.stringify(v)).toBe(true);
    out.push({ t, ...v, fragments: p.fragments });
  }
  return out;
}

export const publicKeyOf = (lines: { l: string }[]): string => /pub=([0-9a-f]{64})/.exec(lines.find(x => x.l.startsWith('sceau-key '))!.l)![1]!;
