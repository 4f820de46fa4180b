import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('examples run as written', () => {
  it('examples/seal-and-verify.mjs seals, verifies, refuses the replay and the flipped bit', () => {
    const out = execFileSync(process.execPath, ['examples/seal-and-verify.mjs'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(/^device kid [0-9a-f]{16}$/m);
    expect(out).toMatch(/^frame 107 bytes: d284/m);
    expect(out).toMatch(/temperature = 21.5 Cel/);
    expect(out).toMatch(/humidity = 45.3 %RH/);
    expect(out).toMatch(/first delivery: accepted/);
    expect(out).toMatch(/same frame again: replay/);
    expect(out).toMatch(/one bit flipped: bad-signature/);
  });
});
