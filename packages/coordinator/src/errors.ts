const BRAND = Symbol.for('@daemoneye/coordinator.error');

/** Every code a {@link CoordinatorError} can carry; callers match on these, never on messages. */
export const COORDINATOR_ERROR_CODES = [
  'ERR_COORDINATOR_CLOSED',
  'ERR_COORDINATOR_INVALID_REQUEST',
  'ERR_COORDINATOR_UNKNOWN_COLLECTOR',
  'ERR_COORDINATOR_CALLBACK_FAILED',
  'ERR_COORDINATOR_JOURNAL_UNWRITABLE',
  'ERR_COORDINATOR_JOURNAL_RECOVERY',
] as const;

/** A stable error code of `@daemoneye/coordinator`. */
export type CoordinatorErrorCode = (typeof COORDINATOR_ERROR_CODES)[number];

/** The one error class of `@daemoneye/coordinator`: a stable `code`, `cause` kept. */
export class CoordinatorError<C extends CoordinatorErrorCode = CoordinatorErrorCode> extends Error {
  readonly code: C;
  readonly [BRAND] = true;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoordinatorError';
    this.code = code;
  }
}

/** True when `e` is a {@link CoordinatorError} (from any copy of the package), optionally of `code`. */
export function isCoordinatorError<C extends CoordinatorErrorCode>(
  e: unknown,
  code?: C,
): e is CoordinatorError<C> {
  if (typeof e !== 'object' || e === null || !(BRAND in e)) return false;
  return code === undefined || ('code' in e && e.code === code);
}
