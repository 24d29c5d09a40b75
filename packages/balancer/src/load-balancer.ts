import {
  CollectorRecord,
  sanitizeBytes,
  sanitizeCount,
  sanitizeCpu,
  UNKNOWN,
} from './collector.js';
import { Ejection } from './ejection.js';
import { BalancerError } from './errors.js';
import type { BalancerEvent } from './events.js';
import { Fleet } from './fleet.js';
import {
  type LoadBalancerOptions,
  type ResolvedOptions,
  resolveOptions,
  resolveRegistration,
  type StrategyName,
} from './options.js';
import { Pools } from './pools.js';
import { Scorer } from './scoring.js';
import { Selector } from './strategies.js';
import type {
  BalancerSnapshot,
  BalancerStats,
  CollectorMetrics,
  CollectorSnapshot,
  RegisterOptions,
  ScoreExplanation,
  SelectRequest,
} from './types.js';
import { describeValue } from './validation.js';

/**
 * Chooses a collector for each task from live heartbeat metrics, local in-flight accounting and
 * task history. Synchronous and single-threaded: every method returns at once. It sets no timers.
 */
export class LoadBalancer {
  readonly #o: ResolvedOptions;
  readonly #collectors = new Map<string, CollectorRecord>();
  readonly #pools = new Pools();
  readonly #fleet: Fleet;
  readonly #scorer: Scorer;
  readonly #selector: Selector;
  readonly #ejection: Ejection;
  /** Collectors whose index leaves are out of date, flushed at the next selection. */
  readonly #dirty: CollectorRecord[] = [];

  #lastNow = 0;
  #selections = 0;
  #noCollector = 0;
  #panics = 0;
  #callbackErrors = 0;

  constructor(options?: LoadBalancerOptions) {
    this.#o = resolveOptions(options);
    this.#fleet = new Fleet(this.#o);
    this.#scorer = new Scorer(this.#o, this.#fleet);
    this.#selector = new Selector(this.#o, this.#scorer, this.#fleet);
    const collectors = this.#collectors;
    this.#ejection = new Ejection(this.#o, {
      get size() {
        return collectors.size;
      },
      emit: (event) => this.#emit(event),
      touched: (c) => this.#touch(c),
    });
    this.#lastNow = this.#now();
  }

  /** The configured strategy. */
  get strategy(): StrategyName {
    return this.#o.strategy;
  }

  /** Registered collector count. */
  get size(): number {
    return this.#collectors.size;
  }

  /** True when `id` is registered. */
  has(id: string): boolean {
    return this.#collectors.has(id);
  }

  /**
   * Adds a collector, or re-registers one: then its capabilities are replaced and it is treated as
   * {@link restarted} (metrics and history forgotten, slow start again).
   */
  register(id: string, options?: RegisterOptions): void {
    if (typeof id !== 'string' || id.length === 0) {
      throw new TypeError(`id must be a non-empty string, got ${describeValue(id)}`);
    }
    const { taskKinds, weight } = resolveRegistration(options);
    const now = this.#now();
    const existing = this.#collectors.get(id);
    if (existing !== undefined) {
      existing.taskKinds = taskKinds;
      existing.weight = weight;
      this.#restart(existing, now);
    } else {
      this.#collectors.set(id, new CollectorRecord(id, taskKinds, weight, now));
    }
    this.#pools.dirty = true;
  }

  /** Forgets a collector. Returns false when it was not registered. */
  remove(id: string): boolean {
    const c = this.#collectors.get(id);
    if (c === undefined) return false;
    this.#collectors.delete(id);
    this.#ejection.forget(c);
    this.#fleet.uncount(c);
    c.memberships = [];
    this.#pools.dirty = true;
    this.#fleet.recomputeHistory(this.#collectors.values());
    return true;
  }

  /**
   * A collector's process restarted: forget its metrics, in-flight count and task history, end
   * any ejection (the escalation count is kept) and start slow start. False when unknown.
   */
  restarted(id: string): boolean {
    const c = this.#collectors.get(id);
    if (c === undefined) return false;
    this.#restart(c, this.#now());
    return true;
  }

  /** Records a heartbeat. False when the id is unknown or the report is older than the last. */
  updateMetrics(id: string, metrics: CollectorMetrics): boolean {
    const c = this.#collectors.get(id);
    if (c === undefined || typeof metrics !== 'object' || metrics === null) return false;
    const now = this.#now();
    const at =
      typeof metrics.at === 'number' && Number.isFinite(metrics.at)
        ? Math.min(metrics.at, now)
        : now;
    if (c.hasReport && at < c.reportedAt) return false;
    this.#fleet.uncount(c);
    c.hasReport = true;
    c.reportedAt = at;
    c.reportedActive = sanitizeCount(metrics.activeTasks);
    c.reportedQueue = sanitizeCount(metrics.queueDepth);
    c.reportedCpu = sanitizeCpu(metrics.cpu);
    c.memoryBytes = sanitizeBytes(metrics.memoryBytes);
    c.degraded = metrics.health === 'degraded';
    c.startedSinceReport = 0;
    c.finishedSinceReport = 0;
    this.#fleet.count(c, now);
    this.#touch(c);
    return true;
  }

  /** A task was dispatched to `id`: counts until the next heartbeat reflects it. */
  taskStarted(id: string): boolean {
    const c = this.#collectors.get(id);
    if (c === undefined) return false;
    c.inFlight++;
    c.startedSinceReport++;
    this.#touch(c);
    return true;
  }

  /**
   * A task on `id` ended. Updates in-flight, the duration EWMA (junk durations are ignored), the
   * success rate and the failure streak that leads to ejection. False when the id is unknown.
   */
  taskFinished(id: string, durationMs: number, success: boolean): boolean {
    const c = this.#collectors.get(id);
    if (c === undefined) return false;
    const now = this.#now();
    if (now >= this.#ejection.nextEnd) this.#ejection.endDue(now);
    // An `onEvent` handler run by endDue may have removed (or replaced) this collector.
    if (this.#collectors.get(id) !== c) return false;
    if (c.inFlight > 0) c.inFlight--;
    c.finishedSinceReport++;

    if (typeof durationMs === 'number' && durationMs >= 0 && Number.isFinite(durationMs)) {
      const before = c.ewmaDurationMs;
      c.ewmaDurationMs =
        before === UNKNOWN ? durationMs : before + this.#o.ewmaAlpha * (durationMs - before);
      this.#fleet.durationChanged(before, c.ewmaDurationMs);
    }

    const before = c.successRate();
    if (success) c.succeeded++;
    else c.failed++;
    this.#fleet.successChanged(before, c.successRate());
    this.#touch(c);

    if (success) {
      c.consecutiveFailures = 0;
    } else {
      c.consecutiveFailures++;
      this.#ejection.afterFailure(c, now);
    }
    return true;
  }

  /**
   * Picks a collector for one task. O(1) for P2C; `weighted` and `least-loaded` walk a score
   * index (exactly the full scan's choice); a scan for `auto` below `p2cMinCandidates`. It does
   * not count the task: call {@link taskStarted} once it is dispatched. Throws
   * {@link BalancerError} `ERR_NO_COLLECTOR_AVAILABLE` when no registered, capable, non-excluded,
   * non-ejected collector exists.
   */
  select(request?: SelectRequest): string {
    const id = this.trySelect(request);
    if (id === undefined) {
      const kind =
        request?.taskKind === undefined ? 'any task kind' : `task kind "${request.taskKind}"`;
      throw new BalancerError(
        'ERR_NO_COLLECTOR_AVAILABLE',
        `no collector available for ${kind} (${this.#collectors.size} registered, ${this.#ejection.ejected.size} ejected)`,
      );
    }
    return id;
  }

  /** Like {@link select} but returns `undefined` instead of throwing. */
  trySelect(request?: SelectRequest): string | undefined {
    const now = this.#now();
    this.#refresh(now);
    const pool = this.#pools.poolFor(request?.taskKind);
    let ignoreEjection = false;
    if (this.#ejection.ejected.size > 0 && this.#ejection.isPanic(pool)) {
      ignoreEjection = true;
      this.#panics++;
    }
    const chosen = this.#selector.pick(pool, request?.exclude, ignoreEjection, now);
    if (chosen === undefined) {
      this.#noCollector++;
      return undefined;
    }
    this.#selections++;
    chosen.selections++;
    return chosen.id;
  }

  /** The weighted score of `id` and each of its terms. Throws `ERR_BALANCER_UNKNOWN_COLLECTOR`. */
  explain(id: string): ScoreExplanation {
    const c = this.#collectors.get(id);
    if (c === undefined) {
      throw new BalancerError('ERR_BALANCER_UNKNOWN_COLLECTOR', `unknown collector "${id}"`);
    }
    const now = this.#now();
    this.#refresh(now);
    return this.#scorer.explain(c, now);
  }

  /** Counters since construction. */
  stats(): BalancerStats {
    this.#refresh(this.#now());
    return {
      collectors: this.#collectors.size,
      ejected: this.#ejection.ejected.size,
      selections: this.#selections,
      noCollectorAvailable: this.#noCollector,
      ejections: this.#ejection.ejections,
      ejectionsSkipped: this.#ejection.skipped,
      panics: this.#panics,
      callbackErrors: this.#callbackErrors,
    };
  }

  /** Every collector with its score, load, history and ejection state, plus the counters. */
  snapshot(): BalancerSnapshot {
    const now = this.#now();
    const stats = this.stats();
    const collectors: CollectorSnapshot[] = [];
    for (const c of this.#collectors.values()) {
      const rate = c.successRate();
      collectors.push({
        id: c.id,
        taskKinds: c.taskKinds,
        weight: c.weight,
        score: this.#scorer.score(c),
        inFlight: c.inFlight,
        metrics: this.#scorer.metricsState(c, now),
        lastMetricsAt: c.hasReport ? c.reportedAt : undefined,
        activeTasks: known(c.reportedActive),
        queueDepth: known(c.reportedQueue),
        cpu: known(c.reportedCpu),
        memoryBytes: known(c.memoryBytes),
        health: c.degraded ? 'degraded' : 'healthy',
        ewmaDurationMs: known(c.ewmaDurationMs),
        successRate: known(rate),
        tasksSucceeded: c.succeeded,
        tasksFailed: c.failed,
        consecutiveFailures: c.consecutiveFailures,
        ejected: c.ejected,
        ejectedUntil: c.ejected ? c.ejectedUntil : undefined,
        ejectionCount: c.ejectionCount,
        slowStartFactor: this.#scorer.ramp(c, now),
        selections: c.selections,
      });
    }
    return { at: now, strategy: this.#o.strategy, stats, collectors };
  }

  // ---- time and derived state ---------------------------------------------------------------

  #now(): number {
    const t = this.#o.clock.now();
    if (typeof t === 'number' && Number.isFinite(t)) this.#lastNow = t;
    return this.#lastNow;
  }

  /** Brings derived state up to `now`: ejections, pools, fleet means, index leaves. */
  #refresh(now: number): void {
    // Ejections end first: an `onEvent` handler may remove or register collectors, and the pools
    // must be rebuilt after that, not before.
    if (now >= this.#ejection.nextEnd) this.#ejection.endDue(now);
    if (this.#pools.dirty) this.#pools.rebuild(this.#collectors.values());
    const fleet = this.#fleet;
    fleet.refreshMeans(this.#collectors, now);
    fleet.refreshHistory(this.#collectors.size);
    this.#scorer.refresh(now);
    const dirty = this.#dirty;
    if (dirty.length > 0) {
      for (const c of dirty) {
        c.indexDirty = false;
        this.#selector.updateLeaves(c);
      }
      dirty.length = 0;
    }
  }

  /** `c`'s score or eligibility changed: queue its index leaves for an update. */
  #touch(c: CollectorRecord): void {
    if (!this.#selector.usesIndex || c.indexDirty) return;
    c.indexDirty = true;
    this.#dirty.push(c);
  }

  #restart(c: CollectorRecord, now: number): void {
    this.#fleet.uncount(c);
    c.resetForRestart(now);
    this.#ejection.end(c, now);
    this.#fleet.recomputeHistory(this.#collectors.values());
    this.#touch(c);
  }

  /** Calls `onEvent`; a throw is reported through `onCallbackError` (the one callback policy). */
  #emit(event: BalancerEvent): void {
    const handler = this.#o.onEvent;
    if (handler === undefined) return;
    try {
      handler(event);
    } catch (cause) {
      this.#callbackErrors++;
      const error = new BalancerError(
        'ERR_BALANCER_CALLBACK_FAILED',
        `options.onEvent threw on a '${event.type}' event for collector "${event.id}"`,
        { cause },
      );
      const report = this.#o.onCallbackError;
      if (report !== undefined) {
        try {
          report(error);
          return;
        } catch (reportError) {
          queueMicrotask(() => {
            throw reportError;
          });
          return;
        }
      }
      // Like a throwing EventEmitter listener: loud (uncaught), but after our state is consistent.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/** Creates a {@link LoadBalancer}; validates `options` (TypeError/RangeError naming the option). */
export function createLoadBalancer(options?: LoadBalancerOptions): LoadBalancer {
  return new LoadBalancer(options);
}

function known(value: number): number | undefined {
  return value === UNKNOWN ? undefined : value;
}
