/** Stable codes carried by {@link BalancerError}. Callers match on these, never on messages. */
export type BalancerErrorCode = 'ERR_NO_COLLECTOR_AVAILABLE' | 'ERR_UNKNOWN_COLLECTOR';

/** The one error class thrown by `@daemoneye/balancer`, with a stable {@link BalancerErrorCode}. */
export class BalancerError extends Error {
  readonly code: BalancerErrorCode;
  constructor(code: BalancerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BalancerError';
    this.code = code;
  }
}

/** True when `error` is a {@link BalancerError}, optionally with the given code. */
export function isBalancerError(error: unknown, code?: BalancerErrorCode): error is BalancerError {
  return error instanceof BalancerError && (code === undefined || error.code === code);
}
