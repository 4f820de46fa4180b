/**
 * `sceau flash`: writes a DeviceScript runtime image the user supplies onto a board with the
 * pinned DeviceScript CLI (`devs flash esp32|rp2040 --board B --file IMAGE [--port P]`).
 * Nothing is downloaded: the image must be a local file.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** `devs` from the nearest node_modules/.bin above `from`, then above this package (the repository's), or from PATH. */
export function findDevs(from = process.cwd()): string {
  for (const start of [resolve(from), dirname(fileURLToPath(import.meta.url))]) {
    let dir = start;
    for (;;) {
      const candidate = join(dir, 'node_modules', '.bin', 'devs');
      if (existsSync(candidate)) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return 'devs';
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

/** The plan as one shell command line (POSIX quoting), to run by hand. */
export function flashCommandLine(plan: FlashPlan): string {
  return [plan.command, ...plan.args].map(shellQuote).join(' ');
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Serial ports a board may be on (Linux and macOS names). */
export function serialPortCandidates(devDir = '/dev'): string[] {
  let names: string[];
  try {
    names = readdirSync(devDir);
  } catch {
    return [];
  }
  return names.filter((n) => /^(ttyUSB\d+|ttyACM\d+|cu\.usbserial.*|cu\.usbmodem.*|cu\.SLAB_USBtoUART.*|cu\.wchusbserial.*)$/.test(n)).sort().map((n) => join(devDir, n));
}

/** Mounted RP2040 boot drives (RPI-RP2) in the usual mount places. */
export function uf2DriveCandidates(roots = ['/media', '/run/media', '/Volumes', '/mnt']): string[] {
  const found: string[] = [];
  const look = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (n === 'RPI-RP2') found.push(join(dir, n));
      else if (depth > 0) look(join(dir, n), depth - 1);
    }
  };
  for (const root of roots) look(root, 1);
  return found;
}

/**
 * Checks that a board is there before the wrapped tool runs (as provision does for its port):
 * the serial port for ESP32 boards, a mounted RPI-RP2 drive for RP2040 boards. Errors are one
 * line with what to do (exit 3), not the wrapped tool's stack trace.
 */
export function checkBoardPresent(plan: FlashPlan, port: string | undefined): void {
  if (plan.family === 'esp32') {
    if (port !== undefined) {
      if (!existsSync(port)) throw ioError(`serial port ${port} does not exist: is the board connected? (ports seen: ${serialPortCandidates().join(', ') || 'none'})`, 'no-board');
      return;
    }
    const ports = serialPortCandidates();
    if (ports.length === 0) throw ioError('no serial port found (/dev/ttyUSB*, /dev/ttyACM*): connect the board by USB, then give its port with --port', 'no-board');
    return;
  }
  if (uf2DriveCandidates().length === 0) {
    throw ioError('no RPI-RP2 drive mounted: hold BOOTSEL while plugging the board in, wait for the drive to appear, then run this again (--no-board-check skips this check)', 'no-board');
  }
}

// ANSI escape sequences (colours, cursor moves) of the wrapped tool's output.
const ANSI_RE = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07]*(?:\x07|\x1b\\)/g;

/** One line of the wrapped tool's output as sceau shows it: no colour codes, no stack frames. */
export function cleanToolLine(line: string): string | undefined {
  const text = line.replace(ANSI_RE, '').replace(/\r/g, '').trimEnd();
  if (text.length === 0) return undefined;
  if (/^\s+at\s/.test(text)) return undefined; // a stack frame
  if (/^\s*\^+\s*$/.test(text) || /^Node\.js v\d/.test(text)) return undefined;
  if (/^\/.*\.c?js:\d+$/.test(text.trim())) return undefined; // "file.cjs:123" above a thrown line
  return text;
}

/**
 * Runs the plan; the tool's output goes to stderr line by line, without ANSI codes, source
 * excerpts, stack traces or dumped error objects. Resolves with its exit code and the first
 * error line it printed (`Error: ...`), the one-line reason of a failure.
 */
export function runFlash(plan: FlashPlan, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<{ code: number; lastLine: string | undefined }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(plan.command, plan.args, { stdio: ['inherit', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let errorLine: string | undefined;
    let lastLine: string | undefined;
    let excerpt = false; // inside "file:line / source / ^" printed by Node above an uncaught error
    const take = (raw: string): void => {
      const clean = raw.replace(ANSI_RE, '').replace(/\r/g, '').trimEnd();
      if (clean.trim().length === 0) {
        excerpt = false;
        return;
      }
      if (/^\S+:\d+$/.test(clean.trim())) {
        excerpt = true;
        return;
      }
      if (excerpt || errorLine !== undefined) return; // the excerpt, or what follows the error: stack, object dump
      const text = cleanToolLine(clean);
      if (text === undefined) return;
      if (/^\s*(?:[A-Za-z]*Error|error)\b[^:]*:/.test(text)) errorLine = text.trim();
      lastLine = text.trim();
      log(`devs: ${text}`);
    };
    const follow = (stream: NodeJS.ReadableStream): void => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) take(l);
      });
      stream.on('end', () => {
        if (buf.length > 0) take(buf);
      });
    };
    follow(child.stdout!);
    follow(child.stderr!);
    child.on('error', (error) => reject(ioError(`cannot run ${plan.command}: ${error.message} (install the pinned DeviceScript CLI with npm ci in the sceau repository, or give --devs PATH)`, 'flash-tool-missing')));
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), lastLine: errorLine ?? lastLine }));
  });
}
