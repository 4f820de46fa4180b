import * as noble from '@noble/ed25519';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import { type Bytes, assertBytes, concatBytes, equalBytes, toHex } from './bytes.js';

/**
 * The one crypto module: SHA-256, Ed25519 key derivation, signing and strict verification.
 *
 * Two backends give the same answers: Node's own crypto (OpenSSL), reached at run time through
 * `process.getBuiltinModule` so this package keeps no `node:*` import and still loads in a
 * browser, and @noble/ed25519 everywhere else. Verification is strict RFC 8032 §5.1.7 in both:
 * canonical encodings of A (y < p; no x = 0 with the sign bit), S < L, small-order public keys
 * refused, and the cofactorless equation [S]B - [k]A == R compared byte for byte (what OpenSSL
 * computes), never ZIP-215's looser rules. The policy checks run here, before either backend.
 */

noble.hashes.sha512 = nobleSha512;

export interface Ed25519Backend {
  readonly name: 'node' | 'noble';
  sha256(message: Bytes): Bytes;
  publicKeyOf(seed: Bytes): Bytes;
  sign(seed: Bytes, message: Bytes): Bytes;
  /** The curve equation only: policy checks are done by `verifyEd25519` before this is called. */
  verifyEquation(publicKey: Bytes, message: Bytes, signature: Bytes): boolean;
  /**
   * The same equation off the calling thread, when the backend can (node:crypto: libuv's thread
   * pool); `done` is called later, from the event loop.
   */
  verifyEquationAsync?(publicKey: Bytes, message: Bytes, signature: Bytes, done: (ok: boolean) => void): void;
}

/** The group order L, little-endian. */
const ORDER_LE = [
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/** True when the 32 little-endian bytes of `signature` from offset 32 encode S < L. */
function scalarIsCanonical(signature: Bytes): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i]!;
    const l = ORDER_LE[i]!;
    if (s !== l) return s < l;
  }
  return false; // S == L
}

/**
 * The encodings of the eight points of small order (identity, order 2, 4 and 8), plus the two
 * non-canonical x = 0 encodings with the sign bit set. Computed from the curve in the tests.
 */
export const SMALL_ORDER_ENCODINGS: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
];
const SMALL_ORDER = new Set(SMALL_ORDER_ENCODINGS);

/** y < p = 2^255 - 19, with the sign bit ignored. */
function yIsCanonical(key: Bytes): boolean {
  if ((key[31]! & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (key[i] !== 0xff) return true;
  return key[0]! < 0xed;
}

const acceptable = new WeakMap<Bytes, { copy: Bytes; ok: boolean }>();
function publicKeyAcceptableCached(publicKey: Bytes): boolean {
  const hit = acceptable.get(publicKey);
  if (hit !== undefined && equalBytes(hit.copy, publicKey)) return hit.ok;
  const ok = publicKeyIsAcceptable(publicKey);
  acceptable.set(publicKey, { copy: publicKey.slice(), ok });
  return ok;
}

/** Whether a public key passes the strict policy (canonical, not of small order). */
export function publicKeyIsAcceptable(publicKey: Bytes): boolean {
  return publicKey.length === 32 && yIsCanonical(publicKey) && !SMALL_ORDER.has(toHex(publicKey));
}

// --- @noble/ed25519 backend -------------------------------------------------------------------

function leToBigInt(bytes: Bytes): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

export const nobleBackend: Ed25519Backend = {
  name: 'noble',
  sha256: (message) => nobleSha256(message),
  publicKeyOf: (seed) => noble.getPublicKey(seed),
  sign: (seed, message) => noble.sign(message, seed),
  verifyEquation(publicKey, message, signature) {
    let A: noble.Point;
    try {
      A = noble.Point.fromBytes(publicKey, false);
    } catch {
      return false;
    }
    const r = signature.subarray(0, 32);
    const s = leToBigInt(signature.subarray(32, 64));
    const k = leToBigInt(nobleSha512(concatBytes(r, publicKey, message))) % L;
    const check = noble.Point.BASE.multiply(s, false).subtract(A.multiply(k, false));
    return equalBytes(check.toBytes(), r);
  },
};

// --- node:crypto backend ------------------------------------------------------------------------

interface NodeKeyObject {
  readonly type: string;
}
interface NodeCrypto {
  createPublicKey(input: { key: { kty: string; crv: string; x: string }; format: 'jwk' }): NodeKeyObject;
  createPrivateKey(input: { key: Bytes; format: 'der'; type: 'pkcs8' }): NodeKeyObject;
  verify(algorithm: null, data: Bytes, key: NodeKeyObject, signature: Bytes): boolean;
  verify(algorithm: null, data: Bytes, key: NodeKeyObject, signature: Bytes, callback: (error: Error | null, ok: boolean) => void): void;
  sign(algorithm: null, data: Bytes, key: NodeKeyObject): Uint8Array;
  createHash(name: 'sha256'): { update(data: Bytes): { digest(): Uint8Array } };
}

function findNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
}

/** A plain Uint8Array over a Buffer's memory (no copy), so no Buffer leaks out. */
function plain(bytes: Uint8Array): Bytes {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function base64url(bytes: Bytes): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]!;
    if (i + 1 < bytes.length) out += alphabet[(n >> 6) & 63]!;
    if (i + 2 < bytes.length) out += alphabet[n & 63]!;
  }
  return out;
}

const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
/** Bounded cache of public KeyObjects by key hex; verification of many frames reuses them. */
const MAX_CACHED_KEYS = 65536;

function makeNodeBackend(c: NodeCrypto): Ed25519Backend {
  const publicKeys = new Map<string, NodeKeyObject | null>();
  // Secret keys are cached by array identity, with a copy to notice a caller that mutates it.
  const secretKeys = new WeakMap<Bytes, { seed: Bytes; key: NodeKeyObject }>();
  const secretKeyObject = (seed: Bytes): NodeKeyObject => {
    const cached = secretKeys.get(seed);
    if (cached !== undefined && equalBytes(cached.seed, seed)) return cached.key;
    const key = c.createPrivateKey({ key: concatBytes(PKCS8_ED25519_PREFIX, seed), format: 'der', type: 'pkcs8' });
    secretKeys.set(seed, { seed: seed.slice(), key });
    return key;
  };
  // Keyrings hand out the same array for a key every time: a WeakMap hit avoids hex-encoding it.
  const byArray = new WeakMap<Bytes, { copy: Bytes; key: NodeKeyObject | null }>();
  const publicKeyObject = (publicKey: Bytes): NodeKeyObject | null => {
    const hit = byArray.get(publicKey);
    if (hit !== undefined && equalBytes(hit.copy, publicKey)) return hit.key;
    const key = publicKeyObjectByHex(publicKey);
    byArray.set(publicKey, { copy: publicKey.slice(), key });
    return key;
  };
  const publicKeyObjectByHex = (publicKey: Bytes): NodeKeyObject | null => {
    const hex = toHex(publicKey);
    let key = publicKeys.get(hex);
    if (key === undefined) {
      try {
        key = c.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey) }, format: 'jwk' });
      } catch {
        key = null; // not a point on the curve
      }
      if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
      publicKeys.set(hex, key);
    }
    return key;
  };
  return {
    name: 'node',
    sha256: (message) => new Uint8Array(c.createHash('sha256').update(message).digest()),
    publicKeyOf(seed) {
      // The public key is the last 32 bytes of the SPKI DER export; JWK avoids DER parsing.
      const key = c.createPublicKey(secretKeyObject(seed) as never) as unknown as {
        export(o: { format: 'jwk' }): { x: string };
      };
      const x = key.export({ format: 'jwk' }).x;
      return fromBase64url(x);
    },
    sign: (seed, message) => plain(c.sign(null, message, secretKeyObject(seed))),
    verifyEquation(publicKey, message, signature) {
      const key = publicKeyObject(publicKey);
      return key !== null && c.verify(null, message, key, signature);
    },
    verifyEquationAsync(publicKey, message, signature, done) {
      const key = publicKeyObject(publicKey);
      if (key === null) {
        void Promise.resolve(false).then(done); // later, as from the pool
        return;
      }
      // With a callback, node:crypto runs the check as a job on libuv's thread pool.
      c.verify(null, message, key, signature, (error, ok) => done(error === null && ok));
    },
  };
}

function fromBase64url(text: string): Bytes {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    value = (value << 6) | alphabet.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

const nodeCrypto = findNodeCrypto();
/** Node's crypto when this runtime has it, else undefined. */
export const nodeBackend: Ed25519Backend | undefined = nodeCrypto ? makeNodeBackend(nodeCrypto) : undefined;

let active: Ed25519Backend = nodeBackend ?? nobleBackend;

/** The backend in use: 'node' where node:crypto exists, 'noble' elsewhere. */
export function cryptoBackend(): 'node' | 'noble' {
  return active.name;
}

/** Chooses the backend (tests and benchmarks compare them); 'node' throws where it is missing. */
export function useCryptoBackend(name: 'node' | 'noble'): void {
  if (name === 'node') {
    if (nodeBackend === undefined) throw new RangeError('crypto backend: node:crypto is not available in this runtime');
    active = nodeBackend;
  } else if (name === 'noble') {
    active = nobleBackend;
  } else {
    throw new RangeError(`crypto backend: expected 'node' or 'noble', got ${String(name)}`);
  }
}

export function sha256(message: Bytes): Bytes {
  assertBytes(message, 'message');
  return active.sha256(message);
}

/** The 32-byte public key of a 32-byte secret key (RFC 8032 seed). */
export function getPublicKey(secretKey: Bytes): Bytes {
  assertBytes(secretKey, 'secretKey', 32);
  return active.publicKeyOf(secretKey);
}

/** The 64-byte Ed25519 signature of `message` (deterministic, RFC 8032 §5.1.6). */
export function signEd25519(secretKey: Bytes, message: Bytes): Bytes {
  assertBytes(secretKey, 'secretKey', 32);
  assertBytes(message, 'message');
  return active.sign(secretKey, message);
}

/**
 * Strict RFC 8032 Ed25519 verification. Wrong lengths, non-canonical encodings, S >= L and
 * small-order keys are `false`; only a non-Uint8Array argument throws.
 */
export function verifyEd25519(publicKey: Bytes, message: Bytes, signature: Bytes, backend: Ed25519Backend = active): boolean {
  return passesPolicy(publicKey, message, signature) && backend.verifyEquation(publicKey, message, signature);
}

/** The strict policy before the equation: lengths, S < L, a canonical key of large order. */
function passesPolicy(publicKey: Bytes, message: Bytes, signature: Bytes): boolean {
  assertBytes(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  return publicKey.length === 32 && signature.length === 64 && scalarIsCanonical(signature) && publicKeyAcceptableCached(publicKey);
}

/**
 * `verifyEd25519` with the curve equation computed off the calling thread where the backend can
 * (node:crypto runs it on libuv's thread pool, so several checks use several cores); the same
 * answers. `done` is always called later, never before this returns.
 */
export function verifyEd25519Async(publicKey: Bytes, message: Bytes, signature: Bytes, done: (ok: boolean) => void, backend: Ed25519Backend = active): void {
  if (!passesPolicy(publicKey, message, signature)) {
    void Promise.resolve(false).then(done);
    return;
  }
  if (backend.verifyEquationAsync !== undefined) {
    backend.verifyEquationAsync(publicKey, message, signature, done);
    return;
  }
  const ok = backend.verifyEquation(publicKey, message, signature);
  void Promise.resolve(ok).then(done);
}

/** The key id: the first 8 bytes of SHA-256 of the public key. */
export function kidOf(publicKey: Bytes): Bytes {
  assertBytes(publicKey, 'publicKey', 32);
  return active.sha256(publicKey).slice(0, 8);
}
