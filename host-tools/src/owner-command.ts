/**
 * `sceau owner ...`: the data owner's keys (docs/privacy.md). `owner keys generate` writes the
 * X25519 pair: the private key in a 0600 file for the owner alone, never for a gateway.
 */
import type { Command } from 'commander';
import { ContentKeys, readWrappedKeys } from './content-key-wrap.js';
import { usageError } from './errors.js';
import { secretInGitWarning } from './git-check.js';
import { readOwnerPrivateKey, writeOwnerKeyPair } from './owner-keys.js';

/**
 * `--owner-key FILE --wrapped-keys FILE` of `frame verify` as the content keys that open record
 * version 2 readings; `{}` without them. Only for --keys runs: with --db the wrapped keys are the
 * registry's, which is not built yet (docs/privacy.md, "Not built yet").
 */
export function ownerContentKeys(opts: { ownerKey?: string; wrappedKeys?: string; db?: string }): { contentKeys?: ContentKeys } {
  if (opts.ownerKey === undefined && opts.wrappedKeys === undefined) return {};
  if (opts.db !== undefined) throw usageError('--owner-key with --db: wrapped content keys in the registry are not built yet; use --keys DIR with --wrapped-keys FILE', 'owner-key-with-db');
  if (opts.ownerKey === undefined || opts.wrappedKeys === undefined) throw usageError('give --owner-key FILE and --wrapped-keys FILE together', 'owner-key-incomplete');
  return { contentKeys: new ContentKeys(readOwnerPrivateKey(opts.ownerKey), readWrappedKeys(opts.wrappedKeys)) };
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
}
