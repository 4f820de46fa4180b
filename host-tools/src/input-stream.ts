/**
 * The CLI's input as a stream: a file, a device, a pipe or stdin, read as it arrives and never
 * held whole unless the format is one whole document, and then up to a bound.
 *
 * - Line-based input (hex, base64, NDJSON, firmware console lines, simulator captures) is split
 *   into lines as bytes arrive, each line handled at once: piping an MQTT client or a serial
 *   console into `sceau frame verify -` gives one result per line as it comes. A line longer
 *   than MAX_LINE_BYTES is reported and skipped, not buffered.
 * - A whole document (one raw frame under `bin`, a JSON array of uplinks, a pretty-printed
 *   uplink) is read up to its bound (MAX_BIN_BYTES, MAX_DOCUMENT_BYTES) and refused above it
 *   with code `input-too-large`, without reading the rest.
 *
 * stdin is read as a stream (`process.stdin`), never with readFileSync(0), which fails with
 * EAGAIN on a non-blocking pipe and when the producer is slower than the reader.
 */
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { describeError, ioError, usageError } from './errors.js';
import { decodeText, isObject, parseChirpstackUplink, parseFrameObject, parseTtsUplink, type InputFormat } from './formats.js';

/** Largest line of line-based input (a The Things Stack uplink is a few KB). */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Largest raw binary input (`--format bin`, or binary input under auto): one frame or one CBOR item. */
export const MAX_BIN_BYTES = 64 * 1024;
/** Largest whole JSON document (an array of uplinks, a pretty-printed uplink). */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
/** Largest datagram rebuilt from console continuation lines (hex characters). */
export const MAX_CONSOLE_HEX = 2 * 8192;

/** Input formats of the CLI: those of formats.ts, and the firmware's console lines. */
export const CLI_INPUT_FORMATS = ['auto', 'hex', 'base64', 'bin', 'tts', 'chirpstack', 'ndjson', 'console'] as const;
export type CliInputFormat = InputFormat | 'console';

/** What one piece of input gave. */
export type InputEvent =
  | {
      kind: 'datagram';
      bytes: Uint8Array;
      where: string;
      /** Transport identity (`deveui:…`) from a network-server uplink or a frame object. */
      deviceId?: string;
      /** The sender's kid as recorded beside the datagram (simulator capture `kid`). */
      senderKid?: string;
      /** The simulator's label of an injected datagram (capture `attack`), null for genuine. */
      attack?: string | null;
      receivedAt?: number;
      /** From a firmware console line: which tag printed it (`sceau-frame` or `sceau-fragment`). */
      console?: 'frame' | 'fragment';
    }
  | { kind: 'unreadable'; error: string; where: string }
  /** A line that holds no frame and is not meant to (boot messages of a serial log). */
  | { kind: 'ignored'; where: string }
  /** Something to tell the user on stderr (a firmware `sceau-error` line). */
  | { kind: 'note'; text: string; where: string };

export interface OpenedInput {
  stream: Readable;
  name: string;
}

/** Opens FILE, or stdin for `-` or no file. Usage error when stdin is a terminal. */
export function openInput(file: string | undefined): OpenedInput {
  if (file === undefined || file === '-') {
    if (process.stdin.isTTY) throw usageError('no input: give a FILE, or pipe frames on stdin', 'no-input');
    return { stream: process.stdin, name: 'stdin' };
  }
  try {
    if (statSync(file).isDirectory()) throw usageError(`${file} is a directory; give an input file`, 'input-is-directory');
  } catch (error) {
    if (error instanceof Error && error.name === 'SceauError') throw error;
    throw ioError(`cannot read ${file}: ${describeError(error)}`, 'input-unreadable');
  }
  return { stream: createReadStream(file, { highWaterMark: 64 * 1024 }), name: file };
}

/** Chunks of a stream as Uint8Array, with read errors as I/O errors. */
async function* chunksOf(stream: Readable, name: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
  } catch (error) {
    throw ioError(`cannot read ${name}: ${describeError(error)}`, 'input-unreadable');
  }
}

/** Lines of a byte stream, as they complete; an overlong line is given as `{ overlong }` and skipped. */
async function* linesOf(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<{ line: string; n: number } | { overlong: number; n: number }> {
  let parts: Buffer[] = [];
  let size = 0;
  let overlong = false;
  let n = 0;
  for await (const chunk of chunks) {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (;;) {
      const nl = buf.indexOf(0x0a);
      const piece = nl < 0 ? buf : buf.subarray(0, nl);
      if (!overlong) {
        if (size + piece.length > MAX_LINE_BYTES) {
          overlong = true;
          parts = [];
        } else {
          parts.push(Buffer.from(piece));
          size += piece.length;
        }
      }
      if (nl < 0) break;
      n++;
      if (overlong) yield { overlong: MAX_LINE_BYTES, n };
      else yield { line: Buffer.concat(parts).toString('utf8').replace(/\r$/, ''), n };
      parts = [];
      size = 0;
      overlong = false;
      buf = buf.subarray(nl + 1);
    }
  }
  if (overlong) yield { overlong: MAX_LINE_BYTES, n: n + 1 };
  else if (size > 0) yield { line: Buffer.concat(parts).toString('utf8').replace(/\r$/, ''), n: n + 1 };
}

/** Reads a whole stream up to `max` bytes; refuses more (without reading on). */
async function readBounded(first: Uint8Array[], rest: AsyncIterator<Uint8Array>, max: number, name: string, what: string): Promise<Buffer> {
  const parts = [...first];
  let size = parts.reduce((a, p) => a + p.length, 0);
  for (;;) {
    if (size > max) throw usageError(`${name}: ${what} larger than ${max} bytes; refusing to read on`, 'input-too-large');
    const next = await rest.next();
    if (next.done) break;
    parts.push(next.value);
    size += next.value.length;
  }
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** A firmware console datagram line, possibly after a timestamp or tag (firmware/README.md "Console lines"). */
const CONSOLE_RE = /(?:^|[\s\]>:|])sceau-(frame|fragment)(\+?) ([0-9a-fA-F]*)\s*$/;
const ANSI_RE = /\x1b\[[0-9;?]*[ -\/]*[@-~]/g;
const CONSOLE_ERROR_RE = /(?:^|[\s\]>:|])sceau-error (.*)$/;

/** Whether bytes look like text (UTF-8 without control characters other than tab, CR, LF, ESC). */
function looksLikeText(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x1b) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.length > 4096 ? bytes.subarray(0, 4096) : bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** A message that may quote the input (JSON.parse does), with control characters shown as escapes, cut to 200 characters. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return clean.length > 200 ? `${clean.slice(0, 200)}...` : clean;
}

type Parsed = ReturnType<typeof parseFrameObject>;

/** A datagram event from a parsed JSON value (uplink, frame object or capture record). */
function fromJsonValue(value: unknown, where: string, format: CliInputFormat): InputEvent | undefined {
  let parsed: Parsed;
  if (format === 'tts') parsed = parseTtsUplink(value);
  else if (format === 'chirpstack') parsed = parseChirpstackUplink(value);
  else parsed = parseFrameObject(value);
  if ('ignored' in parsed) return { kind: 'ignored', where };
  if (!parsed.ok) return { kind: 'unreadable', error: parsed.error, where };
  const event: InputEvent = { kind: 'datagram', bytes: parsed.frame, where };
  if (parsed.deviceId !== undefined) event.deviceId = parsed.deviceId;
  if (parsed.receivedAt !== undefined) event.receivedAt = parsed.receivedAt;
  // A simulator capture record: {t, kid, datagram, attack}.
  if (isObject(value) && typeof value.datagram === 'string') {
    if (typeof value.kid === 'string' && /^[0-9a-fA-F]{16}$/.test(value.kid)) event.senderKid = value.kid.toLowerCase();
    if ('attack' in value) event.attack = typeof value.attack === 'string' ? value.attack : null;
  }
  return event;
}

function parseJsonLine(line: string, where: string, format: CliInputFormat): InputEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { kind: 'unreadable', error: `malformed JSON: ${printable((error as Error).message)}`, where };
  }
  return fromJsonValue(value, where, format);
}

/** The events of a whole JSON document: one value, or an array of them. */
function documentEvents(text: string, name: string, format: CliInputFormat): InputEvent[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return [{ kind: 'unreadable', error: `malformed JSON: ${printable((error as Error).message)}`, where: name }];
  }
  const values = Array.isArray(value) ? value : [value];
  const out: InputEvent[] = [];
  values.forEach((v, i) => {
    const event = fromJsonValue(v, Array.isArray(value) ? `${name}[${i}]` : name, format);
    if (event !== undefined) out.push(event);
  });
  return out;
}

/**
 * The datagrams of an input, as they arrive. `auto` looks at the first bytes: a raw frame
 * (0xd2) or other binary data is one datagram; `[` or a JSON document spread over several lines
 * is read whole; anything else is read line by line, each line taken as what it looks like:
 * a console line, a JSON object, hex, base64. Under auto, other text lines (a serial log's boot
 * messages) are ignored and counted; under an explicit line format they are unreadable.
 */
export async function* readDatagrams(input: OpenedInput, format: CliInputFormat): AsyncGenerator<InputEvent> {
  const { name } = input;
  const iterator = chunksOf(input.stream, name)[Symbol.asyncIterator]();
  // The first non-empty chunk decides under auto.
  const head: Uint8Array[] = [];
  let first: Uint8Array | undefined;
  while (first === undefined) {
    const next = await iterator.next();
    if (next.done) break;
    if (next.value.length === 0) continue;
    head.push(next.value);
    first = next.value;
  }
  if (first === undefined) {
    if (format === 'bin') yield { kind: 'unreadable', error: 'empty input', where: name };
    return;
  }
  let chosen: CliInputFormat = format;
  const lead = first.findIndex((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
  const leadByte = lead < 0 ? undefined : first[lead];
  if (format === 'auto') {
    if (first[0] === 0xd2 || !looksLikeText(first)) chosen = 'bin';
  }
  if ((format === 'tts' || format === 'chirpstack' || format === 'ndjson') && !looksLikeText(first)) {
    throw usageError(`${name}: binary input, not JSON${format === 'chirpstack' ? ": a ChirpStack integration with Protobuf encoding? set the integration's encoding to JSON" : ''}`, 'input-not-json');
  }
  if (chosen === 'bin') {
    const data = await readBounded(head, iterator, MAX_BIN_BYTES, name, format === 'bin' ? '--format bin takes one raw frame; the input is' : 'binary input (one raw frame) is');
    yield { kind: 'datagram', bytes: new Uint8Array(data), where: name };
    return;
  }
  // A whole JSON document: an array, or a value spread over lines (its first line is not JSON by itself).
  const jsonish = format === 'auto' || format === 'tts' || format === 'chirpstack';
  if (jsonish && (leadByte === 0x5b || leadByte === 0x7b)) {
    let whole = leadByte === 0x5b;
    if (!whole) {
      // Peek the first line (reading on until it is complete): NDJSON when it is a JSON value by itself.
      let headBytes = head.reduce((a, h) => a + h.length, 0);
      while (!head.some((h) => h.includes(0x0a)) && headBytes <= MAX_LINE_BYTES) {
        const next = await iterator.next();
        if (next.done) break;
        head.push(next.value);
        headBytes += next.value.length;
      }
      const text = Buffer.concat(head.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength))).toString('utf8');
      const nl = text.indexOf('\n', lead);
      if (nl >= 0) {
        try {
          JSON.parse(text.slice(lead, nl));
        } catch {
          whole = true;
        }
      } else whole = true; // one line without newline (or a first line over the bound): one document
    }
    if (whole) {
      const data = await readBounded(head, iterator, MAX_DOCUMENT_BYTES, name, 'a JSON document');
      yield* documentEvents(data.toString('utf8'), name, format === 'auto' ? 'ndjson' : format);
      return;
    }
  }
  const rest: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => {
      let i = 0;
      return { next: async () => (i < head.length ? { done: false, value: head[i++]! } : iterator.next()) };
    },
  };
  yield* lineEvents(linesOf(rest), name, chosen);
}

async function* lineEvents(lines: AsyncIterable<{ line: string; n: number } | { overlong: number; n: number }>, name: string, format: CliInputFormat): AsyncGenerator<InputEvent> {
  // Console continuation lines accumulate until the final line of the same kind.
  let pending: { kind: string; hex: string } | undefined;
  for await (const l of lines) {
    const where = `${name}:${l.n}`;
    if ('overlong' in l) {
      yield { kind: 'unreadable', error: `line longer than ${l.overlong} bytes, skipped`, where };
      continue;
    }
    // Serial terminals and loggers may colour their lines: the escape codes are not content.
    const line = (l.line.includes('\x1b') ? l.line.replace(ANSI_RE, '') : l.line).trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    if (format === 'auto' || format === 'console') {
      const c = CONSOLE_RE.exec(line);
      if (c !== null) {
        const [, kind, more, hex] = c as unknown as [string, string, string, string];
        if (pending !== undefined && pending.kind !== kind) {
          yield { kind: 'unreadable', error: `sceau-${kind} line after sceau-${pending.kind}+ continuation lines: the datagram before it is incomplete`, where };
          pending = undefined;
        }
        const acc = (pending?.hex ?? '') + hex;
        if (acc.length > MAX_CONSOLE_HEX) {
          yield { kind: 'unreadable', error: `console datagram longer than ${MAX_CONSOLE_HEX / 2} bytes, skipped`, where };
          pending = undefined;
          continue;
        }
        if (more === '+') {
          pending = { kind, hex: acc };
          continue;
        }
        pending = undefined;
        if (!HEX_RE.test(acc)) yield { kind: 'unreadable', error: `sceau-${kind}: not an even number of hex digits`, where };
        else yield { kind: 'datagram', bytes: new Uint8Array(Buffer.from(acc, 'hex')), where, console: kind as 'frame' | 'fragment' };
        continue;
      }
      const e = CONSOLE_ERROR_RE.exec(line);
      if (e !== null) {
        yield { kind: 'note', text: `firmware error: ${e[1]}`, where };
        continue;
      }
      if (format === 'console') {
        yield { kind: 'ignored', where };
        continue;
      }
    }
    if (format === 'auto') {
      if (line.startsWith('{')) {
        const event = parseJsonLine(line, where, 'ndjson');
        if (event !== undefined) yield event;
        continue;
      }
      // Hex, or base64 long enough not to be a word of a log line ("boot" is valid base64).
      const bytes = HEX_RE.test(line) || (line.length >= 12 && BASE64_RE.test(line)) ? decodeText(line) : undefined;
      if (bytes !== undefined) yield { kind: 'datagram', bytes, where };
      else yield { kind: 'ignored', where };
      continue;
    }
    if (format === 'ndjson' || format === 'tts' || format === 'chirpstack') {
      const event = parseJsonLine(line, where, format);
      if (event !== undefined) yield event;
      continue;
    }
    const bytes = decodeText(line, format === 'hex' ? 'hex' : 'base64');
    if (bytes === undefined) yield { kind: 'unreadable', error: `not ${format}`, where };
    else yield { kind: 'datagram', bytes, where };
  }
  if (pending !== undefined) yield { kind: 'unreadable', error: `input ended after sceau-${pending.kind}+ continuation lines without their final sceau-${pending.kind} line`, where: `${name}:end` };
}
