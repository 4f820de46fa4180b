import { type Bytes, assertBytes, toHex } from './bytes.js';
import { kidOf } from './ed25519.js';

export interface KeyringEntry {
  publicKey: Bytes;
  revoked?: boolean;
}

/** What the verifier knows of the sender: the frame's kid, or the transport's name for it. */
export interface KeyQuery {
  /** The 8-byte kid from the frame's unprotected header, when it carries one. */
  kid?: Bytes;
  /** An identity given by the transport, such as `deveui:0004a30b001c0530`, for frames without kid. */
  deviceId?: string;
}

/** Resolves a sender to its public key and revocation state. A store (SQLite, ...) implements it. */
export interface Keyring {
  resolve(query: KeyQuery): KeyringEntry | undefined;
}

/** An in-memory keyring: keys by kid, with optional transport aliases (DevEUI, ...). */
export class MemoryKeyring implements Keyring {
  private readonly byKid = new Map<string, KeyringEntry>();
  private readonly byDeviceId = new Map<string, string>();

  /** Adds a public key; returns its kid as hex. */
  add(publicKey: Bytes, options: { revoked?: boolean; deviceIds?: string[] } = {}): string {
    assertBytes(publicKey, 'publicKey', 32);
    const kid = toHex(kidOf(publicKey));
    this.byKid.set(kid, { publicKey: publicKey.slice(), revoked: options.revoked ?? false });
    for (const id of options.deviceIds ?? []) this.byDeviceId.set(id, kid);
    return kid;
  }

  /** Marks a key revoked; returns false when the kid is unknown. */
  revoke(kid: string): boolean {
    const entry = this.byKid.get(kid);
    if (entry === undefined) return false;
    entry.revoked = true;
    return true;
  }

  resolve(query: KeyQuery): KeyringEntry | undefined {
    if (query.kid !== undefined) return this.byKid.get(toHex(query.kid));
    if (query.deviceId !== undefined) {
      const kid = this.byDeviceId.get(query.deviceId);
      return kid === undefined ? undefined : this.byKid.get(kid);
    }
    return undefined;
  }
}
