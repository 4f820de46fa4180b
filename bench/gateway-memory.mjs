#!/usr/bin/env node
// A gateway instance's memory per registered device, and its start time, on SQLite and on
// PostgreSQL, measured for several fleet sizes in the same run.
//
//   node bench/gateway-memory.mjs [--devices 0,10000,100000] [--backends sqlite,pg] [--pg postgres://...|--no-pg] [--json]
//
// For each fleet size N the parent makes N devices (a key each, derived from a seed) and two
// sealed frames per device (counters 1 and 2). A setup process registers the N keys
// (`registerMany`, 5,000 a call) in a new SQLite store, ingests every device's counter 1 through
// `Ingestor`, so each device has a key and a replay window in the database, and moves the store
// to a new PostgreSQL database with `copyStore` (`sceau db copy`). Then, per backend, a measuring
// process (`node --expose-gc`), as `sceau gateway serve` would on a restart:
//   1. loads its modules and the frames to send, forces GC, and reads `process.memoryUsage()`;
//   2. opens the store as the gateway does (`openStore(location, { mode: 'create' })`): the start,
//      timed; PostgreSQL loads every key and window here, SQLite nothing (it reads a key and a
//      window the first time a device's frame asks for them, and keeps them);
//   3. ingests every device's counter 2 through an `Ingestor` as the gateway builds it, so every
//      device's key, window and verification key are in memory, as after a while of traffic;
//   4. after each step, GC and memory again; then drops the store's caches one by one (recent
//      frames, replay windows, keys), GC after each, to tell which part takes the memory.
// The figures are deltas over step 1, per device; the slope between two fleet sizes (bytes per
// extra device) is the one to plan with, as it leaves out what does not grow with the fleet.
//
// Without --pg, Debian's PostgreSQL is started in a temporary directory (bench/pg-server.mjs);
// --no-pg (or --backends sqlite) skips it. BENCH_SNAPSHOT=FILE writes a heap snapshot of each
// measuring process once its caches are dropped (the last one run is kept): what is left.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getPublicKey, sealRecord, sha256 } from '@sceau/protocol';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const JSON_OUT = args.includes('--json');
const IN_FLIGHT = 2000;

// --- frames file: [u16 length][frame]... ----------------------------------------------------

function packFrames(frames) {
  const total = frames.reduce((s, f) => s + 2 + f.length, 0);
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  for (const f of frames) {
    out.writeUInt16BE(f.length, o);
    out.set(f, o + 2);
    o += 2 + f.length;
  }
  return out;
}

function unpackFrames(buf) {
  const frames = [];
  for (let o = 0; o < buf.length; ) {
    const n = buf.readUInt16BE(o);
    frames.push(buf.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return frames;
}

/** Every frame through the ingestor, up to IN_FLIGHT at a time (as HTTP batches would be): the count accepted. */
function ingestAll(ingestor, frames) {
  return new Promise((resolve, reject) => {
    if (frames.length === 0) return resolve(0);
    let next = 0;
    let done = 0;
    let ok = 0;
    let inFlight = 0;
    const pump = () => {
      while (inFlight < IN_FLIGHT && next < frames.length) {
        inFlight++;
        ingestor.ingest(frames[next++], { source: 'bench' }).then((r) => {
          if (r.ok) ok++;
          inFlight--;
          if (++done === frames.length) resolve(ok);
          else pump();
        }, reject);
      }
    };
    pump();
  });
}

// --- child: setup (register, first frame of every device) ------------------------------------

async function setup() {
  const { Ingestor, PgStore, Store, copyStore } = await import('@sceau/host-tools');
  const file = opt('--db');
  const keys = readFileSync(opt('--keys'));
  const frames = unpackFrames(readFileSync(opt('--frames')));
  const store = Store.open(file, { synchronous: 'normal' });
  const t0 = performance.now();
  for (let i = 0; i < keys.length / 32; i += 5000) {
    const entries = [];
    for (let j = i; j < Math.min(i + 5000, keys.length / 32); j++) entries.push({ where: `device ${j}`, publicKey: new Uint8Array(keys.subarray(j * 32, j * 32 + 32)) });
    store.registry.registerMany(entries);
  }
  const registerMs = performance.now() - t0;
  const ingestor = new Ingestor(store);
  const t1 = performance.now();
  const ok = await ingestAll(ingestor, frames);
  const ingestMs = performance.now() - t1;
  await ingestor.close();
  if (ok !== frames.length) throw new Error(`setup: ${frames.length - ok} of ${frames.length} first frames not accepted`);
  // PostgreSQL: the same store moved over by `sceau db copy` (the frames and windows with it;
  // PgRegistry.registerMany alone would register the keys in about 1 s for 10,000).
  let copyMs;
  for (const url of opt('--copy-to', '').split(',').filter(Boolean)) {
    const target = await PgStore.open(url, { ingest: false });
    const t2 = performance.now();
    await copyStore(store, target);
    copyMs = performance.now() - t2;
    await target.close();
  }
  store.close();
  process.stdout.write(`${JSON.stringify({ registerMs, ingestMs, copyMs })}\n`);
}

// --- child: measure (the gateway's start and steady state) ------------------------------------

async function measure() {
  const { Ingestor, Metrics, openStore } = await import('@sceau/host-tools');
  const db = opt('--db');
  const frames = unpackFrames(readFileSync(opt('--frames')));
  const devices = frames.length;
  const mem = () => {
    for (let i = 0; i < 4; i++) global.gc();
    const m = process.memoryUsage();
    return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
  };
  const base = mem();
  const t0 = performance.now();
  const store = await openStore(db, { mode: 'create', synchronous: 'full' });
  const startMs = performance.now() - t0;
  const started = mem();
  const ingestor = new Ingestor(store, { metrics: new Metrics(), storeUnframed: false });
  const t1 = performance.now();
  const ok = await ingestAll(ingestor, frames);
  const ingestMs = performance.now() - t1;
  if (ok !== devices) throw new Error(`measure: ${devices - ok} of ${devices} frames not accepted`);
  const steady = mem();
  // Which part is it: drop each cache in turn (private fields, reached for this measurement only).
  const parts = {};
  let last = steady;
  const drop = (name, fn) => {
    fn();
    const now = mem();
    parts[name] = { heapUsed: last.heapUsed - now.heapUsed, external: last.external - now.external };
    last = now;
  };
  if (store.recent !== undefined) drop('recent accepted frames (PostgreSQL, at most 20,000)', () => store.recent.clear());
  drop('replay windows', () => store.replay.cache.clear());
  if (store.keyCache !== undefined) drop('keys (with their verification keys)', () => store.keyCache.clear());
  else
    drop('keys (with their verification keys)', () => {
      store.keys = new Map();
      store.keysByEui = new Map();
    });
  const rest = last;
  if (process.env.BENCH_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.BENCH_SNAPSHOT);
  await ingestor.close();
  await store.close();
  process.stdout.write(`${JSON.stringify({ devices, startMs, ingestMs, base, started, steady, rest, parts })}\n`);
}

// --- parent ---------------------------------------------------------------------------------

function runChild(mode, extra) {
  const nodeArgs = mode === 'measure' ? ['--expose-gc'] : [];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeArgs, '--max-old-space-size=8192', fileURLToPath(import.meta.url), `--${mode}`, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${mode} child exited ${code}`))));
  });
}

function makeFleet(n, dir) {
  const t0 = performance.now();
  const keys = Buffer.alloc(n * 32);
  const first = [];
  const second = [];
  for (let i = 0; i < n; i++) {
    const seed = sha256(new TextEncoder().encode(`bench device ${i}`));
    keys.set(getPublicKey(seed), i * 32);
    for (const [counter, list] of [[1, first], [2, second]]) {
      const record = { version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 + counter }, { channel: 2, value: 4500 }, { channel: 5, value: 3000 }] };
      list.push(sealRecord(record, seed));
    }
  }
  const files = { keys: join(dir, `keys-${n}.bin`), first: join(dir, `first-${n}.bin`), second: join(dir, `second-${n}.bin`) };
  writeFileSync(files.keys, keys);
  writeFileSync(files.first, packFrames(first));
  writeFileSync(files.second, packFrames(second));
  return { files, makeMs: performance.now() - t0 };
}

const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
const perDevice = (bytes, n) => (n === 0 ? '-' : `${Math.round(bytes / n)} B`);

async function main() {
  const sizes = opt('--devices', '0,10000,100000').split(',').map(Number);
  let backends = opt('--backends', 'sqlite,pg').split(',');
  if (args.includes('--no-pg')) backends = backends.filter((b) => b !== 'pg');
  const dir = mkdtempSync(join(tmpdir(), 'sceau-bench-memory-'));
  let server;
  let pgUrl = opt('--pg');
  const results = [];
  try {
    if (backends.includes('pg') && pgUrl === undefined) {
      const { startPostgres } = await import('./pg-server.mjs');
      server = await startPostgres();
    }
    let dbCount = 0;
    const pgDatabase = async () => {
      const name = `sceau_mem_${process.pid}_${dbCount++}`;
      if (server !== undefined) {
        server.createdb(name);
        return server.url(name);
      }
      const { default: pg } = await import('pg');
      const admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      return pgUrl.replace(/\/[^/]*$/, `/${name}`);
    };
    for (const n of sizes) {
      const { files, makeMs } = makeFleet(n, dir);
      const file = join(dir, `store-${n}.db`);
      const pgDb = backends.includes('pg') ? await pgDatabase() : undefined;
      const prepared = await runChild('setup', ['--db', file, '--keys', files.keys, '--frames', files.first, ...(pgDb === undefined ? [] : ['--copy-to', pgDb])]);
      for (const backend of backends) {
        const db = backend === 'pg' ? pgDb : file;
        const m = await runChild('measure', ['--db', db, '--frames', files.second]);
        const row = { backend, devices: n, makeMs, registerMs: prepared.registerMs, firstIngestMs: prepared.ingestMs, copyMs: prepared.copyMs, ...m };
        results.push(row);
        const d = (a, b) => b.heapUsed - a.heapUsed;
        const parts = Object.entries(m.parts)
          .map(([k, v]) => `${k} ${perDevice(v.heapUsed, n)}${v.external > 0 ? ` + ${perDevice(v.external, n)} external` : ''}`)
          .join(', ');
        console.log(
          `${backend.padEnd(6)} ${String(n).padStart(9)} devices: start ${m.startMs.toFixed(0)} ms (heap +${kb(d(m.base, m.started))}, ${perDevice(d(m.base, m.started), n)}/device); ` +
            `after a frame of every device (${(m.ingestMs / 1000).toFixed(1)} s): heap +${kb(d(m.base, m.steady))} (${perDevice(d(m.base, m.steady), n)}/device), ` +
            `external +${kb(m.steady.external - m.base.external)} (${perDevice(m.steady.external - m.base.external, n)}), RSS +${kb(m.steady.rss - m.base.rss)} (${perDevice(m.steady.rss - m.base.rss, n)}); ` +
            `by part: ${parts}; left after dropping them ${perDevice(d(m.base, m.rest), n)} heap`,
        );
      }
      console.log(`         ${String(n).padStart(9)} devices set up: keys and frames ${(makeMs / 1000).toFixed(1)} s, registerMany (SQLite) ${(prepared.registerMs / 1000).toFixed(1)} s, first frames ${(prepared.ingestMs / 1000).toFixed(1)} s${prepared.copyMs === undefined ? '' : `, db copy to PostgreSQL ${(prepared.copyMs / 1000).toFixed(1)} s`}`);
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      for (const f of Object.values(files)) rmSync(f, { force: true });
    }
    // Slopes: bytes per extra device between consecutive sizes, same backend.
    for (const backend of backends) {
      const rows = results.filter((r) => r.backend === backend).sort((a, b) => a.devices - b.devices);
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [rows[i - 1], rows[i]];
        const dn = b.devices - a.devices;
        const slope = (f) => Math.round((f(b) - f(a)) / dn);
        const heap = (r) => r.steady.heapUsed - r.base.heapUsed;
        const heapStarted = (r) => r.started.heapUsed - r.base.heapUsed;
        const external = (r) => r.steady.external - r.base.external;
        const rss = (r) => r.steady.rss - r.base.rss;
        const start = (r) => r.startMs * 1000; // µs
        console.log(
          `${backend} slope ${a.devices} -> ${b.devices}: heap ${slope(heap)} B/device after traffic (${slope(heapStarted)} after the start alone), external ${slope(external)} B, RSS ${slope(rss)} B; start ${(slope(start)).toFixed(1)} µs/device`,
        );
        if (JSON_OUT) results.push({ slope: backend, from: a.devices, to: b.devices, heap: slope(heap), heapAtStart: slope(heapStarted), external: slope(external), rss: slope(rss), startUsPerDevice: slope(start) });
      }
    }
    if (JSON_OUT) console.log(JSON.stringify(results));
  } finally {
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--setup')) await setup();
else if (args.includes('--measure')) await measure();
else await main();
