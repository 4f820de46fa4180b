#!/usr/bin/env node
// The sceau command: runs the compiled CLI (build it first with `npm run build` at the repository root).
import { runCli } from '../dist/cli.js';

// Output piped into a reader that stops early (`sceau export ... | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const code = await runCli(process.argv);
// Let stdout drain (piped output) before exiting with the code.
process.exitCode = code;
