/**
 * Provisioning: the firmware prints its public key on the console at boot as one line,
 *
 *   sceau-key v1 kid=<16 hex> pub=<64 hex>[ deveui=<16 hex>][ new]
 *
 * (`deveui=`: a LoRaWAN board's DevEUI, provisioned or its own; registered with the key.)
 * `findKeyLines` reads such lines from a saved log or from a serial port, checks that the kid
 * is the key's fingerprint, and the CLI registers the key. For factory provisioning the host
 * generates the key instead and writes it into the firmware's settings file (`sceau_seed=<seed
 * hex>` in a DeviceScript `.env.local`: the setting the firmware reads its seed from), so the
 * board never has to generate one.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, lstatSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fromHex, getPublicKey, kidOf, toHex, type Bytes } from '@sceau/protocol';
import { RegistryError } from './device-registry.js';
import { ioError, usageError } from './errors.js';

/**
 * The console line, anywhere in a line (serial logs often prefix a timestamp or a tag);
 * `v1` is the line's format version, ` new` follows on the boot that generated the key.
 */
export const KEY_LINE_RE = /sceau-key v1 kid=([0-9a-f]{16}) pub=([0-9a-f]{64})(?![0-9a-f])/;

/** The DevEUI right after the key on a key line. */
const DEV_EUI_RE = /^ deveui=([0-9a-f]{16})(?![0-9a-f])/;

export interface KeyLine {
  kid: string;
  publicKey: Bytes;
  line: number;
  /** the DevEUI the board announces (LoRaWAN), if any */
  devEui?: string;
}

export type KeyLineResult = { ok: true; key: KeyLine } | { ok: false; line: number; detail: string } | undefined;

/** The key announced on one console line; undefined when the line is not a key line. */
export function parseKeyLine(text: string, line = 0): KeyLineResult {
  const match = KEY_LINE_RE.exec(text);
  if (match === null) {
    if (text.includes('sceau-key')) return { ok: false, line, detail: `line ${line}: "sceau-key" line not in the form "sceau-key v1 kid=<16 hex> pub=<64 hex>"` };
    return undefined;
  }
  const publicKey = fromHex(match[2]!);
  const kid = toHex(kidOf(publicKey));
  if (kid !== match[1]) return { ok: false, line, detail: `line ${line}: kid ${match[1]} is not the fingerprint of the key (expected ${kid}): corrupted line?` };
  const eui = DEV_EUI_RE.exec(text.slice(match.index + match[0].length));
  return { ok: true, key: { kid, publicKey, line, ...(eui === null ? {} : { devEui: eui[1]! }) } };
}

/** Every key line of a saved console log. */
export function keyLinesOfText(text: string): { keys: KeyLine[]; errors: string[] } {
  const keys: KeyLine[] = [];
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const r = parseKeyLine(raw, i + 1);
    if (r === undefined) return;
    if (r.ok) keys.push(r.key);
    else errors.push(r.detail);
  });
  return { keys, errors };
}

export function readKeyLog(file: string): { keys: KeyLine[]; errors: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw ioError(`cannot read console log ${file}: ${(error as Error).message}`);
  }
  return keyLinesOfText(text);
}

/**
 * Waits for the first valid key line on a serial port (a character device such as
 * /dev/ttyUSB0 or /dev/ttyACM0), after setting it raw at `baud` with stty when available.
 * Reset the board (or power it up) after starting: the line is printed at boot.
 */
export async function readKeyFromPort(port: string, options: { baud: number; timeoutMs: number; onLine?: (line: string) => void }): Promise<KeyLine> {
  if (!existsSync(port)) throw ioError(`serial port ${port} does not exist`);
  if (statSync(port).isCharacterDevice()) {
    const stty = spawnSync('stty', ['-F', port, String(options.baud), 'raw', '-echo'], { stdio: 'ignore' });
    if (stty.status !== 0) process.stderr.write(`warning: could not configure ${port} with stty; reading it as it is\n`);
  }
  const stream = createReadStream(port, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<KeyLine>((resolve, reject) => {
      timer = setTimeout(() => reject(ioError(`no "sceau-key" line from ${port} within ${options.timeoutMs / 1000} s; reset the board to make it print the line again`)), options.timeoutMs);
      let n = 0;
      lines.on('line', (text) => {
        n++;
        options.onLine?.(text);
        const r = parseKeyLine(text, n);
        if (r === undefined) return;
        if (r.ok) resolve(r.key);
        else process.stderr.write(`warning: ${r.detail}\n`);
      });
      stream.on('error', (error) => reject(ioError(`cannot read ${port}: ${error.message}`)));
      lines.on('close', () => reject(ioError(`${port} closed before a "sceau-key" line`)));
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    lines.close();
    stream.destroy();
  }
}

/** The settings line the firmware reads its factory key from. */
export const FIRMWARE_KEY_SETTING = 'sceau_seed';

/** The seed a settings file holds (`sceau_seed=...`, quoted or not), or `invalid` when the line is not a seed. */
export function seedInSettings(text: string): Bytes | 'invalid' | undefined {
  const line = text.split(/\r?\n/).find((l) => l.startsWith(`${FIRMWARE_KEY_SETTING}=`));
  if (line === undefined) return undefined;
  const value = /^"?([0-9a-fA-F]{64})"?\s*$/.exec(line.slice(FIRMWARE_KEY_SETTING.length + 1));
  return value === null ? 'invalid' : fromHex(value[1]!);
}

export interface WriteKeyOptions {
  /** Replace a different seed already in the file. */
  force?: boolean | undefined;
  /** A seed whose key has one of these kids may be replaced without `force` (a rotation of that device's key). */
  replaces?: readonly string[] | undefined;
  /**
   * Record version 2's content key, written as the secret setting `sceau_ckey` next to the seed
   * (replacing one already there): the board then seals version 2 (docs/privacy.md).
   */
  contentKey?: Bytes | undefined;
}

/** The settings line the firmware reads record version 2's content key from (firmware/src/state.ts). */
export const FIRMWARE_CONTENT_KEY_SETTING = 'sceau_ckey';

/** What a write replaced, to put it back when the registration that goes with it fails. */
export interface WrittenKey {
  /** The seed the file held before (undefined: none, or the same one). */
  replacedKid?: string | undefined;
  restore(): void;
}

/**
 * The text of a settings file that holds secrets (undefined when it does not exist). Refused: a
 * symbolic link (`symlink-refused`) and a file readable by group or others.
 */
export function readSecretSettings(envFile: string): string | undefined {
  // One lstat: a link is refused, so what it describes otherwise is the file itself.
  let stats: Stats | undefined;
  try {
    stats = lstatSync(envFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot read ${envFile}: ${(error as Error).message}`);
  }
  if (stats?.isSymbolicLink()) throw new RegistryError('symlink-refused', `${envFile} is a symbolic link; give the settings file itself (secrets are never written through a link)`);
  if (stats === undefined) return undefined;
  if ((stats.mode & 0o077) !== 0 && process.platform !== 'win32') throw usageError(`${envFile} is readable by group or others; run: chmod 600 ${envFile}`);
  try {
    return readFileSync(envFile, 'utf8');
  } catch (error) {
    throw ioError(`cannot read ${envFile}: ${(error as Error).message}`);
  }
}

/** Writes a settings file 0600 through a temporary file and a rename (never half-written). */
export function writeSecretSettings(envFile: string, text: string): void {
  const temporary = join(dirname(envFile), `.${basename(envFile)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, envFile);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw ioError(`cannot write ${envFile}: ${(error as Error).message}`);
  }
}

/**
 * Writes `sceau_seed="<seed hex>"` into a DeviceScript settings file such as
 * `firmware/.env.local`, keeping its other lines; the file is written 0600 through a temporary
 * file and a rename (never half-written). Refused: a symbolic link (`symlink-refused`), and a
 * file that already holds another seed (`seed-exists`: that board's key would be lost) unless
 * `force` or the seed is the key being rotated (`replaces`). The same seed again is no change.
 */
export function writeFirmwareKey(envFile: string, seed: Bytes, options: WriteKeyOptions = {}): WrittenKey {
  let replacedKid: string | undefined;
  const previous = readSecretSettings(envFile);
  if (previous !== undefined) {
    const existing = seedInSettings(previous);
    if (existing !== undefined) {
      const same = existing !== 'invalid' && toHex(existing) === toHex(seed);
      replacedKid = existing === 'invalid' || same ? undefined : toHex(kidOf(getPublicKey(existing)));
      const rotating = replacedKid !== undefined && (options.replaces ?? []).includes(replacedKid);
      if (!same && !rotating && !options.force) {
        throw new RegistryError('seed-exists', `${envFile} already holds ${FIRMWARE_KEY_SETTING}${replacedKid ? ` (key ${replacedKid})` : ''}; replacing it loses that board's key: give --force to replace it, or --rotate DEVICE to rotate that key`);
      }
    }
  }
  const replaced = options.contentKey === undefined ? [FIRMWARE_KEY_SETTING] : [FIRMWARE_KEY_SETTING, FIRMWARE_CONTENT_KEY_SETTING];
  const lines = (previous ?? '').split(/\r?\n/).filter((l) => l.length > 0 && !replaced.some((name) => l.startsWith(`${name}=`)));
  // Quoted: the DeviceScript CLI JSON-parses .env values, and a seed of decimal digits only
  // would otherwise become a number; quoted, it is always the JSON string the firmware reads.
  lines.push(`${FIRMWARE_KEY_SETTING}="${toHex(seed)}"`);
  if (options.contentKey !== undefined) lines.push(`${FIRMWARE_CONTENT_KEY_SETTING}="${toHex(options.contentKey)}"`);
  writeSecretSettings(envFile, `${lines.join('\n')}\n`);
  return {
    replacedKid,
    restore: () => {
      if (previous === undefined) rmSync(envFile, { force: true });
      else writeSecretSettings(envFile, previous);
    },
  };
}
