// Types of sim-device.mjs for TypeScript callers (the tests, tests/tsconfig.json). The simulator
// has its own view of this module (simulator/src/firmware-vm.ts, FirmwareVmModule).
import type { VmFlash, VmInstance } from './devs-vm.mjs';

export interface SimImage {
  binary: Uint8Array;
  cached: boolean;
  buildMs: number;
}

/** The firmware configuration the simulator builds with (src/config.ts overrides). */
export function simConfig(options?: { intervalMs?: number; batch?: number; withKid?: boolean }): Record<string, string | number | boolean | undefined>;
export function simLorawanConfig(options: { intervalMs: number; region: 'EU868' | 'US915'; dr: number; subBand?: number }): Record<string, string | number | boolean>;
export function buildSimFirmware(options: { intervalMs: number; batch?: number; withKid?: boolean }): SimImage;
export function buildSimLorawanFirmware(options: { intervalMs: number; region: 'EU868' | 'US915'; dr: number; subBand?: number }): SimImage;

export interface SimDeviceOptions {
  /** 16 hex characters: the VM's Jacdac device id. */
  deviceId: string;
  /** 16 hex characters: the emulated sensor device's id. */
  sensorId?: string;
  /** The 32-byte Ed25519 seed provisioned into the settings, or null to let the firmware make one. */
  seed?: Uint8Array | null;
  /** The VM's "hardware" random bytes. */
  random?: (n: number) => Uint8Array;
  /** The sensor value in channel units (0.01 Cel, 0.01 %RH), or null when the sensor does not answer. */
  read: (kind: 'temperature' | 'humidity', tMs: number) => number | null | undefined;
  flash?: VmFlash;
  /** Virtual time of power-on. */
  t0?: number;
  /** A 32-byte content key provisioned with the seed: the firmware then seals record version 2. */
  contentKey?: Uint8Array | null;
}

export interface SimFrame {
  t: number;
  kind: 'frame' | 'fragment';
  hex: string;
}

/** One firmware device on a virtual clock. */
export class SimFirmwareDevice {
  static start(binary: Uint8Array, options: SimDeviceOptions): Promise<SimFirmwareDevice>;
  /** Virtual time of the current step. */
  now: number;
  /** Virtual time at which the VM wants to run next. */
  nextAt: number;
  nextAnnounce: number;
  /** The `sceau-key v1 ...` line of this boot, once printed. */
  keyLine: string | null;
  errors: string[];
  panic: number | null;
  steps: number;
  runs: number;
  sensorReads: number;
  vmId: Uint8Array;
  sensorId: Uint8Array;
  /** The VM instance; null once stopped. */
  inst: VmInstance | null;
  /** Sees every console line with the virtual time of its step. */
  onLine?: (line: string, t: number) => void;
  /** Sees every frame the VM sends on its bus. */
  onAnyFrame?: (frame: Uint8Array) => void;
  boot(binary: Uint8Array, options: SimDeviceOptions): Promise<void>;
  /** Writes a setting through the runtime's settings service (delivered at the next step). */
  setSetting(key: string, value: string): Promise<void>;
  announce(): void;
  inject(frame: Uint8Array): void;
  /** Runs the VM at virtual time `t` until it waits; returns the next time it wants to run. */
  step(t: number): number;
  /** Frames printed since the last call. */
  takeFrames(): SimFrame[];
  /** Drops the VM (a power cut, or the end of the run); its flash object survives. */
  stop(): void;
}
