const BRAND = Symbol.for('@daemoneye/aggregator.error');

/** Every code an {@link AggregatorError} can carry, unique across the `@daemoneye/*` family. */
export const AGGREGATOR_ERROR_CODES = [
  'ERR_DUPLICATE_CORRELATION',
  'ERR_TOO_MANY_PENDING_SETS',
  'ERR_AGGREGATOR_CLOSED',
  'ERR_AGGREGATOR_INVALID_ARGUMENT',
  'ERR_AGGREGATOR_CALLBACK_FAILED',
] as const;

/** Stable codes carried by {@link AggregatorError}; callers match on these, never on messages. */
export type AggregatorErrorCode = (typeof AGGREGATOR_ERROR_CODES)[number];

/** The one error class of `@daemoneye/aggregator`; `code` is stable, `cause` is kept. */
export class AggregatorError<C extends AggregatorErrorCode = AggregatorErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AggregatorError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

const CODES: ReadonlySet<string> = new Set(AGGREGATOR_ERROR_CODES);

/**
 * True when `error` is an {@link AggregatorError} (from any copy of this package: the check is the
 * `Symbol.for` brand, not `instanceof`), and, when `code` is given, carries that code.
 */
export function isAggregatorError<C extends AggregatorErrorCode = AggregatorErrorCode>(
  error: unknown,
  code?: C,
): error is AggregatorError<C> {
  if (typeof error !== 'object' || error === null || !(BRAND in error) || !('code' in error)) {
    return false;
  }
  const actual = error.code;
  if (typeof actual !== 'string' || !CODES.has(actual)) return false;
  return code === undefined || actual === code;
}
