/**
 * The CLI edge's one mapping from the typed errors of the layers below to exit statuses and the
 * error line (docs/architecture.md#errors): the stores, the registry and the argument parsers
 * raise errors with a stable code and no exit code; only `sceau` turns them into one.
 */
import { ArgumentError } from './argument-errors.js';
import { RegistryError, registryErrorBody, registryRefusalKind } from './device-registry.js';
import { ListenError } from './endpoint.js';
import { EXIT, SceauError, type ExitCode } from './errors.js';
import { StoreError } from './store-errors.js';

/** The JSON line a command run with `--json` prints on stdout when it fails (docs/integrators.md#cli-errors). */
export interface CliErrorBody {
  /** The error's code; `usage` or `io` (the exit status's name) for an error that has none. */
  error: string;
  detail: string;
  differences?: unknown[];
}

export interface CliFailure {
  exit: ExitCode;
  /** The one line for stderr: `sceau: <message> [<code>]`. */
  line: string;
  body: CliErrorBody;
}

/** How the CLI ends on `error`: its exit status, the line for stderr and the `--json` body; `undefined` for an error no layer typed (an internal error). */
export function cliFailureOf(error: unknown): CliFailure | undefined {
  if (error instanceof SceauError) {
    const fallback = error.exitCode === EXIT.usage ? 'usage' : error.exitCode === EXIT.io ? 'io' : 'failed';
    return failure(error.exitCode, error.code ?? fallback, error.message, error.code !== undefined);
  }
  // A registry refusal's message starts with its code; a conflict with the registry's state is exit 3, a wrong request exit 2.
  if (error instanceof RegistryError) return { exit: registryRefusalKind(error) === 'conflict' ? EXIT.io : EXIT.usage, line: `sceau: ${error.message}`, body: registryErrorBody(error) };
  // The store's typed errors are I/O to the CLI, but a location no backend opens is a usage error.
  if (error instanceof StoreError) return failure(error.code === 'store-backend-unknown' ? EXIT.usage : EXIT.io, error.code, error.message);
  // An address or a time the user gave that does not parse: a usage error, the message names the option.
  if (error instanceof ArgumentError) return failure(EXIT.usage, error.code, error.message);
  // An address the system would not listen on (in use, not on this machine): I/O.
  if (error instanceof ListenError) return failure(EXIT.io, error.code, error.message);
  return undefined;
}

function failure(exit: ExitCode, code: string, message: string, printCode = true): CliFailure {
  const detail = message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
  return { exit, line: `sceau: ${message}${!printCode || message.startsWith(`${code}: `) ? '' : ` [${code}]`}`, body: { error: code, detail } };
}
