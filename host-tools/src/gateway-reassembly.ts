/**
 * The gateway's reassembly of fragments (docs/protocol.md#fragments): the protocol's
 * `Reassembler` with the limits an unauthenticated listener needs on by default
 * (docs/protocol.md#floods):
 *   - a fragment carries at most `maxFrameBytes` bytes of frame, and the fragments held for one
 *     message at most `maxFrameBytes` together: no valid frame is longer;
 *   - the bytes held by all incomplete messages stay under `maxBytes`; the least recently
 *     touched message is given up to make room;
 *   - one origin (an IP address, a network server's device) holds at most `maxPendingPerOrigin`
 *     incomplete messages: its own oldest is given up, never another origin's;
 *   - at most `maxPending` incomplete messages in all.
 * Every message given up and every fragment refused is counted by reason
 * (`sceau_reassembly_dropped_total{reason}`).
 */
import { DEFAULT_MAX_FRAME_BYTES, Reassembler, type ReassemblerOptions, type ReassemblerStats } from '@sceau/protocol';

export { REASSEMBLY_DROP_REASONS, type ReassemblyDropReason } from '@sceau/protocol';

export type GatewayReassemblerOptions = ReassemblerOptions;

/** What the gateway's metrics report of a reassembler. */
export type GatewayReassemblerStats = Pick<ReassemblerStats, 'pending' | 'bytes' | 'dropped'>;

export const DEFAULT_REASSEMBLY_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_REASSEMBLY_MAX_PENDING = 10_000;
export const DEFAULT_REASSEMBLY_MAX_PER_ORIGIN = 64;

export class GatewayReassembler extends Reassembler {
  constructor(options: GatewayReassemblerOptions = {}) {
    super({
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      maxBytes: DEFAULT_REASSEMBLY_MAX_BYTES,
      maxPending: DEFAULT_REASSEMBLY_MAX_PENDING,
      // Eight senders behind one address, each with all eight tags.
      maxPendingPerOrigin: DEFAULT_REASSEMBLY_MAX_PER_ORIGIN,
      ...definedOnly(options),
    });
  }
}

/** The options given a value (an `undefined` one keeps the gateway's default). */
function definedOnly(options: GatewayReassemblerOptions): GatewayReassemblerOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as GatewayReassemblerOptions;
}
