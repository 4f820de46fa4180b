// `registerMany` on PostgreSQL in bulk (issue 15): 10,000 keys in one call, all resolvable; one
// refused entry anywhere in a large batch registers none and names its code; and the same
// results and refusals as SQLite's registerMany for the same entries, run on both backends
// (a key or a name twice in one call, updates passing a name along, revoked and erased keys,
// a key deleted and added back with its counter floor). Against a real PostgreSQL
// (tests/helpers/system-servers.ts).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublicKey, kidOf, sealRecord, SMALL_ORDER_ENCODINGS, fromHex, toHex, type Bytes } from '@sceau/protocol';
import { Ingestor, PgStore, RegistryError, Store, type Device } from '@sceau/host-tools';
import { startPostgres } from './helpers/system-servers.js';
import { freshDatabase } from './helpers/pg-databases.js';

let server: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;

beforeAll(async () => {
  server = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'sceau-register-many-'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Fresh Ed25519 public keys (Node's generator: the raw 32 bytes end the SPKI DER). */
function newKeys(n: number): Bytes[] {
  return Array.from({ length: n }, () => {
    const der = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    return new Uint8Array(der.subarray(der.length - 32));
  });
}

const kidHex = (publicKey: Bytes): string => toHex(kidOf(publicKey));

async function refusal(promise: unknown): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('registerMany on PostgreSQL', () => {
  it('registers 10,000 keys in one call, every one resolvable; a batch with one refused entry registers none', async () => {
    const store = await PgStore.open(await freshDatabase(server.url));
    try {
      const keys = newKeys(10_000);
      const results = await store.registry.registerMany(keys.map((publicKey, i) => ({ where: `line ${i + 1}`, publicKey, name: `meter-${i}`, devEui: i % 2 === 0 ? (0x0004a30b00000000 + i).toString(16).padStart(16, '0') : undefined })));
      expect(results).toHaveLength(10_000);
      expect(results.every((r) => r.result === 'created')).toBe(true);
      expect(results[9_999]).toMatchObject({ where: 'line 10000', device: { kid: kidHex(keys[9_999]!), name: 'meter-9999', devEui: null, state: 'registered' } });
      // Every key in this instance's keyring, and in the registry by kid, name and DevEUI.
      for (const k of keys) expect(store.resolve({ kid: kidOf(k) })?.revoked).toBe(false);
      expect((await store.listDevices()).map((d) => d.kid)).toEqual(keys.map(kidHex));
      expect((await store.registry.find(kidHex(keys[4_321]!)))?.device.name).toBe('meter-4321');
      expect((await store.registry.find('meter-7777'))?.device.kid).toBe(kidHex(keys[7_777]!));
      expect((await store.registry.find('0004a30b00001a0a'))?.device.name).toBe('meter-6666');

      // The same 10,000 again: all unchanged, nothing written.
      const again = await store.registry.registerMany(keys.map((publicKey, i) => ({ where: `line ${i + 1}`, publicKey, name: `meter-${i}` })));
      expect(new Set(again.map((r) => r.result))).toEqual(new Set(['unchanged']));

      // 8,000 new keys with one refused past the first chunk of 5,000: none registered.
      const more = newKeys(8_000);
      const batch: Array<{ where: string; publicKey: Uint8Array; name?: string }> = more.map((publicKey, i) => ({ where: `more ${i}`, publicKey, name: `more-${i}` }));
      batch[6_500] = { where: 'more 6500', publicKey: more[6_500]!, name: 'meter-12' };
      const taken = await refusal(store.registry.registerMany(batch));
      expect(taken.code).toBe('name-taken');
      expect(taken.message).toBe(`name-taken: 1 of 8000 refused, nothing registered: more 6500: name-taken: name "meter-12" is device ${kidHex(keys[12]!)}; names are unique (to give that device a new key: sceau provision --rotate)`);
      expect(taken.refusals.map((r) => r.code)).toEqual(['name-taken']);
      expect((await store.listDevices()).length).toBe(10_000);
      expect(store.resolve({ kid: kidOf(more[0]!) })).toBeUndefined();

      // A revoked key in the last place, an erased one in the middle: both listed, in order, none registered.
      await store.registry.revoke('meter-3');
      await store.privacy.erase('meter-4');
      batch[6_500] = { where: 'more 6500', publicKey: more[6_500]!, name: 'more-6500' };
      batch[4_000] = { where: 'more 4000', publicKey: keys[4]! };
      batch[7_999] = { where: 'more 7999', publicKey: keys[3]! };
      const two = await refusal(store.registry.registerMany(batch));
      expect(two.code).toBe('key-erased');
      expect(two.refusals.map((r) => r.code)).toEqual(['key-erased', 'key-revoked']);
      expect(two.message).toMatch(/^key-erased: 2 of 8000 refused, nothing registered: more 4000: key-erased: .*; more 7999: key-revoked: /);
      expect((await store.listDevices()).length).toBe(9_999);

      // Without them, the 8,000 are registered.
      batch[4_000] = { where: 'more 4000', publicKey: more[4_000]!, name: 'more-4000' };
      batch[7_999] = { where: 'more 7999', publicKey: more[7_999]!, name: 'more-7999' };
      expect((await store.registry.registerMany(batch)).filter((r) => r.result === 'created')).toHaveLength(8_000);
      expect((await store.listDevices()).length).toBe(17_999);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('gives the same results and refusals as SQLite for the same entries', async () => {
    const sqlite = Store.open(join(dir, 'same.db'));
    const pgStore = await PgStore.open(await freshDatabase(server.url));
    try {
      const [a, b] = await Promise.all([scenario(sqlite), scenario(pgStore)]);
      expect(b).toEqual(a);
      // What the scenario saw (a spot check that it did what it says).
      expect(a.outcomes.map((o) => (Array.isArray(o) ? o.map((r) => r.result).join(',') : `${o.code}: ${o.refusals.join(',')}`))).toEqual([
        'name-taken: name-taken',
        'dev-eui-taken: dev-eui-taken',
        'key-revoked: key-revoked,key-erased,small-order-public-key,registration-conflict,name-taken,off-curve-public-key',
        'created,unchanged,created,unchanged,created',
        'name-taken: name-taken',
        'updated,updated,created,updated,unchanged',
        'updated,updated,updated',
        'registration-conflict: registration-conflict',
      ]);
    } finally {
      sqlite.close();
      await pgStore.close();
    }
  }, 60_000);
});

type View = Pick<Device, 'kid' | 'name' | 'devEui' | 'state' | 'highestCounter'>;
const view = (d: Device): View => ({ kid: d.kid, name: d.name, devEui: d.devEui, state: d.state, highestCounter: d.highestCounter });

/** The same calls on a store of either backend: every registerMany's results or refusal, and the registry after. */
async function scenario(store: Store | PgStore) {
  const reg = store.registry;
  const seedOf = (n: number) => new Uint8Array(32).fill(n);
  const [kA, kB, kC, kD, kE, kF, kG, kR] = [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x72].map((n) => getPublicKey(seedOf(n)));
  const smallOrder = fromHex(SMALL_ORDER_ENCODINGS[0]!);
  const offCurve = fromHex('02'.padEnd(64, '0'));
  await reg.register(kA!, { name: 'a', devEui: '0000000000000001' });
  await reg.register(kB!, { name: 'b' });
  await reg.register(kR!, { name: 'r' });
  await reg.revoke('r');
  await reg.register(kE!, { name: 'e' });
  await store.privacy.erase('e');
  // A key with a frame (counter 7), deleted: added back, its counters up to 7 stay refused.
  await reg.register(kG!, { name: 'g' });
  const ingestor = new Ingestor(store);
  expect((await ingestor.ingest(sealRecord({ version: 1, counter: 7, time: null, readings: [{ channel: 1, value: 1 }] }, seedOf(0x67)), { source: 'http' })).ok).toBe(true);
  await ingestor.close();
  await reg.delete('g');

  const outcomes: Array<Array<{ where: string; result: string; counterFloor?: number; device: View }> | { code: string; message: string; refusals: string[] }> = [];
  const run = async (entries: Array<{ where: string; publicKey: Bytes; name?: string; devEui?: string }>, update?: boolean) => {
    try {
      const results = await reg.registerMany(entries, { update });
      outcomes.push(results.map((r) => ({ where: r.where, result: r.result, ...(r.counterFloor === undefined ? {} : { counterFloor: r.counterFloor }), device: view(r.device) })));
    } catch (error) {
      if (!(error instanceof RegistryError)) throw error;
      // An erasure's date is each store's own.
      const message = error.message.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'DATE');
      outcomes.push({ code: error.code, message, refusals: error.refusals.map((r) => r.code) });
    }
  };
  // A key twice (the second unchanged), then a name the first one took.
  await run([{ where: '1', publicKey: kC!, name: 'c' }, { where: '2', publicKey: kC!, name: 'c' }, { where: '3', publicKey: kD!, name: 'c' }]);
  // A DevEUI already another device's.
  await run([{ where: '1', publicKey: kC!, name: 'c' }, { where: '2', publicKey: kC! }, { where: '3', publicKey: kD!, devEui: '00-00-00-00-00-00-00-01' }]);
  // Every refusal at once, listed in the entries' order.
  await run([
    { where: '1', publicKey: kC!, name: 'c' },
    { where: '2', publicKey: kR! },
    { where: '3', publicKey: kE!, name: 'e2' },
    { where: '4', publicKey: smallOrder },
    { where: '5', publicKey: kA!, name: 'a2' },
    { where: '6', publicKey: kD!, name: 'b' },
    { where: '7', publicKey: offCurve },
  ]);
  // Accepted: new, the same again, new, already registered, and the deleted key back (its floor).
  await run([{ where: '1', publicKey: kC!, name: 'c' }, { where: '2', publicKey: kC!, name: 'c' }, { where: '3', publicKey: kD! }, { where: '4', publicKey: kA!, name: 'a' }, { where: '5', publicKey: kG!, name: 'g' }]);
  // With --update, a name another device holds.
  await run([{ where: '1', publicKey: kA!, name: 'b' }], true);
  // With --update, a name passed along in the entries' order: b to b2, a to b, a new device takes a,
  // then gets a DevEUI (an update of a device new in this call), and a's DevEUI stays.
  await run(
    [
      { where: '1', publicKey: kB!, name: 'b2' },
      { where: '2', publicKey: kA!, name: 'b' },
      { where: '3', publicKey: kF!, name: 'a' },
      { where: '4', publicKey: kF!, devEui: '0000000000000002' },
      { where: '5', publicKey: kA!, devEui: '0000000000000001' },
    ],
    true,
  );
  // Names and DevEUIs swapped around a cycle through a free name.
  await run(
    [
      { where: '1', publicKey: kA!, name: 'tmp', devEui: '0000000000000003' },
      { where: '2', publicKey: kB!, name: 'b', devEui: '0000000000000001' },
      { where: '3', publicKey: kA!, name: 'b2' },
    ],
    true,
  );
  // Without --update, a name other than the registered one is a conflict.
  await run([{ where: '1', publicKey: kC!, name: 'c9' }]);
  const devices = (await reg.list()).map(view).sort((x, y) => x.kid.localeCompare(y.kid));
  return { outcomes, devices };
}
