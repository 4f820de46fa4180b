// Types of devs-vm.mjs for TypeScript callers (the tests, tests/tsconfig.json).

/** Persistent flash of a VM, kept by the caller across runs. */
export interface VmFlash {
  data?: Uint8Array;
}

/**
 * A DeviceScript VM instance (the emscripten module of the pinned @devicescript/cli). Only the
 * members sceau's scripts and tests use are listed.
 */
export interface VmInstance {
  devsStop(): void;
  devsStart(): void;
  devsDeploy(binary: Uint8Array): number;
  devsGcStress(on: boolean): void;
  devsSetDeviceId(id: string): void;
  devsSetDeviceId(low: number, high: number): void;
  /** Delivers a Jacdac frame to the VM's bus. */
  handlePacket(frame: Uint8Array): void;
  /** Frames the VM sends on its bus; returns 0. */
  sendPacket: ((pkt: Uint8Array) => number) | null;
  dmesg: (s: string) => void;
  log: (...a: unknown[]) => void;
  error: (...a: unknown[]) => void;
  panicHandler: (code: number) => void;
  flashLoad: (() => Uint8Array) | null;
  flashSave: ((buf: Uint8Array) => void) | null;
  timeNow?: () => number;
  randomBytes?: (n: number) => Uint8Array;
}

export interface StartVmOptions {
  /** Every console line of the program ("> text" for console.log, "! ..." for errors). */
  onLine?: (line: string) => void;
  onPanic?: (code: number) => void;
  gcStress?: boolean;
  flash?: VmFlash;
  deviceId?: string;
}

export interface RunToMarkerOptions {
  doneMarker?: string;
  timeoutMs?: number;
  gcStress?: boolean;
  flash?: VmFlash;
  deviceId?: string;
}

/** The VM module factory (loaded once per process). */
export function loadFactory(): (options: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<VmInstance>;

export const DEFAULT_DEVICE_ID: string;

/** Starts one VM instance and deploys `binary`. */
export function startVm(binary: Uint8Array, options?: StartVmOptions): Promise<VmInstance>;

/**
 * Runs `binary` until the program prints `doneMarker` (or panics, or times out); resolves with the
 * console lines printed before the marker. A rejection's error carries them as `lines`.
 */
export function runToMarker(binary: Uint8Array, options?: RunToMarkerOptions): Promise<string[]>;

export function readBinary(path: string): Uint8Array;

export const FIRMWARE_DIR: string;

/** The datagrams a console-link firmware printed (continuation lines joined). */
export function consoleDatagrams(lines: readonly string[]): Array<{ kind: 'frame' | 'fragment'; hex: string }>;
