/**
 * `sceau flash`: writes a DeviceScript runtime image the user supplies onto a board with the
 * pinned DeviceScript CLI (`devs flash esp32|rp2040 --board B --file IMAGE [--port P]`).
 * Nothing is downloaded: the image must be a local file.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ioError, usageError } from './errors.js';

export interface FlashPlan {
  command: string;
  args: string[];
  family: 'esp32' | 'rp2040';
}

/** Board ids of the pinned DeviceScript CLI (2.16.4), by `devs flash` sub-command. */
export const BOARDS: Readonly<Record<string, 'esp32' | 'rp2040'>> = Object.freeze({
  adafruit_feather_esp32_s2: 'esp32', esp32s2_bare: 'esp32', feather_s2: 'esp32', msr207_v42: 'esp32', msr207_v43: 'esp32', msr48: 'esp32',
  adafruit_qt_py_c3: 'esp32', esp32_c3fh4_rgb: 'esp32', esp32c3_bare: 'esp32', esp32c3_rust_devkit: 'esp32', esp32c3_supermini: 'esp32',
  kittenbot_grapebit_esp32c3: 'esp32', seeed_xiao_esp32c3: 'esp32', seeed_xiao_esp32c3_msr218: 'esp32', esp32_bare: 'esp32', esp32_devkit_c: 'esp32',
  esp32s3_bare: 'esp32', esp32s3_devkit_m: 'esp32', kittenbot_nanoscript: 'rp2040', msr124: 'rp2040', msr59: 'rp2040', pico: 'rp2040', pico_w: 'rp2040',
});

/** The board family `devs flash` needs as its sub-command. */
export function boardFamily(board: string): 'esp32' | 'rp2040' {
  const family = BOARDS[board];
  if (family === undefined) throw usageError(`--board ${JSON.stringify(board)}: unknown board id; one of: ${Object.keys(BOARDS).join(', ')}`);
  return family;
}

/** `devs` from the nearest node_modules/.bin above `from`, or from PATH. */
export function findDevs(from = process.cwd()): string {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, 'node_modules', '.bin', 'devs');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return 'devs';
    dir = parent;
  }
}

export function planFlash(options: { board: string; image: string; port?: string | undefined; baud?: number | undefined; devs?: string | undefined }): FlashPlan {
  const family = boardFamily(options.board);
  const image = resolve(options.image);
  if (!existsSync(image)) throw ioError(`runtime image ${options.image} not found; download the DeviceScript runtime for your board (see docs/hardware.md) and pass its path with --image`);
  if (!statSync(image).isFile()) throw ioError(`runtime image ${options.image} is not a file`);
  const expected = family === 'esp32' ? '.bin' : '.uf2';
  if (!image.endsWith(expected)) throw usageError(`runtime image ${options.image}: expected a ${expected} file for ${family} boards`);
  const args = ['flash', family, '--board', options.board, '--file', image, '--once'];
  if (options.port !== undefined) {
    if (family !== 'esp32') throw usageError('--port: RP2040 boards are flashed through their UF2 drive, not a serial port');
    args.push('--port', options.port);
  }
  if (options.baud !== undefined) {
    if (family !== 'esp32') throw usageError('--baud applies to ESP32 boards only');
    args.push('--baud', String(options.baud));
  }
  return { command: options.devs ?? process.env.SCEAU_DEVS ?? findDevs(), args, family };
}

/** Runs the plan with the terminal attached; resolves with devs's exit code. */
export function runFlash(plan: FlashPlan): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(plan.command, plan.args, { stdio: ['inherit', 'inherit', 'inherit'] });
    child.on('error', (error) => reject(ioError(`cannot run ${plan.command}: ${error.message}`)));
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}
