/**
 * The identities of a `sceau sim lorawan` fleet, all derived from the seed (same seed, same fleet:
 * register it once in a network server), the registration file `lorawan-devices.json`, and the
 * per-device state that must survive runs (DevNonce, ABP FCntUp, sceau counter) in
 * `lorawan-state.json` beside it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Bytes, getPublicKey, kidOf, sha256, toHex } from '@sceau/protocol';
import { deviceSecret } from './device-model.js';
import { writeAtomic } from './write-atomic.js';

export type Activation = 'otaa' | 'abp';

export interface LorawanDevice {
  index: number;
  secret: Bytes;
  publicKey: Bytes;
  kid: Bytes;
  devEui: Bytes;
  joinEui: Bytes;
  appKey: Bytes;
  /** ABP only (OTAA devices get theirs from the join-accept). */
  devAddr: Bytes | null;
  nwkSKey: Bytes | null;
  appSKey: Bytes | null;
}

/** One object of `lorawan-devices.json`; byte fields are big-endian hex. */
export type RegistrationEntry =
  | { kid: string; publicKey: string; devEui: string; joinEui: string; appKey: string }
  | { kid: string; publicKey: string; devEui: string; devAddr: string; nwkSKey: string; appSKey: string };

export const DEVICES_FILE = 'lorawan-devices.json';
export const STATE_FILE = 'lorawan-state.json';
/** The group name the device keys are derived under (`deviceSecret(seed, group, index)`). */
export const LORAWAN_GROUP = 'lorawan';

function derive(seed: string, what: string, length: number): Bytes {
  return sha256(new TextEncoder().encode(`sceau-sim/v1/lorawan|${seed}|${what}`)).slice(0, length);
}

/** An EUI-64 from the seed with the locally administered bit set and the group bit clear (IEEE 802: not a vendor's block). */
export function localEui(seed: string, what: string): Bytes {
  const e = derive(seed, what, 8);
  e[0] = (e[0]! & 0xfc) | 0x02;
  return e;
}

/** `HEX/BITS` (e.g. `00000000/7`, NetID 0's experimental block) as a value and a bit count. */
export function parseDevAddrPrefix(text: string): { prefix: number; bits: number } {
  const m = /^([0-9a-fA-F]{8})\/(\d{1,2})$/.exec(text);
  const bits = m ? Number(m[2]) : NaN;
  if (!m || bits > 31) throw new RangeError(`--dev-addr-prefix: expected 8 hex digits / prefix length 0..31 (e.g. 00000000/7), got ${JSON.stringify(text)}`);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { prefix: (parseInt(m[1]!, 16) & mask) >>> 0, bits };
}

/** The fleet, a pure function of the seed, activation and prefix. DevAddrs are unique within the fleet. */
export function makeFleet(seed: string, count: number, activation: Activation, devAddrPrefix = '00000000/7'): LorawanDevice[] {
  const { prefix, bits } = parseDevAddrPrefix(devAddrPrefix);
  if (activation === 'abp' && count > 2 ** (32 - bits)) throw new RangeError(`--dev-addr-prefix ${devAddrPrefix}: room for ${2 ** (32 - bits)} DevAddrs, not ${count}`);
  const joinEui = localEui(seed, 'join-eui');
  const used = new Set<number>();
  const out: LorawanDevice[] = [];
  for (let i = 0; i < count; i++) {
    const secret = deviceSecret(seed, LORAWAN_GROUP, i);
    const publicKey = getPublicKey(secret);
    let devAddr: Bytes | null = null;
    if (activation === 'abp') {
      const mask = bits === 0 ? 0xffffffff : 0xffffffff >>> bits;
      for (let k = 0; ; k++) {
        const r = derive(seed, `dev-addr|${i}|${k}`, 4);
        const v = ((prefix | (((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) & mask)) >>> 0);
        if (used.has(v)) continue;
        used.add(v);
        devAddr = Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
        break;
      }
    }
    out.push({
      index: i,
      secret,
      publicKey,
      kid: kidOf(publicKey),
      devEui: localEui(seed, `dev-eui|${i}`),
      joinEui,
      appKey: derive(seed, `app-key|${i}`, 16),
      devAddr,
      nwkSKey: activation === 'abp' ? derive(seed, `nwk-s-key|${i}`, 16) : null,
      appSKey: activation === 'abp' ? derive(seed, `app-s-key|${i}`, 16) : null,
    });
  }
  return out;
}

export function registrationEntries(fleet: readonly LorawanDevice[], activation: Activation): RegistrationEntry[] {
  return fleet.map((d) =>
    activation === 'otaa'
      ? { kid: toHex(d.kid), publicKey: toHex(d.publicKey), devEui: toHex(d.devEui), joinEui: toHex(d.joinEui), appKey: toHex(d.appKey) }
      : { kid: toHex(d.kid), publicKey: toHex(d.publicKey), devEui: toHex(d.devEui), devAddr: toHex(d.devAddr!), nwkSKey: toHex(d.nwkSKey!), appSKey: toHex(d.appSKey!) },
  );
}

/** True when `dir` is inside a git work tree (the file holds root keys: it must not be committed). */
export function insideGitWorkTree(dir: string): boolean {
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    return execFileSync('git', ['-C', existing, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'true';
  } catch {
    return false;
  }
}

/** Writes `DIR/lorawan-devices.json` (0600: it holds AppKeys or session keys). */
export function writeRegistration(dir: string, entries: readonly RegistrationEntry[]): string {
  mkdirSync(dir, { recursive: true });
  const path = join(resolve(dir), DEVICES_FILE);
  writeAtomic(path, `${JSON.stringify(entries, null, 2)}\n`, 0o600);
  return path;
}

/** What must not repeat across runs with the same keys: the next DevNonce (OTAA), the next FCntUp (ABP), the next sceau counter. */
export interface DeviceState {
  devNonce: number;
  fCntUp: number;
  counter: number;
}

/** `lorawan-state.json` cannot be read back: a run must not go on without it (it would reuse DevNonces and counters). */
export class FleetStateError extends Error {
  override readonly name = 'FleetStateError';
}

function readState(path: string): Record<string, DeviceState> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = e instanceof SyntaxError ? `not JSON: ${e.message}` : (e as Error).message;
    throw new FleetStateError(`${path}: ${why}; it keeps the DevNonces and counters of earlier runs: restore it, or use a new --keys-out or --seed`, { cause: e });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new FleetStateError(`${path}: expected an object of devices by DevEUI`);
  for (const [devEui, st] of Object.entries(data)) {
    const fields = (typeof st === 'object' && st !== null ? st : {}) as Record<string, unknown>;
    const ok = ['devNonce', 'fCntUp', 'counter'].every((k) => Number.isSafeInteger(fields[k]) && (fields[k] as number) >= 0);
    if (!/^[0-9a-f]{16}$/.test(devEui) || !ok) throw new FleetStateError(`${path}: device ${JSON.stringify(devEui)}: expected a DevEUI of 16 hex digits with devNonce, fCntUp and counter (integers >= 0)`);
  }
  return data as Record<string, DeviceState>;
}

export class FleetState {
  private readonly path: string;
  private readonly state: Record<string, DeviceState>;

  /** Reads `DIR/lorawan-state.json` when there is one; a `FleetStateError` when it is not that file (not JSON, another shape, unreadable). */
  constructor(dir: string) {
    this.path = join(resolve(dir), STATE_FILE);
    this.state = existsSync(this.path) ? readState(this.path) : {};
  }

  get(devEui: Bytes): DeviceState {
    const key = toHex(devEui);
    this.state[key] ??= { devNonce: 0, fCntUp: 0, counter: 1 }; // sceau counters start at 1
    return this.state[key];
  }

  save(): void {
    writeAtomic(this.path, `${JSON.stringify(this.state, null, 2)}\n`, 0o600);
  }
}
