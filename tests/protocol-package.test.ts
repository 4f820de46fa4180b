import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as protocol from '@sceau/protocol';

const root = join(import.meta.dirname, '..', 'protocol');
const sources = readdirSync(join(root, 'src')).filter((f) => f.endsWith('.ts'));

describe('@sceau/protocol stays platform-neutral', () => {
  it.each(sources)('%s imports no node:* module and names no Buffer', (file) => {
    const text = readFileSync(join(root, 'src', file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    expect(text).not.toMatch(/from ['"](node:|fs|path|crypto|buffer)['"]/);
    expect(text).not.toMatch(/\bBuffer\b/);
    expect(text).not.toMatch(/require\(/);
  });

  it('declares no Node types and lists every export entry explicitly', () => {
    const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions.types).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const key of Object.keys(pkg.exports)) expect(key).not.toContain('*');
  });

  it('exports the public API by the names other packages rely on', () => {
    for (const name of [
      'channels', 'encodeRecord', 'decodeRecord', 'kidOf', 'sealRecord', 'verifyEd25519', 'verifySign1', 'verifyFrame', 'ReplayWindow',
      'linkProfiles', 'airtimeMs', 'fragment', 'Reassembler',
    ]) {
      expect(protocol, name).toHaveProperty(name);
    }
  });

  it('loads and verifies through the noble backend alone (what a browser gets)', () => {
    const seed = protocol.sha256(Uint8Array.of(1));
    const frame = protocol.sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, seed);
    try {
      protocol.useCryptoBackend('noble');
      const keyring = new protocol.MemoryKeyring();
      keyring.add(protocol.getPublicKey(seed));
      expect(protocol.verifyFrame(frame, keyring).ok).toBe(true);
      expect(protocol.cryptoBackend()).toBe('noble');
    } finally {
      protocol.useCryptoBackend('node');
    }
  });
});
