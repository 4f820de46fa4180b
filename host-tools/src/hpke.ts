/**
 * HPKE (RFC 9180), base mode, one suite: DHKEM(X25519, HKDF-SHA256) (0x0020), HKDF-SHA256
 * (0x0001), AES-128-GCM (0x0001). Built from node:crypto primitives (X25519, HMAC-SHA256,
 * AES-128-GCM), checked against RFC 9180 Appendix A.1.1 (tests/host-hpke.test.ts). sceau uses it
 * to wrap each device's content key for the data owner (content-key-wrap.ts).
 */
import { createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';

export const KEM_ID = 0x0020;
export const KDF_ID = 0x0001;
export const AEAD_ID = 0x0001;
const N_SECRET = 32;
const N_PK = 32;
const N_K = 16;
const N_N = 12;
const N_T = 16;
const N_H = 32;
const MODE_BASE = 0;

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const i2osp = (n: number, w: number): Buffer => {
  const b = Buffer.alloc(w);
  b.writeUIntBE(n, 0, w);
  return b;
};
const KEM_SUITE = Buffer.concat([ascii('KEM'), i2osp(KEM_ID, 2)]);
const HPKE_SUITE = Buffer.concat([ascii('HPKE'), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2)]);
const VERSION_LABEL = ascii('HPKE-v1');

/** Opening failed: wrong key, altered ciphertext or info/aad, or an invalid public key. */
export class HpkeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpkeError';
  }
}

function extract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt.length === 0 ? Buffer.alloc(N_H) : salt).update(ikm).digest();
}

function expand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1; out.length * N_H < length; i++) {
    t = createHmac('sha256', prk).update(t).update(info).update(Uint8Array.of(i)).digest();
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, length);
}

function labeledExtract(suite: Buffer, salt: Uint8Array, label: string, ikm: Uint8Array): Buffer {
  return extract(salt, Buffer.concat([VERSION_LABEL, suite, ascii(label), ikm]));
}

function labeledExpand(suite: Buffer, prk: Uint8Array, label: string, info: Uint8Array, length: number): Buffer {
  return expand(prk, Buffer.concat([i2osp(length, 2), VERSION_LABEL, suite, ascii(label), info]), length);
}

// X25519 keys as node:crypto KeyObjects from their raw 32 bytes (RFC 8410 DER prefixes).
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const privateKeyObject = (sk: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_X25519, sk]), format: 'der', type: 'pkcs8' });
const publicKeyObject = (pk: Uint8Array): KeyObject => createPublicKey({ key: Buffer.concat([SPKI_X25519, pk]), format: 'der', type: 'spki' });

export interface X25519KeyPair {
  privateKey: Buffer;
  publicKey: Buffer;
}

/** The raw public key of a raw X25519 private key. */
export function publicKeyOf(privateKey: Uint8Array): Buffer {
  if (privateKey.length !== 32) throw new TypeError(`X25519 private key: expected 32 bytes, got ${privateKey.length}`);
  return Buffer.from(createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length));
}

/** A fresh X25519 key pair from node:crypto's CSPRNG. */
export function generateKeyPair(): X25519KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const sk = Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length));
  return { privateKey: sk, publicKey: publicKeyOf(sk) };
}

/** DeriveKeyPair (RFC 9180 §7.1.3) for X25519. */
export function deriveKeyPair(ikm: Uint8Array): X25519KeyPair {
  const prk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'dkp_prk', ikm);
  const sk = labeledExpand(KEM_SUITE, prk, 'sk', Buffer.alloc(0), 32);
  return { privateKey: sk, publicKey: publicKeyOf(sk) };
}

function dh(sk: Uint8Array, pk: Uint8Array): Buffer {
  if (pk.length !== N_PK) throw new HpkeError(`X25519 public key: expected ${N_PK} bytes, got ${pk.length}`);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: privateKeyObject(sk), publicKey: publicKeyObject(pk) });
  } catch (error) {
    throw new HpkeError(`X25519: ${(error as Error).message}`);
  }
  // RFC 9180 §7.1.4: an all-zero shared secret (a small-order public key) is a validation error
  if (shared.every((b) => b === 0)) throw new HpkeError('X25519: all-zero shared secret (small-order public key)');
  return shared;
}

function extractAndExpand(dhOut: Uint8Array, kemContext: Uint8Array): Buffer {
  const prk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'eae_prk', dhOut);
  return labeledExpand(KEM_SUITE, prk, 'shared_secret', kemContext, N_SECRET);
}

/** Encap (RFC 9180 §4.1); `ephemeral` fixes the ephemeral key pair (test vectors only). */
export function encap(pkR: Uint8Array, ephemeral: X25519KeyPair = generateKeyPair()): { sharedSecret: Buffer; enc: Buffer } {
  const enc = ephemeral.publicKey;
  const sharedSecret = extractAndExpand(dh(ephemeral.privateKey, pkR), Buffer.concat([enc, pkR]));
  return { sharedSecret, enc };
}

export function decap(enc: Uint8Array, skR: Uint8Array): Buffer {
  const pkR = publicKeyOf(skR);
  return extractAndExpand(dh(skR, enc), Buffer.concat([enc, pkR]));
}

/** An HPKE context (RFC 9180 §5.2): the AEAD key, base nonce and sequence number. */
export class HpkeContext {
  private seq = 0;
  constructor(
    readonly key: Buffer,
    readonly baseNonce: Buffer,
    readonly exporterSecret: Buffer,
  ) {}

  private nextNonce(): Buffer {
    const nonce = Buffer.from(this.baseNonce);
    const seq = i2osp(this.seq, 6); // sequence numbers stay far below 2^48
    for (let i = 0; i < seq.length; i++) nonce[N_N - seq.length + i]! ^= seq[i]!;
    this.seq += 1;
    return nonce;
  }

  /** Skips to sequence number `n` (test vectors list some, not all). */
  setSequence(n: number): void {
    this.seq = n;
  }

  seal(aad: Uint8Array, plaintext: Uint8Array): Buffer {
    const cipher = createCipheriv('aes-128-gcm', this.key, this.nextNonce());
    cipher.setAAD(aad);
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  open(aad: Uint8Array, ciphertext: Uint8Array): Buffer {
    if (ciphertext.length < N_T) throw new HpkeError('ciphertext shorter than its tag');
    const nonce = this.nextNonce();
    const decipher = createDecipheriv('aes-128-gcm', this.key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - N_T));
    try {
      return Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - N_T)), decipher.final()]);
    } catch {
      this.seq -= 1; // RFC 9180 §5.2: a failed open does not advance the sequence
      throw new HpkeError('AES-128-GCM tag does not check: wrong private key, or altered ciphertext, info or aad');
    }
  }
}

/** KeySchedule (RFC 9180 §5.1), base mode (no PSK). */
export function keySchedule(sharedSecret: Uint8Array, info: Uint8Array): HpkeContext {
  const pskIdHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'psk_id_hash', Buffer.alloc(0));
  const infoHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'info_hash', info);
  const context = Buffer.concat([Uint8Array.of(MODE_BASE), pskIdHash, infoHash]);
  const secret = labeledExtract(HPKE_SUITE, sharedSecret, 'secret', Buffer.alloc(0));
  return new HpkeContext(
    labeledExpand(HPKE_SUITE, secret, 'key', context, N_K),
    labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, N_N),
    labeledExpand(HPKE_SUITE, secret, 'exp', context, N_H),
  );
}

export function setupBaseS(pkR: Uint8Array, info: Uint8Array, ephemeral?: X25519KeyPair): { enc: Buffer; context: HpkeContext } {
  const { sharedSecret, enc } = encap(pkR, ephemeral);
  return { enc, context: keySchedule(sharedSecret, info) };
}

export function setupBaseR(enc: Uint8Array, skR: Uint8Array, info: Uint8Array): HpkeContext {
  return keySchedule(decap(enc, skR), info);
}

/** Single-shot seal (RFC 9180 §6.1): `enc` and the ciphertext. */
export function sealBase(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): { enc: Buffer; ciphertext: Buffer } {
  const { enc, context } = setupBaseS(pkR, info);
  return { enc, ciphertext: context.seal(aad, plaintext) };
}

/** Single-shot open; throws `HpkeError` when anything does not match. */
export function openBase(enc: Uint8Array, skR: Uint8Array, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Buffer {
  return setupBaseR(enc, skR, info).open(aad, ciphertext);
}
