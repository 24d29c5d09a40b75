/** Stable codes carried by {@link AggregatorError}; callers match on these, never on messages. */
export type AggregatorErrorCode =
  | 'ERR_DUPLICATE_CORRELATION'
  | 'ERR_TOO_MANY_PENDING'
  | 'ERR_CLOSED'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_CALLBACK_FAILED';

/** The one error class of `@daemoneye/aggregator`; `code` is stable, `cause` is kept. */
export class AggregatorError extends Error {
  readonly code: AggregatorErrorCode;
  constructor(code: AggregatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AggregatorError';
    this.code = code;
  }
}
