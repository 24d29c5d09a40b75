const BRAND = Symbol.for('@daemoneye/ipc-transport.error');

/** Every stable code of `@daemoneye/ipc-transport`. Match on these, never on message text. */
export const TRANSPORT_ERROR_CODES = [
  'ERR_FRAME_EMPTY',
  'ERR_FRAME_TOO_LARGE',
  'ERR_TRANSPORT_DECODE',
  'ERR_TRANSPORT_PROTOCOL',
  'ERR_PROTOCOL_VERSION',
  'ERR_HANDSHAKE_TIMEOUT',
  'ERR_HANDSHAKE_EVICTED',
  'ERR_AUTH_FAILED',
  'ERR_INVALID_HELLO',
  'ERR_ADMISSION_REFUSED',
  'ERR_ADMISSION_FAILED',
  'ERR_DUPLICATE_COLLECTOR',
  'ERR_MAX_CONNECTIONS',
  'ERR_BACKPRESSURE',
  'ERR_ENDPOINT_IN_USE',
  'ERR_ENDPOINT_INSECURE',
  'ERR_ENDPOINT_PATH_TOO_LONG',
  'ERR_ENDPOINT_LOST',
  'ERR_TOKEN_FILE',
  'ERR_INVALID_TOPIC',
  'ERR_INVALID_PATTERN',
  'ERR_TOO_MANY_SUBSCRIPTIONS',
  'ERR_TRANSPORT_UNKNOWN_COLLECTOR',
  'ERR_TRANSPORT_NOT_CONNECTED',
  'ERR_TRANSPORT_REJECTED',
  'ERR_TRANSPORT_ABORTED',
  'ERR_TRANSPORT_CLOSED',
  'ERR_TRANSPORT_CALLBACK_FAILED',
] as const;

/** One of {@link TRANSPORT_ERROR_CODES}. */
export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(TRANSPORT_ERROR_CODES);

/** True when `code` is one of {@link TRANSPORT_ERROR_CODES}. */
export function isTransportErrorCode(code: unknown): code is TransportErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

/** Base class of every error this package throws, rejects with or emits. */
export class TransportError<C extends TransportErrorCode = TransportErrorCode> extends Error {
  readonly code: C;
  declare readonly [BRAND]: true;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Thrown by the collector client when the broker answers Hello with Reject. */
export class RejectedError extends TransportError<'ERR_TRANSPORT_REJECTED'> {
  /** The code the broker sent in its Reject, e.g. `ERR_AUTH_FAILED` or an `authorize` code. */
  readonly rejectCode: string;
  constructor(rejectCode: string, message: string) {
    super('ERR_TRANSPORT_REJECTED', `broker rejected the handshake: ${rejectCode}: ${message}`);
    this.name = 'RejectedError';
    this.rejectCode = rejectCode;
  }
}

/**
 * True when `error` is a {@link TransportError} (from any loaded copy of this package), and has
 * `code` when one is given; narrows to that code.
 */
export function isTransportError<C extends TransportErrorCode = TransportErrorCode>(
  error: unknown,
  code?: C,
): error is TransportError<C> {
  if (typeof error !== 'object' || error === null || !(BRAND in error)) return false;
  if (error[BRAND] !== true || !('code' in error)) return false;
  return code === undefined ? isTransportErrorCode(error.code) : error.code === code;
}

/** Receives every error a user callback threw (code `ERR_TRANSPORT_CALLBACK_FAILED`). */
export type CallbackErrorHandler = (error: TransportError<'ERR_TRANSPORT_CALLBACK_FAILED'>) => void;

/**
 * The one policy for user callbacks that throw: the library has already finished its own work;
 * the throw goes to `onCallbackError`, or without one is re-thrown on a microtask (an uncaught
 * exception, as an EventEmitter listener's would be).
 */
export function reportCallbackError(
  handler: CallbackErrorHandler | undefined,
  what: string,
  cause: unknown,
): void {
  const error = new TransportError(
    'ERR_TRANSPORT_CALLBACK_FAILED',
    `${what} threw: ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );
  if (handler === undefined) {
    queueMicrotask(() => {
      throw error;
    });
    return;
  }
  try {
    handler(error);
  } catch (again) {
    queueMicrotask(() => {
      throw again;
    });
  }
}
