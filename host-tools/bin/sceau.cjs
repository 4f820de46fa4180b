#!/usr/bin/env node
// The sceau command: runs the compiled CLI (build it first with `npm run build` at the repository root).
//
// CommonJS on purpose: `gateway serve --workers N` checks signatures on N threads of libuv's
// pool, whose size is read from UV_THREADPOOL_SIZE once, when the pool first starts, and loading
// an ES module starts it. This file sets the size (unless the environment already does), then
// loads the CLI.
'use strict';

// `--workers N` or `--workers=N`; the CLI itself checks the value (and refuses a bad one).
const at = process.argv.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
if (at > 0 && process.env.UV_THREADPOOL_SIZE === undefined) {
  const arg = process.argv[at];
  const n = Number(arg === '--workers' ? process.argv[at + 1] : arg.slice('--workers='.length));
  if (Number.isInteger(n) && n > 0 && n <= 64) process.env.UV_THREADPOOL_SIZE = String(n);
}

// Output piped into a reader that stops early (`sceau export ... | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const path = require('node:path');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!require('node:fs').existsSync(cli)) {
  // A checkout that was never built (npm ci runs the root "prepare" build; npm install --ignore-scripts does not).
  process.stderr.write(`sceau: the CLI is not built (${path.relative(process.cwd(), cli) || cli} is missing): run \`npm run build\` at the root of the sceau repository\n`);
  process.exit(4);
}

import('../dist/cli.js').then(async ({ runCli }) => {
  // Let stdout drain (piped output) before exiting with the code.
  process.exitCode = await runCli(process.argv);
});
