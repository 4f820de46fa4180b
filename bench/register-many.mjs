// `registerMany` of N new keys in one call (what `sceau devices add --from` does), on SQLite and
// on PostgreSQL (a new database on the server `--pg` names, else Debian's PostgreSQL started in a
// temporary directory by bench/pg-server.mjs), then the same N keys again (every one `unchanged`).
//
//   node bench/register-many.mjs [--devices N] [--pg postgres://…] [--json]
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PgStore, Store } from '@sceau/host-tools';
import { startPostgres } from './pg-server.mjs';

const args = process.argv.slice(2);
const DEVICES = args.includes('--devices') ? Number(args[args.indexOf('--devices') + 1]) : 10_000;
const PG = args.includes('--pg') ? args[args.indexOf('--pg') + 1] : undefined;

// Ed25519 public keys from Node's generator (the raw 32 bytes end its SPKI DER).
const entries = [];
for (let i = 0; i < DEVICES; i++) {
  const der = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
  entries.push({ where: `device ${i}`, publicKey: new Uint8Array(der.subarray(der.length - 32)), name: `device-${i}` });
}

async function timed(fn) {
  const t0 = performance.now();
  const results = await fn();
  if (results.length !== DEVICES) throw new Error(`${results.length} results for ${DEVICES} entries`);
  return { ms: performance.now() - t0, results: results.map((r) => r.result) };
}

const figures = { devices: DEVICES };
const dir = mkdtempSync(join(tmpdir(), 'sceau-bench-register-'));
try {
  const store = Store.open(join(dir, 'r.db'));
  const first = await timed(() => store.registry.registerMany(entries));
  const again = await timed(() => store.registry.registerMany(entries));
  store.close();
  figures.sqlite = { createdMs: first.ms, unchangedMs: again.ms };
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const server = PG === undefined ? await startPostgres() : undefined;
try {
  let url = PG;
  if (server !== undefined) {
    server.createdb('register_many');
    url = server.url('register_many');
  }
  const store = await PgStore.open(url, { ingest: false });
  const first = await timed(() => store.registry.registerMany(entries));
  const again = await timed(() => store.registry.registerMany(entries));
  if (first.results.some((r) => r !== 'created') || again.results.some((r) => r !== 'unchanged')) throw new Error('unexpected results');
  figures.pg = { createdMs: first.ms, unchangedMs: again.ms, devicesListed: (await store.listDevices()).length };
  await store.close();
} finally {
  server?.stop();
}

if (args.includes('--json')) process.stdout.write(`${JSON.stringify(figures)}\n`);
else {
  const line = (name, f) => `${name}: ${DEVICES} created in ${Math.round(f.createdMs)} ms (${((f.createdMs * 1000) / DEVICES).toFixed(0)} µs a key), again (unchanged) in ${Math.round(f.unchangedMs)} ms`;
  console.log(line('SQLite', figures.sqlite));
  console.log(line('PostgreSQL', figures.pg));
}
