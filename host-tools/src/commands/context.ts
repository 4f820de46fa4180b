/**
 * What every command group of the `sceau` CLI shares: the output streams, the exit status,
 * option parsers, and opening the database for a command (cli.ts registers the groups).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { channels as builtInChannels, type ChannelRegistry, type Reading } from '@sceau/protocol';
import { describeError, usageError } from '../errors.js';
import { openStore, storeBackendOf, type DbMode } from '../db-open.js';
export { privacyOf } from '../db-open.js';
import type { OpenedStore, RegistryStore } from '../store-registry.js';
import type { Device } from '../store.js';

export interface Io {
  /** A result line on stdout. */
  out: (line: string) => void;
  /** A log line on stderr. */
  err: (line: string) => void;
}

export interface CliContext {
  io: Io;
  /** Sets the process's exit status (commands that report a verdict: 1 when something failed). */
  setExit: (code: number) => void;
}

/** Registers one command group (`sceau keys ...`, `sceau devices ...`) on the program. */
export type CommandGroup = (program: Command, context: CliContext) => void;

export function integerArg(what: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${what}: expected an integer in ${min}..${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${what}: expected an integer in ${min}..${max}`);
    return n;
  };
}

/** A repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The built-in channels, with the user channels of `--channels FILE` when given. */
export function loadChannels(file: string | undefined): ChannelRegistry {
  if (file === undefined) return builtInChannels;
  let definitions: unknown;
  try {
    definitions = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usageError(`--channels ${file}: ${describeError(error)}`);
  }
  try {
    return builtInChannels.withUserChannels(definitions);
  } catch (error) {
    throw usageError(`--channels ${file}: ${describeError(error)}`);
  }
}

/** CHANNEL=VALUE[@AGE], channel by name or id, value in the channel's unit. */
export function parseReadingArg(text: string, registry: ChannelRegistry): Reading {
  const match = /^([^=]+)=(-?[0-9]+(?:\.[0-9]+)?)(?:@([0-9]+))?$/.exec(text.trim());
  if (match === null) throw usageError(`--reading ${JSON.stringify(text)}: expected CHANNEL=VALUE[@AGE], for example temperature=21.5, or 1=21.5@60 (channel 1 at 21.5 Cel, measured 60 s before the record)`);
  const ref = match[1]!.trim();
  const channel = /^\d+$/.test(ref) ? registry.get(Number(ref)) : registry.get(ref);
  if (channel === undefined) throw usageError(`--reading ${text}: unknown channel ${JSON.stringify(ref)}; known: ${registry.list().map((c) => c.name).join(', ')}`);
  let value: number;
  try {
    value = registry.fromUnit(channel.id, Number(match[2]));
  } catch (error) {
    throw usageError(`--reading ${text}: ${describeError(error)}`);
  }
  const reading: Reading = { channel: channel.id, value };
  const age = match[3] === undefined ? 0 : Number(match[3]);
  if (age > 0) reading.age = age;
  return reading;
}

/** One key of the registry as a text line. */
export function deviceLine(d: Device): string {
  return `${d.kid}  ${d.revoked ? 'revoked' : 'active '}  ${d.name ?? '-'}  ${d.devEui ?? '-'}  counter=${d.highestCounter}`;
}

/** The store at `location`, any registered backend (store-registry.ts), for commands that only query it. */
export function openQueryStore(location: string): Promise<OpenedStore> {
  return openStore(location, 'readonly');
}

/** A store whose registry a command changes, of any backend that opens one (store-registry.ts `openRegistry`). */
export type ChangeableRegistryStore = RegistryStore;

/**
 * `openRegistry` for any backend: the backend registered for `location` opens its registry to
 * change it (a file SQLite's, `postgres://` PostgreSQL's); an unknown scheme is refused like
 * `devices list` refuses it, a backend whose registry commands cannot change with `registry-unchangeable`.
 */
export async function openChangeableRegistry(io: Io, location: string, mode: DbMode): Promise<ChangeableRegistryStore> {
  const backend = storeBackendOf(location);
  if (backend.openRegistry === undefined) throw usageError(`--db ${location}: the ${backend.name} store backend has no registry commands can change`, 'registry-unchangeable');
  const store = await backend.openRegistry(location, { mode });
  for (const r of store.renamedByMigration ?? []) io.err(`warning: ${location}: device ${r.kid} renamed ${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)} (names are unique and must not read as a kid; docs/integrators.md#device-names)`);
  return store;
}

/** Options of every command that works on one device of a registry. */
export interface DeviceCommandOptions {
  db: string;
  json?: boolean;
}

/**
 * The action of a command on one device (`<device>` and `--db`): opens the database in `mode`
 * (`readonly` to read, `existing` to change: the device must exist, so the database must, and a
 * misspelled path is not created), runs `fn` with the device reference, and closes the database
 * (a refusal reaches the CLI edge, which prints it, as a JSON line too with --json).
 */
export function onDevice<O extends DeviceCommandOptions>(io: Io, mode: DbMode, fn: (store: ChangeableRegistryStore, ref: string, opts: O) => void | Promise<void>): (ref: string, opts: O) => Promise<void> {
  return async (ref, opts) => {
    const store = await openChangeableRegistry(io, opts.db, mode);
    try {
      await fn(store, ref, opts);
    } finally {
      await store.close();
    }
  };
}
