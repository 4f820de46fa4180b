import { EXIT, type ExitCode } from './exit-codes.js';

export { EXIT, type ExitCode } from './exit-codes.js';

/**
 * An error meant for the user: its message is printed as is (no stack) and the process exits
 * with `exitCode`. Anything else that escapes is an internal error (exit 4).
 */
export class SceauError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.usage,
    /** A stable name for scripts (`key-is-public`, `database-missing`, ...), printed after the message. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SceauError';
  }
}

export function usageError(message: string, code?: string): SceauError {
  return new SceauError(message, EXIT.usage, code);
}

export function ioError(message: string, code?: string): SceauError {
  return new SceauError(message, EXIT.io, code);
}

/** A short message for an unknown thrown value (Node system errors keep their code). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
