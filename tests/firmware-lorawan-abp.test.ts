// The whole firmware (src/main.ts, LINK = "lorawan-fake") as an ABP device in the DeviceScript VM
// on a virtual clock, against the network-server model of tests/helpers/lorawan-network.ts
// (written from LoRaWAN L2 1.0.4, no firmware code): uplinks whose MIC the model checks, sealed
// frames verified with @sceau/protocol, a downlink with DevStatusReq and DutyCycleReq (an aggregated
// 1/256) answered and obeyed; then power cuts at
// chosen flash writes, each asserted to have happened: in the middle of the FCnt up reservation
// (the write does not land), just after it landed, and just after the write that stores an
// accepted downlink's FCnt. After them no FCnt up is used twice, the last downlink replayed after
// the reboot is refused (a fresh one is answered), and every uplink, across reboots too, keeps the
// EU868 1 % sub-band's time-off after the one before it; the aggregate's time-off of the last uplink
// before the first reboot is kept by the next boot.
//
// Time: the VM runs on the virtual clock of firmware/scripts/sim-device.mjs (docs/simulator.md,
// "Virtual time"): computation takes no virtual time and the runtime's tick is 10 ms, which is the
// tolerance of the time-off comparisons below.
import { MemoryKeyring, fromHex, loraAirtimeMs } from '@sceau/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { type Boot, type FlashIo, Network, type Up, devEui, framesOf, publicKeyOf, runBoot } from './helpers/lorawan-network.js';

const abp = { devAddr: '260b1a2c', nwkSKey: '1f2e3d4c5b6a79880716253443526170', appSKey: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' };
/** the keys of the device re-created on the network server with a new session */
const abp2 = { devAddr: '260b1a2d', nwkSKey: '5a4b3c2d1e0f11223344556677889900', appSKey: '99887766554433221100ffeeddccbbaa' };
/** the ABP data rate of this build: EU868 DR3, SF9 at 125 kHz (N = 115: one frame, one uplink) */
const ABP_DR = 3;
const FCNT_BLOCK = 4;
const CONFIG = { LINK: 'lorawan-fake', VM_SENSORS: 'jacdac', SAMPLE_INTERVAL_MS: 60000, COUNTER_BLOCK: 4, LORAWAN_FCNT_BLOCK: FCNT_BLOCK, LORAWAN_ABP_DR: ABP_DR };
/** the VM runtime's tick (ms): how late or early a timer of the virtual clock may fire */
const TICK_MS = 10;
const LORAWAN_SETTING = 'sceau_lorawan';
/** EU868 sub-band g1 (868.0-868.6 MHz, the three default channels): 1 % duty cycle */
const G1_DIVISOR = 100;
/** DutyCycleReq MaxDCycle 8: 1/256 over all channels */
const MAX_DCYCLE = 8;

const airtimeSf9 = (len: number) =>
  loraAirtimeMs({ spreadingFactor: 9, bandwidthHz: 125000, preambleSymbols: 8, lowDataRateOptimize: false, explicitHeader: true, crc: true, codingRate: 1 } as any, len);

/** The MAC commands (CIDs) of an uplink's FOpts or FPort 0 payload, parsed with the uplink lengths of 1.0.4 (table 4). */
function upCommands(hex: string): string[] {
  const len: Record<number, number> = { 0x02: 0, 0x03: 1, 0x04: 0, 0x05: 1, 0x06: 2, 0x07: 1, 0x08: 0, 0x09: 0, 0x0a: 1, 0x0d: 0 };
  const b = Buffer.from(hex, 'hex');
  const out: string[] = [];
  for (let i = 0; i < b.length; ) {
    const n = len[b[i]!];
    if (n === undefined) throw new Error(`uplink MAC command ${b[i]!.toString(16)} in ${hex}: not a command the device sends`);
    out.push(b.subarray(i, i + 1 + n).toString('hex'));
    i += 1 + n;
  }
  return out;
}
const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const devStatusAns = (u: Up) => upCommands(u.fOpts).filter(c => c.startsWith('06'));

let binary: Uint8Array;
beforeAll(() => {
  binary = buildEntry('src/main.ts', { 'src/config.ts': configSource(CONFIG) }).binary;
}, 180_000);

describe('the whole firmware over LoRaWAN (ABP) against a network model, through power cuts, in the VM', () => {
  const net = new Network(abp);
  const flash: FlashIo = {};
  const keyring = new MemoryKeyring();
  const settings = { sceau_abp: `${devEui}:${abp.devAddr}:${abp.nwkSKey}:${abp.appSKey}` };
  let first: Boot;
  let midReservation: Boot;
  let afterReservation: Boot;
  let afterDownlink: Boot;
  let last: Boot;
  const ups = (boot: number) => net.ups.filter(u => u.boot === boot);

  beforeAll(async () => {
    // boot 0: DevStatusReq and DutyCycleReq after the first uplink (with DeviceTimeAns: the first uplink asks)
    net.plan = up => (up.boot === 0 && ups(0).length === 1 ? { fPort: 0, payload: `06 04${hex2(MAX_DCYCLE)}`.replace(/ /g, '') } : null);
    first = await runBoot(binary, net, flash, 0, null, () => ups(0).filter(u => u.fPort === 1).length >= 4, settings);
    keyring.add(fromHex(publicKeyOf(first.lines)));
    // boot 1: power lost during the boot's first write of `sceau_lorawan`: the FCnt up reservation
    // before its first uplink, which does not land
    net.boot = 1;
    net.plan = null;
    midReservation = await runBoot(binary, net, flash, first.end + 1000, { n: 1, keep: false, key: LORAWAN_SETTING }, () => false, {});
    // boot 2: the same write lands, then the power goes
    net.boot = 2;
    afterReservation = await runBoot(binary, net, flash, midReservation.end + 1000, { n: 1, keep: true, key: LORAWAN_SETTING }, () => false, {});
    // boot 3: a DevStatusReq after the first uplink; the power goes once the next write of
    // `sceau_lorawan` (the accepted downlink's FCnt) landed
    net.boot = 3;
    net.plan = up => (up.boot === 3 && ups(3).length === 1 ? { fPort: 0, payload: '06' } : null);
    afterDownlink = await runBoot(binary, net, flash, afterReservation.end + 1000, { n: 1, keep: true, key: LORAWAN_SETTING, after: () => ups(3).length > 0 }, () => false, {});
    // boot 4: that downlink replayed after the first uplink, a fresh DevStatusReq after the second
    net.boot = 4;
    net.replayNext = net.downs[net.downs.length - 1]!.air;
    net.plan = up => (up.boot === 4 && ups(4).length === 2 ? { fPort: 0, payload: '06' } : null);
    last = await runBoot(binary, net, flash, afterDownlink.end + 1000, null, () => ups(4).length >= 4, {});
    // boot 5: new ABP keys deployed (the device re-created on the server): its downlinks count from 0
    net.boot = 5;
    net.session = { ...abp2, lastUp: -1, down: 0, rx2Sf: 12 };
    net.plan = up => (up.boot === 5 && ups(5).length === 1 ? { fPort: 0, payload: '06' } : null);
    await runBoot(binary, net, flash, last.end + 1000, null, () => ups(5).length >= 2, { sceau_abp: `${devEui}:${abp2.devAddr}:${abp2.nwkSKey}:${abp2.appSKey}` });
  }, 900_000);

  it('sends ABP uplinks whose MIC checks (the model) and whose sealed frames verify, and answers DevStatusReq', () => {
    expect(first.lines.find(x => x.l.startsWith('sceau-key '))!.l).toMatch(new RegExp(`deveui=${devEui}`));
    expect(first.lines.some(x => x.l.startsWith('sceau-lorawan joined'))).toBe(false);
    const u0 = ups(0);
    expect(u0.length).toBeGreaterThanOrEqual(4);
    expect(u0[0]!.fCnt).toBe(0);
    expect(upCommands(u0[0]!.fOpts)).toContain('0d'); // DeviceTimeReq
    // the answers to the downlink heard after uplink 1: DevStatusAns (battery, margin) and DutyCycleAns in uplink 2
    expect(devStatusAns(u0[1]!)).toHaveLength(1);
    expect(upCommands(u0[1]!.fOpts)).toContain('04');
    expect(u0.slice(2).every(u => devStatusAns(u).length === 0)).toBe(true);
    const frames = framesOf(net.ups, keyring);
    expect(frames.length).toBeGreaterThanOrEqual(u0.filter(u => u.fPort === 1).length);
    const counters = frames.map(f => f.counter);
    expect(new Set(counters).size).toBe(counters.length);
  });

  it('power cuts happened where planned: mid-reservation, after it, after the FCnt down write in RX2', () => {
    expect(midReservation.cut).toBe(true);
    expect(afterReservation.cut).toBe(true);
    expect(afterDownlink.cut).toBe(true);
    // no uplink goes before its FCnt is stored; each boot waited the stored time-off first
    expect(ups(1)).toHaveLength(0);
    expect(ups(2)).toHaveLength(0);
    expect(midReservation.cutAt - midReservation.t0).toBeGreaterThan(30_000);
    // boot 3: one uplink, its downlink sent; the cut write came in RX2 (2 s after the uplink, the
    // window opening 20 ms early)
    expect(ups(3)).toHaveLength(1);
    expect(net.downs.filter(d => d.t === ups(3)[0]!.t)).toHaveLength(1);
    expect(afterDownlink.cutAt - ups(3)[0]!.t).toBeGreaterThanOrEqual(2000 - 20 - TICK_MS);
    expect(afterDownlink.cutAt - ups(3)[0]!.t).toBeLessThan(3000);
  });

  it('never uses an FCnt up twice: the landed reservation is skipped, the lost one reused by nobody', () => {
    const f = net.ups.map(u => u.fCnt);
    for (let i = 1; i < f.length; i++) expect(f[i]).toBeGreaterThan(f[i - 1]!);
    // boot 2 reserved a block and died before using it: boot 3 starts above it
    const before = ups(0).at(-1)!.fCnt;
    expect(ups(3)[0]!.fCnt - before).toBeGreaterThan(FCNT_BLOCK);
    expect(ups(3)[0]!.fCnt % FCNT_BLOCK).toBe(0);
  });

  it('refuses the downlink replayed after the reboot, and answers a fresh one', () => {
    const u4 = ups(4);
    expect(u4.length).toBeGreaterThanOrEqual(4);
    // uplink 1 of boot 4 was followed by the replay (the model's last downlink of boot 3, same bytes)
    const replayed = net.downs.find(d => d.t === ups(3)[0]!.t)!;
    const fresh = net.downs.find(d => d.t === u4[1]!.t)!;
    expect(net.downs.filter(d => d.t === u4[0]!.t)).toHaveLength(0); // the replay is not a new downlink
    expect(fresh.fCnt).toBe(replayed.fCnt + 1);
    expect(devStatusAns(u4[1]!)).toHaveLength(0);
    // the fresh DevStatusReq after uplink 2 (the next FCnt down): answered in uplink 3
    expect(devStatusAns(u4[2]!)).toHaveLength(1);
  });

  it('with new ABP keys the stored FCnt down no longer counts: the new session\'s first downlink (FCnt 0) is answered', () => {
    const u5 = ups(5);
    expect(u5.length).toBeGreaterThanOrEqual(2);
    expect(net.downs.at(-1)!.fCnt).toBe(0);
    expect(devStatusAns(u5[1]!)).toHaveLength(1);
    // FCnt up goes on above everything used before (never reused, whatever the keys)
    expect(u5[0]!.fCnt).toBeGreaterThan(ups(4).at(-1)!.fCnt);
  });

  it('obeys DutyCycleReq (1/256 over all channels) until the reboot, and the next boot keeps the aggregate time-off still owed', () => {
    const u0 = ups(0);
    const agg = 2 ** MAX_DCYCLE;
    // from the uplink that answered it on (the request was applied before that uplink went)
    for (let i = 2; i < u0.length; i++) expect(u0[i]!.t - u0[i - 1]!.t).toBeGreaterThanOrEqual(agg * airtimeSf9(u0[i - 1]!.phyLen) - TICK_MS);
    // boot 1 started within the aggregate time-off of boot 0's last uplink (longer than the band's),
    // and its FCnt reservation, the step just before an uplink goes, came only once it was over
    const lastUp = u0.at(-1)!;
    const owed = agg * airtimeSf9(lastUp.phyLen);
    expect(midReservation.t0 - lastUp.t).toBeLessThan(G1_DIVISOR * airtimeSf9(lastUp.phyLen));
    expect(midReservation.cutAt - lastUp.t).toBeGreaterThanOrEqual(owed - TICK_MS);
  });

  it('keeps the 1 % time-off after every uplink, across reboots too (the VM tick as tolerance)', () => {
    const all = net.ups;
    for (let i = 1; i < all.length; i++) {
      const owed = G1_DIVISOR * airtimeSf9(all[i - 1]!.phyLen);
      expect(all[i]!.t - all[i - 1]!.t, `uplink ${i} (boot ${all[i]!.boot}) after ${i - 1} (boot ${all[i - 1]!.boot})`).toBeGreaterThanOrEqual(owed - TICK_MS);
    }
    // the reboot after the last cut came well inside the time-off of boot 3's uplink, so only what
    // was stored kept boot 4 silent
    const lastBefore = ups(3)[0]!;
    const owed = G1_DIVISOR * airtimeSf9(lastBefore.phyLen);
    expect(last.t0 - lastBefore.t).toBeLessThan(owed / 2);
    expect(ups(4)[0]!.t - lastBefore.t).toBeGreaterThanOrEqual(owed - TICK_MS);
    expect(owed).toBeGreaterThan(30_000);
  });
});
