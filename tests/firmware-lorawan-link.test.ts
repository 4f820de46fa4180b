// The whole firmware (src/main.ts, LINK = "lorawan-fake") in the DeviceScript VM on a virtual
// clock (firmware/scripts/sim-device.mjs), its fake SX1276 talking to a network-server model
// written here from LoRaWAN L2 1.0.4 (frames through tests/helpers/lorawan-reference.ts; no firmware
// code). The model checks every join-request and uplink MIC, answers in RX2 (869.525 MHz, SF12 for
// join-accepts, SF9 after the join-accept's RX2DR 3), reassembles the FPort 1 datagrams with
// @sceau/protocol's Reassembler and verifies the sealed frames. Downlinks: DeviceTimeAns,
// LinkADRReq and RXParamSetupReq (FPort 0), then a control downlink (FPort 2). Then power cuts at
// the Nth flash write after boot (before or after it lands): no DevNonce and no FCnt is ever used
// twice, and a reboot waits the join back-off it owes. Last, the device is re-created on the
// server (JoinNonce from 1 again): refused until the `sceau_lwreset` token, which applies once.
import { MemoryKeyring, Reassembler, fromHex, loraAirtimeMs, verifyFrame } from '@sceau/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { SimFirmwareDevice } from '../firmware/scripts/sim-device.mjs';
import * as ref from './helpers/lorawan-reference';

const appKey = '8d7ffe2a1c9b4e3f5a6b7c8d9e0f1a2b';
const joinEui = '70b3d57ed0000001';
const devEui = '0004a30b001c0530';
const netId = '000013';
/** GPS seconds at virtual time 0 (2024-05-18), what the model's DeviceTimeAns counts from */
const GPS0 = 1_400_000_000;
const unixAt = (tMs: number) => GPS0 + 315964800 - 18 + tMs / 1000;
const RX2 = 869_525_000;
const hex6 = (n: number) => n.toString(16).padStart(6, '0');
const hex4 = (n: number) => n.toString(16).padStart(4, '0');
const le24 = (v: number) => [v & 255, (v >> 8) & 255, (v >> 16) & 255];

interface Up { t: number; boot: number; session: number; fCnt: number; fPort: number; fOpts: string; payload: Buffer; adrAckReq: boolean }
interface Air { freq: number; sf: number; bw: number; hex: string }

/** The network-server model: one device, OTAA or ABP. */
class Network {
  devNonces: number[] = [];
  joinTimes: number[] = [];
  joinNonce = 0x100;
  session: { devAddr: string; nwkSKey: string; appSKey: string; lastUp: number; down: number; rx2Sf: number } | null = null;
  sessions = 0;
  ups: Up[] = [];
  boot = 0;
  /** downlinks to send after the Nth uplink of session 1 (FPort, payload hex) */
  script = new Map<number, { fPort: number; payload: string }>();
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
    const fCtrl = phy[5];
    const f16 = phy.readUInt16LE(6);
    // the 32-bit counter: the smallest above the last one with these low bits
    let fCnt = s.lastUp < 0 ? f16 : Math.floor(s.lastUp / 65536) * 65536 + f16;
    if (s.lastUp >= 0 && fCnt <= s.lastUp) fCnt += 65536;
    const msg = phy.subarray(0, phy.length - 4);
    expect(ref.dataMic(s.nwkSKey, 0, s.devAddr, fCnt, msg).toString('hex'), `MIC of uplink ${hex}`).toBe(phy.subarray(phy.length - 4).toString('hex'));
    s.lastUp = fCnt;
    const nOpts = fCtrl & 15;
    const fOpts = phy.subarray(8, 8 + nOpts).toString('hex');
    const fPort = msg.length > 8 + nOpts ? msg[8 + nOpts] : -1;
    const enc = msg.subarray(9 + nOpts);
    const payload = fPort < 0 ? Buffer.alloc(0) : ref.frmPayload(fPort === 0 ? s.nwkSKey : s.appSKey, 0, s.devAddr, fCnt, enc);
    const up: Up = { t, boot: this.boot, session: this.sessions, fCnt, fPort, fOpts: fPort === 0 ? payload.toString('hex') : fOpts, payload, adrAckReq: (fCtrl & 0x40) !== 0 };
    this.ups.push(up);
    const k = this.ups.filter(u => u.session === this.sessions).length;
    const plan = this.sessions === 1 ? this.script.get(k) : undefined;
    let body = plan ? { ...plan } : null;
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
    const down = ref.encodeData(1, { nwkSKey: s.nwkSKey, appSKey: s.appSKey, devAddr: s.devAddr, fCnt: s.down++, fPort: body.fPort, payload: body.payload, confirmed: false });
    return { freq: RX2, sf: s.rx2Sf, bw: 125_000, hex: down };
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

interface FlashIo { store?: Uint8Array }

/** One boot; `cut`: stop at the Nth flash write after power-on (landing or not); `until`: stop when it returns true. */
async function runBoot(binary: Uint8Array, net: Network, flash: FlashIo, t0: number, cut: { n: number; keep: boolean } | null, until: () => boolean, settings: Record<string, string>, watch?: (l: string) => void) {
  let writes = 0;
  let dead = false;
  const io = {
    get data() { return flash.store ?? new Uint8Array(0); },
    set data(v: Uint8Array) {
      if (dead) return;
      writes++;
      if (cut && writes === cut.n) {
        if (cut.keep) flash.store = v;
        dead = true;
        return;
      }
      flash.store = v;
    },
  };
  const dev: any = await SimFirmwareDevice.start(binary, { deviceId: '5ce0a0000000000a', read: (kind: string) => (kind === 'temperature' ? 2150 : 4800), random: (n: number) => new Uint8Array(n).fill(7), flash: io, t0 });
  const lines: { t: number; l: string }[] = [];
  let airSeq = t0 + 1; // above any sequence of an earlier boot (the radio keeps its last in RAM only)
  const pendingAir: string[] = [];
  let radio = '';
  dev.onLine = (l: string, t: number) => {
    if (dead) return;
    if (process.env.LW_DEBUG) console.log(t, l.slice(0, 120));
    lines.push({ t, l });
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
  return { lines, cut: dead, end: t, writes };
}

/** A boot that ends when a console line satisfies `pred` (or after 30 virtual minutes). */
async function runBootUntil(binary: Uint8Array, net: Network, flash: FlashIo, t0: number, pred: (l: string) => boolean, settings: Record<string, string>) {
  let hit = false;
  return runBoot(binary, net, flash, t0, null, () => hit, settings, l => {
    if (pred(l)) hit = true;
  });
}

const datagramsOf = (ups: Up[]) => ups.filter(u => u.fPort === 1).map(u => ({ t: u.t, d: new Uint8Array(u.payload) }));

function framesOf(ups: Up[], keyring: MemoryKeyring) {
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

const CONFIG = { LINK: 'lorawan-fake', VM_SENSORS: 'jacdac', SAMPLE_INTERVAL_MS: 60000, COUNTER_BLOCK: 4, LORAWAN_FCNT_BLOCK: 4, LORAWAN_JOIN_DR: 5, LORAWAN_ABP_DR: 0 };
let binary: Uint8Array;
beforeAll(() => {
  binary = buildEntry('src/main.ts', { 'src/config.ts': configSource(CONFIG) }).binary;
}, 120_000);

const publicKeyOf = (lines: { l: string }[]) => /pub=([0-9a-f]{64})/.exec(lines.find(x => x.l.startsWith('sceau-key '))!.l)![1];

describe('the whole firmware over LoRaWAN (OTAA) against a network model, in the VM', () => {
  const net = new Network(null);
  // after uplink 1 of the first session: DeviceTimeAns (added to the answer by the model), LinkADRReq
  // (DR5, TXPower 3, channels 0-2, NbTrans 1) and RXParamSetupReq (RX1DROffset 0, RX2 DR3 at 869.525 MHz)
  net.script.set(1, { fPort: 0, payload: `03530700 01`.replace(/ /g, '') + '05' + '03' + Buffer.from(le24(RX2 / 100)).toString('hex') });
  // after uplink 3: the control downlink, sampling every 120 s
  net.script.set(3, { fPort: 2, payload: '0100000078' });
  const flash: FlashIo = {};
  const keyring = new MemoryKeyring();
  let first: Awaited<ReturnType<typeof runBoot>>;
  const cuts: Awaited<ReturnType<typeof runBoot>>[] = [];
  let last: Awaited<ReturnType<typeof runBoot>>;
  const otaa = { sceau_otaa: `${devEui}:${joinEui}:${appKey}` };

  beforeAll(async () => {
    first = await runBoot(binary, net, flash, 0, null, () => net.ups.filter(u => u.fPort === 1).length >= 7, otaa);
    keyring.add(fromHex(publicKeyOf(first.lines)));
    let t = first.end + 1000;
    // power cuts at the 2nd, 3rd (landing) and 4th flash write after power-on: in the boot's own
    // counter reservation, the join's DevNonce write, and the join-accept's JoinNonce write
    for (const cut of [{ n: 2, keep: false }, { n: 3, keep: true }, { n: 4, keep: false }, { n: 5, keep: true }]) {
      net.boot++;
      const b = await runBoot(binary, net, flash, t, cut, () => false, {});
      cuts.push(b);
      t = b.end + 1000;
    }
    net.boot++;
    const bootsBefore = net.ups.length;
    last = await runBoot(binary, net, flash, t, null, () => net.ups.length >= bootsBefore + 3, {});
    joinsBeforeRecreate = net.joinTimes.length;
    // the device is deleted and re-created on the network server: its JoinNonce starts again
    net.joinNonce = 0;
    net.boot++;
    stale = await runBootUntil(binary, net, flash, last.end + 1000, l => l.startsWith('sceau-lorawan join-failed join-nonce'), {});
    net.boot++;
    reset = await runBootUntil(binary, net, flash, stale.end + 1000, l => l.startsWith('sceau-lorawan joined'), { sceau_lwreset: 'a1b2c3d4e5f60718' });
    net.boot++;
    again = await runBootUntil(binary, net, flash, reset.end + 1000, l => l.startsWith('sceau-lorawan joined'), { sceau_lwreset: 'a1b2c3d4e5f60718' });
  }, 600_000);

  let joinsBeforeRecreate = 0;
  let stale: Awaited<ReturnType<typeof runBoot>>;
  let reset: Awaited<ReturnType<typeof runBoot>>;
  let again: Awaited<ReturnType<typeof runBoot>>;

  it('after the device is re-created on the server, join-accepts are refused until --reset-lorawan\'s token, applied once', () => {
    expect(stale.lines.some(x => x.l.startsWith('sceau-lorawan join-failed join-nonce'))).toBe(true);
    expect(reset.lines.some(x => x.l.startsWith('sceau-lorawan reset token=a1b2c3d4e5f60718'))).toBe(true);
    expect(reset.lines.some(x => x.l.startsWith('sceau-lorawan joined'))).toBe(true);
    // the same settings deployed again: no second reset, and the next JoinNonce is still above the stored one
    expect(again.lines.some(x => x.l.startsWith('sceau-lorawan reset'))).toBe(false);
    expect(again.lines.some(x => x.l.startsWith('sceau-lorawan joined'))).toBe(true);
    expect(new Set(net.devNonces).size).toBe(net.devNonces.length);
  });

  it('prints the key line with the DevEUI, joins once with DevNonce 0, and says so', () => {
    expect(first.lines.find(x => x.l.startsWith('sceau-key '))!.l).toMatch(new RegExp(`^sceau-key v1 kid=[0-9a-f]{16} pub=[0-9a-f]{64} deveui=${devEui}( new)?$`));
    expect(net.devNonces[0]).toBe(0);
    expect(first.lines.filter(x => x.l.startsWith('sceau-lorawan joined'))).toHaveLength(1);
  });

  it('sends sealed frames on FPort 1 that verify after reassembly (the first, sealed before the join at DR0 size, in fragments)', () => {
    const frames = framesOf(net.ups.filter(u => u.boot === 0), keyring);
    expect(frames.length).toBeGreaterThanOrEqual(5);
    expect(frames[0].fragments).toBeGreaterThan(1);
    expect(frames.at(-1).fragments).toBe(1);
    const fcnts = net.ups.filter(u => u.boot === 0).map(u => u.fCnt);
    expect(fcnts).toEqual([...fcnts].sort((a, b) => a - b));
    expect(new Set(fcnts).size).toBe(fcnts.length);
  });

  it('answers LinkADRReq and RXParamSetupReq, repeats the sticky RXParamSetupAns until the next downlink, and learns the time', () => {
    const ups = net.ups.filter(u => u.boot === 0);
    expect(ups[0].fOpts).toMatch(/^0d/); // DeviceTimeReq on the first uplink
    // uplink 2: LinkADRAns (power, DR, channel mask all OK) and RXParamSetupAns (all OK)
    expect(ups[1].fOpts).toContain('0307');
    expect(ups[1].fOpts).toContain('0507');
    expect(ups[2].fOpts).toBe('0507'); // sticky: repeated, LinkADRAns is not
    expect(ups[3].fOpts).not.toContain('05'); // the control downlink (a class A downlink) ended it
    // records carry time once DeviceTimeAns came: within 2 s of the model's clock at sealing
    const frames = framesOf(ups, keyring);
    expect(frames[0].time).toBeNull();
    const timed = frames.filter(f => f.time !== null);
    expect(timed.length).toBeGreaterThanOrEqual(3);
    for (const f of timed) expect(Math.abs(f.time - unixAt(f.t))).toBeLessThanOrEqual(2);
  });

  it('applies the control downlink on FPort 2: the sampling interval becomes 120 s', () => {
    expect(first.lines.some(x => x.l === 'sceau-control interval=120')).toBe(true);
    const ts = datagramsOf(net.ups.filter(u => u.boot === 0)).map(x => x.t);
    const gaps = ts.slice(1).map((t, i) => t - ts[i]);
    expect(gaps.at(-1)).toBeGreaterThanOrEqual(119_000);
    expect(gaps.at(-1)).toBeLessThanOrEqual(125_000);
  });

  it('power cuts happened where planned, and no DevNonce and no FCnt of a session was used twice', () => {
    for (const c of cuts) expect(c.cut).toBe(true);
    expect(new Set(net.devNonces).size).toBe(net.devNonces.length);
    expect(net.devNonces).toEqual([...net.devNonces].sort((a, b) => a - b));
    for (let s = 1; s <= net.sessions; s++) {
      const f = net.ups.filter(u => u.session === s).map(u => u.fCnt);
      expect(new Set(f).size).toBe(f.length);
    }
    // the sceau counters too: every frame verifies and no counter repeats
    const frames = framesOf(net.ups, keyring);
    const counters = frames.map(f => f.counter);
    expect(new Set(counters).size).toBe(counters.length);
    expect(last.lines.some(x => x.l.startsWith('sceau-lorawan joined'))).toBe(true);
  });

  it('a reboot waits the join back-off owed by its last join-request before sending another', () => {
    // DR5 join-request: 23 bytes at SF7/125 kHz; 1 % in the first hour: 99 times its airtime of silence
    const air = loraAirtimeMs({ spreadingFactor: 7, bandwidthHz: 125000, preambleSymbols: 8, lowDataRateOptimize: false, explicitHeader: true, crc: true, codingRate: 1 } as any, 23);
    const off = Math.ceil(air) * 99;
    // the last boot follows a cut boot whose DevNonce write (with that request's back-off) landed:
    // the model saw no request with that DevNonce, and the next one waits the whole silence
    const lastStart = cuts[cuts.length - 1].end + 1000;
    const n = joinsBeforeRecreate;
    const lastJoin = net.joinTimes[n - 1];
    expect(n).toBeGreaterThanOrEqual(2);
    expect(net.devNonces[n - 1] - net.devNonces[n - 2]).toBeGreaterThan(1); // a DevNonce stored, then the power went
    expect(lastJoin).toBeGreaterThan(lastStart);
    expect(lastJoin - lastStart).toBeGreaterThanOrEqual(off);
    expect(off).toBeGreaterThan(5000);
  });
});
