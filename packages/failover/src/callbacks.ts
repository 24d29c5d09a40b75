import { FailoverError } from './errors.js';

/** Receives every error thrown by a listener, hook or handler the app gave this package. */
export type CallbackErrorHandler = (error: FailoverError<'ERR_FAILOVER_CALLBACK_FAILED'>) => void;

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * The one policy for callbacks that throw: the library has already finished its own work; the
 * error (code `ERR_FAILOVER_CALLBACK_FAILED`, `cause` = what was thrown) goes to `onCallbackError`,
 * or, without one, is re-thrown on a microtask (an uncaught exception, as a listener's would be).
 */
export function reportCallbackError(
  handler: CallbackErrorHandler | undefined,
  what: string,
  cause: unknown,
): void {
  const error = new FailoverError(
    'ERR_FAILOVER_CALLBACK_FAILED',
    `${what} threw: ${describe(cause)}`,
    {
      cause,
    },
  );
  if (handler !== undefined) {
    try {
      handler(error);
      return;
    } catch (again) {
      queueMicrotask(() => {
        throw again;
      });
      return;
    }
  }
  queueMicrotask(() => {
    throw error;
  });
}

/** Runs `fn` (which calls app code); a throw is reported by {@link reportCallbackError}. */
export function guard(
  handler: CallbackErrorHandler | undefined,
  what: string,
  fn: () => void,
): void {
  try {
    fn();
  } catch (cause) {
    reportCallbackError(handler, what, cause);
  }
}

/** Narrows an `onCallbackError` option. */
export function isCallbackErrorHandler(value: unknown): value is CallbackErrorHandler {
  return typeof value === 'function';
}
