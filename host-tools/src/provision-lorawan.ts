/**
 * LoRaWAN credentials for the firmware (issue 11): read from a JSON file (never from argv), written
 * into a DeviceScript settings file such as `firmware/.env.local` as the settings the firmware's
 * `src/lorawan-credentials.ts` reads, deployed to the board as secrets (not readable over Jacdac):
 *
 *   sceau_otaa="<DevEUI>:<JoinEUI>:<AppKey>"              from {"devEui", "joinEui", "appKey"}
 *   sceau_abp="<DevEUI>:<DevAddr>:<NwkSKey>:<AppSKey>"    from {"devEui", "devAddr", "nwkSKey", "appSKey"}
 *
 * EUIs and DevAddr big-endian hex as network servers show them. Without `devEui` the DevEUI field is
 * left empty (`sceau_otaa=":<JoinEUI>:<AppKey>"`): the board then uses its own, derived from its
 * device identifier and announced on its key line (`deveui=`), which `provision --port/--log` registers.
 * The file keeps its other lines (a
 * seed included: adding LoRaWAN keys beside one needs no --force); a different value of the same
 * setting is refused without `force`. `--reset-lorawan` writes `sceau_lwreset="<random token>"`:
 * the board, at its next boot, forgets the last JoinNonce and the FCnt up of its old session once
 * (src/lorawan-state.ts), for a device re-created on the network server.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { EXIT, ioError, SceauError, usageError } from './errors.js';
import { readSecretSettings, writeSecretSettings } from './provision.js';

export const OTAA_SETTING = 'sceau_otaa';
export const ABP_SETTING = 'sceau_abp';
export const RESET_SETTING = 'sceau_lwreset';

export type LorawanCredentials =
  | { mode: 'otaa'; devEui?: string; joinEui: string; appKey: string }
  | { mode: 'abp'; devEui?: string; devAddr: string; nwkSKey: string; appSKey: string };

const FIELDS = { otaa: { devEui: 16, joinEui: 16, appKey: 32 }, abp: { devEui: 16, devAddr: 8, nwkSKey: 32, appSKey: 32 } } as const;

/** Credentials from the text of a JSON file: one OTAA or one ABP object, hex fields of the right length. */
export function parseLorawanCredentials(text: string, file: string): LorawanCredentials {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (error) {
    throw usageError(`${file}: not JSON (${(error as Error).message})`, 'lorawan-credentials');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw usageError(`${file}: expected one JSON object`, 'lorawan-credentials');
  const o = v as Record<string, unknown>;
  const mode = 'appKey' in o || 'joinEui' in o ? 'otaa' : 'devAddr' in o ? 'abp' : undefined;
  if (mode === undefined) throw usageError(`${file}: expected OTAA {devEui, joinEui, appKey} or ABP {devEui, devAddr, nwkSKey, appSKey} (devEui optional: the board's own)`, 'lorawan-credentials');
  const out: Record<string, string> = { mode };
  for (const [name, len] of Object.entries(FIELDS[mode])) {
    const f = o[name];
    if (name === 'devEui' && f === undefined) continue; // the board's own DevEUI
    if (typeof f !== 'string' || !new RegExp(`^[0-9a-fA-F]{${len}}$`).test(f)) throw usageError(`${file}: ${name} must be ${len} hex digits (${mode.toUpperCase()})`, 'lorawan-credentials');
    out[name] = f.toLowerCase();
  }
  const extra = Object.keys(o).filter((k) => !(k in FIELDS[mode]));
  if (extra.length > 0) throw usageError(`${file}: unexpected field ${extra.join(', ')} (${mode.toUpperCase()})`, 'lorawan-credentials');
  return out as unknown as LorawanCredentials;
}

export function readLorawanCredentials(file: string): LorawanCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw ioError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseLorawanCredentials(text, file);
}

/** The setting line for `c` (key and quoted value, as the DeviceScript CLI JSON-parses values). */
export function lorawanSetting(c: LorawanCredentials): [string, string] {
  const eui = c.devEui ?? ''; // empty: the board's own
  return c.mode === 'otaa' ? [OTAA_SETTING, `"${eui}:${c.joinEui}:${c.appKey}"`] : [ABP_SETTING, `"${eui}:${c.devAddr}:${c.nwkSKey}:${c.appSKey}"`];
}

export interface WrittenSettings {
  /** the settings written (names only: values are secrets) */
  written: string[];
  restore(): void;
}

/**
 * Merges settings into `envFile` (0600, never through a link): `set` maps names to their value
 * text. A name already holding a different value is refused (`lorawan-exists`) unless `force`
 * or the name is in `replaceable`; the same value again is no change.
 */
export function mergeSecretSettings(envFile: string, set: Record<string, string>, options: { force?: boolean | undefined; replaceable?: readonly string[] } = {}): WrittenSettings {
  const previous = readSecretSettings(envFile);
  const lines = (previous ?? '').split(/\r?\n/).filter((l) => l.length > 0);
  for (const [name, value] of Object.entries(set)) {
    const at = lines.findIndex((l) => l.startsWith(`${name}=`));
    if (at >= 0 && lines[at] !== `${name}=${value}` && !options.force && !(options.replaceable ?? []).includes(name)) {
      throw new SceauError(`${envFile} already holds a different ${name}; give --force to replace it (the board then uses the new credentials)`, EXIT.io, 'lorawan-exists');
    }
    if (at >= 0) lines.splice(at, 1);
    lines.push(`${name}=${value}`);
  }
  writeSecretSettings(envFile, `${lines.join('\n')}\n`);
  return {
    written: Object.keys(set),
    restore: () => {
      if (previous === undefined) rmSync(envFile, { force: true });
      else writeSecretSettings(envFile, previous);
    },
  };
}

/** `sceau provision --lorawan FILE --write-key ENV` / `--reset-lorawan`: what goes into the settings file. */
export function lorawanSettings(credentials: LorawanCredentials | undefined, reset: boolean): Record<string, string> {
  const set: Record<string, string> = {};
  if (credentials !== undefined) {
    const [k, v] = lorawanSetting(credentials);
    set[k] = v;
  }
  if (reset) set[RESET_SETTING] = `"${randomBytes(8).toString('hex')}"`;
  return set;
}

export interface LorawanProvisionOptions {
  lorawan?: string | undefined;
  resetLorawan?: boolean | undefined;
  settings?: string | undefined;
  force?: boolean | undefined;
  json?: boolean | undefined;
  /** the DevEUI on the board's key line (`--port`/`--log`), written into credentials that have none */
  announcedEui?: string | undefined;
  /** where it was read (for messages) */
  announcedBy?: string | undefined;
}

/**
 * `sceau provision --settings ENV (--lorawan FILE | --reset-lorawan) [--port P | --log F]`: LoRaWAN
 * settings only, for a board that already has its key (no registry change); the DevEUI a board
 * announces on its key line is written into credentials that have none (pinned: the board then
 * keeps it even if its device identifier changed). Prints what was written (names, never values).
 */
export function runLorawanSettings(opts: LorawanProvisionOptions, io: { out(s: string): void; err(s: string): void }): void {
  if (opts.settings === undefined) throw usageError('--settings ENV-FILE is required here');
  if (opts.lorawan === undefined && !opts.resetLorawan) throw usageError('--settings goes with --lorawan FILE or --reset-lorawan');
  const credentials = opts.lorawan === undefined ? undefined : readLorawanCredentials(opts.lorawan);
  if (opts.announcedEui !== undefined) {
    if (credentials === undefined) throw usageError('--port/--log with --settings go with --lorawan FILE (the DevEUI goes into the credentials)');
    if (credentials.devEui !== undefined && credentials.devEui !== opts.announcedEui) {
      throw usageError(`${opts.lorawan}: devEui ${credentials.devEui} is not the DevEUI ${opts.announcedBy ?? 'the board'} announces (${opts.announcedEui})`, 'dev-eui-mismatch');
    }
    credentials.devEui = opts.announcedEui;
  }
  const w = mergeSecretSettings(opts.settings, lorawanSettings(credentials, opts.resetLorawan === true), { force: opts.force, replaceable: [RESET_SETTING] });
  if (opts.json) io.out(JSON.stringify({ settingsFile: opts.settings, written: w.written, ...(credentials ? { mode: credentials.mode, devEui: credentials.devEui ?? null } : {}) }));
  else io.out(`wrote ${w.written.join(', ')} to ${opts.settings}${credentials ? ` (${credentials.mode.toUpperCase()}, DevEUI ${credentials.devEui ?? "the board's own, shown on its key line"})` : ''}`);
  io.err(`deploy the firmware with ${opts.settings} (its settings reach the board's flash), then delete the file`);
}
