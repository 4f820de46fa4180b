/** `sceau flash`: a DeviceScript runtime image onto a board (wraps devs flash). */
import { EXIT, SceauError } from '../errors.js';
import { checkBoardPresent, flashCommandLine, planFlash, runFlash } from '../flash.js';
import { integerArg, type CommandGroup } from './context.js';

export const registerFlash: CommandGroup = (program, { io }) => {
  program
    .command('flash')
    .description('flash a DeviceScript runtime image you supply onto a board (wraps devs flash)')
    .requiredOption('--board <id>', 'DeviceScript board id (esp32c3_bare, esp32s3_devkit_m, pico, pico_w, ...)')
    .requiredOption('--image <file>', 'runtime image file (.bin for ESP32, .uf2 for RP2040)')
    .option('--port <path>', 'serial port (ESP32)')
    .option('--baud <rate>', 'serial speed (ESP32)', integerArg('--baud', 9600, 4_000_000))
    .option('--devs <path>', 'the devs command (default: node_modules/.bin/devs, then PATH)')
    .option('--dry-run', 'print the devs command line (to run by hand) instead of running it')
    .option('--no-board-check', 'do not look for the board (serial port, RPI-RP2 drive) before running devs')
    .option('--json', 'with --dry-run: the plan as JSON { command, args, family }')
    .action(async (opts: { board: string; image: string; port?: string; baud?: number; devs?: string; dryRun?: boolean; boardCheck: boolean; json?: boolean }) => {
      const plan = planFlash(opts);
      if (opts.dryRun) {
        io.out(opts.json ? JSON.stringify(plan) : flashCommandLine(plan));
        return;
      }
      if (opts.boardCheck) checkBoardPresent(plan, opts.port);
      const { code, lastLine } = await runFlash(plan, (line) => io.err(line));
      if (code !== 0) throw new SceauError(`devs flash failed (exit ${code})${lastLine !== undefined ? `: ${lastLine}` : ''}`, EXIT.io, 'flash-failed');
    });
};
