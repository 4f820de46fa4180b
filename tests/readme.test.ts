// The README's tour runs as written (the long-running `gateway serve` line is started and stopped).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'sceau-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` };

function tourBlock(): string[] {
  const block = /\*\*The command line\*\*[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README: no command-line tour block');
  return block[1]!.trim().split('\n').map((line) => line.replace(/\s+# .*$/, '').replace(/^npx /, ''));
}

describe('README tour', () => {
  it('the command-line tour runs line by line', async () => {
    const lines = tourBlock();
    expect(lines.length).toBeGreaterThan(5);
    const serve = lines.find((l) => l.startsWith('sceau gateway serve'));
    const script = lines.filter((l) => l !== serve).join('\n');
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"ok":true,"code":"ok"/);
    expect(r.stdout).toMatch(/"falseAccepts":0/);

    // The gateway line: it starts, listens on the addresses given, and stops on SIGTERM.
    expect(serve).toBeDefined();
    const child = spawn('bash', ['-c', `exec ${serve!.replace('8750', '0').replace('8752', '0')}`], { cwd: dir, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start: ${out}`)), 20_000);
      child.stdout.on('data', () => {
        if (/udp 127\.0\.0\.1:\d+/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(out).toMatch(/^http http:\/\/127\.0\.0\.1:\d+/m);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
  });
});
