/**
 * The radio metadata of a fragmented frame's uplinks (`--keep-radio-metadata`): each fragment
 * came in its own uplink, heard by its own gateways, so the frame keeps one entry per fragment,
 * first fragment first. The reassembler holds the fragments' bytes; this holds their metadata
 * beside it, under the same message (sender, sender hint, tag) and fragment index, until the
 * frame completes.
 *
 * Kept as the reassembler keeps fragments: a fragment's metadata replaces the one held for its
 * index (a newer message reusing the tag overwrites the older one's as its fragments come, and a
 * frame completes only once all its own have come), a repeated fragment keeps the first; an
 * entry not touched for the reassembly expiry is stale, and at most `maxMessages` are held (the
 * least recently touched leaves first), so a sender that never completes a message costs
 * bounded memory.
 */
import { toHex } from '@sceau/protocol';
import type { PushResult } from '@sceau/protocol';
import type { RadioMetadata } from './radio-metadata.js';

interface Held {
  touchedAt: number;
  byIndex: Array<RadioMetadata | undefined>;
}

export class FragmentRadio {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly expiryMs: number,
    private readonly maxMessages: number,
  ) {}

  /**
   * After the reassembler took `datagram` (of `sender`, `hinted` when fragments carry the 2-byte
   * sender hint): the metadata of every uplink of the frame it completed, first fragment first,
   * or undefined when it completed none (a fragment held, a repeat, an invalid one) or none of
   * its uplinks had any.
   */
  track(datagram: Uint8Array, sender: string, hinted: boolean, pushed: PushResult, radio: RadioMetadata | undefined, now: number): RadioMetadata[] | undefined {
    const header = datagram[0];
    if (header === undefined || pushed.kind === 'invalid' || pushed.kind === 'duplicate') return undefined;
    if (header & 0x80) return radio === undefined ? undefined : [radio]; // a whole frame: one uplink
    const index = header & 0x0f;
    const key = `${sender}|${hinted ? toHex(datagram.subarray(1, 3)) : ''}|${header >> 4}`;
    let entry = this.held.get(key);
    if (entry !== undefined && now - entry.touchedAt > this.expiryMs) entry = undefined; // the reassembler gave that message up
    this.held.delete(key); // moved to the end: most recently touched
    if (pushed.kind === 'frame') {
      const byIndex = entry?.byIndex ?? [];
      byIndex[index] = radio;
      const uplinks: RadioMetadata[] = [];
      for (let i = pushed.fragments - 1; i >= 0; i--) if (byIndex[i] !== undefined) uplinks.push(byIndex[i]!);
      return uplinks.length === 0 ? undefined : uplinks;
    }
    entry ??= { touchedAt: now, byIndex: [] };
    entry.touchedAt = now;
    entry.byIndex[index] = radio;
    if (this.held.size >= this.maxMessages) this.held.delete(this.held.keys().next().value!);
    this.held.set(key, entry);
    return undefined;
  }

  /** Messages whose metadata is held now. */
  get size(): number {
    return this.held.size;
  }
}
