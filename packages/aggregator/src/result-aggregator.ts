import { EventEmitter } from 'node:events';
import { Heap, LRUCache } from 'mnemonist';
import type { Clock } from './clock.js';
import { AggregatorError } from './errors.js';
import type { Fingerprinted, ResolvedOptions, ResultAggregatorOptions } from './options.js';
import { isIntegerInRange, MAX_TIMEOUT_MS, resolveOptions } from './options.js';
import type {
  AddResultOutcome,
  AggregatedItem,
  AggregatedResult,
  AggregatorStats,
  BeginRejectionCode,
  CompletionReason,
  ReassignOutcome,
} from './types.js';

/** Per-set options of {@link ResultAggregator.begin}. */
export interface BeginOptions {
  /** Timeout of this set in ms (integer 1..2_147_483_647); default the aggregator's `timeoutMs`. */
  timeoutMs?: number | undefined;
  /** Absolute deadline in `clock.now()` units; when given with `timeoutMs` the earlier wins. */
  deadlineAt?: number | undefined;
}

/** Per-batch options of {@link ResultAggregator.addResult}. */
export interface AddResultOptions {
  /** True on the collector's last batch for this correlation id. */
  final?: boolean | undefined;
}

/** Typed events of {@link ResultAggregator}. */
export type AggregatorEvents<R> = {
  /** Emitted once per correlation set, after `onComplete`. */
  complete: [result: AggregatedResult<R>];
};

/** The constructor argument: optional when R has a string `fingerprint`, required otherwise. */
export type ResultAggregatorArgs<R> = [R] extends [Fingerprinted]
  ? [options?: ResultAggregatorOptions<R>]
  : [options: ResultAggregatorOptions<R>];

const WAITING = 0;
const FINAL = 1;
const FAILED = 2;
type CollectorState = typeof WAITING | typeof FINAL | typeof FAILED;

/** Keeps the heap from holding more than this many completed entries beyond twice the pending sets. */
const HEAP_SLACK = 1024;

/** The mutable form of {@link AggregatedItem} kept while the set is pending. */
interface Item<R> extends AggregatedItem<R> {
  result: R;
  sources: readonly string[];
}

/** A heap entry; `set` becomes null when the set completes, so the heap never pins its results. */
interface Deadline<R> {
  readonly at: number;
  set: PendingSet<R> | null;
}

interface PendingSet<R> {
  readonly correlationId: string;
  readonly startedAt: number;
  readonly deadline: Deadline<R>;
  /** Current expected collectors; `states[i]` belongs to `collectors[i]`. */
  readonly collectors: string[];
  readonly states: CollectorState[];
  /** Collectors still WAITING. */
  outstanding: number;
  readonly byKey: Map<string, Item<R>>;
  readonly items: Item<R>[];
  duplicatesDropped: number;
  overflowDropped: number;
  invalidDropped: number;
  done: boolean;
}

function compareDeadlines<R>(a: Deadline<R>, b: Deadline<R>): number {
  return a.at - b.at;
}

function defaultDedupKey(result: unknown): unknown {
  return typeof result === 'object' && result !== null && 'fingerprint' in result
    ? result.fingerprint
    : undefined;
}

function zeroReasons(): Record<CompletionReason, number> {
  return {
    'all-received': 0,
    timeout: 0,
    'collector-failed': 0,
    cancelled: 0,
    shutdown: 0,
    overflow: 0,
  };
}

function zeroOutcomes(): Record<AddResultOutcome, number> {
  return {
    accepted: 0,
    duplicate: 0,
    late: 0,
    'unknown-correlation': 0,
    'unexpected-collector': 0,
    'over-limit': 0,
  };
}

function zeroRejections(): Record<BeginRejectionCode, number> {
  return {
    ERR_DUPLICATE_CORRELATION: 0,
    ERR_TOO_MANY_PENDING: 0,
    ERR_CLOSED: 0,
    ERR_INVALID_ARGUMENT: 0,
  };
}

function invalidArgument(message: string): AggregatorError {
  return new AggregatorError('ERR_INVALID_ARGUMENT', message);
}

/**
 * Turns many collectors' answers into exactly one {@link AggregatedResult} per correlation id.
 *
 * Completion is delivered synchronously from the call that caused it (`addResult`,
 * `collectorFailed`, `cancel`, `close`) or from the timer, first to `onComplete`, then to
 * `complete` listeners. All bookkeeping is committed before delivery, so callbacks may call back
 * into the aggregator, and a throwing callback cannot corrupt state (see `onCallbackError`).
 */
export class ResultAggregator<R> extends EventEmitter<AggregatorEvents<R>> {
  readonly #options: ResolvedOptions<R>;
  readonly #clock: Clock;
  readonly #pending = new Map<string, PendingSet<R>>();
  #deadlines = new Heap<Deadline<R>>(compareDeadlines);
  readonly #recent: LRUCache<string, CompletionReason> | undefined;
  #timerHandle: unknown;
  #timerArmed = false;
  /**
   * The earliest deadline the armed timer serves (or its fire time when the delay was clamped).
   * Compared with deadlines rather than the rounded-up fire time, so that sets begun within the
   * same millisecond on a fractional clock do not re-arm the timer each time.
   */
  #armedFor = Number.POSITIVE_INFINITY;
  #closed = false;
  /** Callback errors held while an addResult batch is being applied (see #reportCallbackError). */
  #deferred: AggregatorError[] | undefined;

  #begun = 0;
  #pendingResults = 0;
  readonly #completed = zeroReasons();
  readonly #outcomes = zeroOutcomes();
  readonly #beginRejected = zeroRejections();
  #duplicatesDropped = 0;
  #overflowDropped = 0;
  #invalidResults = 0;
  #callbackErrors = 0;

  constructor(...[options]: ResultAggregatorArgs<R>) {
    super();
    this.#options = resolveOptions<R>(options);
    this.#clock = this.#options.clock;
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
   * absolute deadline (clock time). Throws {@link AggregatorError}: `ERR_CLOSED` after `close()`,
   * `ERR_INVALID_ARGUMENT` for bad arguments, `ERR_DUPLICATE_CORRELATION` when the id is pending
   * or recently completed, `ERR_TOO_MANY_PENDING` at `maxPendingSets`.
   */
  begin(
    correlationId: string,
    expectedCollectors: readonly string[],
    options?: BeginOptions,
  ): number {
    try {
      return this.#begin(correlationId, expectedCollectors, options);
    } catch (error) {
      if (error instanceof AggregatorError && error.code !== 'ERR_CALLBACK_FAILED') {
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
    if (this.#closed) {
      throw new AggregatorError('ERR_CLOSED', `cannot begin "${correlationId}": aggregator closed`);
    }
    if (typeof correlationId !== 'string' || correlationId.length === 0) {
      throw invalidArgument('correlationId must be a non-empty string');
    }
    const collectors = this.#validateCollectors(expectedCollectors);
    const now = this.#clock.now();
    const at = this.#deadlineOf(now, options);
    if (this.#pending.has(correlationId)) {
      throw new AggregatorError(
        'ERR_DUPLICATE_CORRELATION',
        `correlation id "${correlationId}" is already pending`,
      );
    }
    if (this.#recent?.has(correlationId) === true) {
      throw new AggregatorError(
        'ERR_DUPLICATE_CORRELATION',
        `correlation id "${correlationId}" completed recently`,
      );
    }
    if (this.#pending.size >= this.#options.maxPendingSets) {
      throw new AggregatorError(
        'ERR_TOO_MANY_PENDING',
        `cannot begin "${correlationId}": ${this.#pending.size} sets pending (maxPendingSets ${this.#options.maxPendingSets})`,
      );
    }
    const states: CollectorState[] = new Array<CollectorState>(collectors.length).fill(WAITING);
    const deadline: Deadline<R> = { at, set: null };
    const set: PendingSet<R> = {
      correlationId,
      startedAt: now,
      deadline,
      collectors,
      states,
      outstanding: collectors.length,
      byKey: new Map(),
      items: [],
      duplicatesDropped: 0,
      overflowDropped: 0,
      invalidDropped: 0,
      done: false,
    };
    deadline.set = set;
    this.#pending.set(correlationId, set);
    this.#begun++;
    if (this.#deadlines.size >= 2 * this.#pending.size + HEAP_SLACK) this.#compactDeadlines();
    this.#deadlines.push(deadline);
    if (!this.#timerArmed || at < this.#armedFor) this.#armTimer();
    return at;
  }

  #validateCollectors(expected: readonly string[]): string[] {
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

  #deadlineOf(now: number, options: BeginOptions | undefined): number {
    const timeoutMs = options?.timeoutMs;
    const deadlineAt = options?.deadlineAt;
    if (timeoutMs !== undefined && !isIntegerInRange(timeoutMs, 1, MAX_TIMEOUT_MS)) {
      throw invalidArgument(`timeoutMs must be an integer in [1, ${MAX_TIMEOUT_MS}]`);
    }
    if (
      deadlineAt !== undefined &&
      (typeof deadlineAt !== 'number' || !Number.isFinite(deadlineAt))
    ) {
      throw invalidArgument('deadlineAt must be a finite number (clock time)');
    }
    if (deadlineAt === undefined) return now + (timeoutMs ?? this.#options.timeoutMs);
    return timeoutMs === undefined ? deadlineAt : Math.min(deadlineAt, now + timeoutMs);
  }

  /**
   * Adds one batch of results from a collector. Never throws; returns (and counts) an outcome:
   * `accepted` (something new, or `final`), `duplicate` (an exact re-delivery),
   * `late` (set already completed, or new results after this collector's `final`),
   * `unknown-correlation`, `unexpected-collector` (not, or no longer, expected) or
   * `over-limit` (a new key beyond `maxResultsPerSet`: the set completes with `overflow`).
   */
  addResult(
    collectorId: string,
    correlationId: string,
    results: readonly R[],
    options?: AddResultOptions,
  ): AddResultOutcome {
    // Data-plane input never throws: a non-array batch is refused and counted.
    if (!Array.isArray(results)) return this.#count('unexpected-collector');
    const outer = this.#deferred;
    this.#deferred = [];
    let outcome: AddResultOutcome;
    try {
      outcome = this.#addResult(collectorId, correlationId, results, options);
    } finally {
      const errors = this.#deferred;
      this.#deferred = outer;
      for (const error of errors) this.#reportOrDefer(error);
    }
    return outcome;
  }

  #reportOrDefer(error: AggregatorError): void {
    if (this.#deferred !== undefined) this.#deferred.push(error);
    else this.#deliverCallbackError(error);
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
    const index = set.collectors.indexOf(collectorId);
    const state = set.states[index];
    if (state === undefined || state === FAILED) return this.#count('unexpected-collector');
    if (state === FINAL) return this.#count(this.#afterFinal(set, collectorId, results));

    const limit = this.#options.maxResultsPerSet;
    const merge = this.#options.merge;
    let changed = results.length === 0;
    let overflowed = false;
    for (const result of results) {
      const key = this.#keyOf(result, set);
      if (key === undefined) {
        set.invalidDropped++;
        this.#invalidResults++;
        changed = true;
        continue;
      }
      const item = set.byKey.get(key);
      if (item !== undefined) {
        set.duplicatesDropped++;
        this.#duplicatesDropped++;
        if (!item.sources.includes(collectorId)) {
          // Exact-size copy: `push` would grow a 1-element array to ~17 slots (~140 bytes).
          item.sources = item.sources.concat(collectorId);
          if (merge !== undefined) this.#merge(merge, item, result, collectorId, set);
          changed = true;
        }
        continue;
      }
      if (set.items.length >= limit) {
        set.overflowDropped++;
        this.#overflowDropped++;
        overflowed = true;
        continue;
      }
      const created: Item<R> = { key, result, sources: [collectorId] };
      set.byKey.set(key, created);
      set.items.push(created);
      this.#pendingResults++;
      changed = true;
    }
    if (options?.final === true) {
      set.states[index] = FINAL;
      set.outstanding--;
      changed = true;
    }
    // Count before completing so that callbacks observe consistent stats.
    if (overflowed) {
      this.#count('over-limit');
      this.#complete(set, 'overflow');
      return 'over-limit';
    }
    const outcome = this.#count(changed ? 'accepted' : 'duplicate');
    if (set.outstanding === 0) this.#complete(set, this.#settledReason(set));
    return outcome;
  }

  /** After `final`: an exact re-delivery is `duplicate`, anything new is `late`. */
  #afterFinal(set: PendingSet<R>, collectorId: string, results: readonly R[]): AddResultOutcome {
    for (const result of results) {
      const key = this.#keyOf(result, set);
      const item = key === undefined ? undefined : set.byKey.get(key);
      if (item === undefined || !item.sources.includes(collectorId)) return 'late';
    }
    set.duplicatesDropped += results.length;
    this.#duplicatesDropped += results.length;
    return 'duplicate';
  }

  #keyOf(result: R, set: PendingSet<R>): string | undefined {
    const dedupKey = this.#options.dedupKey;
    if (dedupKey === undefined) {
      const key = defaultDedupKey(result);
      return typeof key === 'string' ? key : undefined;
    }
    try {
      const key = dedupKey(result);
      return typeof key === 'string' ? key : undefined;
    } catch (error) {
      this.#reportCallbackError('dedupKey', set.correlationId, error);
      return undefined;
    }
  }

  #merge(
    merge: (kept: R, incoming: R, collectorId: string) => R,
    item: Item<R>,
    incoming: R,
    collectorId: string,
    set: PendingSet<R>,
  ): void {
    try {
      item.result = merge(item.result, incoming, collectorId);
    } catch (error) {
      this.#reportCallbackError('merge', set.correlationId, error);
    }
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
      const index = set.collectors.indexOf(collectorId);
      if (set.states[index] !== WAITING) continue;
      set.states[index] = FAILED;
      set.outstanding--;
      count++;
      if (set.outstanding === 0) this.#complete(set, 'collector-failed');
    }
    return count;
  }

  /**
   * Moves the expectation of a pending set from one collector to another (failover re-routed
   * the task). `from` must be expected and not final (waiting or failed); `to` must not already
   * be expected, unless it failed in this set (so `reassign(id, x, x)` re-expects a failed `x`,
   * e.g. after a restart). Results already received from `from` are kept.
   * Call it before `collectorFailed(from)`, which may otherwise complete the set first.
   */
  reassign(correlationId: string, from: string, to: string): ReassignOutcome {
    if (typeof to !== 'string' || to.length === 0) {
      throw invalidArgument('reassign target must be a non-empty collector id');
    }
    const set = this.#pending.get(correlationId);
    if (set === undefined) return 'not-pending';
    const fromIndex = set.collectors.indexOf(from);
    const fromState = set.states[fromIndex];
    if (fromState === undefined) return 'unexpected-collector';
    if (fromState === FINAL) return 'already-final';
    const toIndex = set.collectors.indexOf(to);
    if (toIndex >= 0 && set.states[toIndex] !== FAILED) return 'already-expected';
    set.collectors[fromIndex] = to;
    set.states[fromIndex] = WAITING;
    if (fromState === FAILED) set.outstanding++;
    // `to` failed here before: its old slot goes, unless it is the very slot just re-armed.
    if (toIndex >= 0 && toIndex !== fromIndex) {
      set.collectors.splice(toIndex, 1);
      set.states.splice(toIndex, 1);
    }
    return 'reassigned';
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
   * calls throw `ERR_CLOSED`. Idempotent. Late results are still classified afterwards.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarmTimer();
    this.#deadlines.clear();
    for (const set of Array.from(this.#pending.values())) {
      if (!set.done) this.#complete(set, 'shutdown');
    }
  }

  /** A fresh snapshot of every counter. */
  stats(): AggregatorStats {
    return {
      pendingSets: this.#pending.size,
      pendingResults: this.#pendingResults,
      begun: this.#begun,
      completed: { ...this.#completed },
      outcomes: { ...this.#outcomes },
      beginRejected: { ...this.#beginRejected },
      duplicatesDropped: this.#duplicatesDropped,
      overflowDropped: this.#overflowDropped,
      invalidResults: this.#invalidResults,
      callbackErrors: this.#callbackErrors,
      recentCompleted: this.#recent?.size ?? 0,
    };
  }

  #count(outcome: AddResultOutcome): AddResultOutcome {
    this.#outcomes[outcome]++;
    return outcome;
  }

  #settledReason(set: PendingSet<R>): CompletionReason {
    return set.states.includes(FAILED) ? 'collector-failed' : 'all-received';
  }

  #complete(set: PendingSet<R>, reason: CompletionReason): void {
    if (set.done) return; // a set completes exactly once, whatever re-entered
    set.done = true;
    set.deadline.set = null;
    this.#pending.delete(set.correlationId);
    this.#pendingResults -= set.items.length;
    this.#recent?.set(set.correlationId, reason);
    this.#completed[reason]++;

    const responded: string[] = [];
    const missing: string[] = [];
    const failed: string[] = [];
    for (let i = 0; i < set.collectors.length; i++) {
      const id = set.collectors[i];
      if (id === undefined) continue;
      const state = set.states[i];
      if (state === FINAL) {
        responded.push(id);
      } else {
        missing.push(id);
        if (state === FAILED) failed.push(id);
      }
    }
    const result: AggregatedResult<R> = {
      correlationId: set.correlationId,
      results: set.items,
      expected: set.collectors,
      responded,
      missing,
      failed,
      complete: reason === 'all-received',
      reason,
      duplicatesDropped: set.duplicatesDropped,
      overflowDropped: set.overflowDropped,
      invalidDropped: set.invalidDropped,
      startedAt: set.startedAt,
      completedAt: this.#clock.now(),
    };
    this.#deliver(result);
  }

  #deliver(result: AggregatedResult<R>): void {
    const onComplete = this.#options.onComplete;
    if (onComplete !== undefined) {
      try {
        onComplete(result);
      } catch (error) {
        this.#reportCallbackError('onComplete', result.correlationId, error);
      }
    }
    try {
      this.emit('complete', result);
    } catch (error) {
      this.#reportCallbackError("a 'complete' listener", result.correlationId, error);
    }
  }

  #reportCallbackError(callback: string, correlationId: string, cause: unknown): void {
    this.#callbackErrors++;
    const error = new AggregatorError(
      'ERR_CALLBACK_FAILED',
      `${callback} threw for correlation id "${correlationId}"`,
      { cause },
    );
    // Inside an addResult batch, `onCallbackError` could re-enter (cancel the very set being
    // filled): hold the report until the batch is committed.
    if (this.#deferred !== undefined) {
      this.#deferred.push(error);
      return;
    }
    this.#deliverCallbackError(error);
  }

  #deliverCallbackError(error: AggregatorError): void {
    const handler = this.#options.onCallbackError;
    if (handler !== undefined) {
      try {
        handler(error);
        return;
      } catch (handlerError) {
        queueMicrotask(() => {
          throw handlerError;
        });
        return;
      }
    }
    // Like an error thrown by any event listener: loud (uncaught), but after our state is consistent.
    queueMicrotask(() => {
      throw error;
    });
  }

  #armTimer(): void {
    let top = this.#deadlines.peek();
    while (top !== undefined && top.set === null) {
      this.#deadlines.pop();
      top = this.#deadlines.peek();
    }
    if (top === undefined || this.#closed) {
      this.#disarmTimer();
      return;
    }
    if (this.#timerArmed && this.#armedFor <= top.at) return;
    this.#disarmTimer();
    const now = this.#clock.now();
    const wanted = Math.max(0, Math.ceil(top.at - now));
    const delay = Math.min(wanted, MAX_TIMEOUT_MS);
    this.#armedFor = delay === wanted ? top.at : now + delay;
    this.#timerArmed = true;
    this.#timerHandle = this.#clock.setTimeout(this.#onTimer, delay);
  }

  #disarmTimer(): void {
    if (this.#timerArmed) {
      this.#clock.clearTimeout(this.#timerHandle);
      this.#timerArmed = false;
      this.#timerHandle = undefined;
      this.#armedFor = Number.POSITIVE_INFINITY;
    }
  }

  readonly #onTimer = (): void => {
    this.#timerArmed = false;
    this.#timerHandle = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (;;) {
      const top = this.#deadlines.peek();
      if (top === undefined) break;
      const set = top.set;
      if (set !== null && top.at > now) break;
      this.#deadlines.pop();
      if (set !== null) this.#complete(set, 'timeout');
    }
    this.#armTimer();
  };

  /** Drops completed entries so the heap stays within twice the pending sets. */
  #compactDeadlines(): void {
    const live: Deadline<R>[] = [];
    for (const entry of this.#deadlines.consume()) if (entry.set !== null) live.push(entry);
    this.#deadlines = Heap.from(live, compareDeadlines);
  }
}
