import type { Bytes, VerificationCode } from '@sceau/protocol';
import type { WrappedContentKey } from '@sceau/host-tools';

/** What the simulator tells a gateway about one datagram besides its bytes. */
export interface DatagramMeta {
  /** The transport's name for the sender: `deveui:...` on LoRaWAN, `sigfox:...`, `udp:addr:port`; attackers use their own. */
  source: string;
  /** The link profile it came over (whether fragments carry a sender hint). */
  link: string;
  /** Virtual receive time, ms since the start of the run. */
  t: number;
  /** Virtual receive time as Unix ms. */
  unixMs: number;
}

/** A gateway's answer to one datagram. */
export type SinkOutcome =
  | { kind: 'pending' }
  | { kind: 'duplicate' }
  | { kind: 'invalid'; detail: string }
  /** Sent, answer not observable (UDP). */
  | { kind: 'unknown' }
  /**
   * `delivery: 'duplicate'`: the same bytes as a frame the gateway had already accepted, answered
   * with that frame's verdict and not stored again (the host-tools gateway's idempotent ingest).
   */
  | { kind: 'accepted'; kid: string; counter: number; frame?: Bytes; delivery?: 'duplicate' }
  | { kind: 'rejected'; code: VerificationCode; detail?: string; kid?: string; counter?: number; frame?: Bytes };

export interface DeviceRegistration {
  name: string;
  publicKey: Bytes;
  kid: string;
  /** Transport names of the device (DevEUI...), to find the key of frames without kid. */
  deviceIds: string[];
  /**
   * Its record version 2 content key wrapped for the data owner (`--owner`): a gateway with a
   * registry of wrapped keys stores it, so `sceau export --owner-key` opens the readings.
   */
  wrappedContentKey?: WrappedContentKey;
}

/**
 * The simulator's view of a gateway: register the fleet's keys, hand it datagrams in virtual
 * time order, read back the verification outcome. Implemented in-process (on @sceau/protocol),
 * over HTTP (`POST /v1/frames`) and over UDP.
 */
export interface FrameSink {
  readonly name: string;
  /** True when accepted/rejected outcomes carry the reassembled frame bytes. */
  readonly reportsFrames: boolean;
  /** False when outcomes are not observable (UDP): the summary then counts deliveries only. */
  readonly observable: boolean;
  /**
   * Datagrams handed over before their outcomes are awaited (default 1). Above 1 the sink
   * must apply them in the order given (the host-tools gateway does; HTTP requests may not).
   */
  readonly maxInFlight?: number;
  register(devices: DeviceRegistration[]): void | Promise<void>;
  deliver(datagram: Bytes, meta: DatagramMeta): SinkOutcome | Promise<SinkOutcome>;
  close(): void | Promise<void>;
}
