// vitest runs the tests' TypeScript without checking its types, and `npm run build` (tsc -b)
// checks only the workspace packages. This runs tsc over the tests themselves, so a Promise used
// as its value (an async store call without await), a field that does not exist or a wrong
// argument fails CI instead of passing unnoticed or failing only at run time.
// tests/tsconfig.json covers every test and helper under Node's types; console-browser.test.ts,
// whose callbacks run in the page, has tests/tsconfig.browser.json (the DOM types added).
// The packages resolve through their built declarations (dist/): `npm test` builds first.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function typecheck(project: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', join(root, project), '--pretty', 'false'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('the tests type-check (tsc, strict, no emit)', () => {
  // Measured on a shared 2-core machine: 8 to 23 s for tests/tsconfig.json, 3 to 6 s for the
  // browser one; the bound is for a loaded CI machine.
  for (const project of ['tests/tsconfig.json', 'tests/tsconfig.browser.json']) {
    it(project, async () => {
      const { code, output } = await typecheck(project);
      const unbuilt = /error TS2307: Cannot find module '@sceau\//.test(output) ? '\nThe workspace packages are not built: run `npm run build` first.' : '';
      expect(code, `tsc -p ${project} reported:\n${output}${unbuilt}`).toBe(0);
    }, 300_000);
  }
});
