/**
 * The CLI edge's one mapping from the typed errors of the layers below to exit statuses and the
 * error line (docs/architecture.md#errors): the stores, the registry and the argument parsers
 * raise errors with a stable code and no exit code; only `sceau` turns them into one.
 */
import { ArgumentError } from './argument-errors.js';
import { RegistryError, registryRefusalKind } from './device-registry.js';
import { EXIT, SceauError, type ExitCode } from './errors.js';
import { StoreError } from './store-errors.js';

/** How the CLI ends on `error`: its exit status and the line for stderr; `undefined` for an error no layer typed (an internal error). */
export function cliFailureOf(error: unknown): { exit: ExitCode; line: string } | undefined {
  if (error instanceof SceauError) {
    return { exit: error.exitCode, line: `sceau: ${error.message}${error.code === undefined || error.message.startsWith(`${error.code}: `) ? '' : ` [${error.code}]`}` };
  }
  // A registry refusal's message starts with its code; a conflict with the registry's state is exit 3, a wrong request exit 2.
  if (error instanceof RegistryError) return { exit: registryRefusalKind(error) === 'conflict' ? EXIT.io : EXIT.usage, line: `sceau: ${error.message}` };
  // The store's typed errors are I/O to the CLI, but a location no backend opens is a usage error.
  if (error instanceof StoreError) return { exit: error.code === 'store-backend-unknown' ? EXIT.usage : EXIT.io, line: `sceau: ${error.message} [${error.code}]` };
  // An address or a time the user gave that does not parse: a usage error, the message names the option.
  if (error instanceof ArgumentError) return { exit: EXIT.usage, line: `sceau: ${error.message}` };
  return undefined;
}
