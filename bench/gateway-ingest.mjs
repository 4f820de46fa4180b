#!/usr/bin/env node
// Gateway ingest throughput: signed frames over HTTP and UDP into SQLite (WAL, synchronous=FULL),
// frames/s, against raw node:crypto Ed25519 verify of the same frames measured in the same run.
//
//   node bench/gateway-ingest.mjs [--frames N] [--devices D] [--rounds R] [--slices S] [--only TEXT] [--profile DIR] [--synchronous full|normal] [--bin PATH] [--threads] [--node-arg FLAG] [--json]
//
// --rounds runs every scenario R times, round-robin (so a slow minute of the machine hits all
// scenarios alike), and ends with each scenario's median ratio and range. --only runs the scenarios whose name contains TEXT (`udp`, `250`, `2 cores`...); --profile
// writes a CPU profile of each gateway process (all its threads) into DIR (node --cpu-prof);
// --threads prints the gateway's CPU per frame thread by thread, with its share in the kernel.
//
// The gateway runs as its own process (`sceau gateway serve`), pinned with taskset to one core
// for the one-core figures, with the load generator pinned to the other core. The two-core
// figures give the gateway both cores (--workers 2: signatures checked on 2 threads of libuv's pool) and the load
// generator shares them. Ratios are to the raw verify rate of one core (R1) on CPU 0, measured in
// --slices S parts (default 4) taken turn about with the gateway's S parts of the frames, so the
// drift of a shared machine affects both sides alike.
import { spawn, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { getPublicKey, PROTECTED_EDDSA, sealRecord, sigStructure, parseCbor } from '@sceau/protocol';
import { PgStore, Store } from '@sceau/host-tools';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const FRAMES = arg('--frames', Number(process.env.FRAMES ?? 12000));
const DEVICES = arg('--devices', 100);
const ROUNDS = arg('--rounds', 1);
const SLICES = arg('--slices', 4);
const JSON_OUT = args.includes('--json');
const strArg = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const ONLY = strArg('--only');
const PROFILE_DIR = strArg('--profile');
const SYNCHRONOUS = strArg('--synchronous') ?? 'full';
const THREADS = args.includes('--threads');
// --pg postgres://USER@HOST:PORT/DB: also the HTTP batch scenarios into PostgreSQL, a new database
// per scenario created on that server (bench/store-ingest.mjs starts a server of its own instead).
const PG = strArg('--pg');
// --node-arg FLAG (repeatable): a V8 / Node flag for the gateway process (--trace-gc, --max-semi-space-size=64...).
const NODE_ARGS = args.flatMap((a, i) => (a === '--node-arg' && i + 1 < args.length ? [args[i + 1]] : []));
const root = join(import.meta.dirname, '..');
// --bin runs another build's CLI (to compare two builds in alternating runs).
const bin = strArg('--bin') ?? join(root, 'host-tools', 'bin', 'sceau.cjs');
const cores = cpus().length;
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const log = (m) => process.stderr.write(`${m}\n`);

// --- frames: DEVICES devices, counters in order per device, interleaved like a fleet ---------
const seeds = Array.from({ length: DEVICES }, (_, d) => {
  const s = new Uint8Array(32);
  s[0] = d & 0xff;
  s[1] = d >> 8;
  s[31] = 0x5c;
  return s;
});
const publicKeys = seeds.map((s) => getPublicKey(s));
function makeFrames(counterBase) {
  const frames = [];
  for (let i = 0; i < FRAMES; i++) {
    const d = i % DEVICES;
    const counter = counterBase + Math.floor(i / DEVICES) + 1;
    frames.push({ d, frame: sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 + (i % 500) }, { channel: 2, value: 4500 }, { channel: 5, value: 3300, age: 60 }] }, seeds[d]) });
  }
  return frames;
}

// --- raw node:crypto verify of the same frames (Sig_structure and KeyObjects prepared) ---------
const keyObjects = publicKeys.map((pk) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pk).toString('base64url') }, format: 'jwk' }));
function rawInputs(frames) {
  return frames.map(({ d, frame }) => {
    const items = parseCbor(frame).item.item.items;
    return { key: keyObjects[d], message: sigStructure(PROTECTED_EDDSA, new Uint8Array(0), items[2].value), signature: items[3].value };
  });
}
function rawVerifySeconds(inputs) {
  const t = process.hrtime.bigint();
  let ok = 0;
  for (const x of inputs) if (verify(null, x.message, x.key, x.signature)) ok++;
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (ok !== inputs.length) throw new Error('raw verify failed');
  return s;
}

// --- gateway process ----------------------------------------------------------------------------
// CPU time (user + system, all threads) of a process, from /proc (Linux; NaN elsewhere): the
// gateway's CPU per frame does not depend on how much of the machine other jobs take.
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

// Busy share of the whole machine (all cores) between two readings of /proc/stat (Linux).
// CPU seconds of each thread of a process by thread id (Linux; empty elsewhere). Node names
// every thread `node`, so they are told apart by what they do: the main thread has the process's
// id, the store writer, libuv's pool and V8's helpers show as the others.
function threadCpu(pid) {
  const out = new Map();
  let ids = [];
  try {
    ids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of ids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(Number(tid), { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

function machineTicks() {
  try {
    const t = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/ +/).slice(1).map(Number);
    return { all: t.reduce((a, b) => a + b, 0), idle: t[3] + t[4] };
  } catch {
    return { all: Number.NaN, idle: Number.NaN };
  }
}

function pinSelf(cpu) {
  if (hasTaskset) spawnSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

async function startGatewayProcess(db, { oneCore, workers }) {
  const nodeArgs = [...NODE_ARGS, ...(PROFILE_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR])];
  const gwArgs = [...nodeArgs, bin, 'gateway', 'serve', '--db', db, '--http', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--workers', String(workers), '--max-body', String(4 * 1024 * 1024), '--synchronous', SYNCHRONOUS, '--json'];
  // The CPUs are always given explicitly: a child inherits this process's affinity (pinned to
  // CPU 1 while measuring raw verify), which would leave a "two-core" gateway one core.
  const cpuList = oneCore ? '0' : `0-${cores - 1}`;
  const child = spawn(hasTaskset ? 'taskset' : process.execPath, hasTaskset ? ['-c', cpuList, process.execPath, ...gwArgs] : gwArgs, { stdio: ['ignore', 'pipe', process.env.SCEAU_TRACE ? 'inherit' : 'ignore'] });
  // The first JSON line with the addresses (V8's --trace-gc, given with --node-arg, prints too).
  const listening = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('{') && line.includes('"listening"')) resolve(JSON.parse(line).listening);
      else if (NODE_ARGS.length > 0) process.stderr.write(`gateway: ${line}\n`);
    });
    child.once('exit', (c) => reject(new Error(`gateway exited ${c}`)));
  });
  return { child, ...listening };
}

// SQLite transactions the gateway committed so far (its /metrics), to report frames per commit.
async function storeBatches(gw) {
  const text = await new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: gw.http.port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  return Number(/^sceau_store_batches_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function stopGateway(gw) {
  return new Promise((resolve) => {
    gw.child.once('exit', resolve);
    gw.child.kill('SIGTERM');
  });
}

function freshDb(dir, name) {
  const file = join(dir, `${name}.db`);
  const store = Store.open(file);
  for (const pk of publicKeys) store.addDevice(pk);
  store.close();
  return file;
}

let pgDatabases = 0;
/** A new database on the --pg server with the fleet registered; its URL. */
async function freshPgDb(name) {
  const { default: pg } = await import('pg');
  const database = `bench_${process.pid}_${++pgDatabases}_${name.replace(/[^a-z0-9]/gi, '_')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const url = PG.replace(/\/[^/]*$/, `/${database}`);
  const store = await PgStore.open(url, { ingest: false });
  await store.registry.registerMany(publicKeys.map((publicKey, i) => ({ where: `device ${i}`, publicKey })));
  await store.close();
  return url;
}

function post(agent, port, body, type) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/frames', method: 'POST', agent, headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// POSTs every body to /v1/frames, `concurrency` requests at a time on keep-alive connections;
// `accepted` counts the accepted frames of a reply. Returns the frames per second.
async function postAll(gw, bodies, type, concurrency, frameCount, accepted) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  let ok = 0;
  const t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const reply = await post(agent, gw.http.port, bodies[next++], type);
        ok += accepted(reply); // after the await: \`ok += accepted(await ...)\` would read ok before it
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  agent.destroy();
  return { rate: frameCount / s, seconds: s, ok };
}

function httpSingle(gw, frames, concurrency = 64) {
  const accepted = (r) => (r.status === 200 && r.body.includes('"code":"ok"') ? 1 : 0);
  return postAll(gw, frames.map((f) => f.frame), 'application/cose', concurrency, frames.length, accepted);
}

function httpBatch(gw, frames, batch = 250, concurrency = 8) {
  const bodies = [];
  for (let i = 0; i < frames.length; i += batch) bodies.push(Buffer.from(JSON.stringify({ frames: frames.slice(i, i + batch).map((f) => Buffer.from(f.frame).toString('base64')) })));
  const accepted = (r) => {
    if (r.status !== 200) throw new Error(`batch: HTTP ${r.status} ${r.body}`);
    return JSON.parse(r.body).results.filter((x) => x.code === 'ok').length;
  };
  return postAll(gw, bodies, 'application/json', concurrency, frames.length, accepted);
}

// UDP has no acknowledgement: the sender keeps at most `window` frames ahead of what the store
// holds (read from the SQLite file, as any reader would), so the kernel buffer never overflows.
async function udp(gw, frames, db, window = 1500) {
  const socket = createSocket('udp4');
  await new Promise((r) => socket.connect(gw.udp.port, '127.0.0.1', r));
  const reader = new Database(db, { readonly: true });
  const count = reader.prepare('SELECT COALESCE(MAX(id), 0) AS n FROM frames');
  const base = count.get().n;
  const stored = () => count.get().n - base;
  const t = process.hrtime.bigint();
  let sent = 0;
  while (sent < frames.length) {
    while (sent < frames.length && sent - stored() < window) {
      const end = Math.min(frames.length, sent + 100);
      for (; sent < end; sent++) socket.send(frames[sent].frame);
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const deadline = Date.now() + 30_000;
  while (stored() < frames.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const n = stored();
  const ok = reader.prepare("SELECT COUNT(*) AS n FROM frames WHERE outcome = 'ok' AND id > ?").get(base).n;
  reader.close();
  socket.close();
  return { rate: n / s, seconds: s, ok, lost: frames.length - n };
}

// --- run ---------------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'sceau-bench-gw-'));
const results = [];
try {
  const scenarios = [
    { name: 'http, one frame per request', transport: 'http-single', oneCore: true, workers: 0 },
    { name: 'http, 250 frames per request', transport: 'http-batch', oneCore: true, workers: 0 },
    { name: 'udp, one frame per datagram', transport: 'udp', oneCore: true, workers: 0 },
    { name: 'http, 250 frames per request', transport: 'http-batch', oneCore: false, workers: 2 },
    { name: 'udp, one frame per datagram', transport: 'udp', oneCore: false, workers: 2 },
    ...(PG === undefined
      ? []
      : [
          { name: 'http, 250 frames per request, PostgreSQL', transport: 'http-batch', oneCore: true, workers: 0, pg: true },
          { name: 'http, 250 frames per request, PostgreSQL', transport: 'http-batch', oneCore: false, workers: 2, pg: true },
        ]),
  ];
  log(`gateway-ingest: ${FRAMES} frames of ${DEVICES} devices, ${cores} cores, taskset ${hasTaskset ? "yes" : "no"}, synchronous=${SYNCHRONOUS}, Node ${process.version}`);
  let k = 0;
  const label = (sc) => `${sc.oneCore ? '1 core' : `${cores} cores`} ${sc.name}`;
  const chosen = scenarios.filter((sc) => ONLY === undefined || label(sc).includes(ONLY));
  for (let round = 1; round <= ROUNDS; round++)
  for (const sc of chosen) {
    const frames = makeFrames(k * 1_000_000 + 10);
    const inputs = rawInputs(frames);
    // Raw verify on CPU 0, the core the one-core gateway gets (the two cores of a shared host do
    // not always run at the same speed), in slices taken turn about with the gateway's: the host's
    // speed drifts within seconds, and both sides see the same drift.
    pinSelf(0);
    rawVerifySeconds(inputs.slice(0, 500)); // warm-up
    const db = sc.pg ? await freshPgDb(`${sc.transport}-${sc.workers}-${round}`) : freshDb(dir, `${sc.transport}-${sc.workers}-${round}`);
    const gw = await startGatewayProcess(db, sc);
    const clientCpus = () => {
      if (sc.oneCore) pinSelf(1);
      else if (hasTaskset) spawnSync('taskset', ['-a', '-cp', `0-${cores - 1}`, String(process.pid)], { stdio: 'ignore' });
    };
    clientCpus();
    // Warm the gateway (JIT, key cache) with earlier counters of the same devices.
    const warm = makeFrames(k++ * 1_000_000).slice(0, 400);
    if (sc.transport === 'udp') await udp(gw, warm, db);
    else await httpBatch(gw, warm, 100, 2);
    const threadsBefore = THREADS ? threadCpu(gw.child.pid) : undefined;
    const commitsBefore = await storeBatches(gw);
    let rawSeconds = 0;
    let gatewaySeconds = 0;
    let gatewayCpu = 0;
    let busyTicks = 0;
    let allTicks = 0;
    let clientMicros = 0;
    let accepted = 0;
    let lost = 0;
    const sliceRates = [];
    for (let slice = 0; slice < SLICES; slice++) {
      const from = Math.floor((slice * FRAMES) / SLICES);
      const to = Math.floor(((slice + 1) * FRAMES) / SLICES);
      pinSelf(0);
      const raw = rawVerifySeconds(inputs.slice(from, to));
      rawSeconds += raw;
      sliceRates.push(Math.round((to - from) / raw));
      clientCpus();
      const cpuBefore = cpuSeconds(gw.child.pid);
      const ticksBefore = machineTicks();
      const clientBefore = process.cpuUsage();
      const part = frames.slice(from, to);
      const run = sc.transport === 'http-single' ? await httpSingle(gw, part) : sc.transport === 'http-batch' ? await httpBatch(gw, part) : await udp(gw, part, db);
      gatewaySeconds += run.seconds;
      gatewayCpu += cpuSeconds(gw.child.pid) - cpuBefore;
      const ticks = machineTicks();
      busyTicks += ticks.all - ticksBefore.all - (ticks.idle - ticksBefore.idle);
      allTicks += ticks.all - ticksBefore.all;
      const client = process.cpuUsage(clientBefore);
      clientMicros += client.user + client.system;
      accepted += run.ok;
      lost += run.lost ?? 0;
    }
    const threads = threadsBefore === undefined ? undefined : threadCpu(gw.child.pid);
    const commits = await storeBatches(gw);
    await stopGateway(gw);
    const rate = (FRAMES - lost) / gatewaySeconds;
    const r1 = FRAMES / rawSeconds;
    const row = { round, scenario: sc.name, gatewayCores: sc.oneCore ? 1 : cores, workers: sc.workers, framesPerSecond: Math.round(rate), rawVerifyPerSecondOneCore: Math.round(r1), rawVerifyBySlice: sliceRates, ratio: Number((rate / r1).toFixed(2)), accepted, lost, gatewayCpuMicrosPerFrame: Math.round((gatewayCpu * 1e6) / FRAMES), rawVerifyCpuMicrosPerFrame: Math.round(1e6 / r1), loadGeneratorCpuMicrosPerFrame: Math.round(clientMicros / FRAMES), machineBusy: Number((busyTicks / allTicks).toFixed(2)), framesPerCommit: Math.round(FRAMES / (commits - commitsBefore)) };
    if (threads !== undefined) {
      // Threads that used CPU during the run, busiest first: µs per frame, and of it in the
      // kernel (system calls: datagrams, sockets, writes, syncs), tid relative to main.
      const perFrame = (seconds) => Math.round((seconds * 1e6) / FRAMES);
      row.threadCpuMicrosPerFrame = [...threads]
        .map(([tid, t]) => {
          const before = threadsBefore.get(tid) ?? { user: 0, system: 0 };
          return [tid === gw.child.pid ? 'main' : `+${tid - gw.child.pid}`, perFrame(t.user - before.user + t.system - before.system), perFrame(t.system - before.system)];
        })
        .filter(([, us]) => us > 0)
        .sort((x, y) => y[1] - x[1]);
    }
    if (accepted !== FRAMES) row.note = `only ${accepted} of ${FRAMES} accepted`;
    results.push(row);
    log(`${ROUNDS > 1 ? `round ${round}  ` : ''}${label(sc).padEnd(38)} ${String(row.framesPerSecond).padStart(6)} frames/s  raw verify (1 core) ${String(row.rawVerifyPerSecondOneCore).padStart(6)}/s (slices ${Math.min(...sliceRates)}-${Math.max(...sliceRates)})  ratio ${row.ratio.toFixed(2)}  gateway CPU ${row.gatewayCpuMicrosPerFrame} µs/frame (raw verify ${row.rawVerifyCpuMicrosPerFrame}, load generator ${row.loadGeneratorCpuMicrosPerFrame})  machine ${Math.round(row.machineBusy * 100)}% busy  ${row.framesPerCommit} frames/commit${row.lost ? `  lost ${row.lost}` : ''}${row.note ? `  (${row.note})` : ''}`);
    if (row.threadCpuMicrosPerFrame) log(`    threads (µs/frame, of it in the kernel): ${row.threadCpuMicrosPerFrame.map(([t, us, sys]) => `${t} ${us} (${sys})`).join(', ')}`);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const span = (xs) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
  if (ROUNDS > 1) {
    for (const sc of chosen) {
      const rows = results.filter((r) => r.scenario === sc.name && r.gatewayCores === (sc.oneCore ? 1 : cores));
      log(`${label(sc).padEnd(38)} median ratio ${median(rows.map((r) => r.ratio)).toFixed(2)} (${span(rows.map((r) => r.ratio))} over ${rows.length} rounds), median ${median(rows.map((r) => r.framesPerSecond))} frames/s`);
    }
  }
  // Two cores over one core, within each round (the same minute of the machine).
  for (const t of ['http', 'udp']) {
    const scaling = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const one = results.find((r) => r.round === round && r.gatewayCores === 1 && r.scenario.startsWith(t) && !r.scenario.includes('one frame per request'));
      const two = results.find((r) => r.round === round && r.gatewayCores > 1 && r.scenario.startsWith(t));
      if (one && two) scaling.push(two.framesPerSecond / one.framesPerSecond);
    }
    if (scaling.length) log(`${t}: ${cores} cores / 1 core = ${median(scaling).toFixed(2)}x${scaling.length > 1 ? ` (median; ${span(scaling)} over ${scaling.length} rounds)` : ''}`);
  }
  if (JSON_OUT) process.stdout.write(`${JSON.stringify({ node: process.version, cores, frames: FRAMES, devices: DEVICES, results })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
