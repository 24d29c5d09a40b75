const BRAND = Symbol.for('@daemoneye/proto.error');

/** Every code a {@link ProtoError} carries. Callers match on these, never on messages. */
export const PROTO_ERROR_CODES = ['ERR_PROTO_DECODE', 'ERR_PROTO_ENCODE'] as const;

/** One of {@link PROTO_ERROR_CODES}. */
export type ProtoErrorCode = (typeof PROTO_ERROR_CODES)[number];

/**
 * The base error of `@daemoneye/proto`, branded with `Symbol.for('@daemoneye/proto.error')` so
 * {@link isProtoError} recognises it even when two copies of the package are loaded.
 */
export class ProtoError<C extends ProtoErrorCode = ProtoErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtoError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Thrown when bytes are not a valid Envelope (or not a valid part of one); `cause` is kept. */
export class ProtoDecodeError extends ProtoError<'ERR_PROTO_DECODE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTO_DECODE', message, options);
    this.name = 'ProtoDecodeError';
  }
}

/** Thrown by the frame encoders for a value the wire cannot carry (a uint64 out of range, ...). */
export class ProtoEncodeError extends ProtoError<'ERR_PROTO_ENCODE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTO_ENCODE', message, options);
    this.name = 'ProtoEncodeError';
  }
}

/** True when `e` is a {@link ProtoError} (of any copy of this package), with `code` when given. */
export function isProtoError<C extends ProtoErrorCode = ProtoErrorCode>(
  e: unknown,
  code?: C,
): e is ProtoError<C> {
  if (typeof e !== 'object' || e === null || !(BRAND in e)) return false;
  return code === undefined || ('code' in e && e.code === code);
}
