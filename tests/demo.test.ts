// The README's main job: `npm run demo` (after the build) runs, passes, and the commands it prints work.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const env = { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` };

describe('npm run demo', () => {
  it('simulates 100 devices for a day into the gateway: every attack detected, no false accept; its follow-up commands run', () => {
    const r = spawnSync(process.execPath, ['scripts/demo.mjs'], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/devices\s+100/);
    expect(r.stdout).toMatch(/duty-cycle violations 0/);
    expect(r.stdout).toMatch(/attacks\s+(\d+) injected, \1 detected, 0 false accepts/);
    expect(r.stdout).toMatch(/^PASS$/m);
    const commands = r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('npx sceau devices list') || l.startsWith('npx sceau export --db demo/sceau.db --format csv'));
    expect(commands.length).toBe(2);
    const list = execFileSync('bash', ['-c', commands[0]!.replace(/^npx /, '')], { cwd: root, env, encoding: 'utf8' });
    expect(list.trim().split('\n').length).toBe(100);
    const csv = execFileSync('bash', ['-c', commands[1]!.replace(/^npx /, '').replace(/ > readings.csv.*$/, '')], { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(csv.split('\r\n')[0]).toMatch(/^time,at,kid/);
    expect(csv.split('\r\n').length).toBeGreaterThan(10_000);
  });
});
