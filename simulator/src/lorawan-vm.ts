/**
 * Real-firmware devices of `sceau sim lorawan --firmware-vm K`: the firmware's src/main.ts built
 * with its real LoRaWAN link (firmware/src/lorawan-link.ts, OTAA or ABP, the 1.0.4 class A MAC)
 * on the host-driven fake SX1276 (firmware/src/lora-air-fake.ts), one DeviceScript VM per device,
 * on the WALL clock, its radio bridged to the simulator's GWMP gateways:
 *
 * - Uplinks: the fake prints each packet it is asked to send ("sceau-radio-tx <freqHz> <sf> <bwHz>
 *   <syncWord>" from the chip's registers, then "sceau-radio <hex>"); the packet goes to the
 *   gateways with those radio parameters. The fake's transmission ends the moment it starts, so
 *   the uplink is dated as ENDING at that instant of the device's clock (its RX windows count
 *   from there, as the network server's do from the rxpk's tmst). A packet with another sync word
 *   than LoRaWAN's public 0x34 is heard by no gateway (and counted).
 * - Downlinks: every txpk a gateway accepts for later, within 8 s after a VM's uplink and maybe
 *   for it (offer()), is put on that VM's air (the `sceau_air` setting) ahead of its start time, with that start time: the
 *   fake hears it only in a receive window open when its preamble starts, on its frequency, SF
 *   and bandwidth. The firmware opens, checks and answers it itself ("sceau-radio-heard <seq>").
 * - Time: a VM runs at the times it asks to be woken (or earlier, to take a setting), its clock
 *   showing that time; computation within one wake-up takes no time on the device's clock, as in
 *   the virtual-time simulator. So RX windows open exactly RxDelay after the uplink on the
 *   device's clock. When a wake-up after a short wait (BUSY_WAIT_MS: polling) comes more than
 *   MAX_LAG_MS late (a busy stretch, a loaded machine), the VM's clock jumps to the wall clock, so
 *   it does not trail it further; a wake-up after a longer wait (an RX window) is never moved.
 * - Credentials: the device's seed and its OTAA keys (sceau_otaa) or ABP session (sceau_abp) are
 *   written into its settings at boot, as `sceau provision --lorawan` does. Its flash (settings:
 *   DevNonce, JoinNonce, FCnt reservations, join back-off, counters) is kept in
 *   DIR/lorawan-vm-<DevEUI>.flash between runs, so a second run never reuses a DevNonce or FCnt.
 * - Check: the bridge knows each VM's keys (it provisioned them; an OTAA session's from the
 *   join-accept the VM heard and said it took), so it decrypts the VM's FPort 1 uplinks,
 *   reassembles them and verifies every sceau frame under the device's key, as `sceau sim run
 *   --firmware-vm` does: `records` counts them, and a frame that does not verify is a failure.
 * - Counts: what runs inside the VM is counted as the model devices' (lorawan-live.ts) is, from
 *   the firmware's console ("sceau-lorawan wait <ms>[ too-long]": a duty-cycle or join back-off
 *   wait; "sceau-lorawan mac <CIDs>": the commands of a downlink it accepted) and from its uplinks
 *   (the MAC commands in FOpts or the FPort 0 payload, once per FCnt; the same FCnt again: a
 *   repetition).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Bytes, MemoryKeyring, Reassembler, toHex, verifyFrame } from '@sceau/protocol';
import type { Emission } from './gwmp-gateway.js';
import { type FirmwareVmDevice, loadFirmwareVm } from './firmware-vm.js';
import { sensorRounds } from './firmware-vms.js';
import type { Activation, LorawanDevice } from './lorawan-fleet.js';
import { type SessionKeys, cryptFrmPayload, dataMic, openJoinAccept } from './lorawan-frames.js';
import { CID, type MacRegionName, uplinkCommandCount } from './lorawan-mac.js';
import { Prng } from './prng.js';
import { writeAtomic } from './write-atomic.js';
import type { SensorModel } from './sensors.js';

/** LoRaWAN's public sync word: gateways of a public network hear nothing else. */
export const LORAWAN_SYNC_WORD = 0x34;
/** A downlink is put on a VM's air this long before it starts (less than the 1 s between RX1 and RX2, so it is never on air at the other window). */
export const AIR_LEAD_MS = 600;
/** A VM woken later than this after the time it asked for runs at the wall clock's time instead (its clock never trails by more, so its uplinks are not dated so far back that RX1 has passed). */
export const MAX_LAG_MS = 100;
/** A wait this short or shorter is a busy stretch (polling a flag, a register), not a timed event. */
export const BUSY_WAIT_MS = 5;
/** Downlinks starting more than this long after a VM's last uplink are not offered to it (RX2 of a join-request is 6 s after it). */
export const OFFER_HORIZON_MS = 8000;

/** An uplink a firmware VM sent, as the gateways hear it. */
export interface VmUplink {
  device: LorawanDevice;
  phyPayload: Bytes;
  /** MHz. */
  freq: number;
  /** e.g. `SF7BW125`. */
  datr: string;
  /** performance.now() at the end of the transmission. */
  endWallMs: number;
}

export interface LorawanVmOptions {
  /** The devices run as firmware (their keys are in the registration file like the others'). */
  fleet: readonly LorawanDevice[];
  activation: Activation;
  region: MacRegionName;
  /** The join-request's data rate (OTAA) or the session's (ABP): --link's. */
  dr: number;
  intervalMs: number;
  seed: string;
  /** Where each VM's flash is kept between runs (the --keys-out DIR). */
  stateDir: string;
  sensors: (d: LorawanDevice) => SensorModel;
  /** A device's content key when the fleet seals record version 2 (`--record 2`): written into its settings, so the firmware seals version 2 too. */
  contentKey?: (d: LorawanDevice) => Uint8Array | null;
  onUplink: (u: VmUplink) => void;
  onLog?: (line: string) => void;
}

/** What the firmware VMs did (the `firmwareVms` key of the --json summary). */
export interface FirmwareVmsSummary {
  devices: number;
  /** Wall time spent building the image (0 when it came from the cache). */
  buildMs: number;
  /** Wall time spent inside the VMs. */
  vmMs: number;
  steps: number;
  /** Joins the firmware reported (`sceau-lorawan joined`). */
  joins: number;
  /** Radio packets sent: join-requests, and data uplinks with their repetitions. */
  joinRequests: number;
  uplinks: number;
  /** Data uplinks on FPort 1 (sceau datagrams) and FPort 0 (MAC answers only), repetitions not counted. */
  datagrams: number;
  /** sceau frames the VMs sent, reassembled and verified under the device's key by the bridge. */
  records: number;
  macUplinks: number;
  /** Repetitions of data uplinks (NbTrans above 1: the same FCnt again). */
  repetitions: number;
  /** Waits the firmware owed the duty cycle or the join back-off before a transmission (its `sceau-lorawan wait` lines, those too long to wait included). */
  dutyCycleWaits: number;
  /** MAC commands the firmware applied from the downlinks it accepted (its `sceau-lorawan mac` lines), LinkCheckAns and DeviceTimeAns among them. */
  macCommands: number;
  linkChecks: number;
  timeSyncs: number;
  /** MAC commands its uplinks carried (answers and requests, FOpts or FPort 0), once per FCnt. */
  macAnswers: number;
  /** Bytes of the frames verified. */
  frameBytes: number;
  /** Downlinks put on a VM's air, and those its radio heard in a receive window. */
  downlinksOffered: number;
  downlinksHeard: number;
  /** Packets sent with another sync word than 0x34 (no gateway hears them). */
  wrongSyncWord: number;
}

interface VmState {
  d: LorawanDevice;
  dev: FirmwareVmDevice;
  /** The last step's time (the VM's clock never goes back). */
  last: number;
  wake: (() => void) | null;
  poked: boolean;
  /** The radio parameters of the packet being printed, and its hex so far. */
  tx: { freqHz: number; sf: number; bwHz: number; sync: number } | null;
  hex: string;
  /** The CIDs of a `sceau-lorawan mac` line so far (continued over `mac+` lines). */
  macHex: string;
  /** The end of the last uplink (device clock, ms), and its FCnt (repetitions keep it). */
  lastUplink: number;
  lastFCnt: string;
  /** Downlinks waiting for the air, and the start of the one on it (device clock). */
  airQueue: Array<{ e: Emission; startMs: number }>;
  airUntil: number;
  airSeq: number;
  offered: Map<number, Emission>;
  /** Join-accepts its radio heard (the VM takes one of them, or none), the DevNonce of its last join-request. */
  joinAccepts: Bytes[];
  devNonce: number;
  /** The session the firmware is in (OTAA: from the join-accept it took; ABP: provisioned), and the last FCnt up. */
  session: (SessionKeys & { devAddr: Bytes }) | null;
  fCntUp: number;
  /** Its last uplink was a join-request. */
  joining: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  keyChecked: boolean;
}

/** Parses `SF9BW125` into spreading factor and bandwidth (Hz). */
function parseDatr(datr: string | null): { sf: number; bwHz: number } | null {
  const m = datr === null ? null : /^SF(\d+)BW(\d+)$/.exec(datr);
  return m ? { sf: Number(m[1]), bwHz: Number(m[2]) * 1000 } : null;
}

export class LorawanFirmwareVms {
  private readonly states: VmState[] = [];
  private readonly heard = new Set<Emission>();
  private readonly offeredAll = new Set<Emission>();
  private readonly keyring = new MemoryKeyring();
  private readonly reassembler = new Reassembler({ senderHint: false });
  private stopped = false;
  private origin = 0;
  readonly failures: string[] = [];
  readonly stats: FirmwareVmsSummary;

  private constructor(
    private readonly o: LorawanVmOptions,
    private readonly binary: Uint8Array,
    buildMs: number,
  ) {
    for (const d of o.fleet) this.keyring.add(d.publicKey);
    this.stats = {
      devices: o.fleet.length, buildMs, vmMs: 0, steps: 0, joins: 0, joinRequests: 0, uplinks: 0, datagrams: 0, records: 0, macUplinks: 0,
      repetitions: 0, dutyCycleWaits: 0, macCommands: 0, linkChecks: 0, timeSyncs: 0, macAnswers: 0, frameBytes: 0,
      downlinksOffered: 0, downlinksHeard: 0, wrongSyncWord: 0,
    };
  }

  /** Loads the VM host and builds the image (or takes it from the cache: a build takes ~10 s). */
  static async prepare(o: LorawanVmOptions): Promise<LorawanFirmwareVms> {
    const module = await loadFirmwareVm().catch((e: Error) => {
      throw Object.assign(new Error(e.message), { code: 'sim/firmware-vm' }); // exit 3: the firmware workspace is missing
    });
    const built = module.buildSimLorawanFirmware({ intervalMs: o.intervalMs, region: o.region === 'eu868' ? 'EU868' : 'US915', dr: o.dr });
    return new LorawanFirmwareVms(o, built.binary, built.buildMs);
  }

  private now(): number {
    return performance.now() - this.origin;
  }

  /** Powers every VM on at `origin` (performance.now() of their clock's 0), provisioned with its seed and LoRaWAN credentials. */
  async boot(origin: number): Promise<void> {
    this.origin = origin;
    const module = await loadFirmwareVm();
    for (const d of this.o.fleet) {
      const flashPath = join(resolve(this.o.stateDir), `lorawan-vm-${toHex(d.devEui)}.flash`);
      // written through at every flash write of the firmware, as a board's flash is (a run killed
      // mid-way still never reuses a DevNonce or FCnt the next time)
      let stored: Uint8Array | undefined = existsSync(flashPath) ? new Uint8Array(readFileSync(flashPath)) : undefined;
      const flash = {
        get data(): Uint8Array | undefined {
          return stored;
        },
        set data(v: Uint8Array | undefined) {
          stored = v;
          if (v !== undefined) writeAtomic(flashPath, v, 0o600); // a VM's flash holds its seed and LoRaWAN keys
        },
      };
      const random = Prng.from(this.o.seed, `lorawan-firmware-vm|${d.index}`);
      const w0 = performance.now();
      const t0 = Math.floor(this.now());
      const dev = await module.SimFirmwareDevice.start(this.binary, {
        deviceId: `5ce2${d.index.toString(16).padStart(12, '0')}`,
        sensorId: `5ce3${d.index.toString(16).padStart(12, '0')}`,
        seed: d.secret,
        contentKey: this.o.contentKey?.(d) ?? null,
        random: (n) => random.bytes(n),
        read: sensorRounds(this.o.sensors(d)),
        flash,
        t0,
      });
      const credentials =
        this.o.activation === 'otaa'
          ? { key: 'sceau_otaa', value: `${toHex(d.devEui)}:${toHex(d.joinEui)}:${toHex(d.appKey)}` }
          : { key: 'sceau_abp', value: `${toHex(d.devEui)}:${toHex(d.devAddr!)}:${toHex(d.nwkSKey!)}:${toHex(d.appSKey!)}` };
      await dev.setSetting(credentials.key, credentials.value);
      const vm: VmState = {
        d, dev, last: t0, wake: null, poked: false, tx: null, hex: '', macHex: '', lastUplink: -Infinity, lastFCnt: '',
        airQueue: [], airUntil: -Infinity, airSeq: 0, offered: new Map(), timer: null, keyChecked: false,
        joinAccepts: [], devNonce: -1, fCntUp: -1, joining: false,
        session: this.o.activation === 'abp' ? { devAddr: d.devAddr!, nwkSKey: d.nwkSKey!, appSKey: d.appSKey! } : null,
      };
      dev.onLine = (line, t) => this.onLine(vm, line, t);
      this.stats.vmMs += performance.now() - w0;
      this.states.push(vm);
    }
  }

  /** Runs every VM until `endWallMs` (performance.now()) or stop(); saves their flash. */
  async run(endWallMs: number): Promise<void> {
    try {
      await Promise.all(this.states.map((vm) => this.loop(vm, endWallMs - this.origin)));
    } finally {
      for (const vm of this.states) {
        if (vm.timer !== null) clearTimeout(vm.timer);
        vm.dev.stop();
        if (!vm.keyChecked) this.failures.push(`firmware VM ${toHex(vm.d.devEui)}: never printed its key line`);
      }
    }
  }

  /** Ends the run: every VM stops at its next wake-up (now). */
  stop(): void {
    this.stopped = true;
    for (const vm of this.states) vm.wake?.();
  }

  private async loop(vm: VmState, endMs: number): Promise<void> {
    while (!this.stopped) {
      const now = this.now();
      if (now >= endMs) return;
      const due = vm.dev.nextAt;
      if (due > now && !vm.poked) {
        await new Promise<void>((res) => {
          const timer = setTimeout(() => vm.wake?.(), Math.min(due, endMs) - now);
          vm.wake = () => {
            clearTimeout(timer);
            vm.wake = null;
            res();
          };
        });
        continue;
      }
      vm.poked = false;
      // at the time it asked for (never ahead of the wall clock, never back), unless that is more
      // than MAX_LAG_MS ago after a short wait (a busy stretch of 1 ms waits): then it catches up to
      // now. A long wait (an RX window) is always ended on time, however late the host wakes it.
      // (a step for the runtime's announce is not the firmware's own short wait: its real wake-up may be just after)
      const busy = due - vm.last <= BUSY_WAIT_MS && due !== vm.dev.nextAnnounce;
      const t = Math.max(vm.last, busy && now - due > MAX_LAG_MS ? Math.floor(now) : Math.min(Math.floor(now), due));
      vm.last = t;
      const w0 = performance.now();
      try {
        vm.dev.step(t);
      } catch (e) {
        this.failures.push(`firmware VM ${toHex(vm.d.devEui)}: ${(e as Error).message}`);
        return;
      }
      this.stats.steps++;
      this.stats.vmMs += performance.now() - w0;
      // let the gateways' sockets and timers run between two steps
      await new Promise<void>((res) => setImmediate(res));
    }
  }

  private poke(vm: VmState): void {
    vm.poked = true;
    vm.wake?.();
  }

  private onLine(vm: VmState, line: string, t: number): void {
    const d = vm.d;
    if (line.startsWith('sceau-key ')) {
      const m = /^sceau-key v1 kid=([0-9a-f]{16}) pub=([0-9a-f]{64}) deveui=([0-9a-f]{16})$/.exec(line);
      if (m === null || m[1] !== toHex(d.kid) || m[2] !== toHex(d.publicKey) || m[3] !== toHex(d.devEui)) this.failures.push(`firmware VM ${toHex(d.devEui)}: key line ${JSON.stringify(line)} is not the provisioned key and DevEUI`);
      vm.keyChecked = true;
      return;
    }
    if (line.startsWith('sceau-lorawan joined')) {
      this.stats.joins++;
      this.joined(vm, line);
      return;
    }
    // counted, not logged: one line per duty-cycle wait, and per accepted downlink with MAC commands
    if (line.startsWith('sceau-lorawan wait ')) {
      this.stats.dutyCycleWaits++;
      return;
    }
    const mac = /^sceau-lorawan mac(\+?) ([0-9a-f]*)$/.exec(line);
    if (mac !== null) {
      vm.macHex += mac[2];
      if (mac[1] === '+') return;
      for (const cid of Buffer.from(vm.macHex, 'hex')) {
        this.stats.macCommands++;
        if (cid === CID.LinkCheck) this.stats.linkChecks++;
        if (cid === CID.DeviceTime) this.stats.timeSyncs++;
      }
      vm.macHex = '';
      return;
    }
    if (line.startsWith('sceau-lorawan ')) {
      this.o.onLog?.(`firmware VM ${toHex(d.devEui)}: ${line}`);
      return;
    }
    let m = /^sceau-radio-heard (\d+)$/.exec(line);
    if (m !== null) {
      const e = vm.offered.get(Number(m[1]));
      if (e !== undefined && !this.heard.has(e)) {
        this.heard.add(e);
        this.stats.downlinksHeard++;
      }
      if (e !== undefined && e.phyPayload[0] === 0x20) vm.joinAccepts.push(e.phyPayload);
      return;
    }
    m = /^sceau-radio-tx (\d+) (\d+) (\d+) ([0-9a-f]{2})$/.exec(line);
    if (m !== null) {
      vm.tx = { freqHz: Number(m[1]), sf: Number(m[2]), bwHz: Number(m[3]), sync: parseInt(m[4]!, 16) };
      vm.hex = '';
      return;
    }
    m = /^sceau-radio(\+?) ([0-9a-f]*)$/.exec(line);
    if (m === null) return;
    vm.hex += m[2];
    if (m[1] === '+') return;
    const tx = vm.tx;
    const phy = new Uint8Array(Buffer.from(vm.hex, 'hex'));
    vm.tx = null;
    vm.hex = '';
    if (tx === null) {
      this.failures.push(`firmware VM ${toHex(d.devEui)}: a packet without its radio parameters`);
      return;
    }
    vm.lastUplink = t;
    vm.joining = phy[0] === 0x00;
    if (phy[0] === 0x00) {
      this.stats.joinRequests++;
      vm.devNonce = phy[17]! | (phy[18]! << 8);
    } else {
      this.stats.uplinks++;
      // FCnt and FPort are in clear: a repetition (NbTrans) keeps the FCnt
      const fOptsLen = (phy[5] ?? 0) & 15;
      const fCnt = toHex(phy.subarray(1, 8));
      if (fCnt === vm.lastFCnt) this.stats.repetitions++;
      else if (phy.length > 12 + fOptsLen) {
        // the MAC commands it carries: FOpts are in clear, an FPort 0 payload is encrypted with NwkSKey
        this.stats.macAnswers += uplinkCommandCount(phy.subarray(8, 8 + fOptsLen));
        if (phy[8 + fOptsLen] === 0) {
          this.stats.macUplinks++;
          const cmds = this.frmPayload(vm, phy, fOptsLen, 'nwk');
          if (cmds !== null) this.stats.macAnswers += uplinkCommandCount(cmds);
        } else {
          this.stats.datagrams++;
          this.checkDatagram(vm, phy, fOptsLen, t);
        }
      }
      vm.lastFCnt = fCnt;
    }
    if (tx.sync !== LORAWAN_SYNC_WORD) {
      this.stats.wrongSyncWord++;
      return;
    }
    this.o.onUplink({ device: d, phyPayload: phy, freq: tx.freqHz / 1e6, datr: `SF${tx.sf}BW${tx.bwHz / 1000}`, endWallMs: this.origin + t });
  }

  /** The firmware says it joined (`devaddr=<hex> devnonce=<n>`): its session keys come from the join-accept it took. */
  private joined(vm: VmState, line: string): void {
    const m = /devaddr=([0-9a-f]{8}) devnonce=(\d+)/.exec(line);
    vm.session = null;
    vm.fCntUp = -1;
    for (const phy of [...vm.joinAccepts].reverse()) {
      const r = m === null ? null : openJoinAccept(vm.d.appKey, Number(m[2]), phy);
      if (r !== null && r.ok && toHex(r.devAddr) === m![1]) {
        vm.session = { devAddr: r.devAddr, nwkSKey: r.nwkSKey, appSKey: r.appSKey };
        break;
      }
    }
    vm.joinAccepts = [];
    if (vm.session === null) this.failures.push(`firmware VM ${toHex(vm.d.devEui)}: "${line}" but no join-accept it heard gives that session`);
  }

  /** A VM's data uplink's FRMPayload, decrypted with AppSKey or NwkSKey (FPort 0); null without a session or when no FCnt gives its MIC (a failure). */
  private frmPayload(vm: VmState, phy: Bytes, fOptsLen: number, key: 'app' | 'nwk'): Bytes | null {
    const s = vm.session;
    if (s === null) return null;
    // the 32-bit FCnt: the first at or above the last one with these 16 bits whose MIC checks (an
    // ABP device's first uplink of a run may be far along: its counter lives in the VM's flash)
    const f16 = phy[6]! | (phy[7]! << 8);
    const msg = phy.subarray(0, phy.length - 4);
    const mic = toHex(phy.subarray(phy.length - 4));
    let fCnt = -1;
    for (let high = vm.fCntUp < 0 ? 0 : Math.floor(vm.fCntUp / 0x10000); high < (vm.fCntUp < 0 ? 0x100 : 0x10000) && fCnt < 0; high++) {
      const c = high * 0x10000 + f16;
      if (c >= vm.fCntUp && toHex(dataMic(s.nwkSKey, 'up', s.devAddr, c >>> 0, msg)) === mic) fCnt = c;
      if (vm.fCntUp >= 0 && high > Math.floor(vm.fCntUp / 0x10000)) break; // a session's counter moves on by less than 2^16
    }
    if (fCnt < 0) {
      this.failures.push(`firmware VM ${toHex(vm.d.devEui)}: an uplink whose MIC checks under no FCnt of its session`);
      return null;
    }
    vm.fCntUp = fCnt;
    return cryptFrmPayload(key === 'app' ? s.appSKey : s.nwkSKey, 'up', s.devAddr, fCnt >>> 0, phy.subarray(9 + fOptsLen, phy.length - 4));
  }

  /** A VM's FPort 1 uplink: decrypted, reassembled, and every whole sceau frame verified under the device's key. */
  private checkDatagram(vm: VmState, phy: Bytes, fOptsLen: number, t: number): void {
    const datagram = this.frmPayload(vm, phy, fOptsLen, 'app');
    if (datagram === null) return;
    const pushed = this.reassembler.push(datagram, t, toHex(vm.d.devEui));
    if (pushed.kind === 'invalid') this.failures.push(`firmware VM ${toHex(vm.d.devEui)}: datagram refused: ${pushed.detail}`);
    if (pushed.kind !== 'frame') return;
    const v = verifyFrame(pushed.frame, this.keyring, { recordVersions: [1, 2] });
    if (v.ok && v.kid === toHex(vm.d.kid)) {
      this.stats.records++;
      this.stats.frameBytes += pushed.frame.length;
    }
    else this.failures.push(`firmware VM ${toHex(vm.d.devEui)}: sent a frame that does not verify under its key: ${v.ok ? `signed by ${v.kid}` : `${v.code} ${v.detail}`}`);
  }

  /**
   * A downlink a gateway will send: offered to every VM that sent an uplink in the 8 s before it
   * starts and may be its addressee: a join-accept to those whose last uplink was a join-request, a
   * data downlink to the VM in the session of its DevAddr (in clear in the frame). A VM's air holds
   * one packet at a time, so others' downlinks are not put there to crowd out its own.
   */
  offer(e: Emission): void {
    const startMs = Math.round(e.wallMs - this.origin);
    const phy = e.phyPayload;
    const mtype = (phy[0] ?? 0) >> 5;
    for (const vm of this.states) {
      if (!(startMs >= vm.lastUplink && startMs - vm.lastUplink <= OFFER_HORIZON_MS)) continue;
      if (mtype === 1 && !vm.joining) continue;
      if ((mtype === 3 || mtype === 5) && (vm.session === null || phy.length < 5 || toHex(Uint8Array.from(phy.subarray(1, 5)).reverse()) !== toHex(vm.session.devAddr))) continue;
      vm.airQueue.push({ e, startMs });
      vm.airQueue.sort((a, b) => a.startMs - b.startMs);
      this.offeredAll.add(e);
      this.pumpAir(vm);
    }
  }

  /** Whether the downlink was offered to a VM, and whether a VM's radio heard it. */
  wasOffered(e: Emission): boolean {
    return this.offeredAll.has(e);
  }

  wasHeard(e: Emission): boolean {
    return this.heard.has(e);
  }

  /** Puts the next queued downlink on the VM's air once the one there has started, AIR_LEAD_MS before its own start. */
  private pumpAir(vm: VmState): void {
    if (vm.timer !== null || vm.airQueue.length === 0 || this.stopped) return;
    const next = vm.airQueue[0]!;
    const at = Math.max(next.startMs - AIR_LEAD_MS, vm.airUntil + 1);
    const wait = at - this.now();
    if (wait > 0) {
      vm.timer = setTimeout(() => {
        vm.timer = null;
        this.pumpAir(vm);
      }, wait);
      return;
    }
    vm.airQueue.shift();
    const e = next.e;
    const datr = parseDatr(e.datr);
    if (e.freq === null || datr === null) return this.pumpAir(vm); // no frequency or LoRa rate: nobody hears it
    const seq = ++vm.airSeq;
    vm.offered.set(seq, e);
    vm.airUntil = next.startMs;
    this.stats.downlinksOffered++;
    void vm.dev.setSetting('sceau_air', `${seq}:${Math.round(e.freq * 1e6)}:${datr.sf}:${datr.bwHz}:${toHex(e.phyPayload)}:${next.startMs}`).then(() => this.poke(vm));
    this.pumpAir(vm);
  }

  summary(): FirmwareVmsSummary {
    return { ...this.stats, vmMs: Math.round(this.stats.vmMs) };
  }
}
