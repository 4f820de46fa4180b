/**
 * `sceau provision`: register a board from its console key line (serial port or saved log), or
 * give it a key (factory provisioning); --rotate replaces a device's key.
 */
import { randomBytes } from 'node:crypto';
import { CONTENT_KEY_BYTES, getPublicKey, kidOf, toHex } from '@sceau/protocol';
import { wrapContentKey } from '../content-key-wrap.js';
import { readOwnerPublicKey } from '../owner-keys.js';
import { EXIT, SceauError, usageError } from '../errors.js';
import { generateSeed, readSecretKey } from '../key-files.js';
import { FIRMWARE_CONTENT_KEY_SETTING, FIRMWARE_KEY_SETTING, readKeyFromPort, readKeyLog, writeFirmwareKey, type KeyLine, type WrittenKey } from '../provision.js';
import { lorawanSettings, mergeSecretSettings, readLorawanCredentials, RESET_SETTING, runLorawanSettings, type WrittenSettings } from '../provision-lorawan.js';
import { normalizeDevEui, RegistryError, type Registration } from '../device-registry.js';
import { deviceLine, integerArg, openChangeableRegistry, type CommandGroup } from './context.js';
import type { RegistryTransaction } from '../store-registry.js';

export const registerProvision: CommandGroup = (program, { io }) => {
  program
    .command('provision')
    .description('register a board from its console line "sceau-key v1 kid=<16 hex> pub=<64 hex>" (serial port or saved log), or give it a key (factory provisioning); --rotate replaces a device\'s key')
    .option('--db <file>', 'registry database: a file, or postgres://HOST/DB (required, except with --settings)')
    .option('--port <path>', 'serial port to read the console from (e.g. /dev/ttyACM0)')
    .option('--log <file>', 'saved console log to read instead of a port')
    .option('--baud <rate>', 'serial speed', integerArg('--baud', 300, 4_000_000), 115200)
    .option('--timeout <seconds>', 'how long to wait for the line on a port', integerArg('--timeout', 1, 3600), 60)
    .option('--write-key <env-file>', `factory provisioning: write a key into the firmware settings file (${FIRMWARE_KEY_SETTING}=<seed> in e.g. firmware/.env.local) and register it`)
    .option('--key <file>', 'with --write-key: use this secret key file instead of generating one')
    .option('--owner <pub>', 'with --write-key: record version 2; generate the board\'s content key, write it into the settings file (sceau_ckey) and store it in the registry only wrapped for this data owner public key (owner-<id>.pub or 64 hex; docs/privacy.md)')
    .option('--force', `with --write-key: replace a different ${FIRMWARE_KEY_SETTING} already in the file (that board's key is lost)`)
    .option('--rotate <device>', 'key rotation (after a compromise): the new key becomes DEVICE\'s registered key, its old key is revoked, its name and history stay')
    .option('--name <name>', 'device name')
    .option('--dev-eui <eui>', 'LoRaWAN DevEUI')
    .option('--update', 'apply a different --name or --dev-eui to an already registered key')
    .option('--lorawan <file>', 'LoRaWAN credentials, a JSON file: OTAA {devEui, joinEui, appKey} or ABP {devEui, devAddr, nwkSKey, appSKey}; written as secrets with --write-key or --settings')
    .option('--reset-lorawan', 'the board forgets its last JoinNonce and FCnt up once at its next boot (device re-created on the network server); with --write-key or --settings')
    .option('--settings <env-file>', 'write only LoRaWAN settings (--lorawan, --reset-lorawan) into this settings file, for a board that already has its key; with --port/--log the DevEUI on the board\'s key line goes into them')
    .option('--json', 'print JSON')
    .action(async (opts: { db?: string; port?: string; log?: string; baud: number; timeout: number; writeKey?: string; key?: string; force?: boolean; rotate?: string; name?: string; devEui?: string; update?: boolean; lorawan?: string; resetLorawan?: boolean; settings?: string; owner?: string; json?: boolean }) => {
      if (opts.settings !== undefined) {
        if (opts.writeKey !== undefined) throw usageError('--settings writes LoRaWAN settings only: not with --write-key');
        if (opts.port !== undefined && opts.log !== undefined) throw usageError('give one of --port PATH or --log FILE');
        // --port/--log: the DevEUI the board announces goes into the settings (pinned)
        const announced = opts.port !== undefined || opts.log !== undefined ? await announcedKey(opts, io) : undefined;
        if (announced !== undefined && announced.key.devEui === undefined) throw usageError(`${announced.via}: the key line carries no deveui= (a board built with LINK = "lorawan" prints it)`, 'no-dev-eui');
        return runLorawanSettings({ ...opts, announcedEui: announced?.key.devEui, announcedBy: announced?.via }, io);
      }
      if (opts.db === undefined) throw usageError("required option '--db <file>' not specified");
      const db = opts.db;
      if ((opts.lorawan !== undefined || opts.resetLorawan) && opts.writeKey === undefined) throw usageError('--lorawan and --reset-lorawan go with --write-key ENV-FILE or --settings ENV-FILE');
      const lorawan = opts.lorawan === undefined ? undefined : readLorawanCredentials(opts.lorawan);
      if (lorawan !== undefined && opts.devEui === undefined && opts.rotate === undefined) opts.devEui = lorawan.devEui;
      const sources = [opts.port, opts.log, opts.writeKey].filter((x) => x !== undefined).length;
      if (sources !== 1) throw usageError('give exactly one of --port PATH, --log FILE or --write-key ENV-FILE');
      if (opts.key !== undefined && opts.writeKey === undefined) throw usageError('--key goes with --write-key');
      if (opts.force && opts.writeKey === undefined) throw usageError('--force goes with --write-key');
      if (opts.owner !== undefined && opts.writeKey === undefined) throw usageError('--owner goes with --write-key: the content key is written into the board\'s settings file', 'owner-needs-write-key');
      const ownerPublicKey = opts.owner === undefined ? undefined : readOwnerPublicKey(opts.owner);
      if (opts.rotate !== undefined && (opts.name !== undefined || opts.devEui !== undefined || opts.update)) throw usageError('--rotate keeps the device\'s name and DevEUI; change them with sceau devices update');
      let publicKey: Uint8Array;
      let seed: Uint8Array | undefined;
      let via: string;
      /** the DevEUI on the board's key line (its provisioned one, or its own) */
      let announcedEui: string | undefined;
      if (opts.writeKey !== undefined) {
        seed = opts.key !== undefined ? readSecretKey(opts.key) : generateSeed();
        publicKey = getPublicKey(seed);
        via = opts.writeKey;
      } else {
        const announced = await announcedKey(opts, io);
        publicKey = announced.key.publicKey;
        announcedEui = announced.key.devEui;
        via = announced.via;
      }
      if (announcedEui !== undefined && opts.rotate === undefined) {
        // the DevEUI the board joins with is the one to register; a different --dev-eui is a mistake
        if (opts.devEui !== undefined && normalizeDevEui(opts.devEui) !== announcedEui) throw usageError(`--dev-eui ${opts.devEui} is not the DevEUI ${via} announces (${announcedEui})`, 'dev-eui-mismatch');
        opts.devEui = announcedEui;
      }
      const store = await openChangeableRegistry(io, db, 'create');
      try {
        const transaction = store.transaction?.bind(store);
        if (transaction === undefined) throw usageError(`--db ${db}: this store backend cannot provision (no registry transaction)`, 'registry-unchangeable');
        // The registry changes and the settings file are written together: the file is written
        // inside the transaction (a refusal writes nothing), and put back if the commit fails.
        let written: WrittenKey | undefined;
        let lorawanWritten: WrittenSettings | undefined;
        let wrappedFor: string | undefined;
        const write = async (tx: RegistryTransaction, replaces?: string[]): Promise<void> => {
          if (opts.writeKey === undefined) return;
          // The content key exists only in the settings file and, wrapped for the owner, in the registry.
          const contentKey = ownerPublicKey === undefined ? undefined : randomBytes(CONTENT_KEY_BYTES);
          if (contentKey !== undefined) {
            const wrapped = wrapContentKey(ownerPublicKey!, toHex(kidOf(publicKey)), contentKey);
            await tx.putWrappedKey(wrapped);
            wrappedFor = wrapped.ownerKeyId;
          }
          written = writeFirmwareKey(opts.writeKey, seed!, { force: opts.force, replaces, contentKey });
          contentKey?.fill(0);
          if (lorawan !== undefined || opts.resetLorawan) {
            try {
              lorawanWritten = mergeSecretSettings(opts.writeKey, lorawanSettings(lorawan, opts.resetLorawan === true), { force: opts.force, replaceable: [RESET_SETTING] });
            } catch (error) {
              written.restore();
              written = undefined;
              throw error;
            }
          }
        };
        let outcome: Registration & { revoked?: string[] };
        try {
          outcome = await transaction(async (tx) => {
            if (opts.rotate === undefined) {
              const r = await tx.register(publicKey, { name: opts.name, devEui: opts.devEui, update: opts.update });
              await write(tx);
              return r;
            }
            const before = await tx.show(opts.rotate);
            const r = await tx.rotate(opts.rotate, publicKey);
            if (r.result === 'unchanged' && opts.writeKey === undefined) {
              throw new RegistryError('same-key', `${via} announces ${r.device.kid}, the registered key of ${before.name ?? before.kid}: the board still has its old seed`);
            }
            await write(tx, before.keys.map((k) => k.kid));
            return r;
          });
        } catch (error) {
          lorawanWritten?.restore();
          written?.restore();
          throw error;
        }
        if (opts.writeKey !== undefined) io.err(`wrote ${[FIRMWARE_KEY_SETTING, ...(wrappedFor === undefined ? [] : [FIRMWARE_CONTENT_KEY_SETTING]), ...(lorawanWritten?.written ?? [])].join(', ')} to ${opts.writeKey} (0600); deploy the firmware with it, then delete the file`);
        if (wrappedFor !== undefined) io.err(`content key stored in the registry wrapped for owner key ${wrappedFor} only; the board seals record version 2`);
        const revoked = outcome.revoked ?? [];
        if (opts.json) io.out(JSON.stringify({ ...outcome.device, provisionedFrom: via, result: outcome.result, ...(wrappedFor === undefined ? {} : { contentKeyWrappedFor: wrappedFor }), alreadyRegistered: outcome.result !== 'created', ...(opts.rotate === undefined ? {} : { revoked }) }));
        else if (opts.rotate !== undefined) io.out(`${outcome.result === 'unchanged' ? 'already rotated' : `rotated (revoked ${revoked.join(', ') || 'none'})`} ${deviceLine(outcome.device)}`);
        else io.out(`${outcome.result === 'created' ? 'registered' : 'already registered'} ${deviceLine(outcome.device)}`);
      } finally {
        await store.close();
      }
    });
};

/** The key line a board announces, from a saved log (its last key line) or a serial port. */
async function announcedKey(opts: { port?: string; log?: string; baud: number; timeout: number }, io: { err(s: string): void }): Promise<{ key: KeyLine; via: string }> {
  if (opts.log !== undefined) {
    const found = readKeyLog(opts.log);
    for (const e of found.errors) io.err(`warning: ${opts.log}: ${e}`);
    if (found.keys.length === 0) throw new SceauError(`${opts.log}: no valid "sceau-key v1 kid=<16 hex> pub=<64 hex>" line`, EXIT.io);
    const distinct = new Set(found.keys.map((k) => k.kid));
    if (distinct.size > 1) io.err(`warning: ${opts.log} announces ${distinct.size} different keys; registering the last one (line ${found.keys.at(-1)!.line})`);
    return { key: found.keys.at(-1)!, via: opts.log };
  }
  if (process.stderr.isTTY) io.err(`waiting for the board's key line on ${opts.port} (reset the board)...`);
  return { key: await readKeyFromPort(opts.port!, { baud: opts.baud, timeoutMs: opts.timeout * 1000 }), via: opts.port! };
}
