/** Gateway counters and a latency histogram, rendered in the Prometheus text format (0.0.4). */
import { VERIFICATION_CODES } from '@sceau/protocol';
import { REASSEMBLY_DROP_REASONS, type GatewayReassemblerStats } from './gateway-reassembly.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * A connection a transport keeps to a server (MQTT to a broker). `up` only while it can take
 * input (connected and subscribed); /healthz answers 503 while any is not up.
 */
export interface LinkStatus {
  up: boolean;
  /** `connecting`, `subscribed`, `offline`..., as the transport names its states. */
  state: string;
  /** Since when, ms since the epoch. */
  since: number;
  connects: number;
  disconnects: number;
  /** The last error or refusal, for the operator. */
  detail?: string | undefined;
  /** What /healthz shows besides (server, client id, topic): never secrets. */
  info?: Record<string, unknown>;
}

export class Metrics {
  /** Frames stored, by outcome ('ok' or a verification code) and transport. */
  readonly frames = new Map<string, number>();
  /** Input refused before it became a frame (not stored), by reason. */
  readonly errors = new Map<string, number>();
  readonly fragments = new Map<string, number>();
  /** Deliveries of a frame already accepted (same bytes), answered from the store and not stored again, by transport. */
  readonly duplicates = new Map<string, number>();
  /** Links to servers (transport-registry.ts transports that connect out), by transport. */
  readonly links = new Map<string, LinkStatus>();
  /** Messages a transport took from a server, by what became of them (`transport|result`). */
  readonly messages = new Map<string, number>();
  /** Radio metadata entries and fields left out as malformed (`--keep-radio-metadata`), by transport: their frames were stored all the same. */
  readonly radioIgnored = new Map<string, number>();
  private readonly buckets = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  private latencyCount = 0;
  private latencySum = 0;
  storeBatches = 0;
  storeFailures = 0;
  inFlight = 0;
  /** Unanswered frames (UDP, TCP) held while another connection holds the database's write lock. */
  held = 0;
  private readonly started = Date.now();

  countFrame(outcome: string, transport: string): void {
    const key = `${outcome}|${transport}`;
    this.frames.set(key, (this.frames.get(key) ?? 0) + 1);
  }

  countError(reason: string, transport: string): void {
    const key = `${reason}|${transport}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  countDuplicate(transport: string): void {
    this.duplicates.set(transport, (this.duplicates.get(transport) ?? 0) + 1);
  }

  /** Duplicate deliveries over all transports. */
  duplicateDeliveries(): number {
    let n = 0;
    for (const value of this.duplicates.values()) n += value;
    return n;
  }

  countMessage(transport: string, result: string): void {
    const key = `${transport}|${result}`;
    this.messages.set(key, (this.messages.get(key) ?? 0) + 1);
  }

  countRadioIgnored(transport: string, n: number): void {
    if (n > 0) this.radioIgnored.set(transport, (this.radioIgnored.get(transport) ?? 0) + n);
  }

  countFragment(kind: string): void {
    this.fragments.set(kind, (this.fragments.get(kind) ?? 0) + 1);
  }

  observeLatency(seconds: number): void {
    this.latencyCount++;
    this.latencySum += seconds;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) this.buckets[i]!++;
  }

  /** Total frames stored with this outcome, over all transports. */
  framesWithOutcome(outcome: string): number {
    let n = 0;
    for (const [key, value] of this.frames) if (key.startsWith(`${outcome}|`)) n += value;
    return n;
  }

  render(extra: { reassembly?: readonly GatewayReassemblerStats[] } = {}): string {
    const reassembly = extra.reassembly ?? [];
    const dropped = (reason: (typeof REASSEMBLY_DROP_REASONS)[number]): number => reassembly.reduce((n, r) => n + r.dropped[reason], 0);
    const lines: string[] = [];
    lines.push('# HELP sceau_frames_total Frames stored by the gateway, by verification outcome and transport.');
    lines.push('# TYPE sceau_frames_total counter');
    // Every outcome appears, so dashboards and alerts see zeros rather than absent series.
    const seen = new Set(this.frames.keys());
    for (const outcome of ['ok', ...VERIFICATION_CODES]) {
      if (![...seen].some((k) => k.startsWith(`${outcome}|`))) lines.push(`sceau_frames_total{outcome="${outcome}",transport="all"} 0`);
    }
    for (const [key, value] of this.frames) {
      const [outcome, transport] = key.split('|') as [string, string];
      lines.push(`sceau_frames_total{outcome="${escapeLabel(outcome)}",transport="${escapeLabel(transport)}"} ${value}`);
    }
    lines.push('# HELP sceau_duplicate_deliveries_total Deliveries of the same bytes as a frame already accepted: answered with its verdict and id, not stored again (docs/protocol.md#duplicate-deliveries).');
    lines.push('# TYPE sceau_duplicate_deliveries_total counter');
    if (this.duplicates.size === 0) lines.push('sceau_duplicate_deliveries_total{transport="all"} 0');
    for (const [transport, value] of this.duplicates) lines.push(`sceau_duplicate_deliveries_total{transport="${escapeLabel(transport)}"} ${value}`);
    lines.push('# HELP sceau_ingest_errors_total Input refused before it could be stored as a frame (bad requests, oversized bodies, auth, overload, store failures).');
    lines.push('# TYPE sceau_ingest_errors_total counter');
    for (const [key, value] of this.errors) {
      const [reason, transport] = key.split('|') as [string, string];
      lines.push(`sceau_ingest_errors_total{reason="${escapeLabel(reason)}",transport="${escapeLabel(transport)}"} ${value}`);
    }
    if (this.messages.size > 0) {
      lines.push('# HELP sceau_transport_messages_total Messages taken from a server (MQTT), by what became of them: stored, duplicate, fragment, ignored (not an uplink), refused (bad message, acknowledged and dropped).');
      lines.push('# TYPE sceau_transport_messages_total counter');
      for (const [key, value] of this.messages) {
        const [transport, result] = key.split('|') as [string, string];
        lines.push(`sceau_transport_messages_total{transport="${escapeLabel(transport)}",result="${escapeLabel(result)}"} ${value}`);
      }
    }
    if (this.radioIgnored.size > 0) {
      lines.push('# HELP sceau_radio_metadata_ignored_total Radio metadata entries and fields left out as malformed (gateway serve --keep-radio-metadata); their frames were stored all the same.');
      lines.push('# TYPE sceau_radio_metadata_ignored_total counter');
      for (const [transport, value] of this.radioIgnored) lines.push(`sceau_radio_metadata_ignored_total{transport="${escapeLabel(transport)}"} ${value}`);
    }
    if (this.links.size > 0) {
      lines.push('# HELP sceau_link_up Whether a transport\'s connection to its server (MQTT broker) is up and subscribed.');
      lines.push('# TYPE sceau_link_up gauge');
      for (const [transport, link] of this.links) lines.push(`sceau_link_up{transport="${escapeLabel(transport)}"} ${link.up ? 1 : 0}`);
      lines.push('# HELP sceau_link_connects_total Connections a transport established to its server.');
      lines.push('# TYPE sceau_link_connects_total counter');
      for (const [transport, link] of this.links) lines.push(`sceau_link_connects_total{transport="${escapeLabel(transport)}"} ${link.connects}`);
      lines.push('# HELP sceau_link_disconnects_total Connections to its server a transport lost (it reconnects with back-off).');
      lines.push('# TYPE sceau_link_disconnects_total counter');
      for (const [transport, link] of this.links) lines.push(`sceau_link_disconnects_total{transport="${escapeLabel(transport)}"} ${link.disconnects}`);
    }
    lines.push('# HELP sceau_fragments_total Datagrams seen by the reassemblers, by kind.');
    lines.push('# TYPE sceau_fragments_total counter');
    for (const [kind, value] of this.fragments) lines.push(`sceau_fragments_total{kind="${escapeLabel(kind)}"} ${value}`);
    lines.push('# HELP sceau_reassembly_expired_total Incomplete fragmented messages given up after the expiry time.');
    lines.push('# TYPE sceau_reassembly_expired_total counter');
    lines.push(`sceau_reassembly_expired_total ${dropped('expired')}`);
    lines.push('# HELP sceau_reassembly_dropped_total Fragments refused and incomplete messages given up, by reason (docs/protocol.md#floods).');
    lines.push('# TYPE sceau_reassembly_dropped_total counter');
    for (const reason of REASSEMBLY_DROP_REASONS) lines.push(`sceau_reassembly_dropped_total{reason="${reason}"} ${dropped(reason)}`);
    lines.push('# HELP sceau_reassembly_pending Incomplete fragmented messages held now.');
    lines.push('# TYPE sceau_reassembly_pending gauge');
    lines.push(`sceau_reassembly_pending ${reassembly.reduce((n, r) => n + r.pending, 0)}`);
    lines.push('# HELP sceau_reassembly_bytes Bytes of fragments held by incomplete messages now.');
    lines.push('# TYPE sceau_reassembly_bytes gauge');
    lines.push(`sceau_reassembly_bytes ${reassembly.reduce((n, r) => n + r.bytes, 0)}`);
    lines.push('# HELP sceau_ingest_latency_seconds Time from receipt of a frame to its durable storage.');
    lines.push('# TYPE sceau_ingest_latency_seconds histogram');
    LATENCY_BUCKETS.forEach((le, i) => lines.push(`sceau_ingest_latency_seconds_bucket{le="${le}"} ${this.buckets[i]}`));
    lines.push(`sceau_ingest_latency_seconds_bucket{le="+Inf"} ${this.latencyCount}`);
    lines.push(`sceau_ingest_latency_seconds_sum ${this.latencySum}`);
    lines.push(`sceau_ingest_latency_seconds_count ${this.latencyCount}`);
    lines.push('# HELP sceau_store_batches_total SQLite transactions committed.');
    lines.push('# TYPE sceau_store_batches_total counter');
    lines.push(`sceau_store_batches_total ${this.storeBatches}`);
    lines.push('# HELP sceau_store_failures_total SQLite transactions that failed (their frames were answered 503, not stored).');
    lines.push('# TYPE sceau_store_failures_total counter');
    lines.push(`sceau_store_failures_total ${this.storeFailures}`);
    lines.push('# HELP sceau_ingest_in_flight Frames received and not yet stored.');
    lines.push('# TYPE sceau_ingest_in_flight gauge');
    lines.push(`sceau_ingest_in_flight ${this.inFlight}`);
    lines.push('# HELP sceau_ingest_held UDP and TCP frames held while another connection holds the database write lock (stored once it is released).');
    lines.push('# TYPE sceau_ingest_held gauge');
    lines.push(`sceau_ingest_held ${this.held}`);
    lines.push('# HELP process_resident_memory_bytes Resident memory of the gateway process (RSS), in bytes.');
    lines.push('# TYPE process_resident_memory_bytes gauge');
    lines.push(`process_resident_memory_bytes ${process.memoryUsage.rss()}`);
    lines.push('# HELP sceau_uptime_seconds Seconds since the gateway started.');
    lines.push('# TYPE sceau_uptime_seconds gauge');
    lines.push(`sceau_uptime_seconds ${(Date.now() - this.started) / 1000}`);
    return `${lines.join('\n')}\n`;
  }
}
