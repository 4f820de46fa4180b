/**
 * The one step every datagram transport shares: push the datagram through the gateway's
 * reassembler (the named one when the transport names the sender, the hinted one when fragments
 * carry a sender hint), count it in `sceau_fragments_total`, and submit the frame it completes to
 * the ingest pipeline.
 */
import type { PushResult } from '@sceau/protocol';
import type { GatewayReassembler } from './gateway-reassembly.js';
import type { IngestOptions, IngestResult, Ingestor, NotStoredError } from './ingest.js';
import type { Metrics } from './metrics.js';
import type { FragmentRadio } from './radio-fragments.js';
import type { RadioMetadata } from './radio-metadata.js';

export interface DatagramMeta {
  /** Fragments carry a sender hint (UDP and links without sender identity). */
  hinted: boolean;
  /** Who sent it, as the transport names it: messages are reassembled per key. */
  key: string;
  /** The peer's address: the per-origin limits count it. */
  origin: string;
  /** Reassembly clock, ms (default: the gateway's clock). */
  nowMs?: number | undefined;
  ingest: IngestOptions;
  /** This uplink's radio metadata (only with `--keep-radio-metadata`): stored with the frame it completes, one entry per uplink. */
  radio?: RadioMetadata | undefined;
}

/** Reassembles, counts and submits one datagram; returns what the reassembler made of it. */
export type DatagramIntake = (datagram: Uint8Array, meta: DatagramMeta, failed: (error: NotStoredError) => void, stored?: (result: IngestResult) => void) => PushResult;

/** `radio`: the fragments' radio metadata, held beside the reassemblers (only with `--keep-radio-metadata`). */
export function createDatagramIntake(options: { ingestor: Ingestor; metrics: Metrics; named: GatewayReassembler; hinted: GatewayReassembler; clock: () => number; radio?: FragmentRadio | undefined }): DatagramIntake {
  return (datagram, meta, failed, stored) => {
    const now = meta.nowMs ?? options.clock();
    const pushed = (meta.hinted ? options.hinted : options.named).push(datagram, now, meta.key, meta.origin);
    options.metrics.countFragment(pushed.kind === 'frame' ? (pushed.fragments > 1 ? 'reassembled' : 'whole') : pushed.kind);
    const uplinks = options.radio?.track(datagram, meta.key, meta.hinted, pushed, meta.radio, now);
    // Set on the caller's options: a transport that submits the frame again (MQTT's retries) stores it too.
    if (uplinks !== undefined) meta.ingest.radio = uplinks;
    if (pushed.kind === 'frame') options.ingestor.submit(pushed.frame, meta.ingest, failed, stored);
    return pushed;
  };
}
