// Types of jd-sensors.mjs for TypeScript callers (the tests, tests/tsconfig.json).
import type { VmInstance } from './devs-vm.mjs';

/** A temperature + humidity Jacdac device emulated on a VM's bus. */
export class VmClimateSensors {
  /** Values in channel units: temperature in degrees Celsius, humidity in %RH. */
  constructor(inst: VmInstance, options?: { deviceId?: string; temperature?: number; humidity?: number });
  readonly inst: VmInstance;
  readonly id: Uint8Array;
  values: { 1: number; 2: number };
  /** Reading requests answered so far. */
  reads: number;
  restarts: number;
  set(temperature?: number, humidity?: number): void;
  stop(): void;
  send(frame: Uint8Array): void;
  announce(): void;
  onFrame(frame: Uint8Array): void;
}

export interface JacdacPacket {
  serviceIndex: number;
  command: number;
  payload: Uint8Array;
}

export function readingRequests(frame: ArrayLike<number>, deviceId: ArrayLike<number>): number[];
export function readingReply(deviceId: Uint8Array, serviceIndex: number, value: number): Uint8Array;
export function announceFrame(deviceId: Uint8Array, restarts?: number): Uint8Array;
export function jacdacFrame(deviceId: Uint8Array, flags: number, packets: readonly JacdacPacket[]): Uint8Array;
export const SRV_TEMPERATURE: number;
export const SRV_HUMIDITY: number;
export const REG_READING: number;
export const CMD_GET_REG: number;
export const FLAG_COMMAND: number;
