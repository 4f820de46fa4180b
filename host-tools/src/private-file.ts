/** Files holding secrets (tokens, broker credentials): read only when no one else can read them. */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { describeError, usageError } from './errors.js';

/**
 * The text of a secret file named on the command line. Usage errors (exit 2), each with its code:
 * a file that cannot be opened (`file-unreadable`: missing, no permission), a directory or
 * special file (`not-a-file`), a file readable by group or others (`file-mode`).
 */
export function readPrivateFile(file: string, what: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw usageError(`${what} ${file}: ${describeError(error)}`, 'file-unreadable');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw usageError(`${what} ${file} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; give the file itself`, 'not-a-file');
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw usageError(`${what} ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${file}`, 'file-mode');
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
