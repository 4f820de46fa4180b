// Types of lorawan-vectors.mjs for TypeScript callers (the tests, tests/tsconfig.json).
// Items and results are JSON objects whose fields depend on `op` (firmware/README.md, "LoRaWAN vectors").

/** Malformed input (exit 2). */
export class LorawanInputError extends Error {}

export type LorawanOp =
  | 'join-request' | 'join-accept' | 'uplink' | 'downlink' | 'aes' | 'cmac' | 'ccm' | 'hkdf' | 'session-keys'
  | 'frm-payload' | 'data-mic' | 'region' | 'mac-init' | 'mac-commands' | 'mac-downlinks' | 'channels'
  | 'rx-windows' | 'fcnt-down';

/** One input item: `op` and that operation's fields. */
export interface LorawanItem {
  op: LorawanOp;
  [field: string]: unknown;
}

/** One result: `ok` where the operation can refuse, `error` (the firmware's code) with `detail: true`. */
export interface LorawanResult {
  ok?: boolean;
  error?: string;
  [field: string]: unknown;
}

/** Checks one item and returns the case the VM runs (numbers as numbers, hex lower-case). */
export function checkItem(item: unknown, i: number | string): LorawanItem;

export const OPS: readonly LorawanOp[];
export const REGIONS: { EU868: { words: number; channels: number; timeOffSlots: number }; US915: { words: number; channels: number; timeOffSlots: number } };

/** Runs `items` in the VM and returns one result per item. */
export function runLorawanVectors(items: readonly unknown[], options?: { timeoutMs?: number; detail?: boolean }): Promise<LorawanResult[]>;
