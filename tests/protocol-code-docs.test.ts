// The verification codes' explanations exist once, in @sceau/protocol (CODE_DOCS): the gateway's
// console serves them offline, and docs/protocol.md must say the same, word for word.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODE_DOCS, VERIFICATION_CODES } from '@sceau/protocol';

const doc = readFileSync(join(import.meta.dirname, '../docs/protocol.md'), 'utf8');

describe('CODE_DOCS and docs/protocol.md#verification', () => {
  it('has one entry per verification code, no more', () => {
    expect(Object.keys(CODE_DOCS).sort()).toEqual([...VERIFICATION_CODES].sort());
  });

  for (const code of VERIFICATION_CODES) {
    it(`${code}: the table's meaning and the section's text are CODE_DOCS'`, () => {
      const row = doc.split('\n').find((line) => line.startsWith('|') && line.includes(`[\`${code}\`](#code-${code})`));
      expect(row, `a table row for ${code}`).toBeDefined();
      expect(row!.split('|').map((c) => c.trim())[3]).toBe(CODE_DOCS[code].meaning);
      const at = doc.indexOf(`<a id="code-${code}"></a>\n### \`${code}\`\n`);
      expect(at, `a section for ${code}`).toBeGreaterThanOrEqual(0);
      const body = doc.slice(doc.indexOf('\n', doc.indexOf('###', at)) + 1);
      const paragraph = body.slice(0, body.indexOf('\n\n')).split('\n').join(' ');
      expect(paragraph).toBe(CODE_DOCS[code].explanation);
    });
  }
});
