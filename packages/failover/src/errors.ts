/** Stable error codes of this package; callers match on these, never on message text. */
export type FailoverErrorCode =
  | 'ERR_UNKNOWN_COLLECTOR'
  | 'ERR_DUPLICATE_COLLECTOR'
  | 'ERR_UNKNOWN_TASK'
  | 'ERR_DUPLICATE_TASK'
  | 'ERR_TOO_MANY_PENDING_TASKS'
  | 'ERR_SUPERVISOR_CLOSED'
  | 'ERR_MANAGER_CLOSED'
  | 'ERR_START_TIMEOUT'
  | 'ERR_SPAWN_FAILED';

/** Base class of every error this package throws or rejects with. */
export class FailoverError extends Error {
  readonly code: FailoverErrorCode;
  constructor(code: FailoverErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FailoverError';
    this.code = code;
  }
}

/** True when `error` is a {@link FailoverError}, optionally with the given code. */
export function isFailoverError(error: unknown, code?: FailoverErrorCode): error is FailoverError {
  return error instanceof FailoverError && (code === undefined || error.code === code);
}
