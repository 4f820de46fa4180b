/**
 * The ingest pipeline shared by every transport and by `frame verify --db`: verify (inline, or
 * with the Ed25519 equation on libuv's thread pool so that several cores check signatures), apply
 * the replay window in arrival order, then store the frame, its
 * readings and the changed windows in one batched transaction (store-writer.ts: the commit runs
 * on this thread, the sync of the WAL file on libuv's thread pool). A caller's promise resolves
 * only once its frame is committed and synced, so a transport acknowledges only durable frames.
 *
 * Group commit: one transaction runs at a time; frames verified meanwhile are queued for the
 * next. While frames keep arriving, a commit starts once about eight times the last commit's
 * duration has passed since the previous one started (at most `maxCommitDelayMs`): each commit
 * rewrites the index pages it touches, so fewer, larger transactions cost the writer less CPU
 * per frame. When an event-loop turn brings no new frame and no signature check is running, the
 * queue is committed at once if a caller awaits an answer (a lone frame, or every client waiting
 * for its answer), and after `idleGraceMs` without a new frame otherwise (UDP and TCP senders get
 * no answer, and their datagrams come in bursts).
 */
import { channels as builtInChannels, checkReplayWindow, DEFAULT_MAX_FRAME_BYTES, equalBytes, verifyFrame, verifyFrameAsync, type ChannelRegistry, type ReplayState, type ReplayWindow, type VerificationCode, type VerifyFrameOptions, type VerifyResult } from '@sceau/protocol';
import { describeResult, type FrameOutcome } from './outcome.js';
import { FrameBatch } from './frame-batch.js';
import { Metrics } from './metrics.js';
import type { CommitConflict, IngestStore } from './store-interface.js';
import { radioJson, type RadioMetadata } from './radio-metadata.js';

/**
 * Under load, commits start about this many times their own duration apart, so the writer is busy
 * at most about 1/8 of the time and each commit carries several hundred frames (measured on the
 * store alone: 30-45 µs of CPU per frame at 100 frames per commit, 18-33 at 500 to 2,000).
 */
const COMMIT_GAP_FACTOR = 8;

/** The record versions the gateway stores: 2 keeps its readings encrypted (docs/privacy.md). */
const RECORD_VERSIONS: readonly number[] = [1, 2];

/**
 * How long an idle event-loop turn waits for more frames before committing frames nobody waits
 * an answer for (UDP, TCP). Under load, datagrams come in bursts with idle turns between them;
 * committing at each idle turn made commits of about 128 frames (the datagrams of four turns),
 * where the gap allows several hundred, and a commit costs the store less per frame the more
 * frames it carries.
 */
const IDLE_GRACE_MS = 5;

export interface IngestOptions {
  /** Transport and peer, stored with the frame: `http`, `udp:127.0.0.1:5000`, `tts`, `cli:file`... */
  source: string;
  /** Transport identity for frames without kid (`deveui:0004a30b001c0530`). */
  deviceId?: string | undefined;
  /** Receive time, ms since the epoch (default: now). */
  receivedAt?: number | undefined;
  /**
   * Radio metadata of the uplinks that carried the frame, one entry each: given only by a
   * gateway with `--keep-radio-metadata` (docs/privacy.md#radio-metadata). Stored with the frame
   * whatever its outcome; a duplicate delivery's is not stored.
   */
  radio?: readonly RadioMetadata[] | undefined;
}

export interface IngestResult extends FrameOutcome {
  /** Row id of the stored frame (of the original frame for a `duplicate` delivery). */
  id: number;
  /** When the frame was received (the original's receive time for a `duplicate` delivery). */
  receivedAt: string;
  source: string;
  /**
   * `new`: this delivery was stored. `duplicate`: the same bytes as a frame already accepted for
   * its (kid, counter), answered with that frame's verdict and id and not stored again
   * (docs/protocol.md#duplicate-deliveries).
   */
  delivery: 'new' | 'duplicate';
}

/**
 * Why a frame was not stored: `overloaded`, `store-failed`, `store-unavailable` (the database is
 * locked by another connection: writes are refused until a probe succeeds) and `closed` are
 * worth a retry (HTTP 503); `too-large` and `malformed-cbor` are input the gateway refuses to
 * store at all (docs/protocol.md#floods), and `key-erased` a frame of an erased key, whose bytes
 * are not kept (data minimisation, docs/privacy.md#erasure): no retry helps.
 */
export type NotStoredReason = 'overloaded' | 'store-failed' | 'store-unavailable' | 'closed' | 'too-large' | 'malformed-cbor' | 'key-erased';

/** Reasons that are the input's fault, not the gateway's: a retry gets the same answer. */
export function isRefusal(reason: NotStoredReason): reason is 'too-large' | 'malformed-cbor' | 'key-erased' {
  return reason === 'too-large' || reason === 'malformed-cbor' || reason === 'key-erased';
}

/** The refusal of a frame of a key erased at `erasedAt` (ISO 8601). */
export function erasedKeyRefusal(kid: string, erasedAt: string): NotStoredError {
  return new NotStoredError(`key ${kid} was erased on ${erasedAt}: frames of an erased key are refused and not stored (docs/privacy.md#erasure)`, 'key-erased');
}

/** Thrown (rejected) when a frame could not be stored: the caller must not acknowledge it. */
export class NotStoredError extends Error {
  constructor(
    message: string,
    readonly reason: NotStoredReason,
  ) {
    super(message);
    this.name = 'NotStoredError';
  }
}

export interface IngestorOptions {
  channels?: ChannelRegistry;
  maxFrameBytes?: number;
  /**
   * Store frames that are not even one CBOR item (`malformed-cbor`) or over `maxFrameBytes`
   * (`too-large`), as the CLI's `frame verify --db` does (default true). The gateway passes
   * false: unauthenticated garbage then costs no storage, it is refused with its code
   * (docs/protocol.md#floods). Well-formed frames are stored whatever their outcome.
   */
  storeUnframed?: boolean;
  /**
   * While another connection holds the database's write lock (a commit failed with SQLITE_BUSY),
   * new frames are refused at once (`store-unavailable`) rather than each commit waiting out the
   * busy timeout on this thread; a probe that does not wait (`BEGIN IMMEDIATE` with a zero busy
   * timeout) runs this often, in ms, and reopens writes when it gets the lock (default 250).
   */
  lockProbeMs?: number;
  /**
   * Frames nobody awaits an answer for (UDP, TCP) held while writes are refused, then stored in
   * arrival order once they resume (default 10,000: at most 20 MB of frames); beyond, refused
   * and counted `store-unavailable`. Frames with a caller (HTTP) are answered 503 instead.
   */
  maxHeld?: number;
  /** Queued frames beyond which a commit starts at once rather than after the event-loop turn (default 512). */
  batchMax?: number;
  /** Frames received and not yet stored beyond which new ones are refused (default 20,000). */
  maxInFlight?: number;
  /**
   * Threads checking signatures (default 0: every check on this thread). With N, the Ed25519
   * equations run on libuv's thread pool (node:crypto), up to 32N queued there so that a thread
   * finishing one finds the next without waiting for this thread; the pool's size,
   * UV_THREADPOOL_SIZE (4 unless set when the process starts; `sceau gateway serve --workers N`
   * sets N), bounds how many run at once. Frames still leave in arrival order.
   */
  workers?: number;
  metrics?: Metrics;
  /** Longest wait between commits while frames keep arriving (default 100 ms); see above. */
  maxCommitDelayMs?: number;
  /** How long an idle turn waits for more frames that nobody awaits an answer for (default 5 ms); see IDLE_GRACE_MS. */
  idleGraceMs?: number;
}

interface Pending {
  frame: Uint8Array;
  options: IngestOptions;
  receivedAt: number;
  started: number;
  /** Absent when the caller wants no result (UDP, TCP). */
  resolve: ((result: IngestResult) => void) | undefined;
  reject: (error: NotStoredError) => void;
  /** Set once verified and the replay window applied; `null`: the check itself failed. */
  result?: VerifyResult | null;
  /** The outcome code, kept once the frame is queued (the result itself only for a caller that answers). */
  code?: 'ok' | VerificationCode;
  /** Once committed: the frame's row id and ISO receive time (read by duplicates waiting on it). */
  id?: number;
  /** Accepted frames: their (kid, counter) key in `Ingestor.accepted` until committed or failed. */
  acceptedKey?: string;
  /** Deliveries of the same bytes that arrived before this accepted frame was committed. */
  duplicates?: Pending[];
  /** A frame refused as a replay here, with someone awaiting it: its accepted verdict (see settleConflict). */
  accepted?: VerifyResult & { ok: true };
}

/** The key of an accepted (kid, counter) among frames not yet committed. */
const acceptedKey = (kid: string, counter: number): string => `${kid}/${counter}`;

export { isLockError } from './store-writer.js';

/** A frame as committed, for an observer (the console's live feed): its row id and verdict. */
export interface CommittedFrame {
  id: number;
  /** ms since the epoch. */
  receivedAt: number;
  source: string;
  outcome: FrameOutcome;
}

/**
 * Told of every committed batch while `listening` (the console's event hub): frames are then
 * described in units; while nobody listens the pipeline builds nothing for it.
 */
export interface FrameObserver {
  readonly listening: boolean;
  committed(frames: CommittedFrame[]): void;
}

export class Ingestor {
  readonly metrics: Metrics;
  private readonly store: IngestStore;
  private readonly channels: ChannelRegistry;
  private readonly maxFrameBytes: number;
  private readonly storeUnframed: boolean;
  private readonly batchMax: number;
  private readonly maxInFlight: number;
  /** Verified frames waiting for the next transaction, and the same frames in columns. */
  private queue: Pending[] = [];
  private batch = new FrameBatch();
  private windows = new Map<string, ReplayWindow>();
  /** Accepted frames queued or being committed, by (kid, counter): where a duplicate delivery waits. */
  private accepted = new Map<string, Pending>();
  /** A transaction is running; frames queued meanwhile are committed when it ends. */
  private committing = false;
  private commitScheduled = false;
  /** Set while a commit waits for the thread pool's checks, at the latest until the gap ends. */
  private commitTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames queued for storage so far, and that count when the pending commit check was scheduled. */
  private queuedCount = 0;
  private queuedAtCheck = 0;
  /** Queued frames whose caller waits for the answer (HTTP, `ingest`): an idle turn commits them at once. */
  private answerable = 0;
  /** An idle turn already waited `idleGraceMs` for more frames since the last frame came. */
  private graced = false;
  private readonly idleGraceMs: number;
  private lastIsoMs = Number.NaN;
  private lastIso = '';
  private lastCommitStart = 0;
  private commitGapMs = 0;
  private readonly maxCommitDelayMs: number;
  private closed = false;
  /** Set while writes are refused because another connection holds the write lock. */
  private unavailable: { since: number; detail: string } | undefined;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private readonly lockProbeMs: number;
  private readonly maxHeld: number;
  /** Unanswered frames held while writes are refused, in arrival order (receive time kept). */
  private held: Array<{ frame: Uint8Array; options: IngestOptions; failed: (error: NotStoredError) => void }> = [];
  private idleWaiters: Array<() => void> = [];
  /** Signature checks handed to the thread pool at once (0: inline). */
  private readonly maxChecks: number;
  private verifying = 0;
  /** Frames in arrival order from the first not yet handed on (`head`); their checks finish in any order. */
  private arrived: Array<Pending | undefined> = [];
  private head = 0;
  /** Frames waiting for a free verification slot, oldest first from `nextToStart`. */
  private nextToStart = 0;
  /** Told of committed frames (the console's live feed); see FrameObserver. */
  observer: FrameObserver | undefined;

  constructor(store: IngestStore, options: IngestorOptions = {}) {
    this.store = store;
    this.channels = options.channels ?? builtInChannels;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.storeUnframed = options.storeUnframed ?? true;
    this.lockProbeMs = options.lockProbeMs ?? 250;
    this.maxHeld = options.maxHeld ?? 10_000;
    this.batchMax = options.batchMax ?? 512;
    this.maxInFlight = options.maxInFlight ?? 20_000;
    this.metrics = options.metrics ?? new Metrics();
    this.maxCommitDelayMs = options.maxCommitDelayMs ?? 100;
    this.idleGraceMs = options.idleGraceMs ?? IDLE_GRACE_MS;
    this.maxChecks = 32 * (options.workers ?? 0);
  }

  /** Verifies and stores one frame; resolves once it is durably stored, with its outcome. */
  ingest(frame: Uint8Array, options: IngestOptions): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, reject) => this.submit(frame, options, reject, resolve));
  }

  /**
   * `ingest` without a promise, for transports that send no answer (UDP, TCP): `stored` (when
   * given) gets the outcome once the frame is committed, `failed` is called when it could not be
   * stored. Without `stored`, no result object is built.
   */
  submit(frame: Uint8Array, options: IngestOptions, failed: (error: NotStoredError) => void, stored?: (result: IngestResult) => void): void {
    if (this.closed) {
      failed(new NotStoredError('the gateway is closing', 'closed'));
      return;
    }
    if (this.unavailable !== undefined) {
      if (stored === undefined && this.hold(frame, options.receivedAt === undefined ? { ...options, receivedAt: Date.now() } : options, failed)) return;
      failed(new NotStoredError(`database locked by another connection since ${new Date(this.unavailable.since).toISOString()}: ${this.unavailable.detail}`, 'store-unavailable'));
      return;
    }
    if (this.metrics.inFlight >= this.maxInFlight) {
      failed(new NotStoredError(`more than ${this.maxInFlight} frames waiting to be stored`, 'overloaded'));
      return;
    }
    this.metrics.inFlight++;
    const pending: Pending = { frame, options, receivedAt: options.receivedAt ?? Date.now(), started: performance.now(), resolve: stored, reject: failed };
    if (this.maxChecks > 0) {
      this.arrived.push(pending);
      this.startChecks();
      return;
    }
    let verified: VerifyResult;
    try {
      verified = verifyFrame(frame, this.store, this.verifyOptions(pending));
    } catch (error) {
      this.metrics.inFlight--; // not queued: drain() must not wait for it
      throw error;
    }
    this.afterVerify(pending, verified);
  }

  private verifyOptions(p: Pending): VerifyFrameOptions {
    // Record version 2 is verified like version 1; its encrypted readings are stored as they came (in the frame's bytes).
    const options: VerifyFrameOptions = { now: Math.floor(p.receivedAt / 1000), maxFrameBytes: this.maxFrameBytes, recordVersions: RECORD_VERSIONS };
    if (p.options.deviceId !== undefined) options.deviceId = p.options.deviceId;
    return options;
  }

  /** Starts signature checks on the thread pool while slots are free, oldest frame first. */
  private startChecks(): void {
    while (this.verifying < this.maxChecks && this.nextToStart < this.arrived.length) {
      const p = this.arrived[this.nextToStart++]!;
      this.verifying++;
      verifyFrameAsync(p.frame, this.store, this.verifyOptions(p)).then(
        (result) => this.checked(p, result),
        () => this.checked(p, null), // the registry could not be read: the frame is not stored
      );
    }
  }

  /** A check finished: start the next, and hand on every frame whose predecessors are done. */
  private checked(p: Pending, result: VerifyResult | null): void {
    this.verifying--;
    p.result = result;
    this.startChecks();
    const arrived = this.arrived;
    let head = this.head;
    for (let next = arrived[head]; next !== undefined && next.result !== undefined; next = arrived[head]) {
      arrived[head++] = undefined;
      if (next.result === null) {
        this.fail(next, new NotStoredError('the device registry could not be read', 'store-failed'));
        this.notifyIdle();
      } else this.afterVerify(next, next.result);
    }
    // Drop the handed-on prefix now and then (not on every frame: that would copy the array each time).
    if (head === arrived.length) {
      this.arrived = [];
      this.nextToStart -= head;
      head = 0;
    } else if (head >= 1024) {
      this.arrived = arrived.slice(head);
      this.nextToStart -= head;
      head = 0;
    }
    this.head = head;
  }

  /** Applies the replay window (in arrival order on this thread) and queues the frame for storage. */
  private afterVerify(p: Pending, verified: VerifyResult): void {
    if (!verified.ok && verified.code === 'unknown-kid' && verified.kid !== undefined) {
      const erasedAt = this.store.erasedAt?.(verified.kid);
      if (erasedAt !== undefined) {
        this.fail(p, erasedKeyRefusal(verified.kid, new Date(erasedAt).toISOString()));
        this.notifyIdle();
        return;
      }
    }
    if (!verified.ok && !this.storeUnframed && isRefusal(verified.code as NotStoredReason)) {
      this.fail(p, new NotStoredError(verified.detail, verified.code as 'too-large' | 'malformed-cbor'));
      this.notifyIdle();
      return;
    }
    let result = verified;
    if (result.ok) {
      const window = this.store.replay.get(result.kid);
      const replayed = checkReplayWindow(window, result.kid, result.counter);
      if (replayed === undefined) this.windows.set(result.kid, window);
      else if (this.answerDuplicate(p, result)) return;
      else {
        // Kept for a shared store's commit, which may find the same bytes stored by another instance.
        if (p.resolve !== undefined) p.accepted = result;
        result = replayed;
      }
    }
    if (result.ok) this.accepted.set((p.acceptedKey = acceptedKey(result.kid, result.counter)), p);
    this.batch.addResult(p.frame, p.receivedAt, p.options.source, result, this.channels, p.options.radio === undefined ? undefined : radioJson(p.options.radio));
    p.code = result.ok ? 'ok' : result.code;
    // Held until the commit: kept only when someone will read it (fewer live objects for the GC).
    p.result = p.resolve === undefined && this.observer?.listening !== true ? undefined : result;
    this.queue.push(p);
    this.queuedCount++;
    if (p.resolve !== undefined) this.answerable++;
    this.scheduleCommit();
  }

  /**
   * A counter already accepted: when the bytes are those of the accepted frame, this is the same
   * delivery again (a webhook retry, a redelivery after a crash), not an attack. It gets the
   * original verdict and frame id, is not stored again, and is counted as a `duplicate`
   * delivery. The original is either still on its way to the store (the duplicate waits for its
   * commit) or stored (answered from the store at once). False: different bytes, a `replay`.
   */
  private answerDuplicate(p: Pending, verified: VerifyResult & { ok: true }): boolean {
    const waiting = this.accepted.get(acceptedKey(verified.kid, verified.counter));
    if (waiting !== undefined) {
      if (!equalBytes(waiting.frame, p.frame)) return false;
      (waiting.duplicates ??= []).push(p);
      return true;
    }
    const original = this.store.acceptedFrame(verified.kid, verified.counter);
    if (original === undefined || !equalBytes(original.raw, p.frame)) return false;
    this.settleDuplicate(p, original.id, original.receivedAt, original.source, () => {
      const outcome = describeResult(verified, this.channels);
      // Stored readings as they were dated at first receipt (a v2 record's are its clear ones).
      if (original.readings !== undefined) outcome[outcome.encrypted === true ? 'clearReadings' : 'readings'] = original.readings;
      return outcome;
    });
    return true;
  }

  /** Answers a duplicate delivery with the original frame's id and receive time; nothing is stored. */
  private settleDuplicate(p: Pending, id: number, receivedAt: number, source: string, outcome: () => FrameOutcome): void {
    this.metrics.inFlight--;
    this.metrics.countDuplicate(p.options.source.split(':', 1)[0]!);
    if (p.resolve !== undefined) {
      const result = outcome() as IngestResult;
      result.id = id;
      result.receivedAt = new Date(receivedAt).toISOString();
      result.source = source;
      result.delivery = 'duplicate';
      p.resolve(result);
    }
    this.notifyIdle();
  }

  private scheduleCommit(): void {
    if (this.committing || this.queue.length === 0) return; // a running transaction schedules the next when it ends
    if (this.queue.length >= this.batchMax) {
      this.cancelWait();
      this.commit();
      return;
    }
    // Waiting for the pool's checks, and the last has finished: look again after this turn.
    if (this.commitTimer !== undefined && this.verifying === 0) this.cancelWait();
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    this.queuedAtCheck = this.queuedCount;
    setImmediate(this.checkCommit);
  }

  private cancelWait(): void {
    if (this.commitTimer === undefined) return;
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.commitScheduled = false;
  }

  /**
   * After an event-loop turn: commit now, unless frames are still coming and the gap has not
   * passed. Frames are still coming when the turn brought some, or when signature checks are
   * running on the thread pool: then the next check to finish (or, at the latest, the end of the
   * gap) looks again, rather than a commit of the few frames that happened to be ready. A turn
   * that brought none commits at once if a caller awaits an answer, else after `idleGraceMs`.
   */
  private readonly checkCommit = (): void => {
    this.cancelWait();
    this.commitScheduled = false;
    const more = this.queuedCount !== this.queuedAtCheck;
    if (more) this.graced = false;
    const waitLeft = this.commitGapMs - (performance.now() - this.lastCommitStart);
    if (waitLeft > 0 && this.queue.length < this.batchMax) {
      if (more || this.verifying > 0) {
        this.queuedAtCheck = this.queuedCount;
        this.commitScheduled = true;
        if (more) setImmediate(this.checkCommit);
        else this.commitTimer = setTimeout(this.checkCommit, waitLeft);
        return;
      }
      // An idle turn, and nobody waits for an answer (UDP, TCP): the senders may only be between
      // two bursts, so look once more after a short while rather than commit a small batch.
      if (this.answerable === 0 && !this.graced) {
        this.graced = true;
        this.commitScheduled = true;
        this.commitTimer = setTimeout(this.checkCommit, Math.min(waitLeft, this.idleGraceMs));
        return;
      }
    }
    this.graced = false;
    this.commit();
  };

  /** Commits every queued frame in one transaction (unless one is running: its end commits them). */
  private commit(): void {
    if (this.committing || this.queue.length === 0) return;
    const batch = this.queue;
    this.answerable = 0;
    const windows: Array<[string, ReplayState]> = [];
    // The windows as this batch leaves them: every frame that advanced them is in the batch.
    for (const [kid, window] of this.windows) windows.push([kid, window.state()]);
    const columns = this.batch.finish(windows);
    this.queue = [];
    this.batch = new FrameBatch();
    this.windows = new Map();
    this.committing = true;
    const started = performance.now();
    this.lastCommitStart = started;
    this.store.commitBatch(
      columns,
      (error, ids, conflicts) => {
        this.committing = false;
        this.commitGapMs = Math.min(this.maxCommitDelayMs, (performance.now() - started) * (this.store.commitGapFactor ?? COMMIT_GAP_FACTOR));
        if (error === undefined) {
          this.committed(batch, ids, conflicts);
          if (this.unavailable !== undefined) this.resumeWrites(); // a commit went through: so will the next
        }
        else this.failed(batch, error);
        this.scheduleCommit();
        this.notifyIdle();
      },
    );
  }

  /**
   * Settles the promises of a committed batch. `conflicts` (a store shared by several
   * instances): frames another instance decided first, by position; a `duplicate` is answered
   * as a duplicate delivery of the frame stored there, a `replay` as a replay, an `erased` as
   * the key's frames are (`key-erased`, not stored).
   */
  private committed(batch: Pending[], ids: number[], conflicts?: ReadonlyMap<number, CommitConflict>): void {
    this.metrics.storeBatches++;
    const now = performance.now();
    let source = '';
    let transport = '';
    const observed: CommittedFrame[] | undefined = this.observer?.listening === true ? [] : undefined;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      if (p.options.source !== source) {
        // Frames of a batch mostly share their source: its transport is worked out once per run of them.
        source = p.options.source;
        transport = source.split(':', 1)[0]!;
      }
      const conflict = conflicts?.get(i);
      if (conflict !== undefined && this.settleConflict(p, conflict)) continue;
      this.metrics.inFlight--;
      this.metrics.countFrame(p.code!, transport);
      this.metrics.observeLatency((now - p.started) / 1000);
      // The outcome in units is built only for a caller that answers (HTTP), not for UDP or TCP.
      if (p.resolve !== undefined) {
        const result = describeResult(p.result!, this.channels) as IngestResult; // a new object: completed in place
        result.id = ids[i]!;
        result.receivedAt = this.isoDate(p.receivedAt);
        result.source = source;
        result.delivery = 'new';
        p.resolve(result);
      }
      if (p.acceptedKey !== undefined) this.settleAccepted(p, ids[i]!);
      if (observed !== undefined && p.result !== undefined && p.result !== null) observed.push({ id: ids[i]!, receivedAt: p.receivedAt, source, outcome: describeResult(p.result, this.channels) });
    }
    if (observed !== undefined && observed.length > 0) this.observer!.committed(observed);
  }

  /**
   * A frame another instance decided first. A duplicate of the frame stored there is answered
   * as such (true: settled); a replay becomes this frame's verdict, and it is settled as stored
   * (false). The deliveries waiting on it get its answer.
   */
  private settleConflict(p: Pending, conflict: CommitConflict): boolean {
    if (conflict.kind === 'erased') {
      // Not stored: this frame and the deliveries waiting on it are refused as the key's later frames are.
      const refusal = new NotStoredError(conflict.detail, 'key-erased');
      if (p.acceptedKey !== undefined) this.settleAccepted(p, refusal);
      this.fail(p, refusal);
      return true;
    }
    if (conflict.kind === 'replay') {
      // Only accepted frames can lose the race: they carry their (kid, counter) key. The verdict
      // is kept even without a caller: deliveries waiting on this frame are answered with it.
      const slash = p.acceptedKey!.lastIndexOf('/');
      p.code = 'replay';
      p.result = { ok: false, code: 'replay', detail: conflict.detail, kid: p.acceptedKey!.slice(0, slash), counter: Number(p.acceptedKey!.slice(slash + 1)) };
      return false;
    }
    const { original } = conflict;
    const verified = p.result?.ok ? p.result : p.accepted;
    if (p.acceptedKey !== undefined && this.accepted.get(p.acceptedKey) === p) this.accepted.delete(p.acceptedKey);
    const outcome = (): FrameOutcome => {
      const described = describeResult(verified ?? verifyFrame(p.frame, this.store, this.verifyOptions(p)), this.channels);
      if (original.readings !== undefined) described.readings = original.readings;
      return described;
    };
    this.settleDuplicate(p, original.id, original.receivedAt, original.source, outcome);
    for (const d of p.duplicates ?? []) this.settleDuplicate(d, original.id, original.receivedAt, original.source, () => ({ ...outcome() }));
    p.duplicates = undefined;
    return true;
  }

  /**
   * An accepted frame is committed (its row id) or failed (the error its sender got): the
   * deliveries of the same bytes waiting on it get the same answer.
   */
  private settleAccepted(p: Pending, outcome: number | NotStoredError): void {
    if (this.accepted.get(p.acceptedKey!) === p) this.accepted.delete(p.acceptedKey!);
    const duplicates = p.duplicates;
    if (duplicates === undefined) return;
    p.duplicates = undefined;
    if (typeof outcome !== 'number') {
      for (const d of duplicates) this.fail(d, outcome);
      return;
    }
    // The verdict for the original's receive time: clock-less readings are dated from that receipt.
    let verdict: FrameOutcome | undefined;
    // The original's own verdict when it was kept (someone awaited it); verified again only otherwise.
    const describe = (): FrameOutcome => (verdict ??= describeResult(p.result ?? verifyFrame(p.frame, this.store, this.verifyOptions(p)), this.channels));
    for (const d of duplicates) this.settleDuplicate(d, outcome, p.receivedAt, p.options.source, () => ({ ...describe() }));
  }

  /** ISO 8601 of a receive time; frames of one request share their millisecond, so the last one is kept. */
  private isoDate(ms: number): string {
    if (ms !== this.lastIsoMs) {
      this.lastIsoMs = ms;
      this.lastIso = new Date(ms).toISOString();
    }
    return this.lastIso;
  }

  /**
   * Nothing of the batch is stored: tell every sender (who gets no 2xx, so may retry). Frames
   * queued meanwhile were checked against the windows this batch advanced, so they fail too, and
   * every window is read back from the database.
   */
  private failed(batch: Pending[], error: Error): void {
    this.metrics.storeFailures++;
    const locked = this.store.isContention(error);
    if (locked) this.refuseWrites(error.message);
    const notStored = locked ? new NotStoredError(`database locked by another connection: ${error.message}`, 'store-unavailable') : new NotStoredError(`store failed: ${error.message}`, 'store-failed');
    const failing = batch.concat(this.queue);
    this.queue = [];
    this.answerable = 0;
    this.batch = new FrameBatch();
    this.windows = new Map();
    // Only the windows of keys these frames accepted moved in memory: read those again.
    this.store.replay.forget(new Set(failing.filter((p) => p.acceptedKey !== undefined).map((p) => p.acceptedKey!.slice(0, p.acceptedKey!.lastIndexOf('/')))));
    this.accepted.clear();
    for (const p of failing) {
      if (p.acceptedKey !== undefined) this.settleAccepted(p, notStored);
      // Locked by another connection: frames nobody awaits are held and verified again later.
      if (locked && p.resolve === undefined) {
        this.metrics.inFlight--;
        if (!this.hold(p.frame, { ...p.options, receivedAt: p.receivedAt }, p.reject)) p.reject(new NotStoredError(`database locked by another connection, and ${this.maxHeld} frames already held: ${error.message}`, 'store-unavailable'));
        continue;
      }
      this.fail(p, notStored);
    }
  }

  /** Holds an unanswered frame while writes are refused; false when the hold is full. */
  private hold(frame: Uint8Array, options: IngestOptions, failed: (error: NotStoredError) => void): boolean {
    if (this.held.length >= this.maxHeld || this.closed) return false;
    this.held.push({ frame, options, failed });
    this.metrics.held = this.held.length;
    return true;
  }

  /** Writes go through again: the probe stops, and the frames held are submitted in arrival order. */
  private resumeWrites(): void {
    this.unavailable = undefined;
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    const held = this.held;
    this.held = [];
    this.metrics.held = 0;
    for (const h of held) {
      try {
        this.submit(h.frame, h.options, h.failed);
      } catch (error) {
        h.failed(new NotStoredError(`internal: ${(error as Error).message}`, 'store-failed'));
      }
    }
  }

  private fail(p: Pending, error: NotStoredError): void {
    this.metrics.inFlight--;
    p.reject(error);
  }

  private notifyIdle(): void {
    if (this.metrics.inFlight > 0 || this.held.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every frame received so far is stored (or failed). */
  drain(): Promise<void> {
    // Frames held while the database is locked count: drain waits for the lock's release (close does not).
    if (this.metrics.inFlight === 0 && this.held.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Whether writes go through: `{ writable: false }` while another connection holds the write
   * lock (since when, and SQLite's message). Answers from memory: never touches the database.
   */
  writeState(): { writable: true } | { writable: false; since: number; detail: string; held: number } {
    return this.unavailable === undefined ? { writable: true } : { writable: false, ...this.unavailable, held: this.held.length };
  }

  /** Refuses new frames until a probe gets the write lock. */
  private refuseWrites(detail: string): void {
    if (this.unavailable === undefined) this.unavailable = { since: Date.now(), detail };
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = setInterval(() => {
      if (this.unavailable === undefined || this.committing || this.probeWrite()) this.resumeWrites();
    }, this.lockProbeMs); // not unref'd: frames may be held until it finds the lock free
  }

  /** Takes and releases the write lock without waiting for it: true when it was free. */
  private probeWrite(): boolean {
    const refused = this.store.probeWrite();
    if (refused === undefined) return true;
    this.unavailable = { since: this.unavailable?.since ?? Date.now(), detail: refused };
    return false;
  }

  /** Refuses new frames and stores those in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    // Still locked at close: the frames held cannot be stored (counted by their transports).
    const held = this.held;
    this.held = [];
    this.metrics.held = 0;
    for (const h of held) h.failed(new NotStoredError('the gateway closed while the database was locked by another connection', 'closed'));
    this.notifyIdle();
    await this.drain();
  }
}
