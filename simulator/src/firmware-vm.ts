/**
 * Real-firmware devices (`--firmware-vm K`): the firmware's DeviceScript bytecode (src/main.ts of
 * the firmware workspace, built with jacdac sensor roles and the console link) run in DeviceScript
 * VMs, one WebAssembly instance per device, all in this process, on the simulator's virtual clock.
 * The loader is `@sceau/firmware/sim-device` (firmware/scripts/sim-device.mjs): it exists in the
 * sceau repository (the firmware workspace is not published), so this module loads it lazily and
 * only when a run asks for VMs.
 */

/** A firmware VM on a virtual clock (firmware/scripts/sim-device.mjs). */
export interface FirmwareVmDevice {
  /** Virtual time at which the VM wants to run next (its own wake-up, or its next announce if sooner). */
  nextAt: number;
  /** Virtual time of its next Jacdac announce (every 400 ms). */
  nextAnnounce?: number;
  /** The `sceau-key v1 kid=... pub=...` line of the current boot, once printed. */
  keyLine: string | null;
  steps: number;
  sensorReads: number;
  step(t: number): number;
  takeFrames(): Array<{ t: number; kind: 'frame' | 'fragment'; hex: string }>;
  stop(): void;
  /** Writes a setting through the VM's settings service (delivered at the next step). */
  setSetting(key: string, value: string): Promise<void>;
  /** When set, sees every console line the firmware prints, with the virtual time of the step. */
  onLine?: (line: string, t: number) => void;
}

export interface FirmwareVmStartOptions {
  deviceId: string;
  sensorId: string;
  seed: Uint8Array | null;
  random: (n: number) => Uint8Array;
  read: (kind: 'temperature' | 'humidity', tMs: number) => number | null;
  flash: { data?: Uint8Array };
  t0: number;
  /** The 32-byte content key provisioned with the seed: the firmware then seals record version 2. */
  contentKey?: Uint8Array | null;
}

export interface FirmwareVmModule {
  buildSimFirmware(options: { intervalMs: number; batch: number; withKid: boolean }): { binary: Uint8Array; cached: boolean; buildMs: number };
  /** The LoRaWAN firmware (LINK "lorawan-fake": the real MAC on the host-driven fake radio) of `sceau sim lorawan --firmware-vm`. */
  buildSimLorawanFirmware(options: { intervalMs: number; region: 'EU868' | 'US915'; dr: number }): { binary: Uint8Array; cached: boolean; buildMs: number };
  SimFirmwareDevice: { start(binary: Uint8Array, options: FirmwareVmStartOptions): Promise<FirmwareVmDevice> };
}

let loaded: Promise<FirmwareVmModule> | undefined;

/** The firmware's VM host (throws a clear error outside the sceau repository). */
export function loadFirmwareVm(): Promise<FirmwareVmModule> {
  const spec = '@sceau/firmware/sim-device';
  loaded ??= (import(spec) as Promise<FirmwareVmModule>).catch((e: unknown) => {
    loaded = undefined;
    throw new Error(`--firmware-vm needs the firmware workspace of the sceau repository (${spec}): ${(e as Error).message}`);
  });
  return loaded;
}

/** What the run did with real-firmware devices (RunResult.firmware). */
export interface FirmwareReport {
  /** Devices run as firmware VMs. */
  devices: number;
  /** Frames the VMs sealed. */
  frames: number;
  /** VM boots (first boots and boots after power cuts). */
  boots: number;
  /** Times the VMs were run (one per virtual instant a VM asked for). */
  steps: number;
  /** Sensor reads the VMs made. */
  sensorReads: number;
  /** Wall time spent building VM images (0 when cached). */
  buildMs: number;
  /** Wall time spent inside the VMs (boots and steps). */
  vmMs: number;
}
