import { EventEmitter } from 'node:events';
import { LRUCache } from 'mnemonist';
import type { Clock } from './clock.js';

export type { BeginOptions } from './begin.js';

import {
  type BeginOptions,
  checkBeginArguments,
  checkRoom,
  deadlineOf,
  invalidArgument,
  isBeginRejection,
  validateCollectors,
  zeroOutcomes,
  zeroReasons,
  zeroRejections,
} from './begin.js';
import { CallbackErrors } from './callbacks.js';
import { Deadlines } from './deadlines.js';
import { AggregatorError } from './errors.js';
import { Intake } from './intake.js';
import type { Fingerprinted, ResolvedOptions, ResultAggregatorOptions } from './options.js';
import { resolveOptions } from './options.js';
import {
  createSet,
  FAILED,
  FINAL,
  OVERFLOWED,
  type PendingSet,
  type SlotState,
  WAITING,
} from './pending-set.js';
import { reassignSlot, settle, settledReason } from './settle.js';
import { ShareBook } from './shares.js';
import type {
  AddResultOutcome,
  AggregatedResult,
  AggregatorStats,
  CompletionReason,
  ReassignOutcome,
  ShareFullEvent,
  ShareFullReason,
} from './types.js';

/** Per-batch options of {@link ResultAggregator.addResult}. */
export interface AddResultOptions {
  /** True on the collector's last batch for this correlation id. */
  final?: boolean | undefined;
}

/** Typed events of {@link ResultAggregator}. */
export type AggregatorEvents<R> = {
  /** Emitted once per correlation set, after `onComplete`. */
  complete: [result: AggregatedResult<R>];
  /** A collector's share of a set filled up; its part of that set ended (stop reading it). */
  'share-full': [event: ShareFullEvent];
};

/** The constructor argument: optional when R has a string `fingerprint`, required otherwise. */
export type ResultAggregatorArgs<R> = [R] extends [Fingerprinted]
  ? [options?: ResultAggregatorOptions<R>]
  : [options: ResultAggregatorOptions<R>];

/**
 * Turns many collectors' answers into exactly one {@link AggregatedResult} per correlation id.
 *
 * Each expected collector owns a share of its set's count and byte budget; filling it ends only
 * that collector's part (`share-full`). The same key with different content from two collectors is
 * kept as a conflict with every variant. Completion is delivered synchronously from the call that
 * caused it, or from the timer, first to `onComplete`, then to `complete` listeners; all
 * bookkeeping is committed before, so callbacks may call back in.
 */
export class ResultAggregator<R> extends EventEmitter<AggregatorEvents<R>> {
  readonly #options: ResolvedOptions<R>;
  readonly #clock: Clock;
  readonly #pending = new Map<string, PendingSet<R>>();
  readonly #deadlines: Deadlines<PendingSet<R>>;
  readonly #recent: LRUCache<string, CompletionReason> | undefined;
  readonly #shares = new ShareBook();
  readonly #callbacks: CallbackErrors;
  readonly #intake: Intake<R>;
  #closed = false;

  #begun = 0;
  readonly #completed = zeroReasons();
  readonly #outcomes = zeroOutcomes();
  readonly #beginRejected = zeroRejections();
  readonly #shareFull: Record<ShareFullReason, number> = {
    count: 0,
    bytes: 0,
    'collector-bytes': 0,
    'pending-bytes': 0,
  };
  #overflowDropped = 0;

  constructor(...[options]: ResultAggregatorArgs<R>) {
    super();
    this.#options = resolveOptions<R>(options);
    this.#callbacks = new CallbackErrors(this.#options.onCallbackError);
    this.#intake = new Intake(this.#options, (callback, id, cause) =>
      this.#callbacks.report(callback, id, cause),
    );
    this.#clock = this.#options.clock;
    this.#deadlines = new Deadlines(this.#clock, (set) => this.#complete(set, 'timeout'));
    const capacity = this.#options.recentCompletedCapacity;
    this.#recent = capacity > 0 ? new LRUCache<string, CompletionReason>(capacity) : undefined;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Number of sets begun and not yet completed. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Starts a correlation set waiting for `final` from each expected collector and returns its
   * absolute deadline (clock time). Throws {@link AggregatorError}: `ERR_AGGREGATOR_CLOSED`,
   * `ERR_AGGREGATOR_INVALID_ARGUMENT`, `ERR_DUPLICATE_CORRELATION` (pending or recently
   * completed), `ERR_TOO_MANY_PENDING_SETS` (at `maxPendingSets`).
   */
  begin(
    correlationId: string,
    expectedCollectors: readonly string[],
    options?: BeginOptions,
  ): number {
    try {
      return this.#begin(correlationId, expectedCollectors, options);
    } catch (error) {
      if (error instanceof AggregatorError && isBeginRejection(error.code)) {
        this.#beginRejected[error.code]++;
      }
      throw error;
    }
  }

  #begin(
    correlationId: string,
    expectedCollectors: readonly string[],
    options: BeginOptions | undefined,
  ): number {
    checkBeginArguments(this.#closed, correlationId);
    const collectors = validateCollectors(expectedCollectors);
    const now = this.#clock.now();
    const at = deadlineOf(now, options, this.#options.timeoutMs);
    checkRoom(correlationId, {
      pending: this.#pending.has(correlationId),
      recent: this.#recent?.has(correlationId) === true,
      pendingSets: this.#pending.size,
      maxPendingSets: this.#options.maxPendingSets,
    });
    const { maxResultsPerSet, maxBytesPerSet } = this.#options;
    const set = createSet<R>(correlationId, now, collectors, maxResultsPerSet, maxBytesPerSet);
    this.#pending.set(correlationId, set);
    this.#begun++;
    for (const id of collectors) this.#shares.open(id, 1);
    set.deadline = this.#deadlines.add(set, at, this.#pending.size);
    return at;
  }

  /**
   * Adds one batch of results from a collector. Never throws; returns (and counts) an outcome:
   * `accepted`, `duplicate` (an exact re-delivery), `late`, `unknown-correlation`,
   * `unexpected-collector`, `over-limit` (the collector's share of this set is full: its part
   * ended, `share-full` emitted) or `over-budget` (the same, because of
   * `maxPendingBytesPerCollector` or `maxPendingBytes`).
   */
  addResult(
    collectorId: string,
    correlationId: string,
    results: readonly R[],
    options?: AddResultOptions,
  ): AddResultOutcome {
    // Data-plane input never throws: a non-array batch is refused and counted.
    if (!Array.isArray(results)) return this.#count('unexpected-collector');
    const outer = this.#callbacks.hold();
    try {
      return this.#addResult(collectorId, correlationId, results, options);
    } finally {
      this.#callbacks.release(outer);
    }
  }

  #addResult(
    collectorId: string,
    correlationId: string,
    results: readonly R[],
    options: AddResultOptions | undefined,
  ): AddResultOutcome {
    const set = this.#pending.get(correlationId);
    if (set === undefined) {
      return this.#count(
        this.#recent?.has(correlationId) === true ? 'late' : 'unknown-correlation',
      );
    }
    const slot = set.collectors.indexOf(collectorId);
    const state = set.states[slot];
    if (state === undefined || state === FAILED) return this.#count('unexpected-collector');
    if (state === FINAL) return this.#count(this.#intake.afterFinal(set, collectorId, results));
    if (state === OVERFLOWED) {
      set.overflowDropped += results.length;
      this.#overflowDropped += results.length;
      return this.#count('over-limit');
    }

    let changed = results.length === 0;
    let full: ShareFullReason | undefined;
    let seen = 0;
    const account = this.#shares.account(collectorId);
    for (const result of results) {
      seen++;
      const step = this.#intake.add(set, slot, collectorId, result, account);
      if (step === 'unchanged') continue;
      changed = true;
      if (step === 'changed') continue;
      if (step === 'invalid') {
        set.invalidDropped++;
        this.#intake.invalidResults++;
        continue;
      }
      // This one and the rest of the batch are refused: the sender's part of the set ends here.
      full = step;
      const refused = results.length - seen + 1;
      set.overflowDropped += refused;
      this.#overflowDropped += refused;
      break;
    }
    if (full !== undefined) this.#endShare(set, slot, collectorId, OVERFLOWED);
    else if (options?.final === true) {
      this.#endShare(set, slot, collectorId, FINAL);
      changed = true;
    }
    // Count before emitting or completing so that callbacks observe consistent stats.
    let outcome: AddResultOutcome = changed ? 'accepted' : 'duplicate';
    if (full === 'count' || full === 'bytes') outcome = 'over-limit';
    else if (full !== undefined) outcome = 'over-budget';
    this.#count(outcome);
    if (full !== undefined) this.#shareFullEvent(set.correlationId, collectorId, full);
    if (!set.done && set.outstanding === 0) this.#complete(set, settledReason(set.states));
    return outcome;
  }

  /** Ends a WAITING slot's part: final, failed or overflowed. */
  #endShare(set: PendingSet<R>, slot: number, collectorId: string, to: SlotState): void {
    set.states[slot] = to;
    set.outstanding--;
    this.#shares.open(collectorId, -1);
    if (to === OVERFLOWED) this.#shares.full(collectorId, 1);
  }

  #shareFullEvent(correlationId: string, collectorId: string, reason: ShareFullReason): void {
    this.#shareFull[reason]++;
    try {
      this.emit('share-full', { correlationId, collectorId, reason });
    } catch (error) {
      this.#callbacks.report("a 'share-full' listener", correlationId, error);
    }
  }

  /**
   * How many pending sets still take results from `collectorId` (it is expected there, has not
   * sent `final`, failed or filled its share). 0 means nothing it sends is needed now.
   */
  openShares(collectorId: string): number {
    return this.#shares.openOf(collectorId);
  }

  /**
   * How many pending sets hold a full share of `collectorId` (see `share-full`). Each such set
   * lists it in `overflowed` when it completes; at 0 the agent may read its socket again.
   */
  fullShares(collectorId: string): number {
    return this.#shares.fullOf(collectorId);
  }

  /**
   * Declares a collector dead. Each pending set waiting on it stops waiting; a set for which it
   * was the last outstanding collector completes at once with `collector-failed`. Returns the
   * number of sets that were waiting on it.
   */
  collectorFailed(collectorId: string): number {
    const affected: PendingSet<R>[] = [];
    for (const set of this.#pending.values()) {
      if (set.states[set.collectors.indexOf(collectorId)] === WAITING) affected.push(set);
    }
    let count = 0;
    for (const set of affected) {
      // A callback run by an earlier completion may have changed this set.
      if (set.done) continue;
      const slot = set.collectors.indexOf(collectorId);
      if (set.states[slot] !== WAITING) continue;
      this.#endShare(set, slot, collectorId, FAILED);
      count++;
      if (set.outstanding === 0) this.#complete(set, 'collector-failed');
    }
    return count;
  }

  /**
   * Moves the expectation of a pending set from one collector to another (failover re-routed
   * the task). `from` must be expected and waiting or failed; `to` must not already be expected,
   * unless it failed in this set (so `reassign(id, x, x)` re-expects a failed `x`). The slot keeps
   * its share and what it already used: results received from `from` stay, and the new
   * collector's copies of them are duplicates, not new charges.
   * Call it before `collectorFailed(from)`, which may otherwise complete the set first.
   */
  reassign(correlationId: string, from: string, to: string): ReassignOutcome {
    if (typeof to !== 'string' || to.length === 0) {
      throw invalidArgument('reassign target must be a non-empty collector id');
    }
    const set = this.#pending.get(correlationId);
    if (set === undefined) return 'not-pending';
    return reassignSlot(set, from, to, this.#shares);
  }

  /** Completes a pending set with reason `cancelled`; returns false if it was not pending. */
  cancel(correlationId: string): boolean {
    const set = this.#pending.get(correlationId);
    if (set === undefined) return false;
    this.#complete(set, 'cancelled');
    return true;
  }

  /**
   * Completes every pending set with reason `shutdown`, stops the timer, and makes later `begin`
   * calls throw `ERR_AGGREGATOR_CLOSED`. Synchronous and idempotent. Late results are still
   * classified afterwards.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deadlines.stop();
    for (const set of Array.from(this.#pending.values())) {
      if (!set.done) this.#complete(set, 'shutdown');
    }
  }

  /** A fresh snapshot of every counter. */
  stats(): AggregatorStats {
    return {
      pendingSets: this.#pending.size,
      pendingResults: this.#intake.pendingResults,
      pendingBytes: this.#intake.pendingBytes,
      begun: this.#begun,
      completed: { ...this.#completed },
      outcomes: { ...this.#outcomes },
      beginRejected: { ...this.#beginRejected },
      duplicatesDropped: this.#intake.duplicatesDropped,
      overflowDropped: this.#overflowDropped,
      shareFull: { ...this.#shareFull },
      conflicts: this.#intake.conflicts,
      variantsDropped: this.#intake.variantsDropped,
      invalidResults: this.#intake.invalidResults,
      callbackErrors: this.#callbacks.count,
      recentCompleted: this.#recent?.size ?? 0,
    };
  }

  #count(outcome: AddResultOutcome): AddResultOutcome {
    this.#outcomes[outcome]++;
    return outcome;
  }

  #complete(set: PendingSet<R>, reason: CompletionReason): void {
    if (set.done) return; // a set completes exactly once, whatever re-entered
    set.done = true;
    if (set.deadline !== undefined) set.deadline.target = null;
    this.#pending.delete(set.correlationId);
    this.#intake.release(set);
    this.#recent?.set(set.correlationId, reason);
    this.#completed[reason]++;

    this.#deliver(settle(set, reason, this.#shares, this.#clock.now()));
  }

  #deliver(result: AggregatedResult<R>): void {
    const onComplete = this.#options.onComplete;
    if (onComplete !== undefined) {
      try {
        onComplete(result);
      } catch (error) {
        this.#callbacks.report('onComplete', result.correlationId, error);
      }
    }
    try {
      this.emit('complete', result);
    } catch (error) {
      this.#callbacks.report("a 'complete' listener", result.correlationId, error);
    }
  }
}
