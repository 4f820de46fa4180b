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

describe('@sceau/protocol without node:crypto (as in a browser)', () => {
  it('falls back to @noble/ed25519 and still seals and verifies the golden frames', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `
      delete process.getBuiltinModule;
      const p = await import('@sceau/protocol');
      const fs = await import('node:fs');
      const v = JSON.parse(fs.readFileSync('protocol/vectors/frames.json', 'utf8'));
      const kr = new p.MemoryKeyring();
      for (const k of v.keys) kr.add(p.fromHex(k.publicKey), { revoked: k.revoked, deviceIds: k.deviceIds });
      let same = 0;
      for (const f of v.positive) {
        const r = f.record;
        const rec = { version: 1, counter: r[1], time: r[2], readings: r[3].map(([channel, value, age]) => age === undefined ? { channel, value } : { channel, value, age }) };
        if (p.toHex(p.sealRecord(rec, p.fromHex(f.seed), { kid: f.kid })) === f.frame) same++;
      }
      const codes = v.negative.filter((n) => !n.replay).map((n) => p.verifyFrame(p.fromHex(n.frame), kr).code === n.code);
      console.log(JSON.stringify({ backend: p.cryptoBackend(), same, total: v.positive.length, codesOk: codes.every(Boolean) }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..'), encoding: 'utf8' });
    const result = JSON.parse(out.trim());
    expect(result.backend).toBe('noble');
    expect(result.same).toBe(result.total);
    expect(result.codesOk).toBe(true);
  });
});
