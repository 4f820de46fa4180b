/**
 * The `sceau` command line (commander): noun verb, results on stdout (one JSON object per line
 * with --json), logs on stderr, exit codes 0 ok, 1 verification failed, 2 usage, 3 I/O or
 * device, 4 internal (exit-codes.ts, shared with sceau-sim). Secrets are read from files, never
 * taken on argv. Each command group is a module in commands/; a new group is one module and one
 * line in COMMAND_GROUPS.
 */
import { Command, CommanderError } from 'commander';
import { EXIT } from './errors.js';
import { cliFailureOf } from './cli-errors.js';
import type { CliContext, CommandGroup, Io } from './commands/context.js';
import { registerKeys } from './commands/keys.js';
import { registerFrame } from './commands/frame.js';
import { registerDevices } from './commands/devices.js';
import { registerProvision } from './commands/provision.js';
import { registerFlash } from './commands/flash.js';
import { registerExport } from './commands/export.js';
import { registerGateway } from './commands/gateway.js';
import { registerOwner } from './commands/owner.js';
import { registerSim } from './commands/sim.js';
import { registerDb } from './commands/db.js';
import { setDefaultPasswordFile } from './store-pg-connect.js';
import { registerLns } from './commands/lns.js';

export { parseReadingArg } from './commands/context.js';
export type { Io } from './commands/context.js';

const VERSION = '0.1.0';

/** The command groups, in help order. */
const COMMAND_GROUPS: CommandGroup[] = [registerKeys, registerFrame, registerDevices, registerProvision, registerFlash, registerExport, registerGateway, registerSim, registerLns, registerOwner, registerDb];

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** The program; `onJson` is called when the command about to run was given `--json`. */
export function buildProgram(io: Io = defaultIo, setExit: (code: number) => void = (c) => (process.exitCode = c), onJson?: () => void): Command {
  const program = new Command('sceau')
    .description('sceau: sealed measurement frames (COSE_Sign1 Ed25519): keys, devices, verification, gateway, export')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  // Every command that takes --db takes a PostgreSQL URL too; its password comes from this file
  // (mode 0600) or PGPASSFILE, never from the command line (docs/integrators.md#postgresql).
  program
    .option('--db-password-file <file>', 'password of a postgres:// --db (mode 0600); else PGPASSFILE or ~/.pgpass')
    .hook('preAction', (_program, action) => {
      setDefaultPasswordFile((action.optsWithGlobals() as { dbPasswordFile?: string }).dbPasswordFile);
      if ((action.opts() as { json?: unknown }).json === true) onJson?.();
    });
  const context: CliContext = { io, setExit };
  for (const register of COMMAND_GROUPS) register(program, context);
  return program;
}

/** Runs the CLI; resolves with the exit code (the caller exits). */
export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  let json = false;
  const program = buildProgram(
    io,
    (c) => {
      exitCode = c;
    },
    () => {
      json = true;
    },
  );
  program.exitOverride();
  for (const command of allCommands(program)) command.exitOverride();
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      if (error.code === 'commander.executeSubCommandAsync') return EXIT.ok;
      // Commander printed its message; before any action ran, --json is only known from argv.
      if (argv.includes('--json')) io.out(JSON.stringify({ error: 'usage', detail: error.message.replace(/^error: /, '') }));
      return EXIT.usage;
    }
    const failure = cliFailureOf(error);
    if (failure !== undefined) {
      // With --json, scripts read the refusal on stdout too: {"error": code, "detail", "differences"?}.
      if (json) io.out(JSON.stringify(failure.body));
      io.err(failure.line);
      return failure.exit;
    }
    if (json) io.out(JSON.stringify({ error: 'internal', detail: error instanceof Error ? error.message : String(error) }));
    io.err(`sceau: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT.internal;
  }
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

