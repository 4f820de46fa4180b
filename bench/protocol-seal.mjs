#!/usr/bin/env node
// Record encode + seal throughput against raw node:crypto Ed25519 sign of the same
// Sig_structures with a ready KeyObject, in the same run, interleaved, median of rounds.
import { createPrivateKey, sign } from 'node:crypto';
import { PROTECTED_EDDSA, encodeRecord, sealRecord, sha256, sigStructure } from '@sceau/protocol';

const FRAMES = Number(process.env.FRAMES ?? 4000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const seed = sha256(new TextEncoder().encode('bench seal'));
const keyObject = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
const records = Array.from({ length: FRAMES }, (_, i) => ({
  version: 1, counter: i + 1, time: null, readings: [{ channel: 1, value: 2000 + (i % 300) }, { channel: 2, value: 4500 }, { channel: 5, value: 3000 }],
}));
const toBeSigned = records.map((r) => sigStructure(PROTECTED_EDDSA, new Uint8Array(0), encodeRecord(r)));

const time = (fn) => {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const rawRound = () => time(() => { for (const m of toBeSigned) sign(null, m, keyObject); });
const sealRound = () => time(() => { for (const r of records) sealRecord(r, seed); });
rawRound();
sealRound();
const raw = [];
const seal = [];
for (let i = 0; i < ROUNDS; i++) {
  raw.push(rawRound());
  seal.push(sealRound());
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rawRate = FRAMES / median(raw);
const sealRate = FRAMES / median(seal);
console.log(`raw node:crypto sign      ${Math.round(rawRate).toLocaleString('en')} signatures/s`);
console.log(`encodeRecord + sealRecord ${Math.round(sealRate).toLocaleString('en')} frames/s`);
console.log(`ratio ${(sealRate / rawRate).toFixed(3)}`);
if (process.argv.includes('--json')) console.log(JSON.stringify({ bench: 'protocol-seal', node: process.version, frames: FRAMES, rawSignPerSec: Math.round(rawRate), sealPerSec: Math.round(sealRate), ratio: Number((sealRate / rawRate).toFixed(3)) }));
