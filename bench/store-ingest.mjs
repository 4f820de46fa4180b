#!/usr/bin/env node
// The ingest pipeline (verify, replay window, group commit) into SQLite and into PostgreSQL, one
// and two instances, each instance its own process, against raw node:crypto verify of the same
// frames on one core, measured in the same run (before and after each scenario). No transport:
// frames are handed to `Ingestor.ingest` with up to 2,000 in flight, as HTTP batches would be.
//
//   node bench/store-ingest.mjs [--frames N] [--devices D] [--rounds R] [--pg postgres://...] [--json]
//
// Without --pg, a PostgreSQL of Debian's package is started in a temporary directory on a
// loopback port (as the tests do) and stopped at the end. Target: one instance on PostgreSQL at
// least 0.6x of the SQLite rate.
import { spawn } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from './pg-server.mjs';
import { encodeRecord, getPublicKey, PROTECTED_EDDSA, sealRecord, sha256, sigStructure } from '@sceau/protocol';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const FRAMES = Number(opt('--frames', 12000));
const DEVICES = Number(opt('--devices', 100));
const ROUNDS = Number(opt('--rounds', 1));
const JSON_OUT = args.includes('--json');

/** The frames of devices [from, to) in the order a fleet sends them: every device's counter 1, then 2, ... */
function fleet(from, to, perDevice) {
  const devices = [];
  for (let i = from; i < to; i++) {
    const seed = sha256(new TextEncoder().encode(`bench device ${i}`));
    devices.push({ seed, publicKey: getPublicKey(seed) });
  }
  const frames = [];
  for (let c = 1; c <= perDevice; c++) {
    for (const d of devices) {
      const record = { version: 1, counter: c, time: null, readings: [{ channel: 1, value: 2000 + c }, { channel: 2, value: 4500 }, { channel: 5, value: 3000 }] };
      frames.push({ frame: sealRecord(record, d.seed), record, device: d });
    }
  }
  return { devices, frames };
}

// --- child: one instance -----------------------------------------------------------------

async function child() {
  const { Ingestor, PgStore, Store } = await import('@sceau/host-tools');
  const db = opt('--db');
  const [from, to] = opt('--part').split('-').map(Number);
  const { devices, frames } = fleet(from, to, Number(opt('--per-device')));
  const store = db.startsWith('postgres') ? await PgStore.open(db) : Store.open(db);
  if (!db.startsWith('postgres')) for (const d of devices) store.addDevice(d.publicKey);
  else await store.requestReload();
  const ingestor = new Ingestor(store);
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  let ok = 0;
  await new Promise((resolve, reject) => {
    let inFlight = 0;
    const pump = () => {
      while (inFlight < 2000 && next < frames.length) {
        inFlight++;
        ingestor.ingest(frames[next++].frame, { source: 'bench' }).then((r) => {
          if (r.ok) ok++;
          inFlight--;
          if (next === frames.length && inFlight === 0) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await ingestor.close();
  const batches = ingestor.metrics.storeBatches;
  await store.close();
  process.stdout.write(`${JSON.stringify({ frames: frames.length, ok, seconds, cpuUs: cpu.user + cpu.system, batches })}\n`);
  process.exit(0);
}

// --- parent ------------------------------------------------------------------------------

function startChild(db, from, to, perDevice) {
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []; // e.g. --cpu-prof
  const proc = spawn(process.execPath, [...nodeArgs, fileURLToPath(import.meta.url), '--child', '--db', db, '--part', `${from}-${to}`, '--per-device', String(perDevice)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const lines = [];
  let waiter;
  proc.stdout.on('data', (chunk) => {
    out += chunk;
    let i;
    while ((i = out.indexOf('\n')) !== -1) {
      lines.push(out.slice(0, i));
      out = out.slice(i + 1);
      waiter?.();
    }
  });
  const line = () => new Promise((resolve) => {
    const check = () => (lines.length > 0 ? resolve(lines.shift()) : (waiter = check));
    check();
  });
  return { proc, line };
}

/** Raw verify of the frames on this thread: frames/s. */
function rawVerifyRate(frames) {
  const prepared = frames.map((f) => ({
    key: (f.device.keyObject ??= createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(f.device.publicKey).toString('base64url') }, format: 'jwk' })),
    tbs: sigStructure(PROTECTED_EDDSA, new Uint8Array(0), encodeRecord(f.record)),
    sig: f.frame.subarray(f.frame.length - 64),
  }));
  const t = process.hrtime.bigint();
  for (const p of prepared) if (!verify(null, p.tbs, p.key, p.sig)) throw new Error('raw verify failed');
  return prepared.length / (Number(process.hrtime.bigint() - t) / 1e9);
}

async function scenario(name, db, instances, sample, registerPg) {
  const perDevice = Math.ceil(FRAMES / DEVICES);
  if (registerPg) await registerPg();
  const parts = Array.from({ length: instances }, (_, k) => [Math.floor((k * DEVICES) / instances), Math.floor(((k + 1) * DEVICES) / instances)]);
  const children = parts.map(([from, to]) => startChild(db, from, to, perDevice));
  for (const c of children) if ((await c.line()) !== 'ready') throw new Error(`${name}: child not ready`);
  const rawBefore = rawVerifyRate(sample);
  const t0 = process.hrtime.bigint();
  for (const c of children) c.proc.stdin.write('go\n');
  const results = await Promise.all(children.map(async (c) => JSON.parse(await c.line())));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const rawAfter = rawVerifyRate(sample);
  const frames = results.reduce((s, r) => s + r.frames, 0);
  const ok = results.reduce((s, r) => s + r.ok, 0);
  if (ok !== frames) throw new Error(`${name}: ${frames - ok} frames not accepted`);
  const raw = (rawBefore + rawAfter) / 2;
  const rate = frames / wall;
  return {
    scenario: name,
    instances,
    frames,
    framesPerSecond: Math.round(rate),
    rawVerifyPerSecond: Math.round(raw),
    ratio: Number((rate / raw).toFixed(2)),
    cpuUsPerFrame: Math.round(results.reduce((s, r) => s + r.cpuUs, 0) / frames),
    framesPerCommit: Math.round(frames / results.reduce((s, r) => s + r.batches, 0)),
  };
}

async function main() {
  const { PgStore } = await import('@sceau/host-tools');
  const given = opt('--pg');
  const server = given === undefined ? await startPostgres() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sceau-bench-store-'));
  const sample = fleet(0, DEVICES, 20).frames.slice(0, 2000);
  const rows = [];
  let n = 0;
  const pgDatabase = async () => {
    const name = `bench_${process.pid}_${++n}`;
    if (server !== undefined) server.createdb(name);
    else {
      const { default: pg } = await import('pg');
      const admin = new pg.Client({ connectionString: given });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
    }
    return server !== undefined ? server.url(name) : given.replace(/\/[^/]*$/, `/${name}`);
  };
  /** The frames table with its indexes and TOAST, per frame stored (for the sizing table in docs/integrators.md). */
  const pgBytesPerFrame = async (url) => {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('VACUUM ANALYZE frames');
    const { rows } = await c.query("SELECT pg_total_relation_size('frames')::float8 / count(*) AS b FROM frames");
    await c.end();
    return Math.round(rows[0].b);
  };
  const registerAll = (url) => async () => {
    const store = await PgStore.open(url, { ingest: false });
    for (const d of fleet(0, DEVICES, 0).devices) await store.registry.register(d.publicKey);
    await store.close();
  };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      rows.push(await scenario('SQLite, 1 instance', join(dir, `r${r}.db`), 1, sample));
      const one = await pgDatabase();
      rows.push(await scenario('PostgreSQL, 1 instance', one, 1, sample, registerAll(one)));
      rows.at(-1).bytesPerFrame = await pgBytesPerFrame(one);
      const two = await pgDatabase();
      rows.push(await scenario('PostgreSQL, 2 instances', two, 2, sample, registerAll(two)));
    }
  } finally {
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const row of rows) {
    const sqlite = rows.find((x) => x.scenario.startsWith('SQLite') && rows.indexOf(x) <= rows.indexOf(row) && rows.indexOf(row) - rows.indexOf(x) < 3);
    // Each rate over the raw verify measured around it: the host's drift between scenarios cancels out.
    row.vsSqlite = Number((row.ratio / sqlite.ratio).toFixed(2));
    if (JSON_OUT) console.log(JSON.stringify({ bench: 'store-ingest', node: process.version, ...row }));
    else console.log(`${row.scenario.padEnd(26)} ${String(row.framesPerSecond).padStart(6)} frames/s  raw verify ${row.rawVerifyPerSecond}/s  ratio ${row.ratio}  x SQLite ${row.vsSqlite}  cpu ${row.cpuUsPerFrame} us/frame  ${row.framesPerCommit} frames/commit${row.bytesPerFrame ? `  ${row.bytesPerFrame} bytes/frame` : ''}`);
  }
}

if (args.includes('--child')) await child();
else await main();
