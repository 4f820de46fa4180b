/**
 * `sceau devices ...`: the device registry. States and references: device-registry.ts and
 * docs/integrators.md#device-states.
 */
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { parseDuration } from '../retention.js';
import { readPublicKey } from '../key-files.js';
import { readBulkEntries } from '../device-bulk.js';
import type { Device } from '../store.js';
import { deviceLine, onDevice, openChangeableRegistry, privacyOf, openQueryStore, type ChangeableRegistryStore, type CommandGroup, type DeviceCommandOptions, type Io } from './context.js';

const DEVICE_ARGUMENT = 'kid, DevEUI or name';

/** `<device>`, `--db` and `--json`: the arguments of every command on one device. */
function deviceCommand(devices: Command, name: string, description: string): Command {
  return devices.command(name).description(description).argument('<device>', DEVICE_ARGUMENT).requiredOption('--db <file>', 'registry database');
}

/** A registration's result as printed: the key, and with --json what the registration did. */
function registrationLine(r: { device: Device; result: string; counterFloor?: number | undefined }, json: boolean | undefined): string {
  return json ? JSON.stringify({ ...r.device, result: r.result, ...(r.counterFloor === undefined ? {} : { counterFloor: r.counterFloor }) }) : deviceLine(r.device);
}

export const registerDevices: CommandGroup = (program, { io }) => {
  const devices = program.command('devices').description('the device registry: devices (unique name, DevEUI) and their keys (registered or revoked)');
  devices
    .command('add')
    .description('register a device public key, or many in one transaction with --from; the same registration again is no change (exit 0), a different one is refused (exit 3) unless --update')
    .requiredOption('--db <file>', 'registry database')
    .option('--public-key <hex|file>', 'public key: 64 hex characters, or a .pub / PEM file')
    .option('--from <dir|file>', 'many keys: a directory of <kid>.pub (names from <kid>.json, as keys generate writes them), a .json array or a .csv with a header (publicKey,name,devEui)')
    .option('--name <name>', 'device name (unique; not 16 hex digits)')
    .option('--dev-eui <eui>', 'LoRaWAN DevEUI, for frames sent without kid')
    .option('--update', 'apply a different name or DevEUI to a registered key instead of refusing')
    .option('--json', 'print JSON')
    .action(async (opts: { db: string; publicKey?: string; from?: string; name?: string; devEui?: string; update?: boolean; json?: boolean }) => {
      if ((opts.publicKey === undefined) === (opts.from === undefined)) throw usageError('give either --public-key KEY or --from DIR|FILE');
      if (opts.from !== undefined && (opts.name !== undefined || opts.devEui !== undefined)) throw usageError('--name and --dev-eui go with --public-key; with --from they come from the entries');
      if (opts.from !== undefined) await addMany(io, opts.from, opts);
      else await addOne(io, readPublicKey(opts.publicKey!), opts);
    });
  devices
    .command('list')
    .description('list registered keys with their device (a device has several after a key rotation, one registered)')
    .requiredOption('--db <file>', 'registry database')
    .option('--json', 'one JSON object per key')
    .action(async (opts: { db: string; json?: boolean }) => {
      const store = await openQueryStore(opts.db);
      try {
        const list = await store.listDevices();
        for (const d of list) io.out(opts.json ? JSON.stringify(d) : deviceLine(d));
        if (list.length === 0) io.err(`no devices registered in ${opts.db} (register one with \`sceau devices add --db ${opts.db} --public-key FILE\`)`);
      } finally {
        await store.close();
      }
    });
  deviceCommand(devices, 'show', 'show one device and all its keys (by kid, DevEUI or name)')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: DeviceCommandOptions) => {
      // Any backend (a file or postgres://): reading needs only the store's registry access.
      const store = await openQueryStore(opts.db);
      try {
        const d = await store.registry.show(ref);
        if (opts.json) io.out(JSON.stringify(d));
        else {
          for (const [k, v] of Object.entries(d)) if (k !== 'keys') io.out(`${k}: ${v ?? '-'}`);
          if (d.keys.length > 1) for (const key of d.keys) io.out(`key: ${key.kid} ${key.state} created ${key.createdAt}${key.revokedAt ? ` revoked ${key.revokedAt}` : ''} counter=${key.highestCounter}`);
        }
      } finally {
        await store.close();
      }
    });
  /** A command that changes one device and prints it. */
  const change = (name: string, description: string, fn: (store: ChangeableRegistryStore, ref: string) => Device | Promise<Device>): void => {
    deviceCommand(devices, name, description)
      .option('--json', 'print JSON')
      .action(onDevice(io, 'existing', async (store, ref, opts) => printDevice(io, await fn(store, ref), opts)));
  };
  change('revoke', 'revoke a key (a device\'s registered key by name or DevEUI): its frames are refused with key-revoked', (store, ref) => store.registry.revoke(ref));
  change('unrevoke', 'register a revoked key again (refused when its device has another registered key, as after a rotation)', (store, ref) => store.registry.unrevoke(ref));
  deviceCommand(devices, 'update', 'change a device\'s name or DevEUI')
    .option('--name <name>', 'new name (unique; not 16 hex digits)')
    .option('--dev-eui <eui>', 'new DevEUI')
    .option('--no-dev-eui', 'remove the DevEUI')
    .option('--json', 'print JSON')
    .action((ref: string, opts: DeviceCommandOptions & { name?: string; devEui?: string | boolean }) => {
      // commander: --dev-eui X gives a string, --no-dev-eui false, neither true (the negation's default).
      const devEui = opts.devEui === false ? null : typeof opts.devEui === 'string' ? opts.devEui : undefined;
      if (opts.name === undefined && devEui === undefined) throw usageError('give --name NAME, --dev-eui EUI or --no-dev-eui');
      return onDevice(io, 'existing', async (store) => printDevice(io, await store.registry.update(ref, { name: opts.name, devEui }), opts))(ref, opts);
    });
  deviceCommand(devices, 'delete', 'delete a device and its keys from the registry; frames stay, and each key\'s counter floor stays, so a key added again never accepts an old frame')
    .option('--json', 'print JSON')
    .action(
      onDevice(io, 'existing', async (store, ref, opts) => {
        const d = await store.registry.delete(ref);
        if (opts.json) io.out(JSON.stringify({ deleted: d }));
        else io.out(`deleted ${d.name ?? d.kid}: ${d.keys.map((k) => `${k.kid} (counter floor ${k.highestCounter})`).join(', ')}`);
      }),
    );

  deviceCommand(devices, 'retention', 'a device\'s own retention, over gateway serve --retention: its frames and readings older than DURATION are deleted (docs/privacy.md#retention)')
    .argument('<duration>', 'a duration such as 30d or 12h, or "default" for the gateway\'s')
    .option('--json', 'print JSON')
    .action(async (ref: string, duration: string, opts: DeviceCommandOptions) =>
      onDevice(io, 'existing', async (store, device) => {
        const ms = duration === 'default' ? null : parseDuration(duration, 'retention');
        const d = await privacyOf(store, opts.db).setRetention(device, ms);
        if (opts.json) io.out(JSON.stringify({ kid: d.kid, name: d.name, retentionMs: ms }));
        else io.out(`${d.name ?? d.kid}: ${ms === null ? "the gateway's retention" : `frames older than ${duration} are deleted`}`);
      })(ref, opts),
    );

  deviceCommand(devices, 'erase', 'erase a device for good (docs/privacy.md#erasure): its frames, readings, wrapped content keys and registry entry are deleted (SQLite overwrites them and truncates the WAL; PostgreSQL: see the docs for its WAL and backups); a tombstone per key (kid, counts, time) stays, and the key is refused from then on')
    .option('--yes', 'confirm: erasure cannot be undone')
    .option('--json', 'print JSON')
    .action(
      onDevice(io, 'existing', async (store, ref, opts: DeviceCommandOptions & { yes?: boolean }) => {
        if (!opts.yes) throw usageError(`erasing ${ref} deletes its frames and readings for good; give --yes to confirm`, 'erase-unconfirmed');
        const erased = await privacyOf(store, opts.db).erase(ref);
        if (opts.json) io.out(JSON.stringify({ erased: erased.tombstones, name: erased.device.name, walCheckpointed: erased.walCheckpointed }));
        else for (const t of erased.tombstones) io.out(`erased ${t.kid}: ${t.frames} frames, ${t.readings} readings${t.contentKey ? ', its wrapped content key' : ''}`);
        if (!erased.walCheckpointed) io.err(`warning: ${opts.db}: a reader (a running gateway?) kept the WAL from being truncated: it may hold erased pages until its next checkpoint; with readers stopped, run: sqlite3 ${opts.db} 'PRAGMA wal_checkpoint(TRUNCATE)'`);
      }),
    );
};

function printDevice(io: Io, d: Device, opts: { json?: boolean }): void {
  io.out(opts.json ? JSON.stringify(d) : deviceLine(d));
}

interface AddOptions {
  db: string;
  name?: string;
  devEui?: string;
  update?: boolean;
  json?: boolean;
}

async function addOne(io: Io, publicKey: Uint8Array, opts: AddOptions): Promise<void> {
  const store = await openChangeableRegistry(io, opts.db, 'create');
  try {
    const r = await store.registry.register(publicKey, { name: opts.name, devEui: opts.devEui, update: opts.update });
    io.out(registrationLine(r, opts.json));
    if (r.result === 'unchanged') io.err(`already registered: ${r.device.kid}`);
    if (r.counterFloor !== undefined) io.err(`${r.device.kid} was deleted before: counters up to ${r.counterFloor} stay refused`);
  } finally {
    await store.close();
  }
}

async function addMany(io: Io, from: string, opts: AddOptions): Promise<void> {
  const entries = readBulkEntries(from);
  const store = await openChangeableRegistry(io, opts.db, 'create');
  try {
    const started = process.hrtime.bigint();
    const results = await store.registry.registerMany(entries, { update: opts.update });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    for (const r of results) io.out(opts.json ? registrationLine(r, true) : `${r.result.padEnd(9)} ${deviceLine(r.device)}`);
    const count = (what: string): number => results.filter((r) => r.result === what).length;
    io.err(`${results.length} keys checked and registered in one transaction (${ms.toFixed(1)} ms): ${count('created')} created, ${count('unchanged')} unchanged, ${count('updated')} updated`);
  } finally {
    await store.close();
  }
}
