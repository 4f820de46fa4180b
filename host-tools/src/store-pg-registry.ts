/**
 * The device registry on PostgreSQL: the same tables, states, references and refusals as the
 * SQLite registry (device-registry.ts), asynchronous. Every change fires the trigger of
 * migration 3, which tells every instance to reload its keyring (docs/architecture.md#several-instances).
 *
 * Every operation of the SQLite registry: list, find, show, kidsOf, register (one or many),
 * update, revoke, unrevoke, rotate, delete; an erased key (store-pg-privacy.ts) is refused.
 */
import { equalBytes, kidOf, toHex, type Bytes } from '@sceau/protocol';
import type pg from 'pg';
import { checkDeviceName, checkRegistration, devEuiTakenError, erasedKeyError, nameTakenError, checkRegistrationKey, type CheckedRegistration, type Difference, normalizeDevEui, RegistryError, deviceOfRow, type Device, type DeviceRecord, type KeyRow, type Registration, type RegisterOptions, type Resolved } from './device-registry.js';

/** An erased key is refused for ever (`key-erased`), as on SQLite: its tombstone stays (migration 5). */
async function refuseErased(db: pg.ClientBase, kid: string): Promise<void> {
  const erased = (await db.query<{ erased_at: number }>('SELECT erased_at FROM erased_keys WHERE kid = $1', [kid])).rows[0];
  if (erased !== undefined) throw erasedKeyError(kid, erased.erased_at);
}

/** The SQLite registry's key row, with the key's highest accepted counter read in the same query. */
interface PgKeyRow extends KeyRow {
  highest: number | null;
}

const SELECT_KEYS = `SELECT k.id, k.kid, k.device_id, k.public_key, k.state, k.created_at, k.revoked_at, d.name, d.dev_eui, w.highest
  FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id LEFT JOIN replay_windows AS w ON w.kid = k.kid`;

function toDevice(r: PgKeyRow): Device {
  return deviceOfRow(r, r.highest ?? 0);
}

/** Rows a statement of `registerMany` reads or writes at most (one `unnest` array each). */
const BULK_CHUNK = 5000;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += BULK_CHUNK) out.push(items.slice(i, i + BULK_CHUNK));
  return out;
}

/** A device as `registerMany` follows it through the entries (`id` undefined: new in this call). */
interface BulkDevice {
  id: number | undefined;
  name: string | null;
  devEui: string | null;
  /** Its current key (registered, else the latest), as a refusal names it; its id when it has none. */
  holder: string | number;
  /** A name or DevEUI of it changed (a device already registered, written at the end). */
  changed: boolean;
}

export class PgRegistry {
  constructor(
    private readonly pool: pg.Pool,
    /** Called after every change committed here (the store reloads its keyring at once, not on the NOTIFY). */
    private readonly changed: () => Promise<void> = async () => undefined,
  ) {}

  async list(): Promise<Device[]> {
    return (await this.pool.query<PgKeyRow>(`${SELECT_KEYS} ORDER BY k.created_at, k.id`)).rows.map(toDevice);
  }

  /** As `DeviceRegistry.find`: a kid names that key; a DevEUI or a name the device's registered key, else its latest. */
  async find(ref: string, db: pg.ClientBase | pg.Pool = this.pool): Promise<Resolved | undefined> {
    const text = ref.trim();
    const hex = text.replace(/[-:\s]/g, '').toLowerCase();
    const found = new Map<number, Resolved>();
    if (/^[0-9a-f]{16}$/.test(text)) {
      const key = (await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = $1`, [text.toLowerCase()])).rows[0];
      if (key !== undefined) found.set(key.device_id, { deviceId: key.device_id, device: toDevice(key), via: 'kid' });
    }
    const current = (where: string, value: string) =>
      db.query<PgKeyRow>(`SELECT DISTINCT ON (k.device_id) ${SELECT_KEYS.slice('SELECT '.length)} WHERE ${where} ORDER BY k.device_id, k.state = 'registered' DESC, k.id DESC`, [value]);
    if (/^[0-9a-f]{16}$/.test(hex)) {
      for (const r of (await current('d.dev_eui = $1', hex)).rows) if (!found.has(r.device_id)) found.set(r.device_id, { deviceId: r.device_id, device: toDevice(r), via: 'dev-eui' });
    }
    if (found.size === 0) for (const r of (await current('d.name = $1', text)).rows) found.set(r.device_id, { deviceId: r.device_id, device: toDevice(r), via: 'name' });
    if (found.size > 1) {
      const which = [...found.values()].map((r) => `${r.device.kid} (${r.via})`).join(', ');
      throw new RegistryError('ambiguous-device', `${JSON.stringify(ref)} names ${found.size} devices: ${which}; use a kid`);
    }
    return found.values().next().value;
  }

  async resolve(ref: string, db: pg.ClientBase | pg.Pool = this.pool): Promise<Resolved> {
    const found = await this.find(ref, db);
    if (found === undefined) throw new RegistryError('unknown-device', `no device ${JSON.stringify(ref)} in the registry`);
    return found;
  }

  /** The kids a reference selects (every key of a device for a name or DevEUI; a kid as is when frames of it exist). */
  async kidsOf(ref: string): Promise<string[]> {
    const found = await this.find(ref);
    if (found !== undefined) {
      if (found.via === 'kid') return [found.device.kid];
      return (await this.pool.query<{ kid: string }>('SELECT kid FROM registry_keys WHERE device_id = $1 ORDER BY id', [found.deviceId])).rows.map((r) => r.kid);
    }
    const kid = ref.trim().toLowerCase();
    if (/^[0-9a-f]{16}$/.test(kid) && (await this.pool.query('SELECT 1 FROM replay_windows WHERE kid = $1 UNION ALL SELECT 1 FROM frames WHERE kid = $1 LIMIT 1', [kid])).rowCount! > 0) return [kid];
    throw new RegistryError('unknown-device', `no device ${JSON.stringify(ref)} in the registry`);
  }

  /** A device with all its keys, oldest first. */
  async show(ref: string, db: pg.ClientBase | pg.Pool = this.pool): Promise<DeviceRecord> {
    const r = await this.resolve(ref, db);
    const keys = (await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.device_id = $1 ORDER BY k.id`, [r.deviceId])).rows.map(toDevice);
    return { ...r.device, keys: keys.map(({ name: _name, devEui: _devEui, ...key }) => key) };
  }

  /** As `DeviceRegistry.register`: new, unchanged, updated (with `update`), or refused with the same codes. */
  register(publicKey: Bytes, options: RegisterOptions = {}): Promise<Registration> {
    return this.transaction((db) => this.registerIn(db, publicKey, options));
  }

  /**
   * Registers many keys in one transaction: all, or none when any is refused (the refusal lists
   * every entry refused, with where it was read, in their order), as `DeviceRegistry.registerMany`:
   * the same results and refusals for the same entries, each entry seeing those before it (a key
   * twice is `created` then `unchanged`; a name twice, `name-taken` for the second).
   *
   * In bulk rather than a round trip per key: the keys, tombstones, names and DevEUIs the entries
   * name are read in chunks of `BULK_CHUNK`, the entries applied in order to that copy in memory,
   * and only when none is refused are the devices and keys written (`unnest` arrays, a chunk a
   * statement) and read back. The registry's devices are locked against other writers first
   * (`SHARE ROW EXCLUSIVE`, as SQLite's write lock): what was read stays true until the commit.
   * Readers and ingestion go on; a `delete` or an erasure of one of these keys at the same moment
   * can end in a deadlock PostgreSQL breaks by failing one of the two, whole.
   */
  registerMany(entries: ReadonlyArray<{ where: string; publicKey: Bytes; name?: string | undefined; devEui?: string | undefined }>, options: { update?: boolean | undefined } = {}): Promise<Array<Registration & { where: string }>> {
    const refused: Array<{ index: number; where: string; error: RegistryError }> = [];
    const refuse = (index: number, error: RegistryError): void => void refused.push({ index, where: entries[index]!.where, error });
    // The checks that need no database (the curve check is most of the CPU) before the transaction.
    const checked = entries.map((e, i) => {
      try {
        return checkRegistration(e.publicKey, e);
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        refuse(i, error);
        return undefined;
      }
    });
    const given = checked.filter((c): c is CheckedRegistration => c !== undefined);
    const distinct = (values: Array<string | undefined>): string[] => [...new Set(values.filter((v): v is string => v !== undefined))];
    const kids = distinct(given.map((c) => c.kid));
    return this.transaction(async (db) => {
      await db.query('LOCK TABLE registry_devices IN SHARE ROW EXCLUSIVE MODE');
      const erased = new Map<string, number>();
      for (const chunk of chunks(kids)) for (const r of (await db.query<{ kid: string; erased_at: number }>('SELECT kid, erased_at FROM erased_keys WHERE kid = ANY($1)', [chunk])).rows) erased.set(r.kid, r.erased_at);
      const existing: PgKeyRow[] = [];
      for (const chunk of chunks(kids)) existing.push(...(await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = ANY($1) ORDER BY k.kid FOR UPDATE OF k`, [chunk])).rows);
      // Every device an entry can meet: those of the keys given, and those holding a name or DevEUI given.
      const devices = new Map<number, BulkDevice>();
      const holders = `SELECT DISTINCT ON (d.id) d.id, d.name, d.dev_eui, k.kid FROM registry_devices AS d LEFT JOIN registry_keys AS k ON k.device_id = d.id WHERE d.@ = ANY($1) ORDER BY d.id, k.state = 'registered' DESC, k.id DESC`;
      const load = async (column: 'id' | 'name' | 'dev_eui', values: ReadonlyArray<string | number>): Promise<void> => {
        for (const chunk of chunks(values)) {
          for (const r of (await db.query<{ id: number; name: string | null; dev_eui: string | null; kid: string | null }>(holders.replace('@', column), [chunk])).rows) {
            if (!devices.has(r.id)) devices.set(r.id, { id: r.id, name: r.name, devEui: r.dev_eui, holder: r.kid ?? r.id, changed: false });
          }
        }
      };
      await load('id', [...new Set(existing.map((r) => r.device_id))]);
      await load('name', distinct(given.map((c) => c.name)));
      await load('dev_eui', distinct(given.map((c) => c.devEui)));
      const byName = new Map<string, BulkDevice>();
      const byEui = new Map<string, BulkDevice>();
      for (const d of devices.values()) {
        if (d.name !== null) byName.set(d.name, d);
        if (d.devEui !== null) byEui.set(d.devEui, d);
      }
      const keys = new Map<string, { publicKey: Bytes; revoked: boolean; device: BulkDevice }>();
      for (const r of existing) keys.set(r.kid, { publicKey: new Uint8Array(r.public_key), revoked: r.state === 'revoked', device: devices.get(r.device_id)! });

      // Each entry in order, as DeviceRegistry.apply, against that copy.
      const applied: Array<{ index: number; kid: string; result: Registration['result']; name: string | null; devEui: string | null }> = [];
      const fresh: Array<BulkDevice & { kid: string; publicKey: Bytes }> = [];
      checked.forEach((c, index) => {
        if (c === undefined) return;
        const { publicKey, kid, name, devEui } = c;
        const erasedAt = erased.get(kid);
        if (erasedAt !== undefined) return refuse(index, erasedKeyError(kid, erasedAt));
        const key = keys.get(kid);
        if (key !== undefined) {
          const device = key.device;
          const differences: Difference[] = [];
          if (!equalBytes(key.publicKey, publicKey)) differences.push({ field: 'publicKey', registered: toHex(key.publicKey), given: toHex(publicKey) });
          if (name !== undefined && name !== device.name) differences.push({ field: 'name', registered: device.name, given: name });
          if (devEui !== undefined && devEui !== device.devEui) differences.push({ field: 'devEui', registered: device.devEui, given: devEui });
          if (key.revoked) return refuse(index, new RegistryError('key-revoked', `key ${kid} (${device.name ?? 'no name'}) is revoked; to accept its frames again: sceau devices unrevoke ${kid}`, differences));
          if (differences.length > 0) {
            const listed = differences.map((d) => `${d.field} registered ${JSON.stringify(d.registered)}, given ${JSON.stringify(d.given)}`).join('; ');
            if (!options.update || differences.some((d) => d.field === 'publicKey')) return refuse(index, new RegistryError('registration-conflict', `key ${kid} is registered differently: ${listed}${options.update ? '' : ' (--update to apply)'}`, differences));
            const otherName = name === undefined ? undefined : byName.get(name);
            if (otherName !== undefined && otherName !== device) return refuse(index, nameTakenError(name!, otherName.holder));
            const otherEui = devEui === undefined ? undefined : byEui.get(devEui);
            if (otherEui !== undefined && otherEui !== device) return refuse(index, devEuiTakenError(devEui!, otherEui.holder, otherEui.name));
            if (name !== undefined) {
              if (device.name !== null) byName.delete(device.name);
              byName.set(name, device);
              device.name = name;
            }
            if (devEui !== undefined) {
              if (device.devEui !== null) byEui.delete(device.devEui);
              byEui.set(devEui, device);
              device.devEui = devEui;
            }
            device.changed = true;
          }
          applied.push({ index, kid, result: differences.length === 0 ? 'unchanged' : 'updated', name: device.name, devEui: device.devEui });
          return;
        }
        const otherName = name === undefined ? undefined : byName.get(name);
        if (otherName !== undefined) return refuse(index, nameTakenError(name!, otherName.holder));
        const otherEui = devEui === undefined ? undefined : byEui.get(devEui);
        if (otherEui !== undefined) return refuse(index, devEuiTakenError(devEui!, otherEui.holder, otherEui.name));
        const device = { id: undefined, name: name ?? null, devEui: devEui ?? null, holder: kid, changed: false, kid, publicKey };
        fresh.push(device);
        if (name !== undefined) byName.set(name, device);
        if (devEui !== undefined) byEui.set(devEui, device);
        keys.set(kid, { publicKey, revoked: false, device });
        applied.push({ index, kid, result: 'created', name: device.name, devEui: device.devEui });
      });
      if (refused.length > 0) {
        refused.sort((a, b) => a.index - b.index);
        const listed = refused.slice(0, 10).map((r) => `${r.where}: ${r.error.message}`).join('; ');
        throw new RegistryError(refused[0]!.error.code, `${refused.length} of ${entries.length} refused, nothing registered: ${listed}${refused.length > 10 ? '; …' : ''}`, [], refused.map((r) => r.error));
      }

      // Devices already registered whose name or DevEUI changed: cleared first, then set, so that
      // a name passed from one to another in the entries' order is never held twice on the way.
      const changed = [...devices.values()].filter((d) => d.changed);
      for (const chunk of chunks(changed)) await db.query('UPDATE registry_devices SET name = NULL, dev_eui = NULL WHERE id = ANY($1)', [chunk.map((d) => d.id)]);
      for (const chunk of chunks(changed)) {
        await db.query('UPDATE registry_devices AS d SET name = v.name, dev_eui = v.dev_eui FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v (id, name, dev_eui) WHERE d.id = v.id', [chunk.map((d) => d.id), chunk.map((d) => d.name), chunk.map((d) => d.devEui)]);
      }
      const now = Date.now();
      for (const chunk of chunks(fresh)) {
        const ids = (await db.query<{ id: number }>("SELECT nextval(pg_get_serial_sequence('registry_devices', 'id')) AS id FROM generate_series(1, $1)", [chunk.length])).rows.map((r) => r.id).sort((a, b) => a - b);
        await db.query('INSERT INTO registry_devices (id, name, dev_eui, created_at) SELECT v.id, v.name, v.dev_eui, $4 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v (id, name, dev_eui)', [ids, chunk.map((d) => d.name), chunk.map((d) => d.devEui), now]);
        await db.query(
          "INSERT INTO registry_keys (kid, device_id, public_key, state, created_at) SELECT v.kid, v.device_id, decode(v.public_key, 'hex'), 'registered', $4 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v (kid, device_id, public_key)",
          [chunk.map((d) => d.kid), ids, chunk.map((d) => toHex(d.publicKey)), now],
        );
      }

      // The registrations as read back, each with the name and DevEUI its device had after it.
      const rows = new Map<string, PgKeyRow>();
      for (const chunk of chunks(distinct(applied.map((a) => a.kid)))) for (const r of (await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = ANY($1)`, [chunk])).rows) rows.set(r.kid, r);
      return applied.map((a) => {
        const row = rows.get(a.kid)!;
        const registration: Registration & { where: string } = { where: entries[a.index]!.where, device: toDevice({ ...row, name: a.name, dev_eui: a.devEui }), result: a.result };
        if (a.result === 'created' && row.highest !== null) registration.counterFloor = row.highest;
        return registration;
      });
    });
  }

  /** `register` inside a transaction of the caller's (`transaction`). */
  async registerIn(db: pg.ClientBase, publicKey: Bytes, options: RegisterOptions = {}): Promise<Registration> {
    checkRegistrationKey(publicKey);
    const kid = toHex(kidOf(publicKey));
    const name = options.name === undefined ? undefined : checkDeviceName(options.name);
    const devEui = options.devEui === undefined ? undefined : normalizeDevEui(options.devEui);
    await refuseErased(db, kid);
    {
      const existing = (await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = $1 FOR UPDATE OF k`, [kid])).rows[0];
      if (existing !== undefined) {
        const differences = [];
        if (!equalBytes(new Uint8Array(existing.public_key), publicKey)) differences.push({ field: 'publicKey' as const, registered: toHex(new Uint8Array(existing.public_key)), given: toHex(publicKey) });
        if (name !== undefined && name !== existing.name) differences.push({ field: 'name' as const, registered: existing.name, given: name });
        if (devEui !== undefined && devEui !== existing.dev_eui) differences.push({ field: 'devEui' as const, registered: existing.dev_eui, given: devEui });
        if (existing.state === 'revoked') throw new RegistryError('key-revoked', `key ${kid} (${existing.name ?? 'no name'}) is revoked; to accept its frames again: sceau devices unrevoke ${kid}`, differences);
        if (differences.length === 0) return { device: toDevice(existing), result: 'unchanged' };
        const listed = differences.map((d) => `${d.field} registered ${JSON.stringify(d.registered)}, given ${JSON.stringify(d.given)}`).join('; ');
        if (!options.update || differences.some((d) => d.field === 'publicKey')) throw new RegistryError('registration-conflict', `key ${kid} is registered differently: ${listed}${options.update ? '' : ' (--update to apply)'}`, differences);
        await this.setFields(db, existing.device_id, name, devEui);
        return { device: toDevice((await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = $1`, [kid])).rows[0]!), result: 'updated' };
      }
      const now = Date.now();
      const deviceId = await this.unique(() => db.query<{ id: number }>('INSERT INTO registry_devices (name, dev_eui, created_at) VALUES ($1, $2, $3) RETURNING id', [name ?? null, devEui ?? null, now]), name, devEui);
      await db.query("INSERT INTO registry_keys (kid, device_id, public_key, state, created_at) VALUES ($1, $2, $3, 'registered', $4)", [kid, deviceId.rows[0]!.id, Buffer.from(publicKey), now]);
      const row = (await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = $1`, [kid])).rows[0]!;
      const registration: Registration = { device: toDevice(row), result: 'created' };
      if (row.highest !== null) registration.counterFloor = row.highest;
      return registration;
    }
  }

  /** Revokes the key a reference names; every instance refuses its frames within the bound of docs/architecture.md#several-instances. */
  revoke(ref: string): Promise<Device> {
    return this.transaction(async (db) => {
      const r = await this.resolve(ref, db);
      if (r.device.state !== 'revoked') await db.query("UPDATE registry_keys SET state = 'revoked', revoked_at = $1 WHERE kid = $2", [Date.now(), r.device.kid]);
      return this.keyOf(db, r.device.kid);
    });
  }

  unrevoke(ref: string): Promise<Device> {
    return this.transaction(async (db) => {
      const r = await this.resolve(ref, db);
      if (r.device.state === 'revoked') {
        const other = (await db.query<{ kid: string }>("SELECT kid FROM registry_keys WHERE device_id = $1 AND state = 'registered'", [r.deviceId])).rows[0];
        if (other !== undefined) throw new RegistryError('superseded', `key ${r.device.kid} of ${r.device.name ?? 'its device'} was replaced by ${other.kid}, which is registered; revoke that one first`);
        await db.query("UPDATE registry_keys SET state = 'registered', revoked_at = NULL WHERE kid = $1", [r.device.kid]);
      }
      return this.keyOf(db, r.device.kid);
    });
  }

  /** Changes a device's name and DevEUI (`devEui: null` removes it). */
  update(ref: string, fields: { name?: string | undefined; devEui?: string | null | undefined }): Promise<Device> {
    const name = fields.name === undefined ? undefined : checkDeviceName(fields.name);
    const devEui = fields.devEui === undefined || fields.devEui === null ? fields.devEui : normalizeDevEui(fields.devEui);
    return this.transaction(async (db) => {
      const r = await this.resolve(ref, db);
      await this.setFields(db, r.deviceId, name, devEui);
      return this.keyOf(db, r.device.kid);
    });
  }

  /**
   * Key rotation, as `DeviceRegistry.rotate`: `publicKey` becomes the device's registered key and
   * its registered key is revoked, in one transaction.
   */
  rotate(ref: string, publicKey: Bytes): Promise<Registration & { revoked: string[] }> {
    return this.transaction((db) => this.rotateIn(db, ref, publicKey));
  }

  /** `rotate` inside a transaction of the caller's (`transaction`). */
  async rotateIn(db: pg.ClientBase, ref: string, publicKey: Bytes): Promise<Registration & { revoked: string[] }> {
    checkRegistrationKey(publicKey);
    const kid = toHex(kidOf(publicKey));
    await refuseErased(db, kid);
    const r = await this.resolve(ref, db);
    const existing = (await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = $1`, [kid])).rows[0];
    if (existing !== undefined) {
      if (existing.device_id === r.deviceId && existing.state === 'registered') return { device: toDevice(existing), result: 'unchanged' as const, revoked: [] };
      if (existing.device_id === r.deviceId) throw new RegistryError('same-key', `key ${kid} is a revoked key of this device; rotate to a new key`);
      throw new RegistryError('registration-conflict', `key ${kid} belongs to another device (${existing.name ?? existing.kid})`);
    }
    const now = Date.now();
    const revoked = (await db.query<{ kid: string }>("UPDATE registry_keys SET state = 'revoked', revoked_at = $1 WHERE device_id = $2 AND state = 'registered' RETURNING kid", [now, r.deviceId])).rows.map((k) => k.kid);
    await db.query("INSERT INTO registry_keys (kid, device_id, public_key, state, created_at) VALUES ($1, $2, $3, 'registered', $4)", [kid, r.deviceId, Buffer.from(publicKey), now]);
    return { device: await this.keyOf(db, kid), result: 'created' as const, revoked };
  }

  /**
   * Deletes a device and its keys, as `DeviceRegistry.delete`: frames and windows stay, and each
   * key's window becomes a floor (every counter up to the highest refused if the key comes back).
   */
  delete(ref: string): Promise<DeviceRecord> {
    return this.transaction(async (db) => {
      const r = await this.resolve(ref, db);
      const keys = (await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.device_id = $1 ORDER BY k.id`, [r.deviceId])).rows.map(toDevice);
      await db.query("UPDATE replay_windows SET bitmap = 'ffffffffffffffff', updated_at = $1 WHERE kid = ANY($2) AND highest > 0", [Date.now(), keys.map((k) => k.kid)]);
      await db.query('DELETE FROM registry_keys WHERE device_id = $1', [r.deviceId]);
      await db.query('DELETE FROM registry_devices WHERE id = $1', [r.deviceId]);
      return { ...r.device, keys: keys.map(({ name: _name, devEui: _devEui, ...key }) => key) };
    });
  }

  private async keyOf(db: pg.ClientBase, kid: string): Promise<Device> {
    return toDevice((await db.query<PgKeyRow>(`${SELECT_KEYS} WHERE k.kid = $1`, [kid])).rows[0]!);
  }

  private async setFields(db: pg.ClientBase, deviceId: number, name: string | undefined, devEui: string | null | undefined): Promise<void> {
    if (name !== undefined) await this.unique(() => db.query('UPDATE registry_devices SET name = $1 WHERE id = $2', [name, deviceId]), name, undefined);
    if (devEui !== undefined) await this.unique(() => db.query('UPDATE registry_devices SET dev_eui = $1 WHERE id = $2', [devEui, deviceId]), undefined, devEui);
  }

  /** A statement whose unique violation on name or DevEUI becomes `name-taken` / `dev-eui-taken`. */
  private async unique<T>(run: () => Promise<T>, name: string | undefined, devEui: string | null | undefined): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const e = error as { code?: string; constraint?: string };
      if (e.code === '23505' && e.constraint?.includes('name')) throw new RegistryError('name-taken', `name ${JSON.stringify(name)} is another device's; names are unique (to give that device a new key: sceau provision --rotate)`);
      if (e.code === '23505' && e.constraint?.includes('dev_eui')) throw new RegistryError('dev-eui-taken', `DevEUI ${devEui} is already mapped to another device`);
      throw error;
    }
  }

  /**
   * Runs `fn` in one transaction on one connection, then reloads this instance's keyring (the
   * trigger tells the others); the privacy store (store-pg-privacy.ts) and provisioning use it too.
   */
  async transaction<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      await this.changed();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
