#!/usr/bin/env node
// The sceau command: runs the compiled CLI (build it first with `npm run build` at the repository root).
import { runCli } from '../dist/cli.js';

const code = await runCli(process.argv);
// Let stdout drain (piped output) before exiting with the code.
process.exitCode = code;
