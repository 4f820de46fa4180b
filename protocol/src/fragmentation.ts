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
  /** Most incomplete messages held at once; the least recently touched is given up to make room (default 10,000). */
  maxPending?: number;
  /**
   * Largest frame: a fragment carrying more bytes of frame, or a message whose fragments add up
   * to more, is refused (default: no limit). A listener open to untrusted senders sets the
   * verifier's limit, since no valid frame is longer (docs/protocol.md#floods).
   */
  maxFrameBytes?: number;
  /** Bytes held by all incomplete messages; the least recently touched are given up to make room (default: no limit). */
  maxBytes?: number;
  /** Incomplete messages one origin (`push`'s `origin`) may hold; its own oldest is given up, never another origin's (default: no limit). */
  maxPendingPerOrigin?: number;
}

export type PushResult =
  | { kind: 'frame'; frame: Bytes; fragments: number }
  | { kind: 'pending' }
  | { kind: 'duplicate' }
  | { kind: 'invalid'; detail: string };

/** Why a fragment was refused or an incomplete message given up. */
export const REASSEMBLY_DROP_REASONS = ['fragment-too-large', 'message-too-large', 'origin-limit', 'memory-limit', 'pending-limit', 'expired', 'tag-reused'] as const;
export type ReassemblyDropReason = (typeof REASSEMBLY_DROP_REASONS)[number];

export interface ReassemblerStats {
  /** Whole frames passed through. */
  whole: number;
  /** Frames rebuilt from fragments. */
  reassembled: number;
  /** Fragments received. */
  fragments: number;
  duplicates: number;
  /** Incomplete messages given up: timed out, evicted by a limit, or replaced by a newer message with the same tag. */
  expired: number;
  invalid: number;
  /** Incomplete messages held now. */
  pending: number;
  /** Bytes of fragments held now. */
  bytes: number;
  /** Fragments refused and messages given up, by reason. */
  dropped: Record<ReassemblyDropReason, number>;
}

interface Partial {
  origin: string;
  /** Arrival of the message's latest fragment. */
  lastAt: number;
  /** Bytes of its parts held. */
  bytes: number;
  parts: Array<Bytes | undefined>;
}

/** A limit option: a positive integer, or Infinity (none). */
function limit(name: string, value: number): number {
  if (value !== Infinity && (!Number.isInteger(value) || value < 1)) throw new RangeError(`${name}: expected a positive integer, got ${value}`);
  return value;
}

/**
 * Rebuilds frames from fragments that may arrive lost, duplicated or out of order. Messages are
 * keyed by transport source, sender hint and tag, so fragments of different devices never mix.
 * A message is complete when fragments K..0 are all present and their concatenation is exactly
 * one CBOR item starting with tag 18: CBOR is self-delimiting, so the first fragment needs no
 * total count on air. Incomplete messages expire and are counted, never dropped silently. The
 * optional limits bound what untrusted senders can make it hold.
 */
export class Reassembler {
  private readonly senderHint: boolean;
  private readonly expiryMs: number;
  private readonly maxPending: number;
  private readonly maxFrameBytes: number;
  private readonly maxBytes: number;
  private readonly maxPerOrigin: number;
  /** Least recently touched first (a touched message is moved to the end). */
  private readonly pending = new Map<string, Partial>();
  /** Keys of each origin's messages (kept only with a per-origin limit). */
  private readonly byOrigin = new Map<string, Set<string>>();
  private bytes = 0;
  private readonly counts = { whole: 0, reassembled: 0, fragments: 0, duplicates: 0, expired: 0, invalid: 0 };
  private readonly dropped = Object.fromEntries(REASSEMBLY_DROP_REASONS.map((r) => [r, 0])) as Record<ReassemblyDropReason, number>;

  constructor(options: ReassemblerOptions = {}) {
    this.senderHint = options.senderHint ?? false;
    this.expiryMs = options.expiryMs ?? 600_000;
    if (!(this.expiryMs > 0)) throw new RangeError(`expiryMs: expected a positive number, got ${this.expiryMs}`);
    this.maxPending = limit('maxPending', options.maxPending ?? 10_000);
    this.maxFrameBytes = limit('maxFrameBytes', options.maxFrameBytes ?? Infinity);
    this.maxBytes = limit('maxBytes', options.maxBytes ?? Infinity);
    this.maxPerOrigin = limit('maxPendingPerOrigin', options.maxPendingPerOrigin ?? Infinity);
  }

  /** A reassembler for a link profile. */
  static forProfile(profile: LinkProfile, options: Omit<ReassemblerOptions, 'senderHint'> = {}): Reassembler {
    return new Reassembler({ ...options, senderHint: !profile.identifiesSender });
  }

  /**
   * Takes one datagram. `source` is the transport's name for the sender (DevEUI, address): the
   * message key; `origin` what the per-origin limit counts (default `source`); `now` is the
   * receive time in ms (virtual or wall clock).
   */
  push(datagram: Bytes, now: number, source = '', origin = source): PushResult {
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
    const chunkLength = datagram.length - 1 - hintLength;
    if (chunkLength > this.maxFrameBytes) {
      this.dropped['fragment-too-large']++;
      return this.invalid(`fragment of ${chunkLength} bytes, no frame is longer than ${this.maxFrameBytes}`);
    }
    const tag = header >> 4;
    const index = header & 0x0f;
    const key = `${source}|${toHex(datagram.subarray(1, 1 + hintLength))}|${tag}`;
    const chunk = datagram.slice(1 + hintLength);

    let partial = this.pending.get(key);
    if (partial !== undefined && now - partial.lastAt > this.expiryMs) {
      this.drop(key, 'expired');
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
        this.dropped['tag-reused']++;
        for (let i = 0; i <= index; i++) this.setPart(partial, i, undefined);
      }
      if (partial.bytes + chunk.length > this.maxFrameBytes) {
        this.drop(key, 'message-too-large');
        return this.invalid(`fragments of one message over ${this.maxFrameBytes} bytes, no frame is longer`);
      }
      this.pending.delete(key); // moved to the end: most recently touched
      this.pending.set(key, partial);
    } else {
      const own = this.byOrigin.get(origin);
      if (own !== undefined && own.size >= this.maxPerOrigin) this.drop(own.values().next().value!, 'origin-limit');
      if (this.pending.size >= this.maxPending) this.drop(this.pending.keys().next().value!, 'pending-limit');
      partial = { origin, lastAt: now, bytes: 0, parts: [] };
      this.pending.set(key, partial);
      if (this.maxPerOrigin !== Infinity) {
        let keys = this.byOrigin.get(origin);
        if (keys === undefined) this.byOrigin.set(origin, (keys = new Set()));
        keys.add(key);
      }
    }
    while (this.bytes + chunk.length > this.maxBytes) {
      const oldest = this.pending.keys().next().value!;
      if (oldest === key) break; // this message alone: at most maxFrameBytes, checked above
      this.drop(oldest, 'memory-limit');
    }
    partial.lastAt = now;
    this.setPart(partial, index, chunk);
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
    this.remove(key);
    this.counts.reassembled++;
    return { kind: 'frame', frame, fragments: top + 1 };
  }

  /** Expires incomplete messages idle for longer than the expiry at `now`; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [key, partial] of this.pending) {
      if (now - partial.lastAt > this.expiryMs) {
        this.drop(key, 'expired');
        n++;
      }
    }
    return n;
  }

  stats(): ReassemblerStats {
    return { ...this.counts, pending: this.pending.size, bytes: this.bytes, dropped: { ...this.dropped } };
  }

  private setPart(partial: Partial, index: number, chunk: Bytes | undefined): void {
    const old = partial.parts[index];
    const delta = (chunk?.length ?? 0) - (old?.length ?? 0);
    partial.parts[index] = chunk;
    partial.bytes += delta;
    this.bytes += delta;
  }

  /** Gives up an incomplete message, counted by reason. */
  private drop(key: string, reason: ReassemblyDropReason): void {
    if (!this.remove(key)) return;
    this.counts.expired++;
    this.dropped[reason]++;
  }

  private remove(key: string): boolean {
    const partial = this.pending.get(key);
    if (partial === undefined) return false;
    this.pending.delete(key);
    this.bytes -= partial.bytes;
    const keys = this.byOrigin.get(partial.origin);
    keys?.delete(key);
    if (keys !== undefined && keys.size === 0) this.byOrigin.delete(partial.origin);
    return true;
  }

  private invalid(detail: string): PushResult {
    this.counts.invalid++;
    return { kind: 'invalid', detail };
  }
}
