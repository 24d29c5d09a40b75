const BRAND: unique symbol = Symbol.for('@daemoneye/balancer.error');

/** Every code a {@link BalancerError} can carry. Callers match on these, never on messages. */
export const BALANCER_ERROR_CODES = Object.freeze([
  'ERR_NO_COLLECTOR_AVAILABLE',
  'ERR_BALANCER_UNKNOWN_COLLECTOR',
  'ERR_BALANCER_CALLBACK_FAILED',
] as const);

/** Stable codes carried by {@link BalancerError}. */
export type BalancerErrorCode = (typeof BALANCER_ERROR_CODES)[number];

/** The one error class of `@daemoneye/balancer`, with a stable {@link BalancerErrorCode}. */
export class BalancerError<C extends BalancerErrorCode = BalancerErrorCode> extends Error {
  readonly code: C;
  /** Brand read by {@link isBalancerError}: works across two loaded copies of the package. */
  readonly [BRAND] = true;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BalancerError';
    this.code = code;
  }
}

/**
 * True when `error` is a {@link BalancerError} (from any copy of this package), with `code` when one
 * is given; narrows to that code.
 */
export function isBalancerError<C extends BalancerErrorCode = BalancerErrorCode>(
  error: unknown,
  code?: C,
): error is BalancerError<C> {
  if (typeof error !== 'object' || error === null || !(BRAND in error) || error[BRAND] !== true) {
    return false;
  }
  return code === undefined || ('code' in error && error.code === code);
}
