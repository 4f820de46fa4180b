/**
 * From datagrams to frames, for the CLI: whole frames pass, fragments are reassembled per
 * sender (the DevEUI of a network-server uplink, the kid a simulator capture records beside
 * each datagram, or one anonymous sender for a console log), and what was read is counted for
 * the summary that ends `sceau frame verify` (counts per code, fragments, incomplete messages).
 *
 * Sender hints (docs/protocol.md#fragments): on links that do not name the sender, fragments
 * carry the first 2 bytes of the kid after their header byte. When the sender's kid is known
 * (captures), a fragment whose bytes 1-2 are those of the kid is taken as hinted and the hint is
 * removed before reassembly; fragments are keyed by sender either way, so they never mix.
 */
import { DEFAULT_MAX_FRAME_BYTES, Reassembler, SENDER_HINT_BYTES, toHex, type ReassemblerStats } from '@sceau/protocol';
import type { InputEvent } from './input-stream.js';

type DatagramEvent = Extract<InputEvent, { kind: 'datagram' }>;

export interface AssembledFrame {
  frame: Uint8Array;
  where: string;
  /** Identity for frames without kid: the transport's (`deveui:…`) or the capture's (`kid:…`). */
  deviceId?: string;
  attack?: string | null;
  receivedAt?: number;
  /** 1 for a whole frame, else the number of fragments it was rebuilt from. */
  fragments: number;
}

export type AssemblyResult = { kind: 'frame'; frame: AssembledFrame } | { kind: 'pending' } | { kind: 'duplicate' } | { kind: 'invalid'; detail: string };

/** Most incomplete messages held at once by the CLI (each at most 16 fragments of a bounded size). */
export const CLI_MAX_PENDING = 1000;

/** The identity under which a capture's kid names a sender (registered in `--keys` keyrings too). */
export function captureDeviceId(kid: string): string {
  return `kid:${kid}`;
}

export class FrameAssembler {
  private readonly reassembler = new Reassembler({ senderHint: false, maxPending: CLI_MAX_PENDING });

  push(event: DatagramEvent, nowMs: number): AssemblyResult {
    const d = event.bytes;
    const deviceId = event.deviceId ?? (event.senderKid !== undefined ? captureDeviceId(event.senderKid) : undefined);
    const meta = (frame: Uint8Array, fragments: number): AssembledFrame => {
      const out: AssembledFrame = { frame, where: event.where, fragments };
      if (deviceId !== undefined) out.deviceId = deviceId;
      if (event.attack !== undefined) out.attack = event.attack;
      if (event.receivedAt !== undefined) out.receivedAt = event.receivedAt;
      return out;
    };
    // A console `sceau-frame` line is a whole frame whatever its first byte (then malformed).
    if (event.console === 'frame' || (d.length > 0 && (d[0]! & 0x80) !== 0)) return { kind: 'frame', frame: meta(d, 1) };
    if (d.length > DEFAULT_MAX_FRAME_BYTES) return { kind: 'invalid', detail: `fragment of ${d.length} bytes, larger than any frame (${DEFAULT_MAX_FRAME_BYTES})` };
    let datagram = d;
    if (event.senderKid !== undefined && d.length > 1 + SENDER_HINT_BYTES && toHex(d.subarray(1, 1 + SENDER_HINT_BYTES)) === event.senderKid.slice(0, 2 * SENDER_HINT_BYTES)) {
      datagram = new Uint8Array(d.length - SENDER_HINT_BYTES);
      datagram[0] = d[0]!;
      datagram.set(d.subarray(1 + SENDER_HINT_BYTES), 1);
    }
    const r = this.reassembler.push(datagram, nowMs, deviceId ?? '');
    if (r.kind === 'frame') return { kind: 'frame', frame: meta(r.frame, r.fragments) };
    return r;
  }

  stats(): ReassemblerStats {
    return this.reassembler.stats();
  }
}

export interface SummaryJson {
  /** Frames verified (whole or reassembled). */
  frames: number;
  /** Outcomes by code: `ok`, the verification codes, `unreadable-input`. */
  codes: Record<string, number>;
  fragments: number;
  reassembled: number;
  duplicateFragments: number;
  /** Messages whose fragments never all arrived (still pending at the end, or given up). */
  incomplete: number;
  /** Text lines without a frame (a serial log's other lines). */
  ignoredLines: number;
  /** Simulator captures: injected datagrams accepted, and genuine frames rejected other than as replays. */
  attacksAccepted?: number;
  genuineRejected?: number;
}

/** Counts for the end-of-run summary. */
export class VerifySummary {
  private readonly codes = new Map<string, number>();
  frames = 0;
  ignoredLines = 0;
  private labelled = false;
  attacksAccepted = 0;
  genuineRejected = 0;

  count(code: string, frame?: { attack?: string | null }): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    if (code !== 'unreadable-input') this.frames++;
    if (frame?.attack !== undefined) {
      this.labelled = true;
      if (frame.attack !== null && code === 'ok') this.attacksAccepted++;
      // A genuine frame seen twice (link duplication) is rightly a replay the second time.
      if (frame.attack === null && code !== 'ok' && code !== 'replay') this.genuineRejected++;
    }
  }

  get rejected(): number {
    let n = 0;
    for (const [code, count] of this.codes) if (code !== 'ok') n += count;
    return n;
  }

  /** Whether the input was a labelled simulator capture. */
  get isCapture(): boolean {
    return this.labelled;
  }

  toJson(stats: ReassemblerStats): SummaryJson {
    const out: SummaryJson = {
      frames: this.frames,
      codes: Object.fromEntries([...this.codes].sort(([a], [b]) => (a === 'ok' ? -1 : b === 'ok' ? 1 : a.localeCompare(b)))),
      fragments: stats.fragments,
      reassembled: stats.reassembled,
      duplicateFragments: stats.duplicates,
      incomplete: stats.pending + stats.expired,
      ignoredLines: this.ignoredLines,
    };
    if (this.labelled) {
      out.attacksAccepted = this.attacksAccepted;
      out.genuineRejected = this.genuineRejected;
    }
    return out;
  }

  toText(stats: ReassemblerStats): string {
    const j = this.toJson(stats);
    const codes = Object.entries(j.codes).map(([c, n]) => `${c} ${n}`).join(', ');
    const parts = [`${j.frames} frame${j.frames === 1 ? '' : 's'}${codes === '' ? '' : ` (${codes})`}`];
    if (j.fragments > 0) parts.push(`${j.fragments} fragments, ${j.reassembled} frames reassembled, ${j.incomplete} incomplete messages${j.duplicateFragments > 0 ? `, ${j.duplicateFragments} duplicate fragments` : ''}`);
    if (j.ignoredLines > 0) parts.push(`${j.ignoredLines} lines without a frame ignored`);
    if (j.attacksAccepted !== undefined) parts.push(`capture: ${j.attacksAccepted} injected datagrams accepted, ${j.genuineRejected} genuine frames rejected`);
    return `summary: ${parts.join('; ')}`;
  }
}
