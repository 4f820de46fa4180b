// The Debian packages whose servers the test suite starts (on loopback ports, in temporary
// directories): checked before vitest runs. Missing ones are installed when running as root
// (CI on a fresh machine); otherwise the run stops with one line naming them.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** Where the PostgreSQL server binaries live on Debian: not on PATH. */
export function postgresBinDir() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(`${base}/${v}/bin/postgres`))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? `${base}/${versions[0]}/bin` : undefined;
}

function onPath(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
    || existsSync(`/usr/sbin/${name}`);
}

export const SYSTEM_PACKAGES = [
  { pkg: 'mosquitto', present: () => onPath('mosquitto') },
  { pkg: 'postgresql', present: () => postgresBinDir() !== undefined },
  { pkg: 'chromium', present: () => onPath('chromium') },
  // The MQTT tests make a certificate authority for a TLS listener.
  { pkg: 'openssl', present: () => onPath('openssl') },
];

export function missingPackages() {
  return SYSTEM_PACKAGES.filter((p) => !p.present()).map((p) => p.pkg);
}

/** Returns undefined when every package is present (after installing as root), else the one line to print. */
export function ensureSystemPackages(log = (line) => console.error(line)) {
  let missing = missingPackages();
  if (missing.length === 0) return undefined;
  if (process.getuid?.() === 0) {
    log(`installing system packages for the test servers: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
    missing = missingPackages();
    if (missing.length === 0) return undefined;
  }
  return `missing system packages for the test servers: run "apt-get install -y ${missing.join(' ')}" (as root)`;
}
