const BRAND = Symbol.for('@daemoneye/failover.error');

/** Every code a {@link FailoverError} can carry; unique across the `@daemoneye/*` family. */
export const FAILOVER_ERROR_CODES = [
  'ERR_FAILOVER_UNKNOWN_COLLECTOR',
  'ERR_FAILOVER_DUPLICATE_COLLECTOR',
  'ERR_FAILOVER_UNKNOWN_TASK',
  'ERR_FAILOVER_DUPLICATE_TASK',
  'ERR_TOO_MANY_PENDING_TASKS',
  'ERR_FAILOVER_CLOSED',
  'ERR_FAILOVER_ABORTED',
  'ERR_FAILOVER_START_TIMEOUT',
  'ERR_FAILOVER_SPAWN_FAILED',
  'ERR_FAILOVER_SET_PRIORITY_FAILED',
  'ERR_FAILOVER_SAMPLE_FAILED',
  'ERR_FAILOVER_CALLBACK_FAILED',
] as const;

/** Stable error codes of this package; callers match on these, never on message text. */
export type FailoverErrorCode = (typeof FAILOVER_ERROR_CODES)[number];

/** Base class of every error this package throws, rejects with or carries in an event. */
export class FailoverError<C extends FailoverErrorCode = FailoverErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FailoverError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True when `error` is a {@link FailoverError} (from any loaded copy of this package), optionally
 * with the given code; narrows the code.
 */
export function isFailoverError<C extends FailoverErrorCode>(
  error: unknown,
  code?: C,
): error is FailoverError<C> {
  if (typeof error !== 'object' || error === null) return false;
  if (!(BRAND in error) || error[BRAND] !== true) return false;
  return code === undefined || ('code' in error && error.code === code);
}
