/** `sceau keys ...`: device key pairs on the host. */
import { secretInGitWarning } from '../git-check.js';
import { generateSeed, writeKeyPair } from '../key-files.js';
import type { CommandGroup } from './context.js';

export const registerKeys: CommandGroup = (program, { io }) => {
  const keys = program.command('keys').description('device keys');
  keys
    .command('generate')
    .description('generate an Ed25519 key pair: DIR/<kid>.key (PKCS#8 PEM, 0600) and DIR/<kid>.pub (64 hex)')
    .option('--out <dir>', 'directory for the key files', '.')
    .option('--name <name>', 'a name recorded in DIR/<kid>.json')
    .option('--json', 'print JSON')
    .action((opts: { out: string; name?: string; json?: boolean }) => {
      const result = writeKeyPair(opts.out, generateSeed(), opts.name);
      if (opts.json) io.out(JSON.stringify(result));
      else io.out(JSON.stringify({ kid: result.kid, publicKey: result.publicKey }));
      io.err(`wrote ${result.secretKeyFile} (secret, 0600) and ${result.publicKeyFile}`);
      const warning = secretInGitWarning(result.secretKeyFile, 'secret key');
      if (warning !== undefined) io.err(warning);
    });
};
