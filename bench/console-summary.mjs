#!/usr/bin/env node
// The console's summary table (frame_hours, schema version 4): what its trigger costs the store's
// commits, and how long the fleet's counts take for 10,000 devices, on SQLite and on PostgreSQL.
//
//   node bench/console-summary.mjs [--frames N] [--devices D] [--rounds R] [--pg postgres://...|--no-pg] [--json]
//
// Two stores in one temporary directory, identical but for the trigger (dropped in one), take
// the same batches of 500 frames turn about (R rounds), so the drift of a shared machine hits
// both alike; the figure is the ratio of their CPU time per frame (commit only, synchronous=NORMAL
// so that fsync does not hide the CPU). Then a store with D devices and a day of hourly counts
// answers SqliteConsoleQueries.fleet (the fleet page's one query): the first count reads every
// hour, the next ones (median of 5) only the current and the previous hour. The same fleet in
// PostgreSQL (a new database on the server --pg names, else Debian's PostgreSQL started in a
// temporary directory; --no-pg skips it) answers PgConsoleQueries.fleet: wall time, and the
// gateway's own CPU time (what holds its event loop: the rows turned into the fleet).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameBatch, PgConsoleQueries, PgStore, SqliteConsoleQueries, Store } from '@sceau/host-tools';
import { startPostgres } from './pg-server.mjs';

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const FRAMES = arg('--frames', 100_000);
const DEVICES = arg('--devices', 10_000);
const ROUNDS = arg('--rounds', 4);
const PG = args.includes('--pg') ? args[args.indexOf('--pg') + 1] : undefined;
const BATCH = 500;

const dir = mkdtempSync(join(tmpdir(), 'sceau-bench-console-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function batches(offset) {
  const out = [];
  const now = Date.now();
  for (let i = 0; i < FRAMES / ROUNDS; i += BATCH) {
    const frames = [];
    for (let j = 0; j < BATCH; j++) {
      const n = offset + i + j;
      const kid = (n % 1000).toString(16).padStart(16, '0');
      const ok = n % 10 !== 0;
      frames.push({ raw: new Uint8Array(110).fill(n & 0xff), receivedAt: now + n, source: 'http:127.0.0.1:1', outcome: ok ? 'ok' : 'bad-signature', kid, counter: ok ? Math.floor(n / 1000) + 1 : undefined, readings: ok ? [{ channel: 1, name: 'temperature', value: 21.5, unit: 'Cel', raw: 2150, age: 0, at: Math.floor(now / 1000) }] : undefined });
    }
    out.push(FrameBatch.of(frames, []));
  }
  return out;
}

function commitCpu(store, list) {
  const start = process.cpuUsage();
  for (const b of list) store.writeBatch(b);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000; // ms
}

/**
 * The trigger's cost to PostgreSQL commits: the same batches committed turn about to two schemas,
 * one without the trigger, in two new databases next to `url`'s on its server (wall time per
 * frame: the trigger runs in the server).
 */
async function pgCommitTimes(url) {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const name = new URL(url).pathname.slice(1);
  for (const suffix of ['trigger', 'plain']) await admin.query(`CREATE DATABASE ${name}_${suffix}`);
  await admin.end();
  const withTrigger = await PgStore.open(url.replace(/\/[^/]*$/, `/${name}_trigger`));
  const without = await PgStore.open(url.replace(/\/[^/]*$/, `/${name}_plain`));
  await without.pool.query('DROP TRIGGER frame_hours_count ON frames');
  const commit = (store, columns) => new Promise((resolve, reject) => store.commitBatch(columns, (error) => (error ? reject(error) : resolve())));
  const wall = { with: 0, without: 0 };
  const frames = Math.min(FRAMES, 20_000);
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const b of batches(r * (FRAMES / ROUNDS)).slice(0, Math.ceil(frames / ROUNDS / BATCH))) {
        for (const [name, store] of r % 2 === 0 ? [['with', withTrigger], ['without', without]] : [['without', without], ['with', withTrigger]]) {
          const t = performance.now();
          await commit(store, b);
          wall[name] += performance.now() - t;
        }
      }
    }
  } finally {
    await withTrigger.close();
    await without.close();
  }
  const n = Math.ceil(frames / ROUNDS / BATCH) * BATCH * ROUNDS;
  return { frames: n, withTriggerUs: (wall.with * 1000) / n, withoutUs: (wall.without * 1000) / n, ratio: wall.with / wall.without };
}

/** The same fleet and hours in PostgreSQL, counted by PgConsoleQueries.fleet. */
async function pgFleetCounts(hourNow) {
  const server = PG === undefined ? await startPostgres() : undefined;
  const name = `bench_console_${process.pid}`;
  if (server !== undefined) server.createdb(name);
  else {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
  }
  const url = server !== undefined ? server.url(name) : PG.replace(/\/[^/]*$/, `/${name}`);
  try {
    const commitMs = await pgCommitTimes(url);
    const store = await PgStore.open(url, { ingest: false });
    try {
      await store.pool.query("INSERT INTO registry_devices (id, name, dev_eui, created_at) SELECT d, 'device-' || d, NULL, 0 FROM generate_series(1, $1::int) AS d", [DEVICES]);
      await store.pool.query("INSERT INTO registry_keys (id, kid, device_id, public_key, state, created_at) SELECT d, lpad(to_hex(d), 16, '0'), d, decode(repeat(lpad(to_hex(d % 256), 2, '0'), 32), 'hex'), 'registered', 0 FROM generate_series(1, $1::int) AS d", [DEVICES]);
      await store.pool.query(
        `INSERT INTO frame_hours (hour, kid, outcome, frames, last_at)
         SELECT $2::bigint - h, lpad(to_hex(d), 16, '0'), o, CASE o WHEN 'ok' THEN 6 ELSE 1 END, ($2::bigint - h) * 3600000
         FROM generate_series(1, $1::int) AS d, generate_series(0, 24) AS h, unnest(ARRAY['ok', 'replay']) AS o WHERE o = 'ok' OR h % 6 = 0`,
        [DEVICES, hourNow],
      );
      await store.pool.query('VACUUM ANALYZE frame_hours');
      const queries = new PgConsoleQueries(store.pool);
      const times = [];
      const cpu = [];
      let devices = 0;
      for (let i = 0; i < 6; i++) {
        const t = performance.now();
        const c = process.cpuUsage();
        devices = (await queries.fleet(Date.now())).length;
        const used = process.cpuUsage(c);
        cpu.push((used.user + used.system) / 1000);
        times.push(performance.now() - t);
      }
      return { devices, firstMs: times[0], medianMs: median(times.slice(1)), cpuMs: median(cpu.slice(1)), commitMs };
    } finally {
      await store.close();
    }
  } finally {
    server?.stop();
  }
}

try {
  const withTrigger = Store.open(join(dir, 'with.db'), { synchronous: 'normal' });
  const without = Store.open(join(dir, 'without.db'), { synchronous: 'normal' });
  without.db.exec('DROP TRIGGER frame_hours_count');
  const cpu = { with: 0, without: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const list = batches(r * (FRAMES / ROUNDS));
    // Which store goes first alternates between rounds.
    if (r % 2 === 0) {
      cpu.with += commitCpu(withTrigger, list);
      cpu.without += commitCpu(without, list);
    } else {
      cpu.without += commitCpu(without, list);
      cpu.with += commitCpu(withTrigger, list);
    }
  }
  withTrigger.close();
  without.close();

  // A fleet of DEVICES devices with a day of hourly counts for each (2 outcomes per hour).
  const fleetStore = Store.open(join(dir, 'fleet.db'), { synchronous: 'normal' });
  const db = fleetStore.db;
  const hourNow = Math.floor(Date.now() / 3_600_000);
  db.transaction(() => {
    const device = db.prepare('INSERT INTO registry_devices (id, name, dev_eui, created_at) VALUES (?, ?, NULL, 0)');
    const key = db.prepare("INSERT INTO registry_keys (id, kid, device_id, public_key, state, created_at) VALUES (?, ?, ?, ?, 'registered', 0)");
    const hour = db.prepare('INSERT INTO frame_hours (hour, kid, outcome, frames, last_at) VALUES (?, ?, ?, ?, ?)');
    for (let d = 1; d <= DEVICES; d++) {
      const kid = d.toString(16).padStart(16, '0');
      device.run(d, `device-${d}`);
      key.run(d, kid, d, Buffer.alloc(32, d & 0xff));
      for (let h = 0; h < 25; h++) {
        hour.run(hourNow - h, kid, 'ok', 6, (hourNow - h) * 3_600_000);
        if (h % 6 === 0) hour.run(hourNow - h, kid, 'replay', 1, (hourNow - h) * 3_600_000);
      }
    }
  })();
  const queries = new SqliteConsoleQueries(fleetStore);
  const times = [];
  let rows = 0;
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    rows = (await queries.fleet(Date.now())).length;
    times.push(performance.now() - t);
  }
  fleetStore.close();
  const pgFleet = args.includes('--no-pg') ? undefined : await pgFleetCounts(hourNow);

  const result = {
    node: process.version,
    frames: FRAMES,
    cpuPerFrameUs: { withTrigger: (cpu.with * 1000) / FRAMES, without: (cpu.without * 1000) / FRAMES },
    ratio: cpu.with / cpu.without,
    fleet: { devices: rows, firstMs: times[0], medianMs: median(times.slice(1)) },
    ...(pgFleet === undefined ? {} : { pgFleet }),
  };
  if (args.includes('--json')) console.log(JSON.stringify(result));
  else {
    console.log(`console-summary (${result.node}): commit CPU per frame, ${FRAMES} frames in batches of ${BATCH}, ${ROUNDS} rounds`);
    console.log(`  with the frame_hours trigger  ${result.cpuPerFrameUs.withTrigger.toFixed(1)} µs`);
    console.log(`  without                       ${result.cpuPerFrameUs.without.toFixed(1)} µs`);
    console.log(`  ratio                         ${result.ratio.toFixed(2)}`);
    console.log(`fleet counts for ${rows} devices (25 hours, ${DEVICES * 30} frame_hours rows): first ${result.fleet.firstMs.toFixed(1)} ms (every hour read), then median ${result.fleet.medianMs.toFixed(1)} ms of 5 (the last 2 hours read)`);
    if (pgFleet !== undefined) console.log(`fleet counts on PostgreSQL for ${pgFleet.devices} devices: first ${pgFleet.firstMs.toFixed(1)} ms, then median ${pgFleet.medianMs.toFixed(1)} ms of 5 (wall); gateway CPU median ${pgFleet.cpuMs.toFixed(1)} ms`);
    if (pgFleet !== undefined) console.log(`PostgreSQL commit wall time per frame, ${pgFleet.commitMs.frames} frames: with the trigger ${pgFleet.commitMs.withTriggerUs.toFixed(1)} µs, without ${pgFleet.commitMs.withoutUs.toFixed(1)} µs, ratio ${pgFleet.commitMs.ratio.toFixed(2)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
