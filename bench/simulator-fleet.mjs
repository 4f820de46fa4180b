#!/usr/bin/env node
// Simulator throughput, end to end (seal, link model, reassembly, verify and store at the
// in-process gateway), against raw node:crypto Ed25519 sign + verify of the same number of
// frames in the same run; then a simulated day of a large fleet; then memory per device.
//   node bench/simulator-fleet.mjs [--ratio-devices 300] [--day-devices 10000] [--workers 1]
// The in-process gateway verifies on its main thread, or on `--workers` threads (default 0).
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HostToolsGatewaySink, Simulation, resolveScenario, runSimulation } from '@sceau/simulator';

const { values } = parseArgs({
  options: {
    'ratio-devices': { type: 'string', default: '300' },
    'day-devices': { type: 'string', default: '10000' },
    workers: { type: 'string', default: '0' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'sceau-bench-sim-'));
let dbCount = 0;
const sinkFor = async () => HostToolsGatewaySink.start({ db: join(dir, `h${++dbCount}.db`), workers: Number(values.workers) });
const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(`node ${process.version}, ${process.arch}, gateway in-process (host-tools), ${values.workers} verification worker(s)`);

// 1. End to end vs raw crypto, same frame count.
const ratioDevices = Number(values['ratio-devices']);
const scenario = { seed: 'bench', devices: ratioDevices, duration: '24h', interval: '10m', link: 'lorawan-eu868-dr3' };
const result = await runSimulation(resolveScenario(scenario), { sink: await sinkFor() });
const frames = result.summary.recordsSealed;
const simRate = frames / (result.summary.wallMs / 1000);

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const message = new Uint8Array(111).fill(7); // a typical frame's Sig_structure is about this size
const t0 = performance.now();
for (let i = 0; i < frames; i++) {
  message[0] = i & 0xff;
  message[1] = (i >> 8) & 0xff;
  const signature = sign(null, message, privateKey);
  if (!verify(null, message, publicKey, signature)) throw new Error('raw verify failed');
}
const rawRate = frames / ((performance.now() - t0) / 1000);
console.log(`end to end: ${fmt(frames)} frames (${ratioDevices} devices, a simulated day) in ${(result.summary.wallMs / 1000).toFixed(1)} s: ${fmt(simRate)} frames/s`);
console.log(`raw node:crypto sign+verify of ${fmt(frames)} frames: ${fmt(rawRate)} frames/s`);
console.log(`ratio: ${(simRate / rawRate).toFixed(2)}x (target >= 0.6x)`);

// 2. Memory per simulated device (heap of the devices' state, keys included).
global.gc?.();
const before = process.memoryUsage().heapUsed;
const big = new Simulation(resolveScenario({ ...scenario, devices: 10_000 }));
global.gc?.();
const perDevice = (process.memoryUsage().heapUsed - before) / big.devices.length;
console.log(`memory: ${fmt(perDevice)} bytes of heap per simulated device (10,000 devices built${global.gc ? '' : '; run with --expose-gc for a steadier figure'})`);

// 3. A simulated day of a large fleet at one record per 10 minutes.
const dayDevices = Number(values['day-devices']);
if (dayDevices > 0) {
  let peakRss = 0;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 1000);
  const day = await runSimulation(resolveScenario({ ...scenario, seed: 'bench-day', devices: dayDevices }), { sink: await sinkFor() });
  clearInterval(timer);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const s = day.summary;
  console.log(
    `a simulated day of ${fmt(dayDevices)} devices: ${fmt(s.recordsSealed)} records, ${fmt(s.verified ?? 0)} verified, in ${(s.wallMs / 1000).toFixed(1)} s ` +
      `(${fmt(s.recordsSealed / (s.wallMs / 1000))} frames/s, ${Math.round(s.simulatedMs / s.wallMs)}x real time), peak RSS ${fmt(peakRss / 1048576)} MiB, ${day.failures.length === 0 ? 'PASS' : `FAIL: ${day.failures.join('; ')}`}`,
  );
}
rmSync(dir, { recursive: true, force: true });
