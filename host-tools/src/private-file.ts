/** Files holding secrets (tokens, broker credentials): read only when no one else can read them. */
import { readFileSync, statSync } from 'node:fs';
import { usageError } from './errors.js';

/** The text of a secret file; a usage error when it is missing or readable by group or others. */
export function readPrivateFile(file: string, what: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    throw usageError(`${what} ${file}: ${(error as Error).message}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) throw usageError(`${what} ${file} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${file}`, 'file-mode');
  return readFileSync(file, 'utf8');
}
