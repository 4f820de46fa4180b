/**
 * The device registry: devices (a unique name, a DevEUI) and their keys, one registered at most.
 * One state model (docs/integrators.md#device-states):
 *
 *   registered <-> revoked      `devices revoke` / `devices unrevoke`; a rotation revokes the old key
 *   deleted                     `devices delete`: the device and its keys leave the registry, the
 *                               replay windows stay, so a key added again never accepts an old counter
 *   erased                      `devices erase` (store-privacy.ts): final; the device, its frames and
 *                               content keys are deleted, a tombstone per key refuses it for ever
 *
 * One resolver (`find` / `resolve`) turns a device reference (kid, DevEUI or name) into a device
 * for the CLI and the gateway's HTTP queries alike. Refusals are `RegistryError`s with a stable
 * code.
 */
import type Database from 'better-sqlite3';
import { equalBytes, kidOf, publicKeyIsAcceptable, SMALL_ORDER_ENCODINGS, toHex, VERIFICATION_CODES, type Bytes } from '@sceau/protocol';
import { StoreError } from './store-errors.js';
import { parseDevEui } from './device-identity.js';

/** Registry refusal codes: append-only; each has an anchor in docs/integrators.md#registry-errors. */
export const REGISTRY_CODES = [
  'unknown-device',
  'ambiguous-device',
  'bad-name',
  'bad-dev-eui',
  'small-order-public-key',
  'non-canonical-public-key',
  'registration-conflict',
  'name-taken',
  'dev-eui-taken',
  'key-revoked',
  'superseded',
  'same-key',
  'seed-exists',
  'symlink-refused',
  'off-curve-public-key',
  'key-erased',
  'content-key-exists',
] as const;
export type RegistryCode = (typeof REGISTRY_CODES)[number];

/** The refusal of a key erased at `erasedAt` (ms): final, on every backend. */
export function erasedKeyError(kid: string, erasedAt: number): RegistryError {
  return new RegistryError('key-erased', `key ${kid} was erased on ${new Date(erasedAt).toISOString()}; an erased key is never accepted again (provision a new key)`);
}

/**
 * The outcomes a stored frame can have, which frame queries accept: `ok` and the protocol's
 * verification codes. A code the gateway comes to store besides these is added here.
 */
export const STORED_OUTCOMES: ReadonlySet<string> = new Set(['ok', ...VERIFICATION_CODES]);

/** A field that differs between a registration and the registry. */
export interface Difference {
  field: 'publicKey' | 'name' | 'devEui';
  registered: string | null;
  given: string | null;
}

/**
 * Refusals that conflict with what the registry holds (the same request can succeed once the
 * registry changes); every other code is a request that is wrong in itself. The edges map the two:
 * the CLI to exit 3 and 2, the HTTP API to 409 and 400 (docs/architecture.md#errors).
 */
const CONFLICT_CODES: ReadonlySet<RegistryCode> = new Set<RegistryCode>(['registration-conflict', 'name-taken', 'dev-eui-taken', 'key-revoked', 'superseded', 'same-key', 'seed-exists', 'symlink-refused', 'key-erased', 'content-key-exists']);

/**
 * A refusal of the registry: `code` is stable, the message is one line for people; no exit code
 * and no HTTP status (the edges map `registryRefusalKind`). A refusal of several entries at once
 * keeps each entry's refusal in `refusals`.
 */
export class RegistryError extends Error {
  constructor(
    readonly code: RegistryCode,
    detail: string,
    readonly differences: Difference[] = [],
    readonly refusals: readonly RegistryError[] = [],
  ) {
    // the message starts with the code (the CLI's error line then does not repeat it)
    super(`${code}: ${detail}`);
    this.name = 'RegistryError';
  }
}

/** `conflict` when the refusal (or one of the entries it refuses) conflicts with the registry's state, else `invalid`. */
export function registryRefusalKind(error: RegistryError): 'invalid' | 'conflict' {
  return CONFLICT_CODES.has(error.code) || error.refusals.some((r) => registryRefusalKind(r) === 'conflict') ? 'conflict' : 'invalid';
}

export type KeyState = 'registered' | 'revoked';

/** One key of a device, with the device's name and DevEUI (the rows of the `devices` view). */
export interface Device {
  kid: string;
  publicKey: string;
  name: string | null;
  devEui: string | null;
  revoked: boolean;
  state: KeyState;
  createdAt: string;
  revokedAt: string | null;
  /** Highest accepted counter (0 before any frame). */
  highestCounter: number;
}

/** A device with all its keys, oldest first (several after a rotation). */
export interface DeviceRecord extends Device {
  keys: Array<Omit<Device, 'name' | 'devEui'>>;
}

export interface RegisterOptions {
  name?: string | undefined;
  devEui?: string | undefined;
  /** Apply a different name or DevEUI instead of refusing the registration. */
  update?: boolean | undefined;
}

export interface Registration {
  device: Device;
  /** `created`: a new device; `unchanged`: registered with the same values; `updated`: with `update`. */
  result: 'created' | 'unchanged' | 'updated';
  /** A key added again after `devices delete`: its replay window (counter floor) still applies. */
  counterFloor?: number;
}

// Version 3 of the store. `id` orders keys (a device's latest key is its highest id).
export const REGISTRY_TABLES = `
CREATE TABLE IF NOT EXISTS registry_devices (
  id INTEGER PRIMARY KEY,
  name TEXT UNIQUE,
  dev_eui TEXT UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_keys (
  id INTEGER PRIMARY KEY,
  kid TEXT NOT NULL UNIQUE,
  device_id INTEGER NOT NULL REFERENCES registry_devices (id),
  public_key BLOB NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('registered', 'revoked')),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS registry_keys_by_device ON registry_keys (device_id);
CREATE UNIQUE INDEX IF NOT EXISTS registry_one_registered_key ON registry_keys (device_id) WHERE state = 'registered';
`;

/** The version-2 `devices` table's columns, one row per key, for SQL readers. */
export const DEVICES_VIEW = `
CREATE VIEW IF NOT EXISTS devices (kid, public_key, name, dev_eui, revoked, created_at, revoked_at) AS
  SELECT k.kid, k.public_key, d.name, d.dev_eui, k.state = 'revoked', k.created_at, k.revoked_at
  FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id;
`;

/** A version-1 or -2 store opened read-only: its `devices` table seen as the version-3 tables. */
export const REGISTRY_READ_ONLY_VIEWS = `
CREATE TEMP VIEW registry_devices (id, name, dev_eui, created_at) AS SELECT rowid, name, dev_eui, created_at FROM main.devices;
CREATE TEMP VIEW registry_keys (id, kid, device_id, public_key, state, created_at, revoked_at) AS
  SELECT rowid, kid, rowid, public_key, CASE WHEN revoked = 0 THEN 'registered' ELSE 'revoked' END, created_at, revoked_at FROM main.devices;
`;

/** A DevEUI as 16 lower-case hex digits, or a usage error. */
export function normalizeDevEui(eui: string): string {
  const clean = parseDevEui(eui);
  if (clean === undefined) throw new RegistryError('bad-dev-eui', `DevEUI ${JSON.stringify(eui)}: expected 16 hex digits`);
  return clean;
}

/** Whether a name reads as a kid or a DevEUI (16 hex digits, separators aside): such names are refused. */
export function nameLooksLikeId(name: string): boolean {
  return /^[0-9a-f]{16}$/i.test(name.replace(/[-:\s]/g, ''));
}

/** A device name as given, or a `bad-name` refusal. */
export function checkDeviceName(name: string): string {
  const refuse = (why: string): never => {
    throw new RegistryError('bad-name', `device name ${JSON.stringify(name)}: ${why}`);
  };
  if (name.length === 0 || name.length > 64) refuse('expected 1 to 64 characters');
  if (name.trim() !== name) refuse('leading or trailing spaces');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) refuse('control characters');
  if (nameLooksLikeId(name)) refuse('16 hex digits read as a kid or a DevEUI; choose a name that does not');
  return name;
}


const P = 2n ** 255n - 19n;
function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % P;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}
const D = (((-121665n * modPow(121666n, P - 2n)) % P) + P) % P;

/** The Jacobi symbol (a/n) for odd n > 0 (the Legendre symbol for a prime n): four times faster than Euler's criterion. */
function jacobi(a: bigint, n: bigint): number {
  let x = ((a % n) + n) % n;
  let m = n;
  let t = 1;
  while (x !== 0n) {
    while ((x & 1n) === 0n) {
      x >>= 1n;
      const r = m & 7n;
      if (r === 3n || r === 5n) t = -t;
    }
    [x, m] = [m, x];
    if ((x & 3n) === 3n && (m & 3n) === 3n) t = -t;
    x %= m;
  }
  return m === 1n ? t : 0;
}

/**
 * Whether a canonical encoding decodes to a curve point (RFC 8032 §5.1.3): x² = (y² − 1) / (d·y² + 1)
 * must be a square, that is u·v a square or 0 (v ≠ 0 for every y, as −1/d is not a square).
 * About 40 µs.
 */
function decodesToPoint(key: Bytes): boolean {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? key[i]! & 0x7f : key[i]!);
  const y2 = (y * y) % P;
  return jacobi((y2 - 1n) * (D * y2 + 1n), P) !== -1;
}

/**
 * Refuses a public key that verification would never accept a frame under: a point of small order
 * or a non-canonical encoding (the protocol's strict policy, `publicKeyIsAcceptable`; small order
 * is tested first for its own code), or an encoding that is no point at all.
 */
export function checkRegistrationKey(publicKey: Bytes): void {
  if (publicKey.length !== 32) throw new RegistryError('non-canonical-public-key', `public key of ${publicKey.length} bytes, expected 32`);
  const hex = toHex(publicKey);
  if (SMALL_ORDER_ENCODINGS.includes(hex)) throw new RegistryError('small-order-public-key', `public key ${hex} is a point of small order: any signature could verify under it`);
  // length and small order are checked above, so only a non-canonical y fails the policy here
  if (!publicKeyIsAcceptable(publicKey)) throw new RegistryError('non-canonical-public-key', `public key ${hex} is not canonically encoded (y >= 2^255-19)`);
  // Not asked of a key by the verifier's policy, but such a key can never verify a frame: most
  // often a mistyped or corrupted key.
  if (!decodesToPoint(publicKey)) throw new RegistryError('off-curve-public-key', `public key ${hex} is not a point of the curve (mistyped or corrupted?)`);
}

/** `name-taken`: the name is the device whose current key (else id) is `holder`. */
export function nameTakenError(name: string, holder: string | number): RegistryError {
  return new RegistryError('name-taken', `name ${JSON.stringify(name)} is device ${holder}; names are unique (to give that device a new key: sceau provision --rotate)`);
}

/** `dev-eui-taken`: the DevEUI is the device whose current key (else id) is `holder`. */
export function devEuiTakenError(devEui: string, holder: string | number, holderName: string | null | undefined): RegistryError {
  return new RegistryError('dev-eui-taken', `DevEUI ${devEui} is already mapped to ${holder}${holderName ? ` (${holderName})` : ''}`);
}

/** A registration checked by `checkRegistration`: its key's kid, its name and DevEUI normalized. */
export interface CheckedRegistration {
  publicKey: Bytes;
  kid: string;
  name: string | undefined;
  devEui: string | undefined;
}

/** The checks of a registration that need no database: the key, the name, the DevEUI (both backends' bulk registration). */
export function checkRegistration(publicKey: Bytes, options: { name?: string | undefined; devEui?: string | undefined }): CheckedRegistration {
  checkRegistrationKey(publicKey);
  return {
    publicKey,
    kid: toHex(kidOf(publicKey)),
    name: options.name === undefined ? undefined : checkDeviceName(options.name),
    devEui: options.devEui === undefined ? undefined : normalizeDevEui(options.devEui),
  };
}

/** A key of the registry joined with its device, as both backends read it (SQLite here, PostgreSQL in store-pg-registry.ts). */
export interface KeyRow {
  id: number;
  kid: string;
  device_id: number;
  public_key: Buffer;
  state: KeyState;
  created_at: number;
  revoked_at: number | null;
  name: string | null;
  dev_eui: string | null;
}

/** A key row as the registry answers it, given the key's highest accepted counter. */
export function keyOfRow(row: KeyRow, highestCounter: number): Omit<Device, 'name' | 'devEui'> {
  return {
    kid: row.kid,
    publicKey: toHex(new Uint8Array(row.public_key)),
    revoked: row.state === 'revoked',
    state: row.state,
    createdAt: new Date(row.created_at).toISOString(),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at).toISOString(),
    highestCounter,
  };
}

/** A key row with its device's name and DevEUI. */
export function deviceOfRow(row: KeyRow, highestCounter: number): Device {
  const key = keyOfRow(row, highestCounter);
  return { kid: key.kid, publicKey: key.publicKey, name: row.name, devEui: row.dev_eui, revoked: key.revoked, state: key.state, createdAt: key.createdAt, revokedAt: key.revokedAt, highestCounter: key.highestCounter };
}

/** What a reference resolved to: a device, and the key the reference named (its current key unless a kid). */
export interface Resolved {
  deviceId: number;
  device: Device;
  via: 'kid' | 'dev-eui' | 'name';
}

const KEY_COLUMNS = 'k.id, k.kid, k.device_id, k.public_key, k.state, k.created_at, k.revoked_at, d.name, d.dev_eui';
const KEY_FROM = 'registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id';

export class DeviceRegistry {
  private readonly stmt;

  constructor(
    private readonly db: Database.Database,
    /** Called after every change (drops the keyring's cache, and the cached windows of deleted keys). */
    private readonly changed: (deletedKids: readonly string[]) => void,
  ) {
    this.stmt = {
      keyByKid: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM ${KEY_FROM} WHERE k.kid = ?`),
      keysOfDevice: db.prepare<[number], KeyRow>(`SELECT ${KEY_COLUMNS} FROM ${KEY_FROM} WHERE k.device_id = ? ORDER BY k.id`),
      currentKey: db.prepare<[number], KeyRow>(`SELECT ${KEY_COLUMNS} FROM ${KEY_FROM} WHERE k.device_id = ? ORDER BY k.state = 'registered' DESC, k.id DESC LIMIT 1`),
      devicesByEui: db.prepare<[string], { id: number }>('SELECT id FROM registry_devices WHERE dev_eui = ?'),
      devicesByName: db.prepare<[string], { id: number }>('SELECT id FROM registry_devices WHERE name = ?'),
      namesLike: db.prepare<[string], { name: string }>("SELECT name FROM registry_devices WHERE name LIKE ? ESCAPE '\\' ORDER BY name LIMIT 5"),
      highest: db.prepare<[string], { highest: number }>('SELECT highest FROM replay_windows WHERE kid = ?'),
      anyFrame: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM frames WHERE kid = ? LIMIT 1'),
    };
  }

  // --- Reading ---------------------------------------------------------------------------

  /** Every key of every device, oldest first. */
  list(): Device[] {
    return this.db.prepare<[], KeyRow>(`SELECT ${KEY_COLUMNS} FROM ${KEY_FROM} ORDER BY k.created_at, k.id`).all().map((r) => this.toDevice(r));
  }

  /**
   * The device a reference names: a kid (that key), a DevEUI or a name (the device's registered
   * key, else its latest). Undefined when nothing matches; `ambiguous-device` when the reference
   * names two devices (a kid of one and the DevEUI of another, or a name a version-2 store
   * let two devices share, read without migrating).
   */
  find(ref: string): Resolved | undefined {
    const text = ref.trim();
    const found = new Map<number, Resolved>();
    const hex = text.replace(/[-:\s]/g, '').toLowerCase();
    if (/^[0-9a-f]{16}$/.test(text)) {
      const key = this.stmt.keyByKid.get(text.toLowerCase());
      if (key !== undefined) found.set(key.device_id, { deviceId: key.device_id, device: this.toDevice(key), via: 'kid' });
    }
    if (/^[0-9a-f]{16}$/.test(hex)) {
      for (const { id } of this.stmt.devicesByEui.all(hex)) if (!found.has(id)) found.set(id, this.resolvedDevice(id, 'dev-eui'));
    }
    if (found.size === 0) for (const { id } of this.stmt.devicesByName.all(text)) found.set(id, this.resolvedDevice(id, 'name'));
    if (found.size > 1) {
      const which = [...found.values()].map((r) => `${r.device.kid} (${r.via})`).join(', ');
      throw new RegistryError('ambiguous-device', `${JSON.stringify(ref)} names ${found.size} devices: ${which}; use a kid`);
    }
    return found.values().next().value;
  }

  /** `find`, or an `unknown-device` refusal that says what is known of the reference. */
  resolve(ref: string): Resolved {
    const found = this.find(ref);
    if (found !== undefined) return found;
    throw this.unknown(ref);
  }

  private unknown(ref: string): RegistryError {
    const text = ref.trim();
    let hint = '';
    if (/^[0-9a-f]{16}$/i.test(text) && this.stmt.highest.get(text.toLowerCase()) !== undefined) {
      hint = ` (key ${text.toLowerCase()} was deleted; its counter floor ${this.stmt.highest.get(text.toLowerCase())!.highest} is kept)`;
    } else {
      const like = this.stmt.namesLike.all(`${text.replace(/[\\%_]/g, (c) => `\\${c}`)}~%`).map((r) => r.name);
      if (like.length > 0) hint = ` (renamed when the database was migrated? known: ${like.join(', ')})`;
    }
    return new RegistryError('unknown-device', `no device ${JSON.stringify(ref)} in the registry${hint}`);
  }

  /** A device with all its keys. */
  show(ref: string): DeviceRecord {
    const r = this.resolve(ref);
    return { ...r.device, keys: this.stmt.keysOfDevice.all(r.deviceId).map((k) => this.keyOf(k)) };
  }

  /**
   * The kids whose frames a device reference selects: every key of the device for a name or a
   * DevEUI (its history across rotations), the key for a kid, and a kid the registry no longer
   * or never held but the store has frames or a replay window of. Anything else is `unknown-device`.
   */
  kidsOf(ref: string): string[] {
    const found = this.find(ref);
    if (found !== undefined) return found.via === 'kid' ? [found.device.kid] : this.stmt.keysOfDevice.all(found.deviceId).map((k) => k.kid);
    const kid = ref.trim().toLowerCase();
    if (/^[0-9a-f]{16}$/.test(kid) && (this.stmt.highest.get(kid) !== undefined || this.stmt.anyFrame.get(kid) !== undefined)) return [kid];
    throw this.unknown(ref);
  }

  // --- Changing ----------------------------------------------------------------------------

  /**
   * Registers a key. A key not in the registry becomes a new device (its name and DevEUI must be
   * free: `name-taken`, `dev-eui-taken`). The same key again with the same name and DevEUI (or
   * without them) is `unchanged`; a different name or DevEUI is a `registration-conflict`
   * listing the differences unless `update`; a revoked key is refused (`key-revoked`: unrevoke it).
   */
  register(publicKey: Bytes, options: RegisterOptions = {}): Registration {
    return this.apply(checkRegistration(publicKey, options), options.update);
  }

  /** `register` of a registration already checked (outside the transaction, in bulk). */
  private apply({ publicKey, kid, name, devEui }: CheckedRegistration, update: boolean | undefined): Registration {
    return this.write(() => {
      this.refuseErased(kid);
      const existing = this.stmt.keyByKid.get(kid);
      if (existing !== undefined) {
        const differences: Difference[] = [];
        if (!equalBytes(new Uint8Array(existing.public_key), publicKey)) differences.push({ field: 'publicKey', registered: toHex(new Uint8Array(existing.public_key)), given: toHex(publicKey) });
        if (name !== undefined && name !== existing.name) differences.push({ field: 'name', registered: existing.name, given: name });
        if (devEui !== undefined && devEui !== existing.dev_eui) differences.push({ field: 'devEui', registered: existing.dev_eui, given: devEui });
        if (existing.state === 'revoked') {
          throw new RegistryError('key-revoked', `key ${kid} (${existing.name ?? 'no name'}) is revoked; to accept its frames again: sceau devices unrevoke ${kid}`, differences);
        }
        if (differences.length === 0) return { device: this.toDevice(existing), result: 'unchanged' };
        const listed = differences.map((d) => `${d.field} registered ${JSON.stringify(d.registered)}, given ${JSON.stringify(d.given)}`).join('; ');
        if (!update || differences.some((d) => d.field === 'publicKey')) {
          throw new RegistryError('registration-conflict', `key ${kid} is registered differently: ${listed}${update ? '' : ' (--update to apply)'}`, differences);
        }
        this.setDeviceFields(existing.device_id, { name, devEui });
        return { device: this.toDevice(this.stmt.keyByKid.get(kid)!), result: 'updated' };
      }
      if (name !== undefined) this.checkNameFree(name, undefined);
      if (devEui !== undefined) this.checkDevEuiFree(devEui, undefined);
      const now = Date.now();
      const deviceId = Number(this.db.prepare('INSERT INTO registry_devices (name, dev_eui, created_at) VALUES (?, ?, ?)').run(name ?? null, devEui ?? null, now).lastInsertRowid);
      this.insertKey(deviceId, kid, publicKey, now);
      const registration: Registration = { device: this.toDevice(this.stmt.keyByKid.get(kid)!), result: 'created' };
      const floor = this.stmt.highest.get(kid);
      if (floor !== undefined) registration.counterFloor = floor.highest;
      return registration;
    });
  }

  /**
   * Registers many keys in one transaction: all of them, or none when any is refused (the
   * refusal lists every entry refused, with where it was read).
   */
  registerMany(entries: ReadonlyArray<{ where: string; publicKey: Bytes; name?: string | undefined; devEui?: string | undefined }>, options: { update?: boolean | undefined } = {}): Array<Registration & { where: string }> {
    const refused: Array<{ index: number; where: string; error: RegistryError }> = [];
    const attempt = <T>(index: number, fn: () => T): T | undefined => {
      try {
        return fn();
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        refused.push({ index, where: entries[index]!.where, error });
        return undefined;
      }
    };
    // The checks that need no database (the curve check is most of the CPU) before the write lock.
    const checked = entries.map((e, i) => attempt(i, () => checkRegistration(e.publicKey, e)));
    return this.write(() => {
      const results: Array<Registration & { where: string }> = [];
      entries.forEach((e, i) => {
        const registration = checked[i] && attempt(i, () => this.apply(checked[i]!, options.update));
        if (registration !== undefined) results.push({ where: e.where, ...registration });
      });
      if (refused.length > 0) {
        refused.sort((a, b) => a.index - b.index);
        const listed = refused.slice(0, 10).map((r) => `${r.where}: ${r.error.message}`).join('; ');
        throw new RegistryError(refused[0]!.error.code, `${refused.length} of ${entries.length} refused, nothing registered: ${listed}${refused.length > 10 ? '; …' : ''}`, [], refused.map((r) => r.error));
      }
      return results;
    });
  }

  /** Changes a device's name and DevEUI (`devEui: null` removes it). */
  update(ref: string, fields: { name?: string | undefined; devEui?: string | null | undefined }): Device {
    const name = fields.name === undefined ? undefined : checkDeviceName(fields.name);
    const devEui = fields.devEui === undefined || fields.devEui === null ? fields.devEui : normalizeDevEui(fields.devEui);
    return this.write(() => {
      const r = this.resolve(ref);
      this.setDeviceFields(r.deviceId, { name, devEui });
      return this.toDevice(this.stmt.keyByKid.get(r.device.kid)!);
    });
  }

  /** Revokes the key a reference names (a device's registered key for a name or a DevEUI); revoking twice is no change. */
  revoke(ref: string): Device {
    return this.write(() => {
      const r = this.resolve(ref);
      if (r.device.state !== 'revoked') this.db.prepare("UPDATE registry_keys SET state = 'revoked', revoked_at = ? WHERE kid = ?").run(Date.now(), r.device.kid);
      return this.toDevice(this.stmt.keyByKid.get(r.device.kid)!);
    });
  }

  /**
   * Registers a revoked key again (`superseded` when its device has another registered key, as
   * after a rotation); a registered key is no change.
   */
  unrevoke(ref: string): Device {
    return this.write(() => {
      const r = this.resolve(ref);
      if (r.device.state === 'revoked') {
        const current = this.stmt.currentKey.get(r.deviceId)!;
        if (current.state === 'registered') {
          throw new RegistryError('superseded', `key ${r.device.kid} of ${r.device.name ?? 'its device'} was replaced by ${current.kid}, which is registered; revoke that one first`);
        }
        this.db.prepare("UPDATE registry_keys SET state = 'registered', revoked_at = NULL WHERE kid = ?").run(r.device.kid);
      }
      return this.toDevice(this.stmt.keyByKid.get(r.device.kid)!);
    });
  }

  /**
   * Deletes a device and all its keys from the registry. Their frames and replay windows stay:
   * a deleted key is `unknown-kid`, and added again it refuses every counter it accepted before.
   */
  delete(ref: string): DeviceRecord {
    return this.write(() => {
      const record = this.show(ref);
      const { deviceId } = this.resolve(ref);
      // The floor: every counter up to the highest accepted is refused from now on, including
      // those the sliding window would still have taken (ReplayWindow.fromFloor).
      const floor = this.db.prepare("UPDATE replay_windows SET bitmap = 'ffffffffffffffff', updated_at = ? WHERE kid = ? AND highest > 0");
      const now = Date.now();
      for (const key of record.keys) floor.run(now, key.kid);
      this.db.prepare('DELETE FROM registry_keys WHERE device_id = ?').run(deviceId);
      this.db.prepare('DELETE FROM registry_devices WHERE id = ?').run(deviceId);
      this.deletedKids = record.keys.map((k) => k.kid);
      return record;
    });
  }

  /**
   * Key rotation: `publicKey` becomes the device's registered key and its registered key (if
   * any) is revoked, in one transaction. The same key again is no change (`result: unchanged`).
   */
  rotate(ref: string, publicKey: Bytes): Registration & { revoked: string[] } {
    checkRegistrationKey(publicKey);
    const kid = toHex(kidOf(publicKey));
    return this.write(() => {
      this.refuseErased(kid);
      const r = this.resolve(ref);
      const existing = this.stmt.keyByKid.get(kid);
      if (existing !== undefined) {
        if (existing.device_id === r.deviceId && existing.state === 'registered') return { device: this.toDevice(existing), result: 'unchanged' as const, revoked: [] };
        if (existing.device_id === r.deviceId) throw new RegistryError('same-key', `key ${kid} is a revoked key of this device; rotate to a new key`);
        throw new RegistryError('registration-conflict', `key ${kid} belongs to another device (${existing.name ?? existing.kid})`);
      }
      const now = Date.now();
      const revoked = this.stmt.keysOfDevice.all(r.deviceId).filter((k) => k.state === 'registered').map((k) => k.kid);
      for (const old of revoked) this.db.prepare("UPDATE registry_keys SET state = 'revoked', revoked_at = ? WHERE kid = ?").run(now, old);
      this.insertKey(r.deviceId, kid, publicKey, now);
      return { device: this.toDevice(this.stmt.keyByKid.get(kid)!), result: 'created' as const, revoked };
    });
  }

  /**
   * Runs `fn` in a transaction (a savepoint inside another) and tells the keyring. IMMEDIATE:
   * the write lock is taken before `fn` reads, so two processes registering the same name at
   * once cannot both find it free. A database that stays locked past the busy timeout is a
   * `StoreError` (`store-write-failed`; exit 3 in the CLI, 503 in the HTTP API).
   */
  write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_')) throw new StoreError('store-write-failed', `registry: ${(error as Error).message} (${code})`);
      throw error;
    } finally {
      const deleted = this.deletedKids;
      this.deletedKids = [];
      this.changed(deleted);
    }
  }

  private deletedKids: string[] = [];

  /** An erased key is refused for ever (`key-erased`): its tombstone stays (migration 5). */
  private refuseErased(kid: string): void {
    const erased = this.db.prepare<[string], { erased_at: number }>('SELECT erased_at FROM erased_keys WHERE kid = ?').get(kid);
    if (erased !== undefined) throw erasedKeyError(kid, erased.erased_at);
  }

  // --- Internals ----------------------------------------------------------------------------

  private insertKey(deviceId: number, kid: string, publicKey: Bytes, now: number): void {
    this.db.prepare("INSERT INTO registry_keys (kid, device_id, public_key, state, created_at) VALUES (?, ?, ?, 'registered', ?)").run(kid, deviceId, Buffer.from(publicKey), now);
  }

  private setDeviceFields(deviceId: number, fields: { name?: string | undefined; devEui?: string | null | undefined }): void {
    if (fields.name !== undefined) {
      this.checkNameFree(fields.name, deviceId);
      this.db.prepare('UPDATE registry_devices SET name = ? WHERE id = ?').run(fields.name, deviceId);
    }
    if (fields.devEui !== undefined) {
      if (fields.devEui !== null) this.checkDevEuiFree(fields.devEui, deviceId);
      this.db.prepare('UPDATE registry_devices SET dev_eui = ? WHERE id = ?').run(fields.devEui, deviceId);
    }
  }

  private checkNameFree(name: string, deviceId: number | undefined): void {
    const other = this.stmt.devicesByName.get(name);
    if (other !== undefined && other.id !== deviceId) {
      const holder = this.stmt.currentKey.get(other.id);
      throw nameTakenError(name, holder?.kid ?? other.id);
    }
  }

  private checkDevEuiFree(devEui: string, deviceId: number | undefined): void {
    const other = this.stmt.devicesByEui.get(devEui);
    if (other !== undefined && other.id !== deviceId) {
      const holder = this.stmt.currentKey.get(other.id);
      throw devEuiTakenError(devEui, holder?.kid ?? other.id, holder?.name);
    }
  }

  private resolvedDevice(deviceId: number, via: Resolved['via']): Resolved {
    return { deviceId, device: this.toDevice(this.stmt.currentKey.get(deviceId)!), via };
  }

  private keyOf(row: KeyRow): Omit<Device, 'name' | 'devEui'> {
    return keyOfRow(row, this.highestOf(row.kid));
  }

  private toDevice(row: KeyRow): Device {
    return deviceOfRow(row, this.highestOf(row.kid));
  }

  private highestOf(kid: string): number {
    return this.stmt.highest.get(kid)?.highest ?? 0;
  }
}

/** The JSON body of a refusal: `{ error: code, detail, differences? }` (HTTP answers, `--json` output). */
export function registryErrorBody(error: RegistryError): { error: RegistryCode; detail: string; differences?: Difference[] } {
  const body: { error: RegistryCode; detail: string; differences?: Difference[] } = { error: error.code, detail: error.message.slice(error.code.length + 2) };
  if (error.differences.length > 0) body.differences = error.differences;
  return body;
}
