#!/usr/bin/env node
// `npm run mutation [-- --mutate protocol/src/ed25519.ts]`: StrykerJS over protocol/src
// (stryker.config.mjs), or over the files named, then one last line from its JSON report.
// `npm run mutation -- --scope gateway [--mutate host-tools/src/ingest.ts]`: the gateway's verdict
// path in host-tools instead (stryker.gateway.config.mjs). The last line:
//   mutation score 91.23% (killed K, timeout T, survived S, no coverage N, errors E)
// The score is Stryker's: (killed + timeout) / (killed + timeout + survived + no coverage).
// Errors (mutants that do not compile or crash the runner) are counted but not scored.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const report = join(root, 'reports', 'mutation', 'mutation.json');
rmSync(report, { force: true });
const args = process.argv.slice(2);
const scopeAt = args.indexOf('--scope');
const scope = scopeAt >= 0 ? args.splice(scopeAt, 2)[1] : 'protocol';
if (scope !== 'protocol' && scope !== 'gateway') {
  console.error(`mutation: --scope protocol or gateway, got ${scope}`);
  process.exit(2);
}
if (scope === 'gateway') args.unshift('stryker.gateway.config.mjs');
let runName = scope === 'gateway' ? 'gateway' : 'all';
// A run over some files (`--mutate a.ts,b.ts`) keeps its incremental results apart, so runs over
// different files do not overwrite each other's.
const mutate = args.indexOf('--mutate');
if (mutate >= 0 && !args.includes('--incrementalFile')) {
  const files = (args[mutate + 1] ?? '').replace(/(protocol|host-tools)\/src\//g, '').replace(/\.ts\b/g, '').replace(/[^A-Za-z0-9-]+/g, '+');
  const name = scope === 'gateway' ? `gateway-${files}` : files;
  args.push('--incrementalFile', `reports/mutation/incremental-${name}.json`);
  runName = name;
}
const started = Date.now();
const run = spawnSync(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', ...args], {
  cwd: root,
  stdio: 'inherit',
});
const seconds = Math.round((Date.now() - started) / 1000);

let counts;
try {
  counts = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0 };
  const text = readFileSync(report, 'utf8');
  writeFileSync(join(root, 'reports', 'mutation', `mutation-${runName}.json`), text); // kept per run
  const result = JSON.parse(text);
  for (const file of Object.values(result.files)) {
    for (const mutant of file.mutants) if (mutant.status in counts) counts[mutant.status]++;
  }
} catch (error) {
  console.error(`mutation: no report at ${report} (${error.message})`);
  console.log('mutation score n/a (killed 0, timeout 0, survived 0, no coverage 0, errors 1)');
  process.exit(1);
}
const detected = counts.Killed + counts.Timeout;
const valid = detected + counts.Survived + counts.NoCoverage;
const score = valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(2)}%`;
const errors = counts.CompileError + counts.RuntimeError;
console.log(`mutation: ${seconds} s`);
console.log(
  `mutation score ${score} (killed ${counts.Killed}, timeout ${counts.Timeout}, survived ${counts.Survived}, no coverage ${counts.NoCoverage}, errors ${errors})`,
);
process.exit(run.status === 0 ? 0 : 1);
