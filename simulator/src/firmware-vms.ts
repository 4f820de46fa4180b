import { type Bytes, decodeRecord, fromHex, parseCbor, recordV2FromItem, toHex, verifySign1 } from '@sceau/protocol';
import type { RecordVersion } from './config.js';
import type { Device, GroupState } from './device-model.js';
import { type FirmwareReport, type FirmwareVmDevice, type FirmwareVmModule, loadFirmwareVm } from './firmware-vm.js';
import { Prng } from './prng.js';
import type { SensorModel } from './sensors.js';

/** A real-firmware device: its VM (null while powered off), its flash, and the sensor round it is reading. */
interface VmState {
  dev: FirmwareVmDevice | null;
  /** Bumped at every power cut: steps scheduled for an earlier boot are ignored. */
  generation: number;
  flash: { data?: Uint8Array };
  random: Prng;
  deviceId: string;
  sensorId: string;
  /** The firmware's sensor reads of the current boot (sensorRounds). */
  read: (kind: 'temperature' | 'humidity', t: number) => number | null;
  keyChecked: boolean;
  provisioned: boolean;
}

/** A frame a VM sealed, checked against the device's registered key. */
export interface VmFrame {
  t: number;
  bytes: Bytes;
  counter: number;
}

/** The counter of a record `payload` of `version`; undefined when it is not one. */
function counterOf(payload: Bytes, version: RecordVersion): number | undefined {
  if (version === 1) {
    const r = decodeRecord(payload);
    return r.ok ? r.record.counter : undefined;
  }
  const parsed = parseCbor(payload);
  const r = parsed.ok ? recordV2FromItem(parsed.item, payload) : undefined;
  return r?.ok === true ? r.record.counter : undefined;
}

/**
 * The fleet's real-firmware devices (`--firmware-vm K`) on the virtual clock: one DeviceScript VM
 * per device (firmware-vm.ts loads the VM host), booted on the device's flash, stepped when it asks,
 * reading the device's sensor model, and powered off at power cuts. The simulation owns the clock:
 * it schedules boots and steps and takes the frames each step sealed.
 */
export class FirmwareVms {
  readonly report: FirmwareReport = { devices: 0, frames: 0, boots: 0, steps: 0, sensorReads: 0, buildMs: 0, vmMs: 0 };
  private readonly states = new Map<Device, VmState>();
  private readonly images = new Map<GroupState, Uint8Array>();
  private module: FirmwareVmModule | undefined;

  constructor(seed: string, devices: readonly Device[]) {
    for (const d of devices) {
      if (!d.firmware) continue;
      this.states.set(d, {
        dev: null,
        generation: 0,
        flash: {},
        random: Prng.from(seed, `firmware-vm|${d.group.config.name}|${d.member}`),
        deviceId: `5ce0${d.index.toString(16).padStart(12, '0')}`,
        sensorId: `5ce1${d.index.toString(16).padStart(12, '0')}`,
        read: () => null,
        keyChecked: false,
        provisioned: false,
      });
    }
    this.report.devices = this.states.size;
  }

  /** Loads the VM host and builds (or takes from the cache) one firmware image per group with VMs. */
  async prepare(groups: readonly GroupState[]): Promise<void> {
    if (this.states.size === 0) return;
    this.module = await loadFirmwareVm();
    for (const g of groups) {
      if (g.config.firmwareVm === 0) continue;
      const built = this.module.buildSimFirmware({ intervalMs: g.config.intervalMs, batch: g.batch.rounds, withKid: g.config.kid });
      this.report.buildMs += built.buildMs;
      this.images.set(g, built.binary);
    }
  }

  /** The device's current power-on generation: events carry it, and a stale one is ignored. */
  generation(d: Device): number {
    return this.state(d).generation;
  }

  /** Powers the firmware on at `t`: a new VM on the device's flash (seed provisioned at the first boot). */
  async boot(d: Device, t: number): Promise<void> {
    const vm = this.state(d);
    const w0 = performance.now();
    vm.read = sensorRounds(d.sensors);
    vm.dev = await this.module!.SimFirmwareDevice.start(this.images.get(d.group)!, {
      deviceId: vm.deviceId,
      sensorId: vm.sensorId,
      // provisioning writes the device's seed into its settings once, as a provisioning tool would
      seed: vm.provisioned ? null : d.secret,
      // and, in a group sealing record version 2, its content key (the firmware reads it at start)
      contentKey: vm.provisioned ? null : d.contentKey,
      random: (n) => vm.random.bytes(n),
      read: (kind, tMs) => {
        this.report.sensorReads++;
        return vm.read(kind, tMs);
      },
      flash: vm.flash,
      t0: t,
    });
    vm.provisioned = true;
    vm.keyChecked = false;
    this.report.boots++;
    this.report.vmMs += performance.now() - w0;
  }

  /**
   * Runs the VM at `t`: returns when it wants to run next and the frames it sealed, each checked
   * against the provisioned key (throws when the firmware prints another key or a frame that
   * does not verify: the simulator would otherwise report a gateway's rejection as the link's).
   */
  step(d: Device, t: number): { next: number; frames: VmFrame[] } {
    const vm = this.state(d);
    const dev = vm.dev!;
    const w0 = performance.now();
    const next = Math.max(dev.step(t), t + d.group.config.firmwareTickMs);
    this.report.steps++;
    if (!vm.keyChecked && dev.keyLine !== null) {
      const m = /^sceau-key v1 kid=([0-9a-f]{16}) pub=([0-9a-f]{64})( new)?$/.exec(dev.keyLine);
      if (m === null || m[2] !== toHex(d.publicKey) || m[1] !== d.kidHex || m[3] !== undefined) {
        throw new Error(`firmware VM ${d.name}: key line ${JSON.stringify(dev.keyLine)} is not the provisioned key (kid ${d.kidHex})`);
      }
      vm.keyChecked = true;
    }
    const frames: VmFrame[] = [];
    for (const f of dev.takeFrames()) {
      if (f.kind !== 'frame') throw new Error(`firmware VM ${d.name}: printed a fragment; its image sends whole frames`);
      const bytes = fromHex(f.hex);
      // A sanity check of the VM's output against the registered key (the gateway checks again).
      const v = verifySign1(bytes, d.publicKey);
      const counter = v.ok ? counterOf(v.payload, d.group.config.record) : undefined;
      if (counter === undefined) throw new Error(`firmware VM ${d.name}: sealed a frame that does not verify under its key as record version ${d.group.config.record}: ${f.hex}`);
      frames.push({ t: f.t, bytes, counter });
      this.report.frames++;
    }
    this.report.vmMs += performance.now() - w0;
    return { next, frames };
  }

  /** Powers the VM off (power cut, or sampling is over); its flash is kept. */
  off(d: Device): void {
    const vm = this.state(d);
    if (vm.dev !== null) {
      vm.dev.stop();
      vm.dev = null;
    }
    vm.generation++;
  }

  /** Powers every VM off at the end of the run. */
  offAll(): void {
    for (const d of this.states.keys()) this.off(d);
  }

  /** What the VMs did and cost (wall times rounded to ms). */
  summary(): FirmwareReport {
    return { ...this.report, vmMs: Math.round(this.report.vmMs) };
  }

  private state(d: Device): VmState {
    const vm = this.states.get(d);
    if (vm === undefined) throw new Error(`internal: ${d.name} is not a firmware VM device`);
    return vm;
  }
}

/**
 * The firmware's sensor reads as sampling rounds of a device's sensor model (one per boot): a
 * temperature read starts a round, the humidity read after it takes the same round's value.
 */
export function sensorRounds(sensors: SensorModel): (kind: 'temperature' | 'humidity', t: number) => number | null {
  let round: Array<{ channel: number; value: number; at: number }> | null = null;
  let humidityTaken = false;
  return (kind, t) => {
    if (kind === 'temperature' || round === null || humidityTaken) {
      round = [];
      humidityTaken = false;
      sensors.sample(t, round);
    }
    if (kind === 'humidity') humidityTaken = true;
    const channel = kind === 'temperature' ? 1 : 2;
    return round.find((r) => r.channel === channel)?.value ?? null;
  };
}
