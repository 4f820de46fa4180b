// A transport fed by function calls, as a message queue would be by its broker: registered
// through the transport registry alone, it hands datagrams to the gateway's shared intake.
import type { DatagramIntake, IngestResult, NotStoredError, TransportDefinition } from '@sceau/host-tools';

export interface FakeTransport {
  definition: TransportDefinition;
  /** Hands a datagram to the intake from `key` (default `<name>:device-1`); failures go to `failed`. */
  send(datagram: Uint8Array, failed?: (error: NotStoredError) => void): void;
  /** The same, resolving with the stored result (rejecting when it was not stored). */
  deliver(datagram: Uint8Array): Promise<IngestResult>;
  stopped(): boolean;
}

/** A transport named `name`, started when the gateway's options have `[name]: true`. */
export function fakeTransport(name: string): FakeTransport {
  let intake: DatagramIntake | undefined;
  let stopped = false;
  const key = `${name}:device-1`;
  const definition: TransportDefinition = {
    name,
    wanted: (options) => Object.entries(options).some(([k, v]) => k === name && v === true),
    async start(context) {
      intake = context.intake;
      stopped = false;
      return { address: { host: name, port: 0 }, stop: async () => void (stopped = true) };
    },
  };
  const send = (datagram: Uint8Array, failed: (error: NotStoredError) => void = () => undefined, stored?: (result: IngestResult) => void): void => {
    intake!(datagram, { hinted: false, key, origin: name, ingest: { source: key } }, failed, stored);
  };
  return {
    definition,
    send: (datagram, failed) => send(datagram, failed),
    deliver: (datagram) => new Promise((resolve, reject) => send(datagram, reject, resolve)),
    stopped: () => stopped,
  };
}
