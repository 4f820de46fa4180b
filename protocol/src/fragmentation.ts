import { type Bytes, assertBytes, equalBytes, toHex } from './bytes.js';
import { parseCbor } from './cbor-reader.js';
import { HEADER_KID, readSign1 } from './cose-sign1.js';
import type { LinkProfile } from './link-profiles.js';
import { recordFromItem } from './record.js';

/**
 * Fragments (docs/protocol.md#fragments). A whole frame starts with 0xd2 (bit 7 set). A fragment
 * starts with a header byte `0 TTT NNNN`: TTT the message tag (record counter mod 8), NNNN the
 * number of fragments still to come after this one (0 = last). Where the transport does not name
 * the sender, a 2-byte sender hint follows the header byte.
 */
export const MAX_FRAGMENTS = 16;
export const SENDER_HINT_BYTES = 2;

export interface FragmentOptions {
  /** Message tag 0..7; by default the frame's record counter mod 8. */
  tag?: number;
  /** Sender hint for links that do not identify the sender; by default the first 2 bytes of the frame's kid. */
  hint?: Bytes;
}

/** Bytes of frame each fragment carries on `profile`. */
export function fragmentCapacity(profile: LinkProfile): number {
  return profile.mtu - 1 - (profile.identifiesSender ? 0 : SENDER_HINT_BYTES);
}

/** Largest frame `profile` can carry (whole or in 16 fragments). */
export function maxFrameBytes(profile: LinkProfile): number {
  return Math.max(profile.mtu, MAX_FRAGMENTS * fragmentCapacity(profile));
}

function defaultsFromFrame(frame: Bytes): { tag: number; kid?: Bytes } {
  const parsed = parseCbor(frame);
  const parts = parsed.ok ? readSign1(parsed.item) : undefined;
  if (parts === undefined || 'ok' in parts) throw new TypeError('frame: expected a sceau COSE_Sign1 frame (needed to derive tag and hint)');
  const payload = parseCbor(parts.payload);
  const record = payload.ok ? recordFromItem(payload.item) : undefined;
  if (!record?.ok) throw new TypeError('frame: its payload is not a sceau record (needed to derive the tag)');
  const kid = parts.unprotectedHeader.get(HEADER_KID);
  return { tag: record.record.counter % 8, ...(kid instanceof Uint8Array ? { kid } : {}) };
}

/**
 * The datagrams that carry `frame` on `profile`: the frame itself when it fits the MTU, else
 * 2..16 fragments. `RangeError` when it needs more than 16.
 */
export function fragment(frame: Bytes, profile: LinkProfile, options: FragmentOptions = {}): Bytes[] {
  assertBytes(frame, 'frame');
  if (frame.length === 0 || (frame[0]! & 0x80) === 0) throw new TypeError('frame: a whole frame starts with a byte with bit 7 set (0xd2)');
  if (frame.length <= profile.mtu) return [frame.slice()];
  const capacity = fragmentCapacity(profile);
  const count = Math.ceil(frame.length / capacity);
  if (count > MAX_FRAGMENTS) {
    throw new RangeError(`frame: ${frame.length} bytes need ${count} fragments on ${profile.name}, at most ${MAX_FRAGMENTS} (${maxFrameBytes(profile)} bytes)`);
  }
  let tag = options.tag;
  let hint = options.hint;
  if (tag === undefined || (hint === undefined && !profile.identifiesSender)) {
    const derived = defaultsFromFrame(frame);
    tag ??= derived.tag;
    if (hint === undefined && !profile.identifiesSender) {
      if (derived.kid === undefined) throw new TypeError(`hint: ${profile.name} does not identify the sender and the frame has no kid; pass a ${SENDER_HINT_BYTES}-byte hint`);
      hint = derived.kid.subarray(0, SENDER_HINT_BYTES);
    }
  }
  if (!Number.isInteger(tag) || tag < 0 || tag > 7) throw new RangeError(`tag: expected an integer in 0..7, got ${tag}`);
  const hintBytes = profile.identifiesSender ? new Uint8Array(0) : hint!;
  assertBytes(hintBytes, 'hint', profile.identifiesSender ? 0 : SENDER_HINT_BYTES);
  const out: Bytes[] = [];
  for (let i = 0; i < count; i++) {
    const chunk = frame.subarray(i * capacity, Math.min(frame.length, (i + 1) * capacity));
    const datagram = new Uint8Array(1 + hintBytes.length + chunk.length);
    datagram[0] = (tag << 4) | (count - 1 - i);
    datagram.set(hintBytes, 1);
    datagram.set(chunk, 1 + hintBytes.length);
    out.push(datagram);
  }
  return out;
}

export interface ReassemblerOptions {
  /** Fragments carry a sender hint (the profile does not identify the sender). */
  senderHint?: boolean;
  /**
   * An incomplete message expires when no fragment of it arrived for this long (default 10
   * minutes). Set it from the link's pacing: Sigfox sends about six uplinks an hour.
   */
  expiryMs?: number;
  /** Most incomplete messages held at once; the oldest is expired to make room (default 10,000). */
  maxPending?: number;
}

export type PushResult =
  | { kind: 'frame'; frame: Bytes; fragments: number }
  | { kind: 'pending' }
  | { kind: 'duplicate' }
  | { kind: 'invalid'; detail: string };

export interface ReassemblerStats {
  /** Whole frames passed through. */
  whole: number;
  /** Frames rebuilt from fragments. */
  reassembled: number;
  /** Fragments received. */
  fragments: number;
  duplicates: number;
  /** Incomplete messages given up: timed out, evicted, or replaced by a newer message with the same tag. */
  expired: number;
  invalid: number;
  /** Incomplete messages held now. */
  pending: number;
}

interface Partial {
  /** Arrival of the message's latest fragment. */
  lastAt: number;
  parts: Array<Bytes | undefined>;
}

/**
 * Rebuilds frames from fragments that may arrive lost, duplicated or out of order. Messages are
 * keyed by transport source, sender hint and tag, so fragments of different devices never mix.
 * A message is complete when fragments K..0 are all present and their concatenation is exactly
 * one CBOR item starting with tag 18: CBOR is self-delimiting, so the first fragment needs no
 * total count on air. Incomplete messages expire and are counted, never dropped silently.
 */
export class Reassembler {
  private readonly senderHint: boolean;
  private readonly expiryMs: number;
  private readonly maxPending: number;
  private readonly pending = new Map<string, Partial>();
  private readonly counts = { whole: 0, reassembled: 0, fragments: 0, duplicates: 0, expired: 0, invalid: 0 };

  constructor(options: ReassemblerOptions = {}) {
    this.senderHint = options.senderHint ?? false;
    this.expiryMs = options.expiryMs ?? 600_000;
    this.maxPending = options.maxPending ?? 10_000;
    if (!(this.expiryMs > 0)) throw new RangeError('expiryMs: expected a positive number');
    if (!Number.isInteger(this.maxPending) || this.maxPending < 1) throw new RangeError('maxPending: expected a positive integer');
  }

  /** A reassembler for a link profile. */
  static forProfile(profile: LinkProfile, options: Omit<ReassemblerOptions, 'senderHint'> = {}): Reassembler {
    return new Reassembler({ ...options, senderHint: !profile.identifiesSender });
  }

  /**
   * Takes one datagram. `source` is the transport's name for the sender (DevEUI, address);
   * `now` is the receive time in ms (virtual or wall clock).
   */
  push(datagram: Bytes, now: number, source = ''): PushResult {
    assertBytes(datagram, 'datagram');
    if (datagram.length === 0) return this.invalid('empty datagram');
    const header = datagram[0]!;
    if (header & 0x80) {
      this.counts.whole++;
      return { kind: 'frame', frame: datagram, fragments: 1 };
    }
    const hintLength = this.senderHint ? SENDER_HINT_BYTES : 0;
    if (datagram.length <= 1 + hintLength) return this.invalid('fragment without content');
    this.counts.fragments++;
    const tag = header >> 4;
    const index = header & 0x0f;
    const key = `${source}|${toHex(datagram.subarray(1, 1 + hintLength))}|${tag}`;
    const chunk = datagram.slice(1 + hintLength);

    let partial = this.pending.get(key);
    if (partial !== undefined && now - partial.lastAt > this.expiryMs) {
      this.drop(key);
      partial = undefined;
    }
    if (partial !== undefined) {
      const existing = partial.parts[index];
      if (existing !== undefined) {
        if (equalBytes(existing, chunk)) {
          this.counts.duplicates++;
          return { kind: 'duplicate' };
        }
        // A newer message reuses the tag. Devices send fragments from the highest index down,
        // so the parts above this one may be the new message's own (a first fragment identical
        // to the old one's is common: same key, same headers); the parts below are the old
        // message's. The old message is given up and counted; the signature catches a mix-up.
        this.counts.expired++;
        partial.parts = partial.parts.map((part, i) => (i > index ? part : undefined));
      }
    }
    if (partial === undefined) {
      if (this.pending.size >= this.maxPending) this.evictOldest();
      partial = { lastAt: now, parts: [] };
      this.pending.set(key, partial);
    }
    partial.lastAt = now;
    partial.parts[index] = chunk;
    return this.tryComplete(key, partial);
  }

  private tryComplete(key: string, partial: Partial): PushResult {
    let top = -1;
    while (top + 1 < MAX_FRAGMENTS && partial.parts[top + 1] !== undefined) top++;
    if (top < 1) return { kind: 'pending' }; // a fragmented frame has at least 2 fragments
    let length = 0;
    for (let i = top; i >= 0; i--) length += partial.parts[i]!.length;
    const frame = new Uint8Array(length);
    let at = 0;
    for (let i = top; i >= 0; i--) {
      frame.set(partial.parts[i]!, at);
      at += partial.parts[i]!.length;
    }
    if (frame[0] !== 0xd2 || !parseCbor(frame).ok) return { kind: 'pending' };
    this.pending.delete(key);
    this.counts.reassembled++;
    return { kind: 'frame', frame, fragments: top + 1 };
  }

  /** Expires incomplete messages idle for longer than the expiry at `now`; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [key, partial] of this.pending) {
      if (now - partial.lastAt > this.expiryMs) {
        this.drop(key);
        n++;
      }
    }
    return n;
  }

  stats(): ReassemblerStats {
    return { ...this.counts, pending: this.pending.size };
  }

  private drop(key: string): void {
    this.pending.delete(key);
    this.counts.expired++;
  }

  private evictOldest(): void {
    const oldest = this.pending.keys().next();
    if (!oldest.done) this.drop(oldest.value);
  }

  private invalid(detail: string): PushResult {
    this.counts.invalid++;
    return { kind: 'invalid', detail };
  }
}
