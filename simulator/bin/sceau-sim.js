#!/usr/bin/env node
// sceau-sim: the simulator's command line (`sceau sim run` delegates here).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
