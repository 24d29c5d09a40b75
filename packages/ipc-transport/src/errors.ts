/** Stable error codes of `@daemoneye/ipc-transport`. Match on these, never on message text. */
export type TransportErrorCode =
  | 'ERR_FRAME_EMPTY'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_PROTO_DECODE'
  | 'ERR_PROTOCOL'
  | 'ERR_PROTOCOL_VERSION'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_AUTH_FAILED'
  | 'ERR_INVALID_HELLO'
  | 'ERR_DUPLICATE_COLLECTOR'
  | 'ERR_MAX_CONNECTIONS'
  | 'ERR_BACKPRESSURE'
  | 'ERR_ENDPOINT_IN_USE'
  | 'ERR_ENDPOINT_INSECURE'
  | 'ERR_ENDPOINT_PATH_TOO_LONG'
  | 'ERR_TOKEN_FILE'
  | 'ERR_INVALID_TOPIC'
  | 'ERR_INVALID_PATTERN'
  | 'ERR_TOO_MANY_SUBSCRIPTIONS'
  | 'ERR_UNKNOWN_COLLECTOR'
  | 'ERR_NOT_CONNECTED'
  | 'ERR_REJECTED'
  | 'ERR_CLOSED';

/** Base class of every error this package throws, rejects with or emits. */
export class TransportError extends Error {
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.code = code;
  }
}

/** Thrown by the collector client when the broker answers Hello with Reject. */
export class RejectedError extends TransportError {
  /** The code the broker sent in its Reject, e.g. `ERR_AUTH_FAILED`. */
  readonly rejectCode: string;
  constructor(rejectCode: string, message: string) {
    super('ERR_REJECTED', `broker rejected the handshake: ${rejectCode}: ${message}`);
    this.name = 'RejectedError';
    this.rejectCode = rejectCode;
  }
}

/** True when `error` is a {@link TransportError}, optionally with the given code. */
export function isTransportError(
  error: unknown,
  code?: TransportErrorCode,
): error is TransportError {
  return error instanceof TransportError && (code === undefined || error.code === code);
}
