/**
 * `sceau sim lorawan`: a small fleet of class A LoRaWAN 1.0.x devices behind one or more virtual
 * GWMP gateways, on the WALL CLOCK, for a real network server (TTS, ChirpStack) or the test's
 * stand-in. It never shares a clock with the virtual-time simulator (simulation.ts): a network
 * server expects RX windows within seconds of `tmst` and deduplicates within ~200 ms.
 *
 * Each device seals records with @sceau/protocol, fragments them per the link profile when a frame
 * is larger than the profile's MTU, joins (OTAA, RX1 5 s / RX2 6 s after the join-request) or uses
 * ABP, and sends unconfirmed uplinks on FPort 1 through every gateway that hears it, waiting out
 * the duty cycle. Downlinks heard in RX1 or RX2 (on the window's frequency and data rate) are
 * opened; their MAC commands change the device's MAC state (lorawan-mac.ts: data rate, channels,
 * NbTrans, RX windows, duty cycle, clock) and the answers ride in the next uplink.
 */
import { type Bytes, type LinkProfile, type LoraRadio, fragment, linkProfile, loraAirtimeMs } from '@sceau/protocol';
import type { RecordVersion } from './config.js';
import { deviceContentKey, sealVersioned } from './content-keys.js';
import { CID, LorawanMac, type MacRegionName, type UplinkMac } from './lorawan-mac.js';
import { GwmpGateway, type Emission, type GwmpStats, parseHostPort } from './gwmp-gateway.js';
import { type Activation, FleetState, LORAWAN_GROUP, type LorawanDevice, localEui } from './lorawan-fleet.js';
import { encodeJoinRequest, encodeUplink, openDownlink, openJoinAccept, peekDownlinkFCnt, MTYPE_JOIN_ACCEPT } from './lorawan-frames.js';
import { type FirmwareVmsSummary, LorawanFirmwareVms, type VmUplink } from './lorawan-vm.js';
import { Prng } from './prng.js';
import { SensorModel } from './sensors.js';

/** The FPort of sceau datagrams (whole frames and fragments alike; the first byte tells them apart). */
export const SCEAU_FPORT = 1;
/** JOIN_ACCEPT_DELAY1 (LoRaWAN L2 1.0.4 §6.2.6; RP002 default 5 s); RX2 is one second later. */
export const JOIN_ACCEPT_DELAY_MS = 5000;
/** A downlink counts as in a window when it starts within this much of the window's opening (the radio listens for a few preamble symbols; references use 10 ms guards). */
export const RX_WINDOW_TOLERANCE_MS = 20;

/** The MAC region and uplink data rate of a LoRaWAN link profile (`lorawan-eu868-dr3`: eu868, DR3); the channel plan is the MAC's (lorawan-mac.ts). */
export function lorawanLink(profile: LinkProfile): { region: MacRegionName; dr: number } {
  const m = /^lorawan-(eu868|us915)-dr(\d+)$/.exec(profile.name);
  if (m !== null) return { region: m[1] as MacRegionName, dr: Number(m[2]) };
  throw new RangeError(`--link: expected lorawan-eu868-drX or lorawan-us915-drX, got ${JSON.stringify(profile.name)}`);
}

/**
 * The link profile `name` as a LoRaWAN uplink data rate these devices can use: a `RangeError`
 * when it is no profile, not a LoRaWAN one, or (US915) its largest uplink breaks the dwell limit.
 */
export function lorawanProfile(name: string): { profile: LinkProfile; link: { region: MacRegionName; dr: number } } {
  const profile = linkProfile(name);
  const link = lorawanLink(profile);
  const worstAir = loraAirtimeMs(profile.radio as LoraRadio, profile.mtu + profile.overheadBytes);
  if (profile.maxDwellMs !== undefined && worstAir > profile.maxDwellMs) throw new RangeError(`--link ${profile.name}: ${worstAir.toFixed(1)} ms on air exceeds the ${profile.maxDwellMs} ms dwell limit`);
  return { profile, link };
}

export interface LorawanRunOptions {
  gwmp: string;
  gateways: number;
  fleet: LorawanDevice[];
  activation: Activation;
  durationMs: number;
  intervalMs: number;
  link: string;
  seed: string;
  loss: number;
  /** Where DevNonce, ABP FCntUp and sceau counters persist between runs (the --keys-out DIR). */
  stateDir: string;
  /** JOIN_ACCEPT_DELAY1 of the devices (default 5 s; a test may shorten it in the stand-in AND here). */
  joinDelayMs?: number;
  keepaliveMs?: number;
  ackTimeoutMs?: number;
  onLog?: (line: string) => void;
  /** Ends the run early (Ctrl-C): devices stop, the summary covers what was sent. */
  signal?: AbortSignal;
  /** Devices set the ADR bit: the network server then steers their data rate, TX power and NbTrans (LinkADRReq). */
  adr?: boolean;
  /** Each device asks for a LinkCheckAns (LinkCheckReq) in its first uplink after activation. */
  linkCheck?: boolean;
  /** Each device asks for the network time (DeviceTimeReq) in its first uplink after activation and sets its clock from the answer. */
  deviceTime?: boolean;
  /** The record version devices seal (default 1); 2 encrypts readings under `deviceContentKey(seed, 'lorawan', index)`. */
  record?: RecordVersion;
  /** The first K devices of the fleet run the real firmware in DeviceScript VMs (lorawan-vm.ts) instead of the device model. */
  firmwareVm?: number;
}

export interface LorawanSummary {
  devices: number;
  joinsRequested: number;
  joinsAccepted: number;
  uplinks: number;
  pushAckMissing: number;
  /** PULL_RESP downlinks received by the gateways. */
  downlinks: number;
  /** Downlinks answered with TX_ACK (one per PULL_RESP, error NONE or not). */
  downlinksAnswered: number;
  dutyCycleWaits: number;
  wallMs: number;
  // beyond the list
  gateways: string[];
  pullAckMissing: number;
  /** Downlinks that started inside a device's RX1 or RX2 window and opened (MIC good). */
  downlinksReceived: number;
  /** Downlinks that reached no open window or matched no device. */
  downlinksMissed: number;
  /** Records sealed, and sceau datagrams (frames or fragments) sent. */
  records: number;
  datagrams: number;
  /** The record version sealed, and the bytes of the sealed frames (before fragmentation). */
  recordVersion: RecordVersion;
  frameBytes: number;
  /** Uplinks not heard by any gateway (--loss). */
  uplinksLost: number;
  /** MAC commands received in downlinks, and answers sent in uplinks (FOpts or FPort 0). */
  macCommands: number;
  macAnswers: number;
  /** Uplinks on FPort 0 carrying only MAC answers (they did not fit in FOpts beside a datagram). */
  macUplinks: number;
  /** Repetitions of unconfirmed uplinks (NbTrans above 1, set by LinkADRReq). */
  repetitions: number;
  /** LinkCheckAns and DeviceTimeAns received; the largest clock correction a DeviceTimeAns made (ms). */
  linkChecks: number;
  timeSyncs: number;
  maxClockCorrectionMs: number;
  /** With --firmware-vm K: what the firmware VMs did (also in the counts above, all but maxClockCorrectionMs). */
  firmwareVms?: FirmwareVmsSummary;
  failures: string[];
}

interface Window {
  kind: 'join' | 'data';
  rx1: number;
  rx2: number;
  /** MHz, and the data rate as `datr`. */
  rx1Freq: number;
  rx2Freq: number;
  rx1Datr: string;
  rx2Datr: string;
  devNonce: number;
  /** A downlink opened in this window (or the run stopped). */
  done: boolean;
  /** The device's clock (Unix ms) when the uplink ended: DeviceTimeAns gives the network's time of that instant. */
  txEndClockMs: number;
}

interface Device {
  d: LorawanDevice;
  rng: Prng;
  linkRng: Prng;
  sensors: SensorModel;
  nwkSKey: Bytes | null;
  appSKey: Bytes | null;
  devAddr: Bytes | null;
  fCntUp: number;
  fCntDown: number;
  mac: LorawanMac;
  /** The device's clock minus the host's (ms): 0 until a DeviceTimeAns corrects it. */
  clockOffsetMs: number;
  nextTxAllowed: number;
  window: Window | null;
  /** When the device started (the join back-off counts from there). */
  started: number;
}

/** A frame as the datagrams of `profile`: whole when it fits, else fragments under `tag`. */
function cut(frame: Bytes, profile: LinkProfile, tag: number): Bytes[] {
  return frame.length <= profile.mtu ? [frame] : fragment(frame, profile, { tag });
}

/** Exit-status thresholds (docs/simulator.md "sceau sim lorawan"): below them the run fails. */
export const THRESHOLDS = { joinRatio: 1, ackMissingRatio: 0.05 } as const;

export async function runLorawan(o: LorawanRunOptions): Promise<LorawanSummary> {
  const { link } = lorawanProfile(o.link);
  const joinDelay = o.joinDelayMs ?? JOIN_ACCEPT_DELAY_MS;
  const { host, port } = parseHostPort(o.gwmp);
  const state = new FleetState(o.stateDir);
  const record = o.record ?? 1;
  /** A device's content key when the fleet seals record version 2 (the model devices and the firmware VMs alike). */
  const contentKeyOf = (d: LorawanDevice): Uint8Array | null => (record === 2 ? deviceContentKey(o.seed, LORAWAN_GROUP, d.index) : null);
  const vmCount = o.firmwareVm ?? 0;
  if (!Number.isInteger(vmCount) || vmCount < 0 || vmCount > o.fleet.length) throw new RangeError(`--firmware-vm: expected 0..${o.fleet.length} (at most --devices), got ${vmCount}`);
  const sensorsOf = (d: LorawanDevice): SensorModel => new SensorModel(Prng.from(o.seed, `lorawan-sensors|${d.index}`), ['temperature', 'humidity', 'pressure', 'battery'], 0, Date.now());
  // the firmware VMs (built before the clock starts: a build takes ~10 s) send through forward() below
  let forwardVm: (u: VmUplink) => void = () => undefined;
  const vms = vmCount === 0 ? null : await LorawanFirmwareVms.prepare({
    fleet: o.fleet.slice(0, vmCount), activation: o.activation, region: link.region, dr: link.dr, intervalMs: o.intervalMs, seed: o.seed, stateDir: o.stateDir,
    sensors: sensorsOf, contentKey: contentKeyOf, onUplink: (u) => forwardVm(u), ...(o.onLog ? { onLog: o.onLog } : {}),
  });
  const t0 = performance.now();
  let end = t0 + o.durationMs;
  // Every wait of the run goes through sleep(), so that an abort (Ctrl-C) wakes them all at once.
  let stopped = false;
  const sleepers = new Set<() => void>();
  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      const wake = (): void => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      sleepers.add(wake);
    });
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    end = Math.min(end, performance.now());
    for (const wake of [...sleepers]) wake();
    vms?.stop();
  };
  if (o.signal?.aborted) stop();
  o.signal?.addEventListener('abort', stop, { once: true });
  const s = { joinsRequested: 0, joinsAccepted: 0, uplinks: 0, dutyCycleWaits: 0, downlinksReceived: 0, downlinksMissed: 0, records: 0, datagrams: 0, frameBytes: 0, uplinksLost: 0, macUplinks: 0, repetitions: 0, maxClockCorrectionMs: 0 };
  const newMac = (sensors: SensorModel): LorawanMac =>
    new LorawanMac(link.region, {
      dr: link.dr,
      adr: o.adr === true,
      // DevStatusAns: 1..254 from the battery's 2.5..3.3 V
      battery: () => Math.max(1, Math.min(254, Math.round(1 + (253 * (sensors.batteryReading(performance.now() - t0, 0).value - 2500)) / 800))),
    });
  const devices: Device[] = o.fleet.slice(vmCount).map((d) => {
    const st = state.get(d.devEui);
    const sensors = sensorsOf(d);
    return {
      d,
      rng: Prng.from(o.seed, `lorawan-device|${d.index}`),
      linkRng: Prng.from(o.seed, `lorawan-link|${d.index}`),
      sensors,
      nwkSKey: d.nwkSKey,
      appSKey: d.appSKey,
      devAddr: d.devAddr,
      fCntUp: o.activation === 'abp' ? st.fCntUp : 0,
      fCntDown: 0,
      mac: newMac(sensors),
      clockOffsetMs: 0,
      nextTxAllowed: 0,
      window: null,
      started: 0,
    };
  });
  /** After activation: the MAC requests the run asks for ride in the first uplink. */
  const activated = (dev: Device): void => {
    if (o.linkCheck === true) dev.mac.request(CID.LinkCheck);
    if (o.deviceTime === true) dev.mac.request(CID.DeviceTime);
  };

  const onEmit = (e: Emission): void => {
    for (const dev of devices) {
      const w = dev.window;
      if (w === null || w.done) continue;
      // the radio listens on one frequency at one data rate per window
      const inRx1 = Math.abs(e.wallMs - w.rx1) <= RX_WINDOW_TOLERANCE_MS && (e.freq === null || Math.abs(e.freq - w.rx1Freq) < 0.0005) && (e.datr === null || e.datr === w.rx1Datr);
      const inRx2 = Math.abs(e.wallMs - w.rx2) <= RX_WINDOW_TOLERANCE_MS && (e.freq === null || Math.abs(e.freq - w.rx2Freq) < 0.0005) && (e.datr === null || e.datr === w.rx2Datr);
      if (!inRx1 && !inRx2) continue;
      if (w.kind === 'join' && e.phyPayload[0] === MTYPE_JOIN_ACCEPT) {
        const r = openJoinAccept(dev.d.appKey, w.devNonce, e.phyPayload);
        if (!r.ok) continue; // another device's join-accept
        w.done = true;
        dev.devAddr = r.devAddr;
        dev.nwkSKey = r.nwkSKey;
        dev.appSKey = r.appSKey;
        dev.fCntUp = 0;
        dev.fCntDown = 0;
        // a new session starts from the region's defaults, then the join-accept's settings
        dev.mac = newMac(dev.sensors);
        dev.mac.joined(r.dlSettings, r.rxDelay, r.cfList);
        activated(dev);
        s.joinsAccepted++;
        s.downlinksReceived++;
        return;
      }
      if (w.kind === 'data' && dev.devAddr !== null) {
        const f16 = peekDownlinkFCnt(dev.devAddr, e.phyPayload);
        if (f16 < 0) continue;
        let full = Math.floor(dev.fCntDown / 0x10000) * 0x10000 + f16; // not `& 0xffff0000`: counters reach 2^31
        if (full < dev.fCntDown) full += 0x10000;
        const r = openDownlink({ nwkSKey: dev.nwkSKey!, appSKey: dev.appSKey!, devAddr: dev.devAddr }, full >>> 0, e.phyPayload);
        if (!r.ok) continue;
        w.done = true;
        dev.fCntDown = full + 1;
        s.downlinksReceived++;
        const syncs = dev.mac.counts.timeSyncs;
        dev.mac.receive(r.fPort === 0 ? r.payload : r.fOpts, -5 + 15 * dev.linkRng.float(), r.confirmed);
        if (dev.mac.counts.timeSyncs > syncs && dev.mac.networkTimeUnixMs !== null) {
          // DeviceTimeAns: the network's time at the end of the requesting uplink; the device sets its clock
          const correction = dev.mac.networkTimeUnixMs - w.txEndClockMs;
          dev.clockOffsetMs += correction;
          s.maxClockCorrectionMs = Math.max(s.maxClockCorrectionMs, Math.abs(correction));
        }
        return;
      }
    }
    // a firmware VM's radio decides for itself (counted at the end)
    if (vms?.wasOffered(e)) offeredToVms.push(e);
    else s.downlinksMissed++;
  };
  const offeredToVms: Emission[] = [];

  // powered on before the gateways start: loading and booting a VM holds the event loop for a while
  if (vms) await vms.boot(t0);
  const gateways: GwmpGateway[] = [];
  const gwRng = Prng.from(o.seed, 'lorawan-gateways');
  for (let g = 0; g < o.gateways; g++) {
    const eui = localEuiFor(o.seed, g);
    gateways.push(
      new GwmpGateway({
        eui,
        host,
        port,
        keepaliveMs: o.keepaliveMs ?? 10_000,
        ackTimeoutMs: o.ackTimeoutMs ?? 2000,
        tmstStart: gwRng.nextUint32(),
        random: () => gwRng.float(),
        onEmit,
        ...(vms ? { onSchedule: (e: Emission) => vms.offer(e) } : {}),
        ...(o.onLog ? { onLog: o.onLog } : {}),
      }),
    );
  }
  try {
    for (const g of gateways) await g.start();
  } catch (e) {
    for (const g of gateways) await g.stop();
    vms?.stop(); // powered on above: their timers would keep the process alive
    throw e;
  }

  /** Every gateway that hears an uplink (--loss) forwards it; returns how many did. */
  const forward = (phy: Bytes, freq: number, chan: number, datr: string, txEnd: number, linkRng: Prng): number => {
    if (phy[0] === 0x00) s.joinsRequested++;
    else s.uplinks++;
    let heard = 0;
    for (const g of gateways) {
      if (linkRng.chance(o.loss)) continue;
      heard++;
      g.push({ phyPayload: phy, freq, chan, datr, rssi: -60 - 50 * linkRng.float(), lsnr: -5 + 15 * linkRng.float(), endWallMs: txEnd });
    }
    if (heard === 0) s.uplinksLost++;
    return heard;
  };
  const vmLinkRng = Prng.from(o.seed, 'lorawan-link|firmware-vms');
  forwardVm = (u) => {
    // the concentrator's IF chain: the channel's place in its 8-channel block (1.6 MHz of 125 kHz channels)
    const chan = (((Math.round((u.freq - (link.region === 'us915' ? 902.3 : 868.1)) / 0.2)) % 8) + 8) % 8;
    forward(u.phyPayload, u.freq, chan, u.datr, u.endWallMs, vmLinkRng);
  };

  /** One uplink on air: wait for the duty cycle, stay on air, then every gateway that hears it forwards it; RX windows follow. */
  const transmit = async (dev: Device, phy: Bytes, kind: 'join' | 'data', devNonce = 0): Promise<Window> => {
    const now = performance.now();
    if (dev.nextTxAllowed > now) {
      s.dutyCycleWaits++;
      await sleep(dev.nextTxAllowed - now);
    }
    const mac = dev.mac;
    const ch = mac.pickChannel(dev.rng.int(0x10000));
    if (ch < 0) throw new Error(`internal: no enabled channel supports DR${mac.dr}`);
    const freq = mac.uplinkFreqHz(ch) / 1e6;
    const air = loraAirtimeMs(mac.profile().radio as LoraRadio, phy.length);
    const start = performance.now();
    // the channel's sub-band duty cycle (EU868) or DutyCycleReq's aggregate limit, whichever is longer
    dev.nextTxAllowed = start + mac.offTimeMs(ch, air);
    if (kind === 'join') {
      // join-request retransmission back-off (LoRaWAN L2 1.0.4 §7 / RP002): at most 1 % of the time
      // in the first hour, 0.1 % until hour 11, 0.01 % after; in every region
      const age = start - dev.started;
      const share = age < 3_600_000 ? 0.01 : age < 39_600_000 ? 0.001 : 0.0001;
      dev.nextTxAllowed = Math.max(dev.nextTxAllowed, start + air / share);
    }
    await sleep(air);
    const txEnd = performance.now();
    const txEndClockMs = Date.now() + dev.clockOffsetMs;
    if (stopped) return { kind, rx1: txEnd, rx2: txEnd, rx1Freq: 0, rx2Freq: 0, rx1Datr: '', rx2Datr: '', devNonce, done: true, txEndClockMs }; // cut off the air
    forward(phy, freq, ch % 8, mac.datr(), txEnd, dev.linkRng);
    const d1 = kind === 'join' ? joinDelay : mac.rx1Delay * 1000;
    const rx1 = mac.rx1(ch);
    const rx2 = mac.rx2();
    const w: Window = { kind, rx1: txEnd + d1, rx2: txEnd + d1 + 1000, rx1Freq: rx1.freqHz / 1e6, rx2Freq: rx2.freqHz / 1e6, rx1Datr: rx1.datr, rx2Datr: rx2.datr, devNonce, done: false, txEndClockMs };
    dev.window = w;
    // class A: nothing is sent before RX2 has passed
    await sleep(w.rx2 + RX_WINDOW_TOLERANCE_MS + 5 - performance.now());
    dev.window = null;
    return w;
  };

  /** One data uplink with the next FCnt, sent NbTrans times unless a downlink answers an earlier one. */
  const sendUplink = async (dev: Device, st: { fCntUp: number }, fPort: number, payload: Bytes, mac: UplinkMac): Promise<void> => {
    const fCnt = dev.fCntUp++;
    if (o.activation === 'abp') {
      st.fCntUp = dev.fCntUp;
      state.save();
    }
    const phy = encodeUplink({
      nwkSKey: dev.nwkSKey!, appSKey: dev.appSKey!, devAddr: dev.devAddr!, fCnt, fPort, payload, confirmed: false,
      fOpts: mac.kind === 'fopts' ? mac.fOpts : null, ...dev.mac.uplinkFlags(),
    });
    const radioNow = dev.mac.profile().radio as LoraRadio;
    const times = dev.mac.nbTrans;
    for (let rep = 0; rep < times && !stopped; rep++) {
      if (rep > 0) s.repetitions++;
      const w = await transmit(dev, phy, 'data');
      dev.sensors.drainForAirtime(loraAirtimeMs(radioNow, phy.length));
      if (w.done) break; // a downlink came: no more repetitions (1.0.4 section 4.3.1.1)
    }
    dev.mac.sent(mac);
  };

  const runDevice = async (dev: Device): Promise<void> => {
    const st = state.get(dev.d.devEui);
    // stagger the fleet over the first interval (at most 10 s, and half the run) so the server is not hit at once
    await sleep(dev.rng.float() * Math.min(o.intervalMs, 10_000, o.durationMs / 2));
    dev.started = performance.now();
    if (o.activation === 'otaa') {
      while (dev.devAddr === null && performance.now() < end) {
        const wait = dev.nextTxAllowed - performance.now();
        if (wait > 0) {
          s.dutyCycleWaits++;
          if (dev.nextTxAllowed >= end) break; // no join-request before the end of the run
          await sleep(wait);
        }
        const devNonce = st.devNonce;
        st.devNonce = (st.devNonce + 1) & 0xffff;
        state.save(); // before the join-request leaves: a DevNonce is never reused (1.0.4 §6.2.4)
        await transmit(dev, encodeJoinRequest({ appKey: dev.d.appKey, joinEui: dev.d.joinEui, devEui: dev.d.devEui, devNonce }), 'join', devNonce);
        if (dev.devAddr === null) await sleep(1000 + dev.rng.float() * 2000);
      }
      if (dev.devAddr === null) return;
    } else activated(dev);
    let next = performance.now();
    while (next < end) {
      if (dev.nextTxAllowed > next) {
        // the record is due while the duty cycle still silences the device: it waits (counted once here)
        s.dutyCycleWaits++;
        if (dev.nextTxAllowed >= end) break;
        next = dev.nextTxAllowed;
      }
      await sleep(next - performance.now());
      if (performance.now() >= end) break;
      const readings: { channel: number; value: number; at: number }[] = [];
      const t = performance.now() - t0;
      dev.sensors.sample(t, readings);
      const counter = st.counter++;
      state.save();
      const frame = sealVersioned(
        record,
        { counter, time: Math.floor((Date.now() + dev.clockOffsetMs) / 1000), readings: [...readings.map((r) => ({ channel: r.channel, value: r.value })), dev.sensors.batteryReading(t, 0)] },
        dev.d.secret,
        contentKeyOf(dev.d),
      );
      s.records++;
      s.frameBytes += frame.length;
      // cut for the data rate in force; should a LinkADRReq lower it so that the rest no longer
      // fits, the frame is cut again under another tag and sent from its first fragment
      let tag = counter % 8;
      let datagrams = cut(frame, dev.mac.profile(), tag);
      for (let k = 0; k < datagrams.length && !stopped; ) {
        const datagram = datagrams[k]!;
        if (datagram.length > dev.mac.profile().mtu) {
          tag = (tag + 1) % 8;
          datagrams = cut(frame, dev.mac.profile(), tag);
          k = 0;
          continue;
        }
        const mac = dev.mac.compose(datagram.length);
        if (mac.kind === 'port0') {
          // the answers do not fit beside the datagram: they go first, on their own
          await sendUplink(dev, st, 0, mac.payload, mac);
          s.macUplinks++;
          continue;
        }
        await sendUplink(dev, st, SCEAU_FPORT, datagram, mac);
        s.datagrams++;
        k++;
      }
      next += o.intervalMs * (0.9 + 0.2 * dev.rng.float());
    }
  };

  try {
    await Promise.all([...devices.map(runDevice), ...(vms ? [vms.run(end)] : [])]);
  } finally {
    o.signal?.removeEventListener('abort', stop);
    for (const g of gateways) await g.stop();
    state.save();
  }
  const total = (k: keyof GwmpStats): number => gateways.reduce((a, g) => a + g.stats[k], 0);
  for (const e of offeredToVms) {
    if (vms!.wasHeard(e)) s.downlinksReceived++;
    else s.downlinksMissed++;
  }
  const vmSummary = vms?.summary();
  const summary: LorawanSummary = {
    devices: o.fleet.length,
    joinsRequested: s.joinsRequested,
    joinsAccepted: s.joinsAccepted + (vmSummary?.joins ?? 0),
    uplinks: s.uplinks,
    pushAckMissing: total('pushAckMissing'),
    downlinks: total('pullResp'),
    downlinksAnswered: total('txAck'),
    dutyCycleWaits: s.dutyCycleWaits + (vmSummary?.dutyCycleWaits ?? 0),
    wallMs: Math.round(performance.now() - t0),
    gateways: gateways.map((g) => g.euiHex),
    pullAckMissing: total('pullAckMissing'),
    downlinksReceived: s.downlinksReceived,
    downlinksMissed: s.downlinksMissed,
    records: s.records + (vmSummary?.records ?? 0),
    datagrams: s.datagrams + (vmSummary?.datagrams ?? 0),
    recordVersion: record,
    frameBytes: s.frameBytes + (vmSummary?.frameBytes ?? 0),
    uplinksLost: s.uplinksLost,
    macCommands: devices.reduce((a, d) => a + d.mac.counts.commands, 0) + (vmSummary?.macCommands ?? 0),
    macAnswers: devices.reduce((a, d) => a + d.mac.counts.answers, 0) + (vmSummary?.macAnswers ?? 0),
    macUplinks: s.macUplinks + (vmSummary?.macUplinks ?? 0),
    repetitions: s.repetitions + (vmSummary?.repetitions ?? 0),
    linkChecks: devices.reduce((a, d) => a + d.mac.counts.linkChecks, 0) + (vmSummary?.linkChecks ?? 0),
    timeSyncs: devices.reduce((a, d) => a + d.mac.counts.timeSyncs, 0) + (vmSummary?.timeSyncs ?? 0),
    maxClockCorrectionMs: Math.round(s.maxClockCorrectionMs),
    ...(vmSummary ? { firmwareVms: vmSummary } : {}),
    failures: [...(vms?.failures ?? [])],
  };
  if (o.activation === 'otaa' && summary.joinsAccepted < THRESHOLDS.joinRatio * summary.devices) summary.failures.push(`joins: ${summary.joinsAccepted} of ${summary.devices} devices joined`);
  const pushes = total('pushData');
  const pulls = total('pullData');
  if (pushes > 0 && summary.pushAckMissing > THRESHOLDS.ackMissingRatio * pushes) summary.failures.push(`PUSH_ACK: ${summary.pushAckMissing} of ${pushes} PUSH_DATA unacknowledged`);
  if (pulls > 0 && summary.pullAckMissing > THRESHOLDS.ackMissingRatio * pulls) summary.failures.push(`PULL_ACK: ${summary.pullAckMissing} of ${pulls} PULL_DATA unacknowledged`);
  return summary;
}

/** Gateway EUIs: locally administered, from the seed (register them in the network server once). */
export function localEuiFor(seed: string, g: number): Bytes {
  return localEui(seed, `gateway-eui|${g}`);
}
