/**
 * The data owner's X25519 key pair (docs/privacy.md): the public key wraps each device's content
 * key at provisioning; the private key, which opens them, stays with the owner in a 0600 file and
 * never goes on a gateway. Files: `DIR/owner-<id>.key` (PKCS#8 PEM, 0600, never overwritten) and
 * `DIR/owner-<id>.pub` (64 hex), `<id>` the first 8 bytes of SHA-256 of the public key in hex.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHex } from '@sceau/protocol';
import { ioError, usageError } from './errors.js';
import { generateKeyPair, publicKeyOf } from './hpke.js';
import { assertPrivateMode, readPrivateFile } from './key-files.js';

export interface OwnerKeyFiles {
  ownerKeyId: string;
  publicKey: string;
  secretKeyFile: string;
  publicKeyFile: string;
}

export interface OwnerPrivateKey {
  ownerKeyId: string;
  privateKey: Buffer;
  publicKey: Buffer;
}

/** First 8 bytes of SHA-256 of the public key, in hex: names the owner key in files and wrapped keys. */
export function ownerKeyIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** Generates an owner key pair into `dir` (created 0700 if missing). */
export function writeOwnerKeyPair(dir: string): OwnerKeyFiles {
  const pair = generateKeyPair();
  const ownerKeyId = ownerKeyIdOf(pair.publicKey);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError(`cannot create ${dir}: ${(error as Error).message}`);
  }
  const secretKeyFile = join(dir, `owner-${ownerKeyId}.key`);
  const publicKeyFile = join(dir, `owner-${ownerKeyId}.pub`);
  const pem = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, pair.privateKey]), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  try {
    // 'wx' and the mode at creation: never replaces a key, never readable by others, not even briefly
    writeFileSync(secretKeyFile, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw ioError(`${secretKeyFile} already exists; not overwriting an owner key`);
    if (code === 'ENOTDIR') throw usageError(`--out ${dir}: not a directory`, 'out-not-a-directory');
    throw ioError(`cannot write ${secretKeyFile}: ${(error as Error).message}`);
  }
  writeFileSync(publicKeyFile, `${pair.publicKey.toString('hex')}\n`, { mode: 0o644 });
  return { ownerKeyId, publicKey: pair.publicKey.toString('hex'), secretKeyFile, publicKeyFile };
}

/** Reads an owner private key (PKCS#8 PEM of an X25519 key, or 64 hex); refuses a file others can read. */
export function readOwnerPrivateKey(file: string): OwnerPrivateKey {
  const { text, mode } = readPrivateFile(file, 'owner key');
  const trimmed = text.trim();
  let privateKey: Buffer;
  if (trimmed.includes('-----BEGIN')) {
    if (!trimmed.includes('PRIVATE KEY')) throw usageError(`${file} is not a private key (an owner .pub file?); give the owner-<id>.key file`, 'key-is-public');
    let der: Buffer;
    try {
      const key = createPrivateKey({ key: trimmed, format: 'pem' });
      if (key.asymmetricKeyType !== 'x25519') throw usageError(`${file} holds a ${key.asymmetricKeyType} key; an owner key is X25519 (sceau owner keys generate)`, 'owner-key-type');
      der = key.export({ format: 'der', type: 'pkcs8' });
    } catch (error) {
      if (error instanceof Error && error.name === 'SceauError') throw error;
      throw usageError(`${file}: not a readable PEM private key: ${(error as Error).message}`, 'key-file-unknown');
    }
    privateKey = Buffer.from(der.subarray(PKCS8_X25519.length));
  } else {
    const raw = parseHex(trimmed);
    if (raw === undefined || raw.length !== 32) throw usageError(`${file}: expected an X25519 private key (PKCS#8 PEM or 64 hex characters)`, 'key-file-unknown');
    if (file.endsWith('.pub')) throw usageError(`${file} is a public key; give the owner-<id>.key file`, 'key-is-public');
    privateKey = Buffer.from(raw);
  }
  assertPrivateMode(file, mode, 'owner key');
  const publicKey = publicKeyOf(privateKey);
  return { ownerKeyId: ownerKeyIdOf(publicKey), privateKey, publicKey };
}

/** An owner public key: 64 hex characters, or a file holding them (`owner-<id>.pub`). */
export function readOwnerPublicKey(arg: string): Buffer {
  let text = arg;
  if (parseHex(arg.trim())?.length !== 32) {
    try {
      text = readFileSync(arg, 'utf8');
    } catch (error) {
      throw ioError(`cannot read owner public key ${arg}: ${(error as Error).message}`, 'file-unreadable');
    }
  }
  const raw = parseHex(text.trim());
  if (raw === undefined || raw.length !== 32) throw usageError(`${arg}: expected an owner public key (64 hex characters, as in owner-<id>.pub)`, 'owner-key-format');
  return Buffer.from(raw);
}
