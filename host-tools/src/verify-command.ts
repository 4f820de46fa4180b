/**
 * `sceau frame verify` and `sceau frame inspect` over a streamed input (input-stream.ts): one
 * result per frame as soon as its line arrives, fragments reassembled per sender
 * (capture-reader.ts), and a summary at the end: on stderr in text mode, as a final
 * `{"summary": {...}}` line with --json.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  cborDiagnostic,
  kidOf,
  MemoryKeyring,
  toHex,
  ReplayWindows,
  verifyFrame,
  type ChannelRegistry,
  type Keyring,
} from '@sceau/protocol';
import { captureDeviceId, FrameAssembler, VerifySummary, type AssembledFrame } from './capture-reader.js';
import { coseKind, decodeCborSequence, generalDiagnostic } from './cbor-general.js';
import { describeError, EXIT, ioError, usageError } from './errors.js';
import { readDatagrams, type CliInputFormat, type InputEvent, type OpenedInput } from './input-stream.js';
import { Ingestor, NotStoredError } from './ingest.js';
import { keyFileKind, parsePublicKey } from './key-files.js';
import type { ContentKeys } from './content-key-wrap.js';
import { describeOpened } from './encrypted-outcome.js';
import { formatOutcomeLine, type FrameOutcome } from './outcome.js';
import type { IngestStore } from './store-interface.js';

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** A keyring from a directory of `<kid>.pub` files (or one public key file); each key also answers to `kid:<kid>` (captures). */
export function keyringFromPath(path: string): MemoryKeyring {
  const keyring = new MemoryKeyring();
  let files: string[];
  try {
    files = statSync(path).isDirectory() ? readdirSync(path).filter((f) => f.endsWith('.pub')).sort().map((f) => join(path, f)) : [path];
  } catch (error) {
    throw ioError(`--keys ${path}: ${describeError(error)}`, 'keys-unreadable');
  }
  if (files.length === 0) throw usageError(`--keys ${path}: no .pub files`, 'keys-empty');
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw ioError(`--keys ${file}: ${describeError(error)}`, 'keys-unreadable');
    }
    // A PKCS#8 PEM would yield its public key, but a secret key has no business here: say so.
    if (keyFileKind(text, file) === 'secret-pem') throw usageError(`--keys ${file} is a secret key; give the public key (${file.replace(/\.key$/, '.pub')}) or a directory of .pub files`, 'key-is-secret');
    const publicKey = parsePublicKey(text, file);
    keyring.add(publicKey, { deviceIds: [captureDeviceId(toHex(kidOf(publicKey)))] });
  }
  return keyring;
}

export interface VerifyOptions {
  format: CliInputFormat;
  json: boolean;
  registry: ChannelRegistry;
  /** `deveui:…` for frames without kid when the input names no device. */
  fallbackDevice?: string | undefined;
  keyring?: Keyring;
  /** Opens record version 2 readings (--owner-key with --wrapped-keys); without it they stay null. */
  contentKeys?: ContentKeys;
  store?: IngestStore;
}

type Shown = FrameOutcome & { where: string; fragments?: number; attack?: string | null };

/**
 * Verifies every frame of the input; resolves with the exit code. Frames are verified and
 * printed in input order, each as soon as it is known (with --db, once stored: commits are
 * grouped, so a result follows its line within the ingestor's commit delay).
 */
export async function runVerify(io: CommandIo, input: OpenedInput, options: VerifyOptions): Promise<number> {
  const summary = new VerifySummary();
  const assembler = new FrameAssembler();
  const replay = new ReplayWindows();
  const ingestor = options.store === undefined ? undefined : new Ingestor(options.store, { channels: options.registry });
  const source = `cli:${input.name === 'stdin' ? 'stdin' : resolve(input.name)}`;
  // Results waiting for the store are printed from this chain, in input order; `queued` counts
  // what is on it, and a result known at once is printed directly only when nothing is queued.
  let printed: Promise<void> = Promise.resolve();
  let queued = 0;
  let failure: unknown;
  const enqueue = (print: () => void | Promise<void>): void => {
    queued++;
    printed = printed.then(print).finally(() => {
      queued--;
    });
    // A store failure while the input is idle ends the command at once, with its message (not an
    // unhandled rejection, nor a silent stop of the output until the input ends).
    printed.catch((error: unknown) => {
      if (failure === undefined) {
        failure = error;
        input.stream.destroy();
      }
    });
  };

  const show = (item: Shown): void => {
    summary.count(item.code, item);
    if (options.json) io.out(JSON.stringify(item));
    else io.out(formatOutcomeLine(item, item.where));
  };
  /** Input that is no frame, or a frame refused unstored (`key-erased`): a rejected line with its code. */
  const refused = (where: string, code: 'unreadable-input' | 'key-erased', detail: string): void => {
    summary.count(code);
    if (options.json) io.out(JSON.stringify({ where, ok: false, code, detail }));
    else io.out(`${where}: rejected ${code}: ${detail}`);
  };
  const unreadable = (where: string, detail: string): void => refused(where, 'unreadable-input', detail);
  const extra = (frame: AssembledFrame): { fragments?: number; attack?: string | null } => {
    const out: { fragments?: number; attack?: string | null } = {};
    if (frame.fragments > 1) out.fragments = frame.fragments;
    if (frame.attack !== undefined) out.attack = frame.attack;
    return out;
  };
  /** Output in input order: synchronous results wait for the stored ones before them. */
  const inOrder = (print: () => void): void => {
    if (queued === 0) print();
    else enqueue(print);
  };

  const handle = async (event: InputEvent): Promise<void> => {
    if (event.kind === 'ignored') {
      summary.ignoredLines++;
      return;
    }
    if (event.kind === 'note') {
      inOrder(() => io.err(`${event.where}: ${event.text}`));
      return;
    }
    if (event.kind === 'unreadable') {
      inOrder(() => unreadable(event.where, event.error));
      return;
    }
    const nowMs = event.receivedAt ?? Date.now();
    const r = assembler.push(event, nowMs);
    if (r.kind === 'invalid') {
      inOrder(() => unreadable(event.where, r.detail));
      return;
    }
    if (r.kind !== 'frame') return;
    const frame = r.frame;
    const deviceId = frame.deviceId ?? options.fallbackDevice;
    if (ingestor === undefined) {
      const now = Math.floor((frame.receivedAt ?? Date.now()) / 1000);
      const verified = verifyFrame(frame.frame, options.keyring!, { replay, now, recordVersions: [1, 2], ...(deviceId === undefined ? {} : { deviceId }) });
      const outcome = describeOpened(verified, options.registry, options.contentKeys, frame.where, now);
      inOrder(() => show({ where: frame.where, ...outcome, ...extra(frame) }));
      return;
    }
    const result = ingestor.ingest(frame.frame, { source, deviceId, receivedAt: frame.receivedAt });
    result.catch(() => undefined); // handled in order below
    enqueue(async () => {
      let stored;
      try {
        stored = await result;
      } catch (error) {
        if (error instanceof NotStoredError && error.reason === 'key-erased') return refused(frame.where, 'key-erased', error.message);
        if (error instanceof NotStoredError) throw ioError(`${frame.where}: not stored: ${error.message}`, 'store-failed');
        throw error;
      }
      // A frame already in the database with the same bytes is said so (`delivery: duplicate`), and not stored again.
      const { id: _id, receivedAt: _at, source: _source, delivery, ...outcome } = stored;
      if (outcome.encrypted === true && options.contentKeys !== undefined) {
        // Stored as the gateway stores it (encrypted); opened for this output only, with the owner's key.
        const now = Math.floor(Date.parse(stored.receivedAt) / 1000);
        const again = verifyFrame(frame.frame, options.store!, { now, recordVersions: [1, 2], ...(deviceId === undefined ? {} : { deviceId }) });
        outcome.readings = describeOpened(again, options.registry, options.contentKeys, frame.where, now).readings ?? null;
      }
      show({ where: frame.where, ...outcome, ...(delivery === 'duplicate' ? { delivery } : {}), ...extra(frame) });
    });
    // Bounded memory: at most this many frames wait for their commit.
    if (queued >= 1000) await printed;
  };

  try {
    for await (const event of readDatagrams(input, options.format)) {
      if (failure !== undefined) break;
      await handle(event);
    }
    await printed;
  } catch (error) {
    throw failure ?? error;
  } finally {
    if (ingestor !== undefined) await ingestor.close();
  }

  const stats = assembler.stats();
  const totals = summary.toJson(stats);
  if (totals.frames === 0 && summary.rejected === 0 && totals.incomplete === 0) {
    throw usageError(`${input.name}: no frames found (format ${options.format})${totals.ignoredLines > 0 ? `; ${totals.ignoredLines} lines without a frame` : ''}`, 'no-frames');
  }
  if (options.json) io.out(JSON.stringify({ summary: totals }));
  else io.err(summary.toText(stats));
  if (summary.isCapture) {
    // A labelled capture passes when no injected datagram was accepted and no genuine frame refused.
    const unreadableCount = totals.codes['unreadable-input'] ?? 0;
    return totals.attacksAccepted! > 0 || totals.genuineRejected! > 0 || unreadableCount > 0 ? EXIT.verificationFailed : EXIT.ok;
  }
  // Elsewhere a message that never completed is a frame that was not verified: not a pass.
  return summary.rejected > 0 || totals.incomplete > 0 ? EXIT.verificationFailed : EXIT.ok;
}

/** `frame inspect`: diagnostic notation and, for sceau frames, the decoded record; other CBOR and COSE through cbor-x. */
export async function runInspect(
  io: CommandIo,
  input: OpenedInput,
  options: { format: CliInputFormat; json: boolean; inspectFrame: (bytes: Uint8Array) => InspectInfo },
): Promise<number> {
  let bad = false;
  let count = 0;
  const assembler = new FrameAssembler();
  for await (const event of readDatagrams(input, options.format)) {
    if (event.kind === 'ignored') continue;
    if (event.kind === 'note') {
      io.err(`${event.where}: ${event.text}`);
      continue;
    }
    count++;
    if (event.kind === 'unreadable') {
      bad = true;
      if (options.json) io.out(JSON.stringify({ where: event.where, ok: false, code: 'unreadable-input', detail: event.error }));
      else io.out(`${event.where}: unreadable-input: ${event.error}`);
      continue;
    }
    // Fragments of sceau frames are put back together; anything else is inspected as it is.
    let bytes = event.bytes;
    let where = event.where;
    const isFragment = event.console === 'fragment' || (event.senderKid !== undefined && bytes.length > 0 && (bytes[0]! & 0x80) === 0);
    if (isFragment) {
      const r = assembler.push(event, event.receivedAt ?? Date.now());
      if (r.kind === 'frame') {
        bytes = r.frame.frame;
        where = `${r.frame.where} (${r.frame.fragments} fragments)`;
      } else if (r.kind === 'pending' || r.kind === 'duplicate') continue;
    }
    if (!printInspection(io, options, bytes, where)) bad = true;
  }
  if (count === 0) throw usageError(`${input.name}: no frames found`, 'no-frames');
  const pending = assembler.stats().pending;
  if (pending > 0) {
    bad = true;
    io.err(`${input.name}: ${pending} fragmented message${pending === 1 ? '' : 's'} incomplete at the end of the input`);
  }
  return bad ? EXIT.verificationFailed : EXIT.ok;
}

export interface InspectInfo {
  kid?: string;
  record?: unknown;
  recordError?: string;
  readings?: Array<{ name: string; value: number; unit: string; age?: number }>;
}

function printInspection(io: CommandIo, options: { json: boolean; inspectFrame: (bytes: Uint8Array) => InspectInfo }, bytes: Uint8Array, where: string): boolean {
  const strict = cborDiagnostic(bytes, { embedded: true });
  const info = options.inspectFrame(bytes);
  if (strict.ok && info.record !== undefined) {
    if (options.json) io.out(JSON.stringify({ where, bytes: bytes.length, diagnostic: strict.text, ...info }));
    else {
      io.out(`# ${where}: ${bytes.length} bytes${info.kid ? `, kid ${info.kid}` : ', no kid'}`);
      io.out(strict.text);
      io.out(`record: ${JSON.stringify(info.record)}`);
      for (const r of info.readings ?? []) io.out(`  ${r.name} = ${r.value}${r.unit ? ` ${r.unit}` : ''}${r.age ? ` (age ${r.age} s)` : ''}`);
    }
    return true;
  }
  // Not a sceau frame: general CBOR (cbor-x). The strict reader's verdict is kept beside it.
  const general = decodeCborSequence(bytes);
  const sceau = info.recordError ?? 'not a sceau frame';
  if (!general.ok) {
    const detail = strict.ok ? general.detail : strict.detail;
    if (options.json) io.out(JSON.stringify({ where, ok: false, code: 'malformed-cbor', detail, bytes: bytes.length, diagnostic: null, ...info }));
    else {
      io.out(`# ${where}: ${bytes.length} bytes`);
      io.out(`(not CBOR: malformed-cbor: ${detail})`);
    }
    return false;
  }
  const text = general.items.map((item) => generalDiagnostic(item)).join(', ');
  const cose = general.items.length === 1 ? coseKind(general.items[0]) : undefined;
  if (options.json) {
    const out: Record<string, unknown> = { where, bytes: bytes.length, diagnostic: text, sceau: false, sceauDetail: sceau, items: general.items.length };
    if (cose !== undefined) out.cose = cose;
    if (strict.ok) out.strictDiagnostic = strict.text;
    io.out(JSON.stringify(out));
  } else {
    io.out(`# ${where}: ${bytes.length} bytes, not a sceau frame (${sceau})${cose !== undefined ? `; ${cose}` : ''}${general.items.length > 1 ? `; a sequence of ${general.items.length} CBOR items` : ''}`);
    io.out(text);
  }
  return true;
}
