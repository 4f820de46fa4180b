/**
 * Starts the Debian servers the suite tests against (Mosquitto, PostgreSQL) on loopback ports in
 * temporary directories, and stops them by PID. `scripts/run-tests.mjs` has already made sure the
 * packages are installed (see scripts/system-packages.mjs). CI runs as root: PostgreSQL refuses
 * root, so it runs as `postgres` through runuser; Mosquitto drops to its own user by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningServer {
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 5 s; removes the directory. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL without cleanup of the directory (for crash tests that restart on the same data). */
  kill(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function loopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed: apt-get install -y postgresql');
  return join(base, versions[0]!, 'bin');
}

export function mosquittoBinary(): string {
  for (const candidate of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']) if (existsSync(candidate)) return candidate;
  throw new Error('Mosquitto is not installed: apt-get install -y mosquitto');
}

export function chromiumBinary(): string {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(candidate)) return candidate;
  throw new Error('Chromium is not installed: apt-get install -y chromium');
}

const isRoot = process.getuid?.() === 0;

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before listening`);
    if (await listening(port)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function handle(child: ChildProcess, port: number, dir: string, removeDir: boolean, serverPid?: () => number | undefined): RunningServer {
  let stopped: Promise<void> | undefined;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let target: number | undefined;
  const end = (signal: NodeJS.Signals, cleanup: boolean) => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        target = serverPid?.();
        const send = (sig: NodeJS.Signals) => {
          if (target !== undefined) { try { process.kill(target, sig); } catch { /* already gone */ } }
          child.kill(sig);
        };
        send(signal);
        const timer = setTimeout(() => send('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
        // The server's own process (and the children holding its socket) may outlive the wrapper.
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && (alive(target) || (await listening(port)))) await new Promise((r) => setTimeout(r, 50));
      }
      if (cleanup && removeDir) rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return {
    port,
    dir,
    pid: child.pid ?? -1,
    stop: () => end('SIGTERM', true),
    kill: () => end('SIGKILL', false),
  };
}

/** Mosquitto 2 on a loopback port, anonymous access, persistence in its own temporary directory. */
export async function startMosquitto(options: { port?: number; dir?: string; extraConfig?: string[] } = {}): Promise<RunningServer> {
  const port = options.port ?? (await loopbackPort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sceau-mosquitto-'));
  if (isRoot) chownSync(dir, userId('mosquitto'), groupId('mosquitto'));
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${dir}/`,
    'autosave_interval 1',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ...(isRoot ? ['user mosquitto'] : []),
    ...(options.extraConfig ?? []),
    '',
  ].join('\n'));
  if (isRoot) chownSync(config, userId('mosquitto'), groupId('mosquitto'));
  const child = spawn(mosquittoBinary(), ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  await waitForPort(port, child, 'mosquitto');
  return handle(child, port, dir, options.dir === undefined);
}

/**
 * PostgreSQL in a fresh data directory on a loopback port, trust authentication for local TCP,
 * database `sceau` owned by user `postgres`. Connect with `postgres://postgres@127.0.0.1:PORT/sceau`.
 * Pass `dir` of a stopped server to restart on the same data.
 */
export async function startPostgres(options: { port?: number; dir?: string } = {}): Promise<RunningServer & { url: string }> {
  const bin = postgresBinDir();
  const port = options.port ?? (await loopbackPort());
  const fresh = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sceau-pg-'));
  const data = join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) => (isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] as const : [cmd, args] as const);
  if (fresh) {
    if (isRoot) chownSync(dir, userId('postgres'), groupId('postgres'));
    const [cmd, args] = asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const init = spawnSync(cmd, args, { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const [cmd, args] = asPostgres(join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir,
    '-c', 'fsync=on', '-c', 'max_connections=100', '-c', 'shared_buffers=32MB',
  ]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  await waitForPort(port, child, 'postgres');
  if (fresh) {
    const [c2, a2] = asPostgres(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'sceau']);
    // The server listens before it accepts connections ("the database system is starting up"):
    // on a loaded machine the first createdb can come in between. Retry for a while; on failure
    // stop the server rather than leave it running without an owner.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const created = spawnSync(c2, a2, { encoding: 'utf8' });
      if (created.status === 0) break;
      if (!/starting up/.test(created.stderr) || Date.now() > deadline) {
        child.kill('SIGTERM');
        throw new Error(`createdb failed: ${created.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // runuser stays the parent of postgres: signal the postmaster itself (its PID is the first line of
  // postmaster.pid) so that a SIGKILL reaches the server and not only runuser.
  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  };
  return { ...handle(child, port, dir, fresh, postmasterPid), url: `postgres://postgres@127.0.0.1:${port}/sceau` };
}

function userId(name: string): number {
  return Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
}

function groupId(name: string): number {
  return Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
}
