/**
 * Key files. A secret key is written as PKCS#8 PEM with mode 0600 and read back as PEM or as 64
 * hex characters (the 32-byte RFC 8032 seed); a secret key readable by group or others is
 * refused. A public key file holds the 32-byte key as 64 hex characters (PEM SPKI is read too).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fromHex, getPublicKey, kidOf, parseHex, toHex, type Bytes } from '@sceau/protocol';
import { describeError, ioError, usageError } from './errors.js';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface GeneratedKey {
  kid: string;
  publicKey: string;
  secretKeyFile: string;
  publicKeyFile: string;
  name?: string;
}

/** A fresh Ed25519 key pair from node:crypto's CSPRNG: the seed and its public key. */
export function generateSeed(): Bytes {
  const { privateKey } = generateKeyPairSync('ed25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  if (d === undefined) throw new Error('node:crypto gave an Ed25519 key without its seed');
  return new Uint8Array(Buffer.from(d, 'base64url'));
}

/** PKCS#8 PEM of a 32-byte seed. */
export function seedToPem(seed: Bytes): string {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * `mkdir -p` with mode 0700 for the directories it creates. Not `mkdirSync(dir, { recursive })`:
 * under /proc it never returns (Node 20 retries the ENOENT forever); here each missing component
 * is created once, and the first refusal is thrown.
 */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d, { mode: 0o700 });
}

/**
 * Writes `DIR/<kid>.key` (PKCS#8 PEM, 0600, never overwritten) and `DIR/<kid>.pub` (64 hex
 * characters and a newline); with a name, `DIR/<kid>.json` records it.
 */
export function writeKeyPair(dir: string, seed: Bytes, name?: string): GeneratedKey {
  const publicKey = getPublicKey(seed);
  const kid = toHex(kidOf(publicKey));
  if (dir.trim() === '') throw usageError('--out: an empty path; give a directory (the key files are written as DIR/<kid>.key and DIR/<kid>.pub)', 'bad-out');
  let existing: Stats | undefined;
  try {
    existing = statSync(dir);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && !existing.isDirectory()) throw usageError(`--out ${dir} is an existing file; --out takes a directory (the key files are written as DIR/<kid>.key and DIR/<kid>.pub)`, 'out-not-a-directory');
  try {
    makeDirectories(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST') throw usageError(`--out ${dir}: a part of the path is a file, not a directory`, 'out-not-a-directory');
    throw ioError(`cannot create ${dir}: ${describeError(error)}`, 'out-unwritable');
  }
  const secretKeyFile = join(dir, `${kid}.key`);
  const publicKeyFile = join(dir, `${kid}.pub`);
  try {
    // 'wx': never replace an existing secret key; the mode applies at creation, before any byte is written.
    writeFileSync(secretKeyFile, seedToPem(seed), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw ioError(`${secretKeyFile} already exists; not overwriting a secret key`, 'key-exists');
    rmSync(secretKeyFile, { force: true }); // created by this call ('wx'), then cut short (a full disk): not a key
    throw ioError(`cannot write ${secretKeyFile} (nothing kept): ${describeError(error)}`, 'out-unwritable');
  }
  // The pair is written whole or not at all: a secret key without its public key (or the name
  // asked for) is removed again, so a failed run leaves nothing to clean up or to mistake for a key.
  const written = [secretKeyFile];
  const result: GeneratedKey = { kid, publicKey: toHex(publicKey), secretKeyFile, publicKeyFile };
  try {
    writeFileSync(publicKeyFile, `${toHex(publicKey)}\n`, { mode: 0o644 });
    written.push(publicKeyFile);
    if (name !== undefined) {
      result.name = name;
      writeFileSync(join(dir, `${kid}.json`), `${JSON.stringify({ kid, publicKey: toHex(publicKey), name }, null, 2)}\n`, { mode: 0o644 });
    }
  } catch (error) {
    for (const file of written) rmSync(file, { force: true });
    throw ioError(`cannot write the key pair ${kid} in ${dir} (nothing kept): ${describeError(error)}`, 'out-unwritable');
  }
  return result;
}

/**
 * What a key file holds, from its name and content. `keys generate` writes `<kid>.key` (PKCS#8
 * PEM), `<kid>.pub` (64 hex) and `<kid>.json` (`{ kid, publicKey, name }`); firmware settings
 * files hold `sceau_seed="<64 hex>"`. A seed and a public key are both 64 hex characters, so
 * the name tells them apart: a `.pub` file, or a file named after the fingerprint of its
 * content read as a public key, is a public key.
 */
export type KeyFileKind = 'secret-pem' | 'secret-hex' | 'public-pem' | 'public-hex' | 'key-metadata' | 'firmware-settings' | 'unknown';

export function keyFileKind(text: string, file: string): KeyFileKind {
  const trimmed = text.trim();
  if (/-----BEGIN (?:ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)) return 'secret-pem';
  if (trimmed.includes('-----BEGIN PUBLIC KEY-----')) return 'public-pem';
  if (trimmed.startsWith('{')) return 'key-metadata';
  if (/^sceau_seed=/m.test(trimmed)) return 'firmware-settings';
  if (!/^[0-9a-fA-F]{64}$/.test(trimmed)) return 'unknown';
  const name = basename(file);
  if (name.endsWith('.pub')) return 'public-hex';
  const stem = name.replace(/\.[^.]*$/, '').toLowerCase();
  if (/^[0-9a-f]{16}$/.test(stem) && stem === toHex(kidOf(fromHex(trimmed.toLowerCase())))) return 'public-hex';
  return 'secret-hex';
}

/** The 32-byte seed in a secret key file (PKCS#8 PEM or 64 hex characters). Refuses public keys and group/world-readable files. */
/**
 * The text of a small private file (a key), and its mode: I/O errors exit 3, a directory, a
 * special file or a file over 16 KiB is refused as not a key file (exit 2).
 */
export function readPrivateFile(file: string, what: string): { text: string; mode: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw ioError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw usageError(`${what} ${file} is a directory; give the key file itself`, 'key-is-directory');
    if (!st.isFile()) throw usageError(`${what} ${file} is not a regular file`, 'key-not-a-file');
    // A secret key is a few hundred bytes; do not read a large file given by mistake.
    if (st.size > 16 * 1024) throw usageError(`${what} ${file} is ${st.size} bytes: not a key file`, 'key-file-unknown');
    return { text: readFileSync(fd, 'utf8'), mode: st.mode };
  } finally {
    closeSync(fd);
  }
}

/** Refuses a private key file readable by group or others (`key-mode`, exit 2). */
export function assertPrivateMode(file: string, mode: number, what: string): void {
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw usageError(`${what} ${file} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${file}`, 'key-mode');
  }
}

export function readSecretKey(file: string): Bytes {
  const { text, mode } = readPrivateFile(file, 'secret key');
  // The kind first: a public key given as --key must say so, whatever its mode.
  const kind = keyFileKind(text, file);
  if (kind === 'public-hex' || kind === 'public-pem' || kind === 'key-metadata') {
    throw usageError(`${file} is a public key (${kind === 'key-metadata' ? 'key metadata JSON' : kind === 'public-pem' ? 'SPKI PEM' : '64 hex in a .pub file'}), not a secret key; give the matching .key file`, 'key-is-public');
  }
  if (kind === 'firmware-settings') throw usageError(`${file} is a firmware settings file, not a key file; give a .key file written by \`sceau keys generate\``, 'key-file-unknown');
  assertPrivateMode(file, mode, 'secret key');
  return parseSecretKey(text, file);
}

export function parseSecretKey(text: string, what: string): Bytes {
  const trimmed = text.trim();
  if (trimmed.includes('-----BEGIN')) {
    try {
      const key = createPrivateKey({ key: trimmed, format: 'pem' });
      if (key.asymmetricKeyType !== 'ed25519') throw usageError(`${what}: expected an Ed25519 key, got ${String(key.asymmetricKeyType)}`);
      const d = key.export({ format: 'jwk' }).d;
      if (d === undefined) throw usageError(`${what}: no secret key in the PEM`);
      return new Uint8Array(Buffer.from(d, 'base64url'));
    } catch (error) {
      if (error instanceof Error && error.name === 'SceauError') throw error;
      throw usageError(`${what}: not a PKCS#8 Ed25519 PEM key (${(error as Error).message})`);
    }
  }
  const seed = /^[0-9a-fA-F]{64}$/.test(trimmed) ? parseHex(trimmed) : undefined;
  if (seed === undefined) throw usageError(`${what}: expected a PKCS#8 PEM key or 64 hex characters`);
  return seed;
}

/** A public key given as 64 hex characters, or a file holding hex or PEM (SPKI). */
export function readPublicKey(hexOrFile: string): Bytes {
  const direct = hexOrFile.trim();
  if (/^[0-9a-fA-F]{64}$/.test(direct)) return fromHex(direct);
  let text: string;
  try {
    if (!statSync(hexOrFile).isFile()) throw usageError(`${hexOrFile}: not a file`);
    text = readFileSync(hexOrFile, 'utf8');
  } catch (error) {
    if (error instanceof Error && error.name === 'SceauError') throw error;
    throw usageError(`public key: ${hexOrFile} is neither 64 hex characters nor a readable file`);
  }
  return parsePublicKey(text, hexOrFile);
}

export function parsePublicKey(text: string, what: string): Bytes {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return fromHex(trimmed);
  if (trimmed.startsWith('{')) {
    try {
      const meta = JSON.parse(trimmed) as { publicKey?: unknown };
      if (typeof meta.publicKey === 'string' && /^[0-9a-fA-F]{64}$/.test(meta.publicKey)) return fromHex(meta.publicKey);
    } catch {
      // fall through to the error below
    }
  }
  if (trimmed.includes('-----BEGIN')) {
    try {
      const key = createPublicKey({ key: trimmed, format: 'pem' });
      const x = key.export({ format: 'jwk' }).x;
      if (key.asymmetricKeyType === 'ed25519' && x !== undefined) return new Uint8Array(Buffer.from(x, 'base64url'));
    } catch {
      // fall through
    }
  }
  throw usageError(`${what}: expected an Ed25519 public key as 64 hex characters or PEM`);
}
