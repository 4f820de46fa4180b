#!/usr/bin/env node
// `npm ci` / `npm install` at the repository root run this (the root "prepare" script): build the
// workspaces so that `npx sceau` works right after installing. Without the dev dependencies
// (`npm ci --omit=dev`) there is no compiler: say so in one line instead of failing the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  console.error('sceau: prepare: typescript is not installed (dev dependencies omitted); run `npm run build` after installing them');
  process.exit(0);
}
const run = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
