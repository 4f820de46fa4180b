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
import { checkDeviceName, erasedKeyError, checkRegistrationKey, normalizeDevEui, RegistryError, deviceOfRow, type Device, type DeviceRecord, type KeyRow, type Registration, type RegisterOptions, type Resolved } from './device-registry.js';

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
   * every entry refused, with where it was read), as `DeviceRegistry.registerMany`.
   */
  registerMany(entries: ReadonlyArray<{ where: string; publicKey: Bytes; name?: string | undefined; devEui?: string | undefined }>, options: { update?: boolean | undefined } = {}): Promise<Array<Registration & { where: string }>> {
    return this.transaction(async (db) => {
      const results: Array<Registration & { where: string }> = [];
      const refused: Array<{ where: string; error: RegistryError }> = [];
      for (const e of entries) {
        // A savepoint per entry: a refused one (a unique violation aborts the statement) does not end the transaction.
        await db.query('SAVEPOINT entry');
        try {
          results.push({ where: e.where, ...(await this.registerIn(db, e.publicKey, { name: e.name, devEui: e.devEui, update: options.update })) });
          await db.query('RELEASE SAVEPOINT entry');
        } catch (error) {
          if (!(error instanceof RegistryError)) throw error;
          await db.query('ROLLBACK TO SAVEPOINT entry');
          refused.push({ where: e.where, error });
        }
      }
      if (refused.length > 0) {
        const listed = refused.slice(0, 10).map((r) => `${r.where}: ${r.error.message}`).join('; ');
        throw new RegistryError(refused[0]!.error.code, `${refused.length} of ${entries.length} refused, nothing registered: ${listed}${refused.length > 10 ? '; …' : ''}`, [], refused.map((r) => r.error));
      }
      return results;
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
