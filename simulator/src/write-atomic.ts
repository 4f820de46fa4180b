/**
 * Files the simulator keeps between runs (registration, state, wrapped keys, a VM's flash, the
 * ChirpStack script): written whole or not at all.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Writes `data` to `path` beside it first, then renames it over `path`; on failure the temporary
 * file is removed and the error thrown. `mode` is the new file's (umask applied), e.g. 0o600 for
 * secrets.
 */
export function writeAtomic(path: string, data: string | Uint8Array, mode?: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
