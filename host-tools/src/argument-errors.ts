/**
 * A value handed to a library function (a listening address, a time) that it cannot read: a
 * `RangeError` with a stable code and no exit code or HTTP status. The edges map it: the CLI to
 * exit 2 (usage), the HTTP API to 400 (docs/architecture.md#errors).
 */
export const ARGUMENT_ERROR_CODES = [
  /** Not `HOST:PORT`, `:PORT`, `PORT` or `[v6]:PORT` with a port in 0..65535 (endpoint.ts). */
  'bad-endpoint',
  /** Not Unix seconds, an ISO 8601 date or a duration such as `24h` (export.ts `parseTimeArg`). */
  'bad-time',
] as const;
export type ArgumentErrorCode = (typeof ARGUMENT_ERROR_CODES)[number];

export class ArgumentError extends RangeError {
  constructor(
    readonly code: ArgumentErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArgumentError';
  }
}
