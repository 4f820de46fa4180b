// Debian's PostgreSQL for the benchmarks (bench/store-ingest.mjs, bench/console-summary.mjs):
// initdb in a temporary directory, started on a free loopback port, stopped and removed by stop().
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Debian's PostgreSQL in a temporary directory (as `postgres` through runuser when root). */
export async function startPostgres() {
  const base = '/usr/lib/postgresql';
  const version = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres'))).sort((a, b) => b - a)[0];
  const bin = join(base, version, 'bin');
  const dir = mkdtempSync(join(tmpdir(), 'sceau-bench-pg-'));
  const root = process.getuid() === 0;
  const as = (cmd, a) => (root ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...a]] : [join(bin, cmd), a]);
  if (root) {
    const id = (flag) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout);
    chownSync(dir, id('-u'), id('-g'));
  }
  const port = await freePort();
  let [cmd, a] = as('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C']);
  if (spawnSync(cmd, a).status !== 0) throw new Error('initdb failed');
  [cmd, a] = as('pg_ctl', ['-D', join(dir, 'data'), '-o', `-p ${port} -h 127.0.0.1 -k ${dir} -c shared_buffers=128MB`, '-w', 'start']);
  if (spawnSync(cmd, a, { stdio: 'ignore' }).status !== 0) throw new Error('pg_ctl start failed');
  return {
    url: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    createdb: (name) => {
      const [c, x] = as('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
      if (spawnSync(c, x).status !== 0) throw new Error(`createdb ${name} failed`);
    },
    stop: () => {
      const [c, x] = as('pg_ctl', ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
      spawnSync(c, x, { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

