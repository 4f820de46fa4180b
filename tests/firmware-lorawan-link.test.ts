// The whole firmware (src/main.ts, LINK = "lorawan-fake") in the DeviceScript VM on a virtual
// clock (firmware/scripts/sim-device.mjs), its fake SX1276 talking to a network-server model
// (tests/helpers/lorawan-network.ts, written from LoRaWAN L2 1.0.4; no firmware code). The model
// checks every join-request and uplink MIC, answers in RX2 (869.525 MHz, SF12 for join-accepts,
// SF9 after the join-accept's RX2DR 3); the test reassembles the FPort 1 datagrams with
// @sceau/protocol's Reassembler and verifies the sealed frames. Downlinks: DeviceTimeAns,
// LinkADRReq and RXParamSetupReq (FPort 0), then a control downlink (FPort 2). Then power cuts at
// the Nth flash write after boot (before or after it lands): no DevNonce and no FCnt is ever used
// twice, and a reboot waits the join back-off it owes. Last, the device is re-created on the
// server (JoinNonce from 1 again): refused until the `sceau_lwreset` token, which applies once.
import { MemoryKeyring, fromHex, loraAirtimeMs } from '@sceau/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { type Boot, type FlashIo, GPS0, Network, RX2, appKey, datagramsOf, devEui, framesOf, joinEui, publicKeyOf, runBoot, runBootUntil } from './helpers/lorawan-network.js';

const unixAt = (tMs: number) => GPS0 + 315964800 - 18 + tMs / 1000;
const le24 = (v: number) => [v & 255, (v >> 8) & 255, (v >> 16) & 255];

const CONFIG = { LINK: 'lorawan-fake', VM_SENSORS: 'jacdac', SAMPLE_INTERVAL_MS: 60000, COUNTER_BLOCK: 4, LORAWAN_FCNT_BLOCK: 4, LORAWAN_JOIN_DR: 5, LORAWAN_ABP_DR: 0 };
let binary: Uint8Array;
beforeAll(() => {
  binary = buildEntry('src/main.ts', { 'src/config.ts': configSource(CONFIG) }).binary;
}, 120_000);

describe('the whole firmware over LoRaWAN (OTAA) against a network model, in the VM', () => {
  const net = new Network(null);
  // after uplink 1 of the first session: DeviceTimeAns (added to the answer by the model), LinkADRReq
  // (DR5, TXPower 3, channels 0-2, NbTrans 1) and RXParamSetupReq (RX1DROffset 0, RX2 DR3 at 869.525 MHz)
  net.script.set(1, { fPort: 0, payload: `03530700 01`.replace(/ /g, '') + '05' + '03' + Buffer.from(le24(RX2 / 100)).toString('hex') });
  // after uplink 3: the control downlink, sampling every 120 s
  net.script.set(3, { fPort: 2, payload: '0100000078' });
  const flash: FlashIo = {};
  const keyring = new MemoryKeyring();
  let first: Boot;
  const cuts: Boot[] = [];
  let last: Boot;
  const otaa = { sceau_otaa: `${devEui}:${joinEui}:${appKey}` };

  beforeAll(async () => {
    first = await runBoot(binary, net, flash, 0, null, () => net.ups.filter(u => u.fPort === 1).length >= 7, otaa);
    keyring.add(fromHex(publicKeyOf(first.lines)));
    let t = first.end + 1000;
    // power cuts at chosen settings writes: in the middle of the boot's sceau counter reservation
    // (lost), just after the join's DevNonce write landed, in the middle of the join-accept's
    // JoinNonce write (lost), and again just after a DevNonce write
    for (const cut of [
      { n: 1, keep: false, key: 'sceau_state' },
      { n: 1, keep: true, key: 'sceau_lorawan' },
      { n: 2, keep: false, key: 'sceau_lorawan' },
      { n: 1, keep: true, key: 'sceau_lorawan' },
    ]) {
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
  let stale: Boot;
  let reset: Boot;
  let again: Boot;

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
    expect(ups[0]!.fOpts).toMatch(/^0d/); // DeviceTimeReq on the first uplink
    // uplink 2: LinkADRAns (power, DR, channel mask all OK) and RXParamSetupAns (all OK)
    expect(ups[1]!.fOpts).toContain('0307');
    expect(ups[1]!.fOpts).toContain('0507');
    expect(ups[2]!.fOpts).toBe('0507'); // sticky: repeated, LinkADRAns is not
    expect(ups[3]!.fOpts).not.toContain('05'); // the control downlink (a class A downlink) ended it
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
    const gaps = ts.slice(1).map((t, i) => t - ts[i]!);
    expect(gaps.at(-1)).toBeGreaterThanOrEqual(119_000);
    expect(gaps.at(-1)).toBeLessThanOrEqual(125_000);
  });

  it('power cuts happened where planned, and no DevNonce and no FCnt of a session was used twice', () => {
    for (const c of cuts) expect(c.cut).toBe(true);
    const joinsIn = (b: Boot) => net.joinTimes.filter(t => t >= b.t0 && t <= b.end);
    // no join-request in the boots cut at the counter reservation or just after the DevNonce write;
    // one in the boot cut during the JoinNonce write, whose session never sent anything
    expect(joinsIn(cuts[0]!)).toHaveLength(0);
    expect(joinsIn(cuts[1]!)).toHaveLength(0);
    expect(joinsIn(cuts[2]!)).toHaveLength(1);
    expect(net.ups.filter(u => u.boot === 3)).toHaveLength(0);
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
    const lastStart = cuts[cuts.length - 1]!.end + 1000;
    const n = joinsBeforeRecreate;
    const lastJoin = net.joinTimes[n - 1]!;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(net.devNonces[n - 1]! - net.devNonces[n - 2]!).toBeGreaterThan(1); // a DevNonce stored, then the power went
    expect(lastJoin).toBeGreaterThan(lastStart);
    expect(lastJoin - lastStart).toBeGreaterThanOrEqual(off);
    expect(off).toBeGreaterThan(5000);
  });

  it('keeps the 1 % time-off after every data uplink, across reboots too (join-requests included; the VM tick as tolerance)', () => {
    // data uplinks go at DR5 (SF7) or, after failed joins, lower: SF7's airtime is a lower bound
    const airSf7 = (len: number) => loraAirtimeMs({ spreadingFactor: 7, bandwidthHz: 125000, preambleSymbols: 8, lowDataRateOptimize: false, explicitHeader: true, crc: true, codingRate: 1 } as any, len);
    const txs = [...net.ups.map(u => u.t), ...net.joinTimes].sort((a, b) => a - b);
    let binding = 0;
    for (const u of net.ups) {
      const next = txs.find(t => t > u.t);
      if (next === undefined) continue;
      const owed = 100 * airSf7(u.phyLen);
      expect(next - u.t, `transmission after the uplink at ${u.t}`).toBeGreaterThanOrEqual(owed - 10);
      // a boot began while this uplink's time-off was running, and the boot's first transmission waited it out
      if ([...cuts, last].some(b => b.t0 > u.t && b.t0 < u.t + owed)) binding++;
    }
    expect(binding).toBeGreaterThanOrEqual(1);
  });
});
