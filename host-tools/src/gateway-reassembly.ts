/**
 * The gateway's reassembly of fragments (docs/protocol.md#fragments), bounded for untrusted
 * input: the same rules as the protocol's `Reassembler` (messages keyed by source, sender hint
 * and tag; complete when fragments K..0 concatenate to one CBOR item with tag 18), plus the
 * limits an unauthenticated listener needs (docs/protocol.md#floods):
 *   - a fragment carries at most `maxFrameBytes` bytes of frame, and the fragments held for one
 *     message at most `maxFrameBytes` together: no valid frame is longer;
 *   - the bytes held by all incomplete messages stay under `maxBytes`; the least recently
 *     touched message is given up to make room;
 *   - one origin (an IP address, a network server's device) holds at most `maxPendingPerOrigin`
 *     incomplete messages: its own oldest is given up, never another origin's;
 *   - at most `maxPending` incomplete messages in all.
 * Every message given up and every fragment refused is counted by reason.
 */
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAGMENTS, parseCbor, SENDER_HINT_BYTES, equalBytes, toHex, type Bytes, type PushResult } from '@sceau/protocol';

/** Why a fragment was refused or an incomplete message given up (`sceau_reassembly_dropped_total{reason}`). */
export const REASSEMBLY_DROP_REASONS = ['fragment-too-large', 'message-too-large', 'origin-limit', 'memory-limit', 'pending-limit', 'expired', 'tag-reused'] as const;
export type ReassemblyDropReason = (typeof REASSEMBLY_DROP_REASONS)[number];

export interface GatewayReassemblerOptions {
  /** Fragments carry the 2-byte sender hint (UDP). */
  senderHint?: boolean;
  /** An incomplete message expires when no fragment of it came for this long (default 10 minutes). */
  expiryMs?: number;
  /** Largest frame, so largest fragment and largest message held (default 2,048, the verifier's limit). */
  maxFrameBytes?: number;
  /** Bytes of fragments held by all incomplete messages (default 16 MiB). */
  maxBytes?: number;
  /** Incomplete messages held at once (default 10,000). */
  maxPending?: number;
  /** Incomplete messages one origin may hold (default 64: eight senders behind one address, each with all eight tags). */
  maxPendingPerOrigin?: number;
}

export const DEFAULT_REASSEMBLY_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_REASSEMBLY_MAX_PENDING = 10_000;
export const DEFAULT_REASSEMBLY_MAX_PER_ORIGIN = 64;

interface Message {
  origin: string;
  lastAt: number;
  bytes: number;
  parts: Array<Bytes | undefined>;
}

export interface GatewayReassemblerStats {
  pending: number;
  /** Bytes of fragments held now. */
  bytes: number;
  dropped: Record<ReassemblyDropReason, number>;
}

export class GatewayReassembler {
  private readonly hintLength: number;
  private readonly expiryMs: number;
  private readonly maxFrameBytes: number;
  private readonly maxBytes: number;
  private readonly maxPending: number;
  private readonly maxPerOrigin: number;
  /** Least recently touched first (a touched message is moved to the end). */
  private readonly messages = new Map<string, Message>();
  /** Keys of each origin's messages. */
  private readonly byOrigin = new Map<string, Set<string>>();
  private bytes = 0;
  private readonly dropped = Object.fromEntries(REASSEMBLY_DROP_REASONS.map((r) => [r, 0])) as Record<ReassemblyDropReason, number>;

  constructor(options: GatewayReassemblerOptions = {}) {
    this.hintLength = options.senderHint ? SENDER_HINT_BYTES : 0;
    this.expiryMs = options.expiryMs ?? 600_000;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxBytes = options.maxBytes ?? DEFAULT_REASSEMBLY_MAX_BYTES;
    this.maxPending = options.maxPending ?? DEFAULT_REASSEMBLY_MAX_PENDING;
    this.maxPerOrigin = options.maxPendingPerOrigin ?? DEFAULT_REASSEMBLY_MAX_PER_ORIGIN;
    if (!(this.expiryMs > 0)) throw new RangeError(`expiryMs: expected a positive number, got ${this.expiryMs}`);
    for (const [name, value] of [['maxFrameBytes', this.maxFrameBytes], ['maxBytes', this.maxBytes], ['maxPending', this.maxPending], ['maxPendingPerOrigin', this.maxPerOrigin]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name}: expected a positive integer, got ${value}`);
    }
  }

  /**
   * Takes one datagram: a whole frame (first byte with bit 7 set) passes through; a fragment is
   * held until its message completes. `source` names the sender as the transport sees it (the
   * message key), `origin` what the per-origin limit counts (default `source`).
   */
  push(datagram: Bytes, now: number, source = '', origin = source): PushResult {
    if (datagram.length === 0) return { kind: 'invalid', detail: 'empty datagram' };
    const header = datagram[0]!;
    if (header & 0x80) return { kind: 'frame', frame: datagram, fragments: 1 };
    if (datagram.length <= 1 + this.hintLength) return { kind: 'invalid', detail: 'fragment without content' };
    const chunkLength = datagram.length - 1 - this.hintLength;
    if (chunkLength > this.maxFrameBytes) {
      this.dropped['fragment-too-large']++;
      return { kind: 'invalid', detail: `fragment of ${chunkLength} bytes, no frame is longer than ${this.maxFrameBytes}` };
    }
    const tag = header >> 4;
    const index = header & 0x0f;
    const key = `${source}|${toHex(datagram.subarray(1, 1 + this.hintLength))}|${tag}`;
    const chunk = datagram.slice(1 + this.hintLength);

    let message = this.messages.get(key);
    if (message !== undefined && now - message.lastAt > this.expiryMs) {
      this.drop(key, 'expired');
      message = undefined;
    }
    if (message !== undefined) {
      const existing = message.parts[index];
      if (existing !== undefined) {
        if (equalBytes(existing, chunk)) return { kind: 'duplicate' };
        // A newer message reuses the tag (the protocol's Reassembler does the same): the parts
        // above this index may be the new message's own, those below are the old one's.
        this.dropped['tag-reused']++;
        for (let i = 0; i <= index; i++) {
          const part = message.parts[i];
          if (part !== undefined) {
            message.bytes -= part.length;
            this.bytes -= part.length;
            message.parts[i] = undefined;
          }
        }
      }
      if (message.bytes + chunk.length > this.maxFrameBytes) {
        this.drop(key, 'message-too-large');
        return { kind: 'invalid', detail: `fragments of one message over ${this.maxFrameBytes} bytes, no frame is longer` };
      }
      this.messages.delete(key); // moved to the end: most recently touched
      this.messages.set(key, message);
    } else {
      const own = this.byOrigin.get(origin);
      if (own !== undefined && own.size >= this.maxPerOrigin) this.drop(own.values().next().value!, 'origin-limit');
      if (this.messages.size >= this.maxPending) this.drop(this.messages.keys().next().value!, 'pending-limit');
      message = { origin, lastAt: now, bytes: 0, parts: [] };
      this.messages.set(key, message);
      let keys = this.byOrigin.get(origin);
      if (keys === undefined) this.byOrigin.set(origin, (keys = new Set()));
      keys.add(key);
    }
    while (this.bytes + chunk.length > this.maxBytes) {
      const oldest = this.messages.keys().next().value!;
      if (oldest === key) break; // this message alone: at most maxFrameBytes, checked above
      this.drop(oldest, 'memory-limit');
    }
    message.lastAt = now;
    message.parts[index] = chunk;
    message.bytes += chunk.length;
    this.bytes += chunk.length;
    return this.tryComplete(key, message);
  }

  private tryComplete(key: string, message: Message): PushResult {
    let top = -1;
    while (top + 1 < MAX_FRAGMENTS && message.parts[top + 1] !== undefined) top++;
    if (top < 1) return { kind: 'pending' }; // a fragmented frame has at least 2 fragments
    let length = 0;
    for (let i = top; i >= 0; i--) length += message.parts[i]!.length;
    const frame = new Uint8Array(length);
    let at = 0;
    for (let i = top; i >= 0; i--) {
      frame.set(message.parts[i]!, at);
      at += message.parts[i]!.length;
    }
    if (frame[0] !== 0xd2 || !parseCbor(frame).ok) return { kind: 'pending' };
    this.remove(key);
    return { kind: 'frame', frame, fragments: top + 1 };
  }

  /** Gives up incomplete messages idle for longer than the expiry at `now`; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [key, message] of this.messages) {
      if (now - message.lastAt > this.expiryMs) {
        this.drop(key, 'expired');
        n++;
      }
    }
    return n;
  }

  stats(): GatewayReassemblerStats {
    return { pending: this.messages.size, bytes: this.bytes, dropped: { ...this.dropped } };
  }

  private drop(key: string, reason: ReassemblyDropReason): void {
    if (this.remove(key)) this.dropped[reason]++;
  }

  private remove(key: string): boolean {
    const message = this.messages.get(key);
    if (message === undefined) return false;
    this.messages.delete(key);
    this.bytes -= message.bytes;
    const keys = this.byOrigin.get(message.origin);
    keys?.delete(key);
    if (keys !== undefined && keys.size === 0) this.byOrigin.delete(message.origin);
    return true;
  }
}
