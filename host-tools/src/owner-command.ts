/**
 * `sceau owner ...`: the data owner's keys (docs/privacy.md). `owner keys generate` writes the
 * X25519 pair: the private key in a 0600 file for the owner alone, never for a gateway.
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { ContentKeys, readWrappedKeys, rewrapContentKeys, type WrappedContentKey } from './content-key-wrap.js';
import { privacyOf, storeBackendOf } from './db-open.js';
import { ioError, usageError } from './errors.js';
import { secretInGitWarning } from './git-check.js';
import { ownerKeyIdOf, readOwnerPrivateKey, readOwnerPublicKey, writeOwnerKeyPair } from './owner-keys.js';

/**
 * `--owner-key FILE` with `--wrapped-keys FILE` (--keys runs) or with the wrapped keys of the
 * registry `wrapped` gives (--db runs) as the content keys that open record version 2
 * readings; `{}` without an owner key.
 */
export function ownerContentKeys(opts: { ownerKey?: string; wrappedKeys?: string }, wrapped?: () => Map<string, WrappedContentKey>): { contentKeys?: ContentKeys } {
  if (opts.ownerKey === undefined && opts.wrappedKeys === undefined) return {};
  if (wrapped !== undefined && opts.wrappedKeys !== undefined) throw usageError('--wrapped-keys with --db: the registry holds the wrapped content keys; give --owner-key alone', 'wrapped-keys-with-db');
  if (opts.ownerKey === undefined) throw usageError('--wrapped-keys goes with --owner-key', 'owner-key-incomplete');
  if (wrapped === undefined && opts.wrappedKeys === undefined) throw usageError('give --owner-key FILE with --wrapped-keys FILE (or with --db, whose registry holds the wrapped keys)', 'owner-key-incomplete');
  return { contentKeys: new ContentKeys(readOwnerPrivateKey(opts.ownerKey), wrapped?.() ?? readWrappedKeys(opts.wrappedKeys!)) };
}

export interface OwnerCommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export function addOwnerCommands(program: Command, io: OwnerCommandIo): void {
  const owner = program.command('owner').description("the data owner's keys: readings of record version 2 open only with them (docs/privacy.md)");
  const keys = owner.command('keys').description('owner key pairs');
  keys
    .command('generate')
    .description('generate an X25519 key pair: DIR/owner-<id>.key (PKCS#8 PEM, 0600; keep it off gateways, and back it up: without it the readings are lost) and DIR/owner-<id>.pub (64 hex)')
    .option('--out <dir>', 'directory for the key files', '.')
    .option('--json', 'print JSON')
    .action((opts: { out: string; json?: boolean }) => {
      const result = writeOwnerKeyPair(opts.out);
      io.out(JSON.stringify(opts.json ? result : { ownerKeyId: result.ownerKeyId, publicKey: result.publicKey }));
      io.err(`wrote ${result.secretKeyFile} (owner private key, 0600) and ${result.publicKeyFile}`);
      io.err('losing the owner private key loses every reading encrypted for it: keep a copy offline');
      const warning = secretInGitWarning(result.secretKeyFile, 'owner private key');
      if (warning !== undefined) io.err(warning);
    });

  owner
    .command('rotate')
    .description('re-wrap every content key for a new owner key: those of the registry (--db), or of a wrapped keys file into another (--wrapped-keys, --out); all or nothing')
    .requiredOption('--owner-key <file>', 'the current owner private key')
    .requiredOption('--to <pub>', 'the new owner public key: owner-<id>.pub or 64 hex')
    .option('--db <file>', 'registry database: re-wrap every content key it holds, in one transaction')
    .option('--wrapped-keys <file>', 'the wrapped keys to re-wrap: { "wrappedKeys": [...] }')
    .option('--out <file>', 'with --wrapped-keys: where to write the re-wrapped keys (never overwritten)')
    .option('--json', 'print JSON')
    .action(async (opts: { ownerKey: string; to: string; db?: string; wrappedKeys?: string; out?: string; json?: boolean }) => {
      if ((opts.db === undefined) === (opts.wrappedKeys === undefined)) throw usageError('give --db FILE, or --wrapped-keys FILE with --out FILE', 'rotate-source');
      if (opts.wrappedKeys !== undefined && opts.out === undefined) throw usageError('--wrapped-keys goes with --out FILE', 'rotate-source');
      const current = readOwnerPrivateKey(opts.ownerKey);
      const next = readOwnerPublicKey(opts.to);
      if (opts.db !== undefined) {
        // Any backend whose registry commands change (a file, postgres://): no keyring is loaded.
        const backend = storeBackendOf(opts.db);
        const store = await (backend.openRegistry ?? backend.open)(opts.db, { mode: 'existing' });
        try {
          const privacy = privacyOf(store, opts.db);
          // Every key opened before anything is written: a key the current owner key does not open changes nothing.
          const rewrapped = rewrapContentKeys(current, await privacy.wrappedKeys(), next);
          const rotated = await privacy.replaceWrappedKeys(rewrapped);
          const result = { rotated, from: current.ownerKeyId, to: ownerKeyIdOf(next), db: opts.db };
          io.out(JSON.stringify(opts.json ? result : { rotated, ownerKeyId: result.to }));
          io.err(`re-wrapped ${rotated} content key(s) in ${opts.db} from owner key ${result.from} to ${result.to}; backups made before still open with the old owner key`);
        } finally {
          await store.close();
        }
        return;
      }
      const rewrapped = rewrapContentKeys(current, readWrappedKeys(opts.wrappedKeys!), next);
      try {
        writeFileSync(opts.out!, `${JSON.stringify({ wrappedKeys: rewrapped }, null, 1)}\n`, { flag: 'wx', mode: 0o644 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw ioError(`${opts.out} already exists; not overwriting wrapped keys`);
        throw ioError(`cannot write ${opts.out}: ${(error as Error).message}`);
      }
      const result = { rotated: rewrapped.length, from: current.ownerKeyId, to: ownerKeyIdOf(next), out: opts.out };
      io.out(JSON.stringify(opts.json ? result : { rotated: result.rotated, ownerKeyId: result.to }));
      io.err(`re-wrapped ${rewrapped.length} content key(s) from owner key ${result.from} to ${result.to} in ${opts.out}; the old owner key still opens ${opts.wrappedKeys} and any backup of it`);
    });
}
