import { AggregatorError } from './errors.js';
import { isIntegerInRange, MAX_TIMEOUT_MS } from './options.js';
import type { AddResultOutcome, BeginRejectionCode, CompletionReason } from './types.js';

/** Per-set options of {@link ResultAggregator.begin}. */
export interface BeginOptions {
  /** Timeout of this set in ms (integer 1..2_147_483_647); default the aggregator's `timeoutMs`. */
  timeoutMs?: number | undefined;
  /** Absolute deadline in `clock.now()` units; when given with `timeoutMs` the earlier wins. */
  deadlineAt?: number | undefined;
}

/** Codes counted in `stats().beginRejected`. */
const BEGIN_REJECTIONS: readonly string[] = [
  'ERR_DUPLICATE_CORRELATION',
  'ERR_TOO_MANY_PENDING_SETS',
  'ERR_AGGREGATOR_CLOSED',
  'ERR_AGGREGATOR_INVALID_ARGUMENT',
] satisfies readonly BeginRejectionCode[];

/** Whether a `begin` error code is one that `stats().beginRejected` counts. */
export function isBeginRejection(code: string): code is BeginRejectionCode {
  return BEGIN_REJECTIONS.includes(code);
}

/** An `ERR_AGGREGATOR_INVALID_ARGUMENT` error. */
export function invalidArgument(message: string): AggregatorError {
  return new AggregatorError('ERR_AGGREGATOR_INVALID_ARGUMENT', message);
}

/** `begin`'s first checks: the aggregator is open and the correlation id is a non-empty string. */
export function checkBeginArguments(closed: boolean, correlationId: string): void {
  if (closed) {
    throw new AggregatorError(
      'ERR_AGGREGATOR_CLOSED',
      `cannot begin "${correlationId}": aggregator closed`,
    );
  }
  if (typeof correlationId !== 'string' || correlationId.length === 0) {
    throw invalidArgument('correlationId must be a non-empty string');
  }
}

/** `begin`'s last checks: the id is neither pending nor recently completed, and there is room. */
export function checkRoom(
  correlationId: string,
  state: { pending: boolean; recent: boolean; pendingSets: number; maxPendingSets: number },
): void {
  if (state.pending) {
    throw new AggregatorError(
      'ERR_DUPLICATE_CORRELATION',
      `correlation id "${correlationId}" is already pending`,
    );
  }
  if (state.recent) {
    throw new AggregatorError(
      'ERR_DUPLICATE_CORRELATION',
      `correlation id "${correlationId}" completed recently`,
    );
  }
  if (state.pendingSets >= state.maxPendingSets) {
    throw new AggregatorError(
      'ERR_TOO_MANY_PENDING_SETS',
      `cannot begin "${correlationId}": ${state.pendingSets} sets pending (maxPendingSets ${state.maxPendingSets})`,
    );
  }
}

/** Checks and copies the expected collectors of `begin`. */
export function validateCollectors(expected: readonly string[]): string[] {
  if (!Array.isArray(expected) || expected.length === 0) {
    throw invalidArgument('expectedCollectors must be a non-empty array of collector ids');
  }
  const collectors: string[] = [];
  const seen = expected.length > 16 ? new Set<string>() : undefined;
  for (const id of expected) {
    if (typeof id !== 'string' || id.length === 0) {
      throw invalidArgument('expectedCollectors must contain only non-empty strings');
    }
    const duplicate = seen === undefined ? collectors.includes(id) : seen.has(id);
    if (duplicate) throw invalidArgument(`expectedCollectors lists "${id}" twice`);
    seen?.add(id);
    collectors.push(id);
  }
  return collectors;
}

/** The absolute deadline of a set begun at `now`. */
export function deadlineOf(
  now: number,
  options: BeginOptions | undefined,
  defaultTimeoutMs: number,
): number {
  const timeoutMs = options?.timeoutMs;
  const deadlineAt = options?.deadlineAt;
  if (timeoutMs !== undefined && !isIntegerInRange(timeoutMs, 1, MAX_TIMEOUT_MS)) {
    throw invalidArgument(`timeoutMs must be an integer in 1..${MAX_TIMEOUT_MS}`);
  }
  if (
    deadlineAt !== undefined &&
    (typeof deadlineAt !== 'number' || !Number.isFinite(deadlineAt))
  ) {
    throw invalidArgument('deadlineAt must be a finite number (clock time)');
  }
  if (deadlineAt === undefined) return now + (timeoutMs ?? defaultTimeoutMs);
  return timeoutMs === undefined ? deadlineAt : Math.min(deadlineAt, now + timeoutMs);
}

export function zeroReasons(): Record<CompletionReason, number> {
  return {
    'all-received': 0,
    timeout: 0,
    'collector-failed': 0,
    cancelled: 0,
    shutdown: 0,
    overflow: 0,
  };
}

export function zeroOutcomes(): Record<AddResultOutcome, number> {
  return {
    accepted: 0,
    duplicate: 0,
    late: 0,
    'unknown-correlation': 0,
    'unexpected-collector': 0,
    'over-limit': 0,
    'over-budget': 0,
  };
}

export function zeroRejections(): Record<BeginRejectionCode, number> {
  return {
    ERR_DUPLICATE_CORRELATION: 0,
    ERR_TOO_MANY_PENDING_SETS: 0,
    ERR_AGGREGATOR_CLOSED: 0,
    ERR_AGGREGATOR_INVALID_ARGUMENT: 0,
  };
}
