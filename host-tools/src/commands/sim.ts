/**
 * `sceau sim ...`: the simulator depends on host-tools (it runs the gateway in-process), so
 * host-tools never imports it: `sceau sim run` runs the simulator's own command (`sceau-sim`)
 * when @sceau/simulator is installed; `sceau sim verify CAPTURE` checks a capture again here.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { EXIT, ioError, usageError } from '../errors.js';
import { runVerifyCommand } from './frame.js';
import type { CliContext, CommandGroup } from './context.js';

export const registerSim: CommandGroup = (program, context) => {
  const { setExit } = context;
  program
    .command('sim')
    .description('fleet simulator: `sceau sim run --help` (runs @sceau/simulator\'s sceau-sim); `sceau sim verify CAPTURE --keys DIR` checks a capture again')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'passed to sceau-sim')
    .action(async (args: string[]) => {
      if (args[0] === 'verify') {
        setExit(await simVerify(context, args.slice(1)));
        return;
      }
      setExit(await runSimulator(args));
    });
};

/** `sceau sim verify CAPTURE`: `frame verify` of a simulator capture (docs/simulator.md). */
async function simVerify(context: CliContext, args: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const verify = new Command('sceau sim verify')
    .description('verify a simulator capture (--capture FILE of sceau sim run) again: fragments reassembled per kid, each datagram\'s verdict, a summary; exit 0 when no injected datagram is accepted and no genuine frame refused')
    .argument('<capture>', 'capture file (NDJSON {t, kid, datagram, attack}), or - for stdin')
    .option('--keys <dir>', 'the fleet\'s public keys (sceau sim run --keys-out DIR)')
    .option('--db <file>', 'an existing registry holding the fleet\'s keys instead')
    .option('--channels <file>', 'user channel registry (JSON)')
    .option('--owner-key <file>', 'the owner private key that opens record version 2 readings (sceau sim run --record 2 --owner OWNER.pub)')
    .option('--wrapped-keys <file>', 'with --keys: the content keys wrapped for the owner (DIR/wrapped-keys.json of --keys-out)')
    .option('--json', 'one JSON object per frame, then a final {"summary": {...}} line')
    .exitOverride()
    .configureOutput({ writeOut: (t) => process.stdout.write(t), writeErr: (t) => process.stderr.write(t) })
    .action(async (capture: string, opts: { keys?: string; db?: string; channels?: string; json?: boolean; ownerKey?: string; wrappedKeys?: string }) => {
      code = await runVerifyCommand(context, capture, { ...opts, format: 'ndjson' });
    });
  await verify.parseAsync(args, { from: 'user' });
  return code;
}

/** Runs `sceau-sim` of @sceau/simulator with `args`, stdio inherited; resolves with its exit code. */
export async function runSimulator(args: string[]): Promise<number> {
  let bin: string;
  try {
    const pkg = createRequire(import.meta.url).resolve('@sceau/simulator/package.json');
    bin = join(dirname(pkg), 'bin', 'sceau-sim.js');
  } catch {
    throw usageError('sim: @sceau/simulator is not installed (npm install @sceau/simulator)');
  }
  const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    return await new Promise<number>((resolvePromise, reject) => {
      child.on('error', (error) => reject(ioError(`sim: cannot run ${bin}: ${error.message}`)));
      child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : EXIT.internal)));
    });
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}
