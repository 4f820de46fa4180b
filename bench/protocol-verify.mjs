#!/usr/bin/env node
// verifyFrame throughput on one core (kid lookup + replay window included) against raw
// node:crypto Ed25519 verify of the same frames' Sig_structures with ready KeyObjects, measured
// in the same run, interleaved, median of rounds. Target: ratio >= 0.9.
import { createPublicKey, verify } from 'node:crypto';
import {
  MemoryKeyring, ReplayWindows, fromHex, getPublicKey, sealRecord, sha256, sigStructure, toHex, verifyFrame, PROTECTED_EDDSA, encodeRecord,
} from '@sceau/protocol';

const DEVICES = 100;
const FRAMES = Number(process.env.FRAMES ?? 4000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);

const keyring = new MemoryKeyring();
const devices = Array.from({ length: DEVICES }, (_, i) => {
  const seed = sha256(new TextEncoder().encode(`bench device ${i}`));
  const publicKey = getPublicKey(seed);
  keyring.add(publicKey);
  return { seed, publicKey, keyObject: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' }) };
});
const frames = [];
for (let i = 0; i < FRAMES; i++) {
  const d = devices[i % DEVICES];
  const record = { version: 1, counter: 1 + Math.floor(i / DEVICES), time: null, readings: [{ channel: 1, value: 2000 + (i % 300) }, { channel: 2, value: 4500 }, { channel: 5, value: 3000 }] };
  const frame = sealRecord(record, d.seed);
  frames.push({ frame, device: d, toBeSigned: sigStructure(PROTECTED_EDDSA, new Uint8Array(0), encodeRecord(record)), signature: frame.subarray(frame.length - 64) });
}

function rawRound() {
  const t = process.hrtime.bigint();
  let ok = 0;
  for (const f of frames) if (verify(null, f.toBeSigned, f.device.keyObject, f.signature)) ok++;
  if (ok !== frames.length) throw new Error('raw verify failed');
  return Number(process.hrtime.bigint() - t) / 1e9;
}
function pipelineRound() {
  const replay = new ReplayWindows();
  const t = process.hrtime.bigint();
  let ok = 0;
  for (const f of frames) if (verifyFrame(f.frame, keyring, { replay }).ok) ok++;
  if (ok !== frames.length) throw new Error('verifyFrame rejected a genuine frame');
  return Number(process.hrtime.bigint() - t) / 1e9;
}

pipelineRound(); // warm-up (JIT, key caches)
rawRound();
const raw = [];
const pipeline = [];
for (let r = 0; r < ROUNDS; r++) {
  raw.push(rawRound());
  pipeline.push(pipelineRound());
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rawRate = FRAMES / median(raw);
const pipeRate = FRAMES / median(pipeline);
const result = {
  bench: 'protocol-verify',
  node: process.version,
  frames: FRAMES,
  frameBytes: frames[0].frame.length,
  rawVerifyPerSec: Math.round(rawRate),
  verifyFramePerSec: Math.round(pipeRate),
  ratio: Number((pipeRate / rawRate).toFixed(3)),
  target: 0.9,
};
console.log(`raw node:crypto verify   ${result.rawVerifyPerSec.toLocaleString('en')} frames/s`);
console.log(`verifyFrame (kid+replay) ${result.verifyFramePerSec.toLocaleString('en')} frames/s`);
console.log(`ratio ${result.ratio} (target >= ${result.target})`);
if (process.argv.includes('--json')) console.log(JSON.stringify(result));
