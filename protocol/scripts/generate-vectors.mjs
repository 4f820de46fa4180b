#!/usr/bin/env node
// Writes protocol/vectors/*.json from @sceau/protocol. Run `npm run vectors` at the root after
// a deliberate wire change (which also bumps the protocol version: old vectors are never edited).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildVectors } from './vectors.mjs';

const dir = join(import.meta.dirname, '..', 'vectors');
const read = (name) => JSON.parse(readFileSync(join(dir, 'third-party', name), 'utf8'));
const files = buildVectors(read('appendix_a.json'), read('rfc8032.json'));
for (const [name, content] of Object.entries(files)) {
  writeFileSync(join(dir, name), `${JSON.stringify(content, null, 1)}\n`);
  console.error(`wrote protocol/vectors/${name}`);
}
