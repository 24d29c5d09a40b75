/** What `addResult` did with one batch. */
export type AddResultOutcome =
  | 'accepted'
  | 'duplicate'
  | 'late'
  | 'unknown-correlation'
  | 'unexpected-collector'
  | 'over-limit'
  | 'over-budget';

/** Every {@link AddResultOutcome}, in a stable order. */
export const ADD_RESULT_OUTCOMES: readonly AddResultOutcome[] = [
  'accepted',
  'duplicate',
  'late',
  'unknown-correlation',
  'unexpected-collector',
  'over-limit',
  'over-budget',
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
  | 'already-overflowed'
  | 'already-expected';

/**
 * Which budget had no room: the collector's count or byte share of the set, its bytes across all
 * pending sets (`maxPendingBytesPerCollector`), or all pending sets' bytes (`maxPendingBytes`).
 */
export type ShareFullReason = 'count' | 'bytes' | 'collector-bytes' | 'pending-bytes';

/** Every {@link ShareFullReason}, in a stable order. */
export const SHARE_FULL_REASONS: readonly ShareFullReason[] = [
  'count',
  'bytes',
  'collector-bytes',
  'pending-bytes',
];

/** Payload of the `share-full` event: this collector's part of this set has ended. */
export interface ShareFullEvent {
  readonly correlationId: string;
  readonly collectorId: string;
  readonly reason: ShareFullReason;
}

/** One version of a conflicting item, with exactly the collectors that sent that content. */
export interface AggregatedVariant<R> {
  /** The first copy received with this content. */
  readonly result: R;
  /** Collector ids that sent this content for the key, in arrival order, each once. */
  readonly sources: readonly string[];
}

interface ItemFields<R> {
  /** The dedup key (`dedupKey(result)`). */
  readonly key: string;
  /** The first result received for this key. */
  readonly result: R;
  /**
   * Collector ids that sent this key with the same content as `result`, in arrival order, each
   * once. A collector that sent different content is never listed here (see `variants`).
   */
  readonly sources: readonly string[];
}

/** One deduplicated result; `conflict: true` when collectors disagreed about its content. */
export type AggregatedItem<R> =
  | (ItemFields<R> & { readonly conflict: false })
  | (ItemFields<R> & {
      readonly conflict: true;
      /** Every distinct content kept, the first (`result`, `sources`) included, in arrival order. */
      readonly variants: readonly AggregatedVariant<R>[];
      /** Copies with yet another content refused by `maxVariantsPerItem` / `maxItemBytes`. */
      readonly variantsDropped: number;
    });

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
  /** The part of `missing` whose share (or `maxPendingBytes`) filled up, which ended their part. */
  readonly overflowed: readonly string[];
  /** True exactly when `reason` is `'all-received'`. */
  readonly complete: boolean;
  readonly reason: CompletionReason;
  /** Input results folded into an existing key (cross-collector duplicates and re-deliveries). */
  readonly duplicatesDropped: number;
  /** Input results refused because the sender's share (or `maxPendingBytes`) was full. */
  readonly overflowDropped: number;
  /** Items whose collectors disagreed about the content (`conflict: true`). */
  readonly conflicts: number;
  /** Copies with another content refused by `maxVariantsPerItem` / `maxItemBytes`. */
  readonly variantsDropped: number;
  /** Bytes charged for the results held (`weigh` + `resultOverheadBytes` each). */
  readonly bytes: number;
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
  | 'ERR_TOO_MANY_PENDING_SETS'
  | 'ERR_AGGREGATOR_CLOSED'
  | 'ERR_AGGREGATOR_INVALID_ARGUMENT';

/** A snapshot of the aggregator's counters; every field is a plain number. */
export interface AggregatorStats {
  /** Sets begun and not yet completed. */
  readonly pendingSets: number;
  /** Results (keys and variants) held by pending sets. */
  readonly pendingResults: number;
  /** Bytes charged for the results held by pending sets (bounded by `maxPendingBytes`). */
  readonly pendingBytes: number;
  /** Sets successfully begun; always `pendingSets + sum(completed)`. */
  readonly begun: number;
  readonly completed: Readonly<Record<CompletionReason, number>>;
  /** One count per `addResult` call, by outcome. */
  readonly outcomes: Readonly<Record<AddResultOutcome, number>>;
  /** `begin` calls that threw, by error code. */
  readonly beginRejected: Readonly<Record<BeginRejectionCode, number>>;
  readonly duplicatesDropped: number;
  readonly overflowDropped: number;
  /** `share-full` events, by reason. */
  readonly shareFull: Readonly<Record<ShareFullReason, number>>;
  /** Items that became conflicts. */
  readonly conflicts: number;
  readonly variantsDropped: number;
  readonly invalidResults: number;
  /** User callbacks (`onComplete`, listeners, `dedupKey`, `weigh`, `contentKey`) that threw. */
  readonly callbackErrors: number;
  /** Ids currently remembered as recently completed. */
  readonly recentCompleted: number;
}
