// Running the built `sceau` CLI as a child process, as users do, and reading its JSON lines.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
export const sceauBin = join(dirname(require.resolve('@sceau/host-tools/package.json')), 'bin', 'sceau.cjs');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function sceau(args: string[], input?: string | Uint8Array, options: { cwd?: string; timeoutMs?: number } = {}): Run {
  const r = spawnSync(process.execPath, [sceauBin, ...args], { input, encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, cwd: options.cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The JSON lines of stdout, without the `{"summary": {...}}` line `frame verify --json` ends with unless `summary`. */
export function jsonLines(text: string, { summary = false } = {}): Array<Record<string, any>> {
  return text
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((o) => summary || !('summary' in o));
}
