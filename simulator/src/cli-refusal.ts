/**
 * How every `sceau-sim` command ends when it cannot do what it was asked: one line
 * `sceau-sim: <message> [<code>]` on stderr (and at most a hint), with `--json` the object
 * `{"error": "<code>", "detail"}` on stdout, and an exit status of the one table of the sceau
 * command-line family (host-tools/src/exit-codes.ts: 2 usage, 3 I/O). Never a stack trace, save
 * for an internal error (exit 4). Codes: docs/simulator.md ("Exit status" under "Summary" for `run`,
 * #lorawan-errors for `lorawan` and `lns`).
 */
import { EXIT, SceauError, cliFailureOf, type ExitCode } from '@sceau/host-tools';

export interface RefusalIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** A refusal with a code for scripts; the message names the option or the file. */
export function usageRefusal(message: string, code: string): SceauError {
  return new SceauError(message, EXIT.usage, code);
}

/** A refusal the system caused (a file, a socket), with a code for scripts. */
export function ioRefusal(message: string, code: string): SceauError {
  return new SceauError(message, EXIT.io, code);
}

/**
 * The value `read()` returns; a `RangeError` or `TypeError` it throws (the library's "not a
 * duration", "not a link profile") becomes a usage refusal with `code`, its message prefixed
 * with `option` when it does not name it.
 */
export function optionValue<T>(code: string, read: () => T, option?: string): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof SceauError) throw e;
    // the message names the option the user gave (`link profile: unknown "x"` -> `--link: link profile: ...`)
    if (e instanceof RangeError || e instanceof TypeError) throw usageRefusal(option === undefined || e.message.startsWith(option) ? e.message : `${option}: ${e.message}`, code);
    throw e;
  }
}

export interface Refusal {
  exit: ExitCode;
  code: string;
  message: string;
}

/**
 * The refusal of an error the layers below typed: a `SceauError` with its code and exit status,
 * host-tools' argument and listen errors, node:util parseArgs' errors (an unknown option, a
 * missing value: `bad-option`). `undefined` for anything else (an internal error, or a system
 * error the caller classifies).
 */
export function refusalOf(e: unknown): Refusal | undefined {
  const failure = cliFailureOf(e);
  if (failure !== undefined) return { exit: failure.exit, code: failure.body.error, message: failure.body.detail };
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return { exit: EXIT.usage, code: 'bad-option', message: (e as Error).message };
  return undefined;
}

/** Prints the refusal (the one line, the hint, the --json object); returns its exit status. */
export function refuse(io: RefusalIo, json: boolean, r: Refusal, hint?: string): ExitCode {
  const message = r.message.replace(/\s*\n\s*/g, ' '); // one line (parseArgs' messages have several)
  if (json) io.stdout(`${JSON.stringify({ error: r.code, detail: message })}\n`);
  io.stderr(`sceau-sim: ${message} [${r.code}]\n${hint === undefined || r.exit !== EXIT.usage ? '' : `${hint}\n`}`);
  return r.exit;
}

/** An error nobody typed: exit 4 with the stack, so that it can be reported (and, with --json, `{"error": "internal"}`). */
export function internalError(io: RefusalIo, json: boolean, e: unknown): ExitCode {
  if (json) io.stdout(`${JSON.stringify({ error: 'internal', detail: (e as Error).message ?? String(e) })}\n`);
  io.stderr(`sceau-sim: internal error: ${(e as Error).stack ?? String(e)}\n`);
  return EXIT.internal;
}
