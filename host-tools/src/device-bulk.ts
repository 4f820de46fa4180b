/**
 * Registrations read in bulk for `sceau devices add --from DIR|FILE`:
 *   DIR          every `<kid>.pub` that `sceau keys generate` wrote, with the name (and `devEui`)
 *                of its `<kid>.json` when there is one;
 *   FILE.json    an array of `{ "publicKey": "<64 hex>", "name"?: …, "devEui"?: … }`;
 *   FILE.csv     RFC 4180 with a header naming the columns `publicKey`, `name`, `devEui`.
 * Every entry is read and checked before anything is registered; problems are listed together.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fromHex, type Bytes } from '@sceau/protocol';
import { describeError, ioError, usageError } from './errors.js';
import { parsePublicKey } from './key-files.js';

export interface BulkEntry {
  /** Where the entry was read (`file`, `file:line`, `file[index]`), for messages. */
  where: string;
  publicKey: Bytes;
  name?: string | undefined;
  devEui?: string | undefined;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw ioError(`cannot read ${file}: ${describeError(error)}`);
  }
}

function hexKey(value: unknown, where: string): Bytes {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value.trim())) throw usageError(`${where}: publicKey: expected 64 hex characters`);
  return fromHex(value.trim());
}

function optionalText(value: unknown, field: string, where: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw usageError(`${where}: ${field}: expected a string`);
  return value;
}

/** Fields of one CSV text (RFC 4180: quoted fields may hold commas, quotes doubled, line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field.length === 0) quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f.length > 0)) rows.push(row);
      row = [];
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f.length > 0)) rows.push(row);
  return rows;
}

/** Reads every registration of a directory or a file; throws one usage error listing the bad entries. */
export function readBulkEntries(path: string): BulkEntry[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (error) {
    throw ioError(`--from ${path}: ${describeError(error)}`);
  }
  const entries: BulkEntry[] = [];
  const problems: string[] = [];
  const attempt = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      if (error instanceof Error && error.name === 'SceauError' && (error as { exitCode?: number }).exitCode === 2) problems.push(error.message);
      else throw error;
    }
  };
  if (isDir) {
    const pubs = readdirSync(path).filter((f) => f.endsWith('.pub')).sort();
    if (pubs.length === 0) throw usageError(`--from ${path}: no .pub files`);
    const files = new Set(readdirSync(path));
    for (const pub of pubs) {
      const file = join(path, pub);
      attempt(() => {
        const entry: BulkEntry = { where: file, publicKey: parsePublicKey(readText(file), file) };
        const meta = `${pub.slice(0, -'.pub'.length)}.json`;
        if (files.has(meta)) {
          let value: { name?: unknown; devEui?: unknown };
          try {
            value = JSON.parse(readText(join(path, meta))) as typeof value;
          } catch (error) {
            throw usageError(`${join(path, meta)}: ${describeError(error)}`);
          }
          entry.name = optionalText(value.name, 'name', join(path, meta));
          entry.devEui = optionalText(value.devEui, 'devEui', join(path, meta));
        }
        entries.push(entry);
      });
    }
  } else if (extname(path).toLowerCase() === '.json') {
    let list: unknown;
    try {
      list = JSON.parse(readText(path));
    } catch (error) {
      if (error instanceof Error && error.name === 'SceauError') throw error;
      throw usageError(`--from ${path}: ${describeError(error)}`);
    }
    if (!Array.isArray(list)) throw usageError(`--from ${path}: expected a JSON array of { "publicKey", "name"?, "devEui"? }`);
    list.forEach((item: unknown, i) => {
      const where = `${path}[${i}]`;
      attempt(() => {
        if (item === null || typeof item !== 'object') throw usageError(`${where}: expected an object`);
        const o = item as Record<string, unknown>;
        entries.push({ where, publicKey: hexKey(o.publicKey, where), name: optionalText(o.name, 'name', where), devEui: optionalText(o.devEui, 'devEui', where) });
      });
    });
  } else if (extname(path).toLowerCase() === '.csv') {
    const rows = parseCsv(readText(path));
    const header = (rows.shift() ?? []).map((h) => h.trim());
    const column = (name: string): number => header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    const [pk, name, eui] = [column('publicKey'), column('name'), column('devEui')];
    if (pk < 0) throw usageError(`--from ${path}: the first line must name the columns, with publicKey (and name, devEui)`);
    rows.forEach((row, i) => {
      const where = `${path}:${i + 2}`;
      attempt(() => {
        entries.push({ where, publicKey: hexKey(row[pk], where), name: optionalText(name < 0 ? undefined : row[name], 'name', where), devEui: optionalText(eui < 0 ? undefined : row[eui], 'devEui', where) });
      });
    });
  } else {
    throw usageError(`--from ${path}: expected a directory of .pub files, a .json or a .csv file`);
  }
  if (problems.length > 0) throw usageError(`--from ${path}: ${problems.length} bad entr${problems.length === 1 ? 'y' : 'ies'}, nothing registered: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? '; …' : ''}`);
  if (entries.length === 0) throw usageError(`--from ${path}: no entries`);
  return entries;
}
