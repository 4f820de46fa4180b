/**
 * The store, split two ways (docs/architecture.md#the-store). The ingest pipeline sees only
 * `IngestStore`; the read routes, export and the CLI's queries only `QueryStore`. SQLite
 * (store.ts) implements both; a backend is one module implementing them plus one registration
 * line (stores.ts, store-registry.ts).
 *
 * The ingest side is synchronous where the pipeline needs an answer within one event-loop turn
 * (key lookup, replay window, the accepted frame a duplicate repeats): a backend on an
 * asynchronous database answers these from memory (a keyring and windows it caches and keeps
 * fresh, see docs/architecture.md#an-asynchronous-database), and only the batch commit waits
 * for the database.
 */
import type { Keyring, ReplayWindowStore } from '@sceau/protocol';
import type { WrappedContentKey } from './content-key-wrap.js';
import type { Device, DeviceRecord } from './device-registry.js';
import type { FrameColumns } from './frame-batch.js';
import type { UnitReading } from './outcome.js';
import type { RadioMetadata } from './radio-metadata.js';

/** An accepted frame as stored: what a duplicate delivery of it is answered with. */
export interface AcceptedFrame {
  id: number;
  /** ms since the epoch. */
  receivedAt: number;
  source: string;
  raw: Uint8Array;
  readings?: UnitReading[];
}

/**
 * A frame of a batch that the commit found was decided elsewhere (another instance on the same
 * database, docs/architecture.md#several-instances): `duplicate`, the same bytes as the frame
 * accepted for its (kid, counter), not stored (its id is the original's); `replay`, a counter
 * accepted by other bytes or below the window, stored with outcome `replay`; `erased`, a frame
 * of a key erased before the commit (`sceau devices erase`), not stored at all.
 */
export type CommitConflict = { kind: 'duplicate'; original: AcceptedFrame } | { kind: 'replay'; detail: string } | { kind: 'erased'; detail: string };

/**
 * Called once per commit: the stored frames' row ids (by position in the batch), or the error
 * (nothing of the batch is then stored). `conflicts`, by position, only from a store shared by
 * several instances; SQLite, one writer, has none.
 */
export type CommitDone = (error: Error | undefined, ids: number[], conflicts?: ReadonlyMap<number, CommitConflict>) => void;

export interface IngestStore extends Keyring {
  /** Replay windows by kid; `forget` drops cached ones (after a failed commit) so they are read again. */
  readonly replay: ReplayWindowStore & { forget(kids?: Iterable<string>): void };
  /** The frame accepted for (kid, counter), if any. */
  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined;
  /**
   * Stores a batch of frames and the windows it advanced in one transaction, durable (synced)
   * before `done` is called. One commit at a time: the next starts once `done` was called.
   */
  commitBatch(batch: FrameColumns, done: CommitDone): void;
  /**
   * Under load, commits start this many times their own duration apart (ingest.ts, default 8):
   * the factor bounds the share of this thread a commit takes. A store whose commit mostly waits
   * for another process (PostgreSQL) sets 0: the next commit starts as soon as one ends.
   */
  readonly commitGapFactor?: number;
  /**
   * When the key `kid` was erased (ms since the epoch; `sceau devices erase`), else undefined:
   * its frames are refused and not stored (`key-erased`, docs/privacy.md#erasure). Asked only
   * for frames of an unknown kid.
   */
  erasedAt?(kid: string): number | undefined;
  /** True when a commit failed because another writer holds the database (writes then pause, see Ingestor). */
  isContention(error: unknown): boolean;
  /** Whether a write would go through now, without waiting: `undefined` yes, else why not. */
  probeWrite(): string | undefined;
  /** The database answers (for /healthz): `undefined` yes, else why not. */
  health(): string | undefined;
}

/** Frames in id order; `kids` (the keys of one device) or `kid` selects a device. */
export interface FrameFilter {
  kid?: string | undefined;
  kids?: readonly string[] | undefined;
  since?: number | undefined;
  outcome?: string | undefined;
  limit?: number | undefined;
  /** Paging: frames after this id. */
  afterId?: number | undefined;
}

export interface FrameRow {
  id: number;
  receivedAt: string;
  source: string;
  outcome: string;
  kid: string | null;
  counter: number | null;
  detail: string | null;
  frame: string;
  /** The radio metadata of the uplinks that carried it, one entry each: only on a frame stored with `--keep-radio-metadata` (docs/privacy.md#radio-metadata). */
  radio?: RadioMetadata[];
}

/** Readings of one key (`kid`) or of the keys of one device (`kids`); `since`, `until` in Unix seconds. */
export interface ReadingFilter {
  kid?: string | undefined;
  kids?: readonly string[] | undefined;
  since?: number | undefined;
  until?: number | undefined;
  limit?: number | undefined;
  /** Each reading with its frame's radio metadata, when stored (`ReadingRow.radio`). */
  radio?: boolean | undefined;
}

export interface StoredReading {
  channel: number;
  name: string;
  value: number;
  unit: string;
  raw: number;
  age: number;
  at: number | null;
}

/** A stored reading as queried: the reading with its frame. `at` is Unix seconds of the measurement. */
export interface ReadingRow extends StoredReading {
  kid: string;
  counter: number;
  frameId: number;
  /** Its frame's radio metadata: only asked for (`ReadingFilter.radio`) and stored. */
  radio?: RadioMetadata[];
}

/**
 * The query side, shaped for an asynchronous database: every method returns a promise and
 * readings stream as an async iterable (SQLite answers at once; PostgreSQL after its round trip).
 */
export interface QueryStore {
  listDevices(): Promise<Device[]>;
  getDevice(ref: string): Promise<Device | undefined>;
  queryFrames(filter?: FrameFilter): Promise<FrameRow[]>;
  /** Readings oldest first; `iterateReadings` streams them (export). */
  queryReadings(filter?: ReadingFilter): Promise<ReadingRow[]>;
  iterateReadings(filter?: ReadingFilter): AsyncIterable<ReadingRow>;
  countFramesByOutcome(): Promise<Record<string, number>>;
}

/** An accepted frame whose readings stay encrypted (`frames.encrypted`): what export opens with the owner key. */
export interface EncryptedFrameRow {
  frameId: number;
  kid: string;
  counter: number;
  /** ms since the epoch. */
  receivedAt: number;
  raw: Uint8Array;
  /** Bytes of encrypted readings. */
  encryptedBytes: number;
  /** The public key of its kid (revoked or not); undefined once the key left the registry (`devices delete`). */
  publicKey: Uint8Array | undefined;
}

/** What `sceau devices erase` leaves of a key: its kid, what was deleted, when (docs/privacy.md#erasure). */
export interface ErasureTombstone {
  kid: string;
  frames: number;
  readings: number;
  /** A wrapped content key was deleted. */
  contentKey: boolean;
  erasedAt: string;
}

export interface Erasure {
  device: DeviceRecord;
  tombstones: ErasureTombstone[];
  /** SQLite: the WAL was checkpointed and truncated after the erasure (false: a reader kept it; run again). */
  walCheckpointed: boolean;
}

export interface RetentionSweep {
  /** Frames deleted (their readings with them). */
  frames: number;
}

/**
 * The privacy side of a store (issue 17, docs/privacy.md): content keys wrapped for the data
 * owner, erasure, retention. SQLite answers at once (store-privacy.ts); a backend on an
 * asynchronous database answers with promises. A backend without it cannot hold record
 * version 2's keys: commands that need them say so.
 */
export interface PrivacyStore {
  /** Wrapped content keys by kid: of `kids`, or all. */
  wrappedKeys(kids?: readonly string[]): Map<string, WrappedContentKey> | Promise<Map<string, WrappedContentKey>>;
  /** Stores a key's wrapped content key; refused (`content-key-exists`) when it has one. */
  putWrappedKey(wrapped: WrappedContentKey): void | Promise<void>;
  /** Replaces the wrapped keys of the same kids, all in one transaction (`owner rotate --db`). */
  replaceWrappedKeys(list: readonly WrappedContentKey[]): number | Promise<number>;
  tombstone(kid: string): ErasureTombstone | undefined | Promise<ErasureTombstone | undefined>;
  /** Deletes a device's frames, readings, wrapped keys and registry entry; a tombstone per key stays and refuses it. */
  erase(ref: string): Erasure | Promise<Erasure>;
  /** Deletes frames received before their retention (a device's own, else `defaultMs`), in short batches. */
  deleteExpired(now: number, defaultMs: number | undefined, yieldBetween?: () => Promise<void>): Promise<RetentionSweep>;
  /** Accepted frames that keep readings encrypted (record version 2), of `kids` or all, in id order. */
  encryptedFrames(kids?: readonly string[]): AsyncIterable<EncryptedFrameRow>;
  /** A device's own retention, in ms (null: the gateway's). */
  setRetention(ref: string, ms: number | null): DeviceRecord | Promise<DeviceRecord>;
}
