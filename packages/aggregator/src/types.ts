/** What `addResult` did with one batch. */
export type AddResultOutcome =
  | 'accepted'
  | 'duplicate'
  | 'late'
  | 'unknown-correlation'
  | 'unexpected-collector'
  | 'over-limit';

/** Every {@link AddResultOutcome}, in a stable order. */
export const ADD_RESULT_OUTCOMES: readonly AddResultOutcome[] = [
  'accepted',
  'duplicate',
  'late',
  'unknown-correlation',
  'unexpected-collector',
  'over-limit',
];

/** Why a correlation set completed. */
export type CompletionReason =
  | 'all-received'
  | 'timeout'
  | 'collector-failed'
  | 'cancelled'
  | 'shutdown'
  | 'overflow';

/** Every {@link CompletionReason}, in a stable order. */
export const COMPLETION_REASONS: readonly CompletionReason[] = [
  'all-received',
  'timeout',
  'collector-failed',
  'cancelled',
  'shutdown',
  'overflow',
];

/** What `reassign` did. */
export type ReassignOutcome =
  | 'reassigned'
  | 'not-pending'
  | 'unexpected-collector'
  | 'already-final'
  | 'already-expected';

/** One deduplicated result and every collector that sent it. */
export interface AggregatedItem<R> {
  /** The dedup key (`dedupKey(result)`). */
  readonly key: string;
  /** The first result received for this key, or the output of `merge`. */
  readonly result: R;
  /** Collector ids that sent this key, in arrival order, each once. */
  readonly sources: readonly string[];
}

/** The single outcome of one correlation set, delivered exactly once. */
export interface AggregatedResult<R> {
  readonly correlationId: string;
  /** Deduplicated results in first-arrival order. */
  readonly results: readonly AggregatedItem<R>[];
  /** Expected collectors at completion (after any `reassign`), in `begin` order. */
  readonly expected: readonly string[];
  /** Expected collectors that sent `final`. */
  readonly responded: readonly string[];
  /** Expected collectors that did not send `final` (`expected` minus `responded`). */
  readonly missing: readonly string[];
  /** The part of `missing` declared failed through `collectorFailed`. */
  readonly failed: readonly string[];
  /** True exactly when `reason` is `'all-received'`. */
  readonly complete: boolean;
  readonly reason: CompletionReason;
  /** Input results folded into an existing key (cross-collector duplicates and re-deliveries). */
  readonly duplicatesDropped: number;
  /** Input results refused because the set already held `maxResultsPerSet` distinct keys. */
  readonly overflowDropped: number;
  /** Input results dropped because `dedupKey` threw or did not return a string. */
  readonly invalidDropped: number;
  /** `clock.now()` at `begin`. */
  readonly startedAt: number;
  /** `clock.now()` at completion. */
  readonly completedAt: number;
}

/** Codes counted in {@link AggregatorStats.beginRejected}. */
export type BeginRejectionCode =
  | 'ERR_DUPLICATE_CORRELATION'
  | 'ERR_TOO_MANY_PENDING'
  | 'ERR_CLOSED'
  | 'ERR_INVALID_ARGUMENT';

/** A snapshot of the aggregator's counters; every field is a plain number. */
export interface AggregatorStats {
  /** Sets begun and not yet completed. */
  readonly pendingSets: number;
  /** Distinct results held by pending sets. */
  readonly pendingResults: number;
  /** Sets successfully begun; always `pendingSets + sum(completed)`. */
  readonly begun: number;
  readonly completed: Readonly<Record<CompletionReason, number>>;
  /** One count per `addResult` call, by outcome. */
  readonly outcomes: Readonly<Record<AddResultOutcome, number>>;
  /** `begin` calls that threw, by error code. */
  readonly beginRejected: Readonly<Record<BeginRejectionCode, number>>;
  readonly duplicatesDropped: number;
  readonly overflowDropped: number;
  readonly invalidResults: number;
  /** User callbacks (`onComplete`, listeners, `dedupKey`, `merge`) that threw. */
  readonly callbackErrors: number;
  /** Ids currently remembered as recently completed. */
  readonly recentCompleted: number;
}
