/**
 * Transports, registered in one place (transports.ts). A transport is one module with a
 * `TransportDefinition`: whether the gateway's options ask for it, and how to start it given the
 * gateway's parts (the ingest pipeline, the one datagram intake, metrics, the store). Adding a
 * transport is that module plus one `registerTransport` line (docs/architecture.md#where-to-add).
 */
import type { Endpoint, GatewayOptions } from './gateway.js';
import type { GatewayReassembler } from './gateway-reassembly.js';
import type { DatagramIntake } from './datagram-intake.js';
import type { Ingestor } from './ingest.js';
import type { Metrics } from './metrics.js';
import type { OpenedStore } from './store-registry.js';

/** What a transport gets from the gateway. */
export interface TransportContext {
  options: GatewayOptions;
  ingestor: Ingestor;
  metrics: Metrics;
  /** Reassemble, count and submit a datagram (the one function every datagram transport uses). */
  intake: DatagramIntake;
  named: GatewayReassembler;
  hinted: GatewayReassembler;
  store: OpenedStore;
  token: string | undefined;
  clock: () => number;
  renderMetrics: () => string;
  log: (message: string) => void;
}

/** A running transport. */
export interface StartedTransport {
  /** Where it listens (reported in `Gateway.addresses` under the transport's name). */
  address?: (Endpoint & { url?: string }) | undefined;
  /** Stops accepting new input; resolves once its listener is closed. */
  stop(): Promise<void>;
  /** After the pipeline drained: drop what is left (idle connections). */
  afterDrain?(): void;
}

export interface TransportDefinition {
  name: string;
  /** Whether these options ask for this transport. */
  wanted(options: GatewayOptions): boolean;
  /** Refuses malformed options (a listening address) before the gateway opens its store: a refused start creates no database. */
  check?(options: GatewayOptions): void;
  start(context: TransportContext): Promise<StartedTransport>;
}

const registered = new Map<string, TransportDefinition>();

/** Registers a transport; a second one with the same name is a programmer error. */
export function registerTransport(definition: TransportDefinition): void {
  if (registered.has(definition.name)) throw new RangeError(`transport ${JSON.stringify(definition.name)}: already registered`);
  registered.set(definition.name, definition);
}

/** Removes a transport (tests that register their own). */
export function unregisterTransport(name: string): boolean {
  return registered.delete(name);
}

/** Registered transports, in registration order. */
export function registeredTransports(): TransportDefinition[] {
  return [...registered.values()];
}
