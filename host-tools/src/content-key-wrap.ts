/**
 * A device's content key wrapped for its data owner (docs/privacy.md): HPKE base mode
 * (hpke.ts) to the owner's X25519 public key, with info "sceau content key" and the device's
 * 8-byte kid as AAD, so a wrapped key moved to another device does not open. Only the owner's
 * private key unwraps it; the registry, backups and gateways hold only this form.
 */
import { fromHex, parseHex, CONTENT_KEY_BYTES } from '@sceau/protocol';
import { readFileSync } from 'node:fs';
import { ioError, SceauError, EXIT, usageError } from './errors.js';
import { HpkeError, openBase, sealBase } from './hpke.js';
import { ownerKeyIdOf, type OwnerPrivateKey } from './owner-keys.js';

export const WRAP_INFO = Buffer.from('sceau content key', 'latin1');
export const WRAP_SUITE = 'HPKE-base/DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-128-GCM';

export interface WrappedContentKey {
  /** The device's kid (hex). */
  kid: string;
  /** Which owner key opens it. */
  ownerKeyId: string;
  suite: string;
  /** HPKE enc (the ephemeral public key), hex. */
  enc: string;
  /** The sealed content key (32 bytes + 16-byte tag), hex. */
  ciphertext: string;
}

function kidBytes(kid: string): Buffer {
  const b = parseHex(kid);
  if (b === undefined || b.length !== 8) throw new TypeError(`kid: expected 16 hex characters, got ${kid}`);
  return Buffer.from(b);
}

export function wrapContentKey(ownerPublicKey: Uint8Array, kid: string, contentKey: Uint8Array): WrappedContentKey {
  if (contentKey.length !== CONTENT_KEY_BYTES) throw new TypeError(`content key: expected ${CONTENT_KEY_BYTES} bytes`);
  const { enc, ciphertext } = sealBase(ownerPublicKey, WRAP_INFO, kidBytes(kid), contentKey);
  return { kid, ownerKeyId: ownerKeyIdOf(ownerPublicKey), suite: WRAP_SUITE, enc: enc.toString('hex'), ciphertext: ciphertext.toString('hex') };
}

/** The content key, or a `SceauError` (`wrong-owner-key`, exit 1) when this owner key does not open it. */
export function unwrapContentKey(owner: OwnerPrivateKey, wrapped: WrappedContentKey): Uint8Array {
  if (wrapped.suite !== WRAP_SUITE) throw usageError(`wrapped key of ${wrapped.kid}: suite ${wrapped.suite}, this sceau reads ${WRAP_SUITE}`, 'wrapped-key-suite');
  if (wrapped.ownerKeyId !== owner.ownerKeyId) {
    throw new SceauError(`the content key of ${wrapped.kid} is wrapped for owner key ${wrapped.ownerKeyId}, not for ${owner.ownerKeyId} (--owner-key)`, EXIT.verificationFailed, 'wrong-owner-key');
  }
  try {
    const key = openBase(fromHex(wrapped.enc, 'enc'), owner.privateKey, WRAP_INFO, kidBytes(wrapped.kid), fromHex(wrapped.ciphertext, 'ciphertext'));
    if (key.length !== CONTENT_KEY_BYTES) throw new HpkeError(`unwrapped ${key.length} bytes`);
    return new Uint8Array(key);
  } catch (error) {
    if (error instanceof HpkeError || error instanceof TypeError) {
      throw new SceauError(`the content key of ${wrapped.kid} does not open with owner key ${owner.ownerKeyId}: ${error.message}`, EXIT.verificationFailed, 'wrong-owner-key');
    }
    throw error;
  }
}

/** A wrapped keys file: `{ "wrappedKeys": [WrappedContentKey, ...] }`, by kid. */
export function readWrappedKeys(file: string): Map<string, WrappedContentKey> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== undefined) throw ioError(`cannot read --wrapped-keys ${file}: ${(error as Error).message}`);
    throw usageError(`--wrapped-keys ${file}: not JSON: ${(error as Error).message}`, 'wrapped-keys-format');
  }
  const list = (doc as { wrappedKeys?: unknown } | null)?.wrappedKeys;
  if (!Array.isArray(list)) throw usageError(`--wrapped-keys ${file}: expected { "wrappedKeys": [...] }`, 'wrapped-keys-format');
  const byKid = new Map<string, WrappedContentKey>();
  list.forEach((w: Partial<WrappedContentKey> | null, i) => {
    const fields = ['kid', 'ownerKeyId', 'suite', 'enc', 'ciphertext'] as const;
    for (const f of fields) if (typeof w?.[f] !== 'string') throw usageError(`--wrapped-keys ${file}: wrappedKeys[${i}].${f}: expected a string`, 'wrapped-keys-format');
    const entry = w as WrappedContentKey;
    const kid = entry.kid.toLowerCase();
    if (parseHex(kid)?.length !== 8) throw usageError(`--wrapped-keys ${file}: wrappedKeys[${i}].kid: expected 16 hex characters`, 'wrapped-keys-format');
    byKid.set(kid, { ...entry, kid });
  });
  return byKid;
}

/**
 * Every wrapped key re-wrapped for `newOwnerPublicKey` (`sceau owner rotate`): all or nothing, a
 * key that `owner` does not open throws `wrong-owner-key` before anything is returned.
 */
export function rewrapContentKeys(owner: OwnerPrivateKey, wrapped: Map<string, WrappedContentKey>, newOwnerPublicKey: Uint8Array): WrappedContentKey[] {
  const opened = [...wrapped.values()].map((w) => ({ kid: w.kid, key: unwrapContentKey(owner, w) }));
  return opened.map(({ kid, key }) => wrapContentKey(newOwnerPublicKey, kid, key));
}

/** Content keys by kid, unwrapped once each on first use. */
export class ContentKeys {
  private readonly opened = new Map<string, Uint8Array>();
  constructor(
    private readonly owner: OwnerPrivateKey,
    private readonly wrapped: Map<string, WrappedContentKey>,
  ) {}

  /** The content key of `kid`, undefined when none is wrapped for it; throws `wrong-owner-key`. */
  get(kid: string): Uint8Array | undefined {
    const done = this.opened.get(kid);
    if (done !== undefined) return done;
    const w = this.wrapped.get(kid);
    if (w === undefined) return undefined;
    const key = unwrapContentKey(this.owner, w);
    this.opened.set(kid, key);
    return key;
  }
}

