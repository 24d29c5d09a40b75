import {
  CollectorRecord,
  sanitizeBytes,
  sanitizeCount,
  sanitizeCpu,
  UNKNOWN,
} from './collector.js';
import { BalancerError } from './errors.js';
import type { BalancerEvent } from './events.js';
import {
  type LoadBalancerOptions,
  numberOption,
  type ResolvedOptions,
  resolveOptions,
  type ScoreWeights,
  type StrategyName,
} from './options.js';
import { durationFactor, type ScoreTerms, scoreTerms, TERM_POINTS } from './score.js';

const TERM_SQUARED = TERM_POINTS * TERM_POINTS;

/** Capabilities of a collector, given to {@link LoadBalancer.register}. */
export interface RegisterOptions {
  /** Task kinds it runs. Omitted or empty: it accepts every kind. */
  taskKinds?: readonly string[] | undefined;
  /** Static multiplier of its score (e.g. 2 for a collector with twice the capacity). Default 1. */
  weight?: number | undefined;
}

/** One heartbeat. Missing, non-finite or negative fields count as unknown. */
export interface CollectorMetrics {
  /** Tasks running in the collector. */
  activeTasks?: number | undefined;
  /** Tasks waiting in its queue. */
  queueDepth?: number | undefined;
  /** CPU share of the process, 0..1 (above 1 counts as 1). */
  cpu?: number | undefined;
  /** Resident memory in bytes (informational: shown in snapshots, not scored). */
  memoryBytes?: number | bigint | undefined;
  /** When the metrics were taken, on the balancer's clock (ms). Default: `clock.now()`. */
  at?: number | undefined;
}

/** Ids to skip, e.g. the collector a task just failed on. */
export type ExcludeList = ReadonlySet<string> | readonly string[];

/** Arguments of {@link LoadBalancer.select}. */
export interface SelectRequest {
  /** Only collectors that declared this kind, or declared none, qualify. Omitted: every collector qualifies. */
  taskKind?: string | undefined;
  /** Collectors never returned by this call. */
  exclude?: ExcludeList | undefined;
}

/** Where the heartbeat inputs of a score came from. */
export type MetricsState = 'fresh' | 'stale' | 'none';

/** The weighted score of one collector and how it was computed, for status displays. */
export interface ScoreExplanation {
  readonly id: string;
  /** `weight x base`: what `weighted` and `p2c` compare. */
  readonly score: number;
  /** Sum of the terms. */
  readonly base: number;
  readonly terms: ScoreTerms;
  /** Inputs after substitution of unknown values by fleet means. */
  readonly inputs: {
    readonly activeTasks: number;
    readonly queueDepth: number;
    readonly cpu: number;
    readonly successRate: number;
    readonly durationFactor: number;
  };
  /** Which inputs were unknown and replaced by the mean of the collectors that know theirs. */
  readonly estimated: {
    readonly activeTasks: boolean;
    readonly queueDepth: boolean;
    readonly cpu: boolean;
    readonly successRate: boolean;
    readonly durationFactor: boolean;
  };
  readonly metrics: MetricsState;
  readonly weight: number;
  /** Probability that slow start lets it take part in a selection (1 after the window). */
  readonly slowStartFactor: number;
  /** `least-loaded` picks the highest `weight / (activeTasks + queueDepth + 1)`. */
  readonly leastLoadedScore: number;
  readonly ejected: boolean;
}

/** One collector in {@link BalancerSnapshot}. */
export interface CollectorSnapshot {
  readonly id: string;
  /** Declared task kinds; empty means every kind. */
  readonly taskKinds: readonly string[];
  readonly weight: number;
  /** Weighted score (see {@link ScoreExplanation.score}). */
  readonly score: number;
  /** Tasks started and not yet finished, as told by `taskStarted`/`taskFinished`. */
  readonly inFlight: number;
  readonly metrics: MetricsState;
  /** Clock time of the last heartbeat, or undefined. */
  readonly lastMetricsAt: number | undefined;
  /** Last reported values (undefined when unknown). */
  readonly activeTasks: number | undefined;
  readonly queueDepth: number | undefined;
  readonly cpu: number | undefined;
  readonly memoryBytes: number | undefined;
  readonly ewmaDurationMs: number | undefined;
  readonly successRate: number | undefined;
  readonly tasksSucceeded: number;
  readonly tasksFailed: number;
  readonly consecutiveFailures: number;
  readonly ejected: boolean;
  /** Clock time at which the ejection ends, or undefined when not ejected. */
  readonly ejectedUntil: number | undefined;
  readonly ejectionCount: number;
  /** 1 once the slow-start window is over. */
  readonly slowStartFactor: number;
  /** How many times `select` returned it. */
  readonly selections: number;
}

/** Counters since construction. */
export interface BalancerStats {
  /** Registered collectors. */
  readonly collectors: number;
  /** Collectors ejected right now. */
  readonly ejected: number;
  /** Successful selections. */
  readonly selections: number;
  /** Selections that found no collector (`ERR_NO_COLLECTOR_AVAILABLE` or `undefined`). */
  readonly noCollectorAvailable: number;
  readonly ejections: number;
  /** Ejections refused because `maxEjectionPercent` was reached. */
  readonly ejectionsSkipped: number;
  /** Selections that ignored ejection because too much of their pool was ejected. */
  readonly panics: number;
}

/** Everything a status display needs. */
export interface BalancerSnapshot {
  /** Clock time of the snapshot. */
  readonly at: number;
  readonly strategy: StrategyName;
  readonly stats: BalancerStats;
  readonly collectors: readonly CollectorSnapshot[];
}

/** Candidates for one task kind, rebuilt only when collectors come or go. */
interface Pool {
  readonly members: CollectorRecord[];
  cursor: number;
  ejectedCount: number;
  ejectionVersion: number;
}

/** P2C draws before falling back to listing the eligible candidates. */
const P2C_DRAWS = 4;
/** Relative tolerance under which two scores are a tie. */
const TIE_EPSILON = 1e-9;
const MAX_COLLECTOR_WEIGHT = 1_000_000;

function isIdArray(exclude: ExcludeList): exclude is readonly string[] {
  return Array.isArray(exclude);
}

function emptyPool(): Pool {
  return { members: [], cursor: 0, ejectedCount: 0, ejectionVersion: -1 };
}

/**
 * Chooses a collector for each task from live heartbeat metrics, local in-flight accounting and
 * task history. Synchronous and single-threaded: every method returns at once.
 */
export class LoadBalancer {
  readonly #o: ResolvedOptions;
  readonly #w: ScoreWeights;
  readonly #collectors = new Map<string, CollectorRecord>();

  #poolsDirty = true;
  #all: Pool = emptyPool();
  #anyKind: Pool = emptyPool();
  #byKind = new Map<string, Pool>();
  /** Indices reused by P2C's fallback; grows with the pool, never allocated per selection. */
  #scratch = new Int32Array(16);

  readonly #ejected = new Set<CollectorRecord>();
  #nextEjectionEnd = Number.POSITIVE_INFINITY;
  #ejectionVersion = 0;

  #meansDirty = true;
  #meansValidUntil = Number.NEGATIVE_INFINITY;
  #meanActive = 0;
  #meanQueue = 0;
  #meanCpu = 0;
  #durationSum = 0;
  #durationCount = 0;
  #successSum = 0;
  #successCount = 0;

  #lastNow = 0;
  /** Per-selection constants, set by `#refresh`. */
  #t = 0;
  #meanDuration = 0;
  #meanSuccess = 1;
  #selections = 0;
  #noCollector = 0;
  #ejections = 0;
  #ejectionsSkipped = 0;
  #panics = 0;

  constructor(options?: LoadBalancerOptions) {
    this.#o = resolveOptions(options);
    this.#w = this.#o.weights;
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
      throw new TypeError('id must be a non-empty string');
    }
    const taskKinds = checkTaskKinds(options?.taskKinds);
    const weight = numberOption('register options.weight', options?.weight, 1, {
      min: 0,
      minExclusive: true,
      max: MAX_COLLECTOR_WEIGHT,
    });
    const now = this.#now();
    const existing = this.#collectors.get(id);
    if (existing !== undefined) {
      existing.taskKinds = taskKinds;
      existing.weight = weight;
      this.#restart(existing, now);
    } else {
      this.#collectors.set(id, new CollectorRecord(id, taskKinds, weight, now));
    }
    this.#poolsDirty = true;
  }

  /** Forgets a collector. Returns false when it was not registered. */
  remove(id: string): boolean {
    const c = this.#collectors.get(id);
    if (c === undefined) return false;
    this.#collectors.delete(id);
    if (this.#ejected.delete(c)) this.#ejectionVersion++;
    this.#poolsDirty = true;
    this.#meansDirty = true;
    this.#recomputeHistorySums();
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
    c.hasReport = true;
    c.reportedAt = at;
    c.reportedActive = sanitizeCount(metrics.activeTasks);
    c.reportedQueue = sanitizeCount(metrics.queueDepth);
    c.reportedCpu = sanitizeCpu(metrics.cpu);
    c.memoryBytes = sanitizeBytes(metrics.memoryBytes);
    c.startedSinceReport = 0;
    c.finishedSinceReport = 0;
    this.#meansDirty = true;
    return true;
  }

  /** A task was dispatched to `id`: counts until the next heartbeat reflects it. */
  taskStarted(id: string): boolean {
    const c = this.#collectors.get(id);
    if (c === undefined) return false;
    c.inFlight++;
    c.startedSinceReport++;
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
    if (now >= this.#nextEjectionEnd) this.#endEjections(now);
    // An `onEvent` handler run by #endEjections may have removed (or replaced) this collector.
    if (this.#collectors.get(id) !== c) return false;
    if (c.inFlight > 0) c.inFlight--;
    c.finishedSinceReport++;

    if (typeof durationMs === 'number' && durationMs >= 0 && Number.isFinite(durationMs)) {
      if (c.ewmaDurationMs === UNKNOWN) {
        c.ewmaDurationMs = durationMs;
        this.#durationCount++;
        this.#durationSum += durationMs;
      } else {
        const next = c.ewmaDurationMs + this.#o.ewmaAlpha * (durationMs - c.ewmaDurationMs);
        this.#durationSum += next - c.ewmaDurationMs;
        c.ewmaDurationMs = next;
      }
    }

    const before = c.successRate();
    if (success) c.succeeded++;
    else c.failed++;
    const after = c.successRate();
    if (before === UNKNOWN) this.#successCount++;
    this.#successSum += after - (before === UNKNOWN ? 0 : before);

    if (success) {
      c.consecutiveFailures = 0;
    } else {
      c.consecutiveFailures++;
      // maxEjectionPercent 0 disables ejection: nothing to try, nothing to report as skipped.
      if (
        this.#o.maxEjectionPercent > 0 &&
        c.consecutiveFailures >= this.#o.consecutiveFailures &&
        !c.ejected
      ) {
        this.#tryEject(c, now);
      }
    }
    return true;
  }

  /**
   * Picks a collector for one task. Synchronous and O(1) for P2C; a full scan for `weighted`,
   * `least-loaded` and `auto` below `p2cMinCandidates`. It does not count the task: call
   * {@link taskStarted} once it is dispatched. Throws {@link BalancerError}
   * `ERR_NO_COLLECTOR_AVAILABLE` when no registered, capable, non-excluded, non-ejected collector
   * exists.
   */
  select(request?: SelectRequest): string {
    const id = this.trySelect(request);
    if (id === undefined) {
      const kind =
        request?.taskKind === undefined ? 'any task kind' : `task kind "${request.taskKind}"`;
      throw new BalancerError(
        'ERR_NO_COLLECTOR_AVAILABLE',
        `no collector available for ${kind} (${this.#collectors.size} registered, ${this.#ejected.size} ejected)`,
      );
    }
    return id;
  }

  /** Like {@link select} but returns `undefined` instead of throwing. */
  trySelect(request?: SelectRequest): string | undefined {
    const now = this.#now();
    this.#refresh(now);
    const pool = this.#poolFor(request?.taskKind);
    const exclude = request?.exclude;
    let ignoreEjection = false;
    if (this.#ejected.size > 0 && this.#isPanic(pool)) {
      ignoreEjection = true;
      this.#panics++;
    }
    const chosen = this.#pick(pool, exclude, ignoreEjection, now);
    if (chosen === undefined) {
      this.#noCollector++;
      return undefined;
    }
    this.#selections++;
    chosen.selections++;
    return chosen.id;
  }

  /** The weighted score of `id` and each of its terms. Throws `ERR_UNKNOWN_COLLECTOR`. */
  explain(id: string): ScoreExplanation {
    const c = this.#collectors.get(id);
    if (c === undefined) {
      throw new BalancerError('ERR_UNKNOWN_COLLECTOR', `unknown collector "${id}"`);
    }
    const now = this.#now();
    this.#refresh(now);
    return this.#explain(c, now);
  }

  /** Counters since construction. */
  stats(): BalancerStats {
    this.#refresh(this.#now());
    return {
      collectors: this.#collectors.size,
      ejected: this.#ejected.size,
      selections: this.#selections,
      noCollectorAvailable: this.#noCollector,
      ejections: this.#ejections,
      ejectionsSkipped: this.#ejectionsSkipped,
      panics: this.#panics,
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
        score: this.#score(c),
        inFlight: c.inFlight,
        metrics: this.#metricsState(c, now),
        lastMetricsAt: c.hasReport ? c.reportedAt : undefined,
        activeTasks: known(c.reportedActive),
        queueDepth: known(c.reportedQueue),
        cpu: known(c.reportedCpu),
        memoryBytes: known(c.memoryBytes),
        ewmaDurationMs: known(c.ewmaDurationMs),
        successRate: known(rate),
        tasksSucceeded: c.succeeded,
        tasksFailed: c.failed,
        consecutiveFailures: c.consecutiveFailures,
        ejected: c.ejected,
        ejectedUntil: c.ejected ? c.ejectedUntil : undefined,
        ejectionCount: c.ejectionCount,
        slowStartFactor: this.#ramp(c, now),
        selections: c.selections,
      });
    }
    return { at: now, strategy: this.#o.strategy, stats, collectors };
  }

  // ---- time and derived state -------------------------------------------------------------

  #now(): number {
    const t = this.#o.clock.now();
    if (typeof t === 'number' && Number.isFinite(t)) this.#lastNow = t;
    return this.#lastNow;
  }

  /** Brings derived state up to `now` and caches the per-selection constants of `#score`. */
  #refresh(now: number): void {
    // Ejections end first: an `onEvent` handler may remove or register collectors, and the pools
    // must be rebuilt after that, not before.
    if (now >= this.#nextEjectionEnd) this.#endEjections(now);
    if (this.#poolsDirty) this.#rebuildPools();
    if (this.#meansDirty || now > this.#meansValidUntil) this.#recomputeMeans(now);
    this.#t = now;
    this.#meanDuration = this.#durationCount > 0 ? this.#durationSum / this.#durationCount : 0;
    this.#meanSuccess = this.#successCount > 0 ? this.#successSum / this.#successCount : 1;
  }

  #rebuildPools(): void {
    const kinds = new Set<string>();
    for (const c of this.#collectors.values()) for (const k of c.taskKinds) kinds.add(k);
    const all = emptyPool();
    const anyKind = emptyPool();
    const byKind = new Map<string, Pool>();
    for (const k of kinds) byKind.set(k, emptyPool());
    for (const c of this.#collectors.values()) {
      all.members.push(c);
      if (c.taskKinds.length === 0) {
        anyKind.members.push(c);
        for (const pool of byKind.values()) pool.members.push(c);
      } else {
        for (const k of c.taskKinds) byKind.get(k)?.members.push(c);
      }
    }
    // Keep round-robin positions across membership changes.
    all.cursor = this.#all.cursor;
    anyKind.cursor = this.#anyKind.cursor;
    for (const [k, pool] of byKind) pool.cursor = this.#byKind.get(k)?.cursor ?? 0;
    this.#all = all;
    this.#anyKind = anyKind;
    this.#byKind = byKind;
    this.#poolsDirty = false;
  }

  #poolFor(taskKind: string | undefined): Pool {
    if (taskKind === undefined) return this.#all;
    return this.#byKind.get(taskKind) ?? this.#anyKind;
  }

  /** Fleet means of fresh heartbeat fields, valid until the first contributor goes stale. */
  #recomputeMeans(now: number): void {
    let sa = 0;
    let na = 0;
    let sq = 0;
    let nq = 0;
    let sc = 0;
    let nc = 0;
    let validUntil = Number.POSITIVE_INFINITY;
    for (const c of this.#collectors.values()) {
      if (!c.hasReport) continue;
      const expires = c.reportedAt + this.#o.stalenessMs;
      if (now > expires) continue;
      if (expires < validUntil) validUntil = expires;
      if (c.reportedActive !== UNKNOWN) {
        sa += c.reportedActive;
        na++;
      }
      if (c.reportedQueue !== UNKNOWN) {
        sq += c.reportedQueue;
        nq++;
      }
      if (c.reportedCpu !== UNKNOWN) {
        sc += c.reportedCpu;
        nc++;
      }
    }
    this.#meanActive = na > 0 ? sa / na : 0;
    this.#meanQueue = nq > 0 ? sq / nq : 0;
    this.#meanCpu = nc > 0 ? sc / nc : 0;
    this.#meansValidUntil = validUntil;
    this.#meansDirty = false;
  }

  /** Exact sums again (after a removal or restart), so incremental updates cannot drift. */
  #recomputeHistorySums(): void {
    this.#durationSum = 0;
    this.#durationCount = 0;
    this.#successSum = 0;
    this.#successCount = 0;
    for (const c of this.#collectors.values()) {
      if (c.ewmaDurationMs !== UNKNOWN) {
        this.#durationSum += c.ewmaDurationMs;
        this.#durationCount++;
      }
      const rate = c.successRate();
      if (rate !== UNKNOWN) {
        this.#successSum += rate;
        this.#successCount++;
      }
    }
  }

  #restart(c: CollectorRecord, now: number): void {
    c.resetForRestart(now);
    if (c.ejected) {
      this.#unEject(c, now);
      this.#nextEjectionEnd = this.#earliestEjectionEnd();
    }
    this.#meansDirty = true;
    this.#recomputeHistorySums();
  }

  // ---- scoring ----------------------------------------------------------------------------

  #isFresh(c: CollectorRecord, now: number): boolean {
    return c.hasReport && now - c.reportedAt <= this.#o.stalenessMs;
  }

  #metricsState(c: CollectorRecord, now: number): MetricsState {
    if (!c.hasReport) return 'none';
    return this.#isFresh(c, now) ? 'fresh' : 'stale';
  }

  /**
   * Reported active tasks plus dispatches minus completions since that report (never below the
   * local in-flight count); unknown reports use the fleet mean plus the local in-flight count.
   */
  #active(c: CollectorRecord, fresh: boolean): number {
    if (fresh && c.reportedActive !== UNKNOWN) {
      const est = c.reportedActive + c.startedSinceReport - c.finishedSinceReport;
      return Math.max(est, c.inFlight);
    }
    return this.#meanActive + c.inFlight;
  }

  #queue(c: CollectorRecord, fresh: boolean): number {
    return fresh && c.reportedQueue !== UNKNOWN ? c.reportedQueue : this.#meanQueue;
  }

  #cpu(c: CollectorRecord, fresh: boolean): number {
    return fresh && c.reportedCpu !== UNKNOWN ? c.reportedCpu : this.#meanCpu;
  }

  #successRate(c: CollectorRecord): number {
    const total = c.succeeded + c.failed;
    return total > 0 ? c.succeeded / total : this.#meanSuccess;
  }

  #durationFactor(c: CollectorRecord): number {
    return durationFactor(c.ewmaDurationMs, this.#meanDuration, this.#w.duration);
  }

  #ramp(c: CollectorRecord, now: number): number {
    const window = this.#o.slowStartMs;
    if (window === 0) return 1;
    const elapsed = now - c.startedAt;
    if (elapsed >= window) return 1;
    const f = elapsed / window;
    return Math.max(f, this.#o.slowStartMinFactor);
  }

  /**
   * The weighted score, flattened for the hot path (a non-inlined call returning a double boxes
   * it). Must equal `weight x sum(scoreTerms(...))` of `#explain`; a property test checks that.
   * Reads the constants cached by `#refresh`.
   */
  #score(c: CollectorRecord): number {
    const w = this.#w;
    const fresh = c.hasReport && this.#t - c.reportedAt <= this.#o.stalenessMs;
    let active: number;
    if (fresh && c.reportedActive !== UNKNOWN) {
      active = c.reportedActive + c.startedSinceReport - c.finishedSinceReport;
      if (active < c.inFlight) active = c.inFlight;
    } else {
      active = this.#meanActive + c.inFlight;
    }
    const queue = fresh && c.reportedQueue !== UNKNOWN ? c.reportedQueue : this.#meanQueue;
    const cpu = fresh && c.reportedCpu !== UNKNOWN ? c.reportedCpu : this.#meanCpu;
    const total = c.succeeded + c.failed;
    const success = total > 0 ? c.succeeded / total : this.#meanSuccess;
    const r =
      c.ewmaDurationMs === UNKNOWN || this.#meanDuration === 0
        ? 1
        : durationFactor(c.ewmaDurationMs, this.#meanDuration, w.duration);
    let units = (active + 1) * r - 1;
    if (units < 0) units = 0;
    const pa = w.active * units;
    const pq = w.queue * queue * r;
    const ta = pa > 0 ? TERM_SQUARED / (TERM_POINTS + pa) : TERM_POINTS;
    const tq = pq > 0 ? TERM_SQUARED / (TERM_POINTS + pq) : TERM_POINTS;
    return (ta + tq + w.success * success + w.cpu * (1 - cpu)) * c.weight;
  }

  #leastLoadedScore(c: CollectorRecord): number {
    const fresh = c.hasReport && this.#t - c.reportedAt <= this.#o.stalenessMs;
    return c.weight / (this.#active(c, fresh) + this.#queue(c, fresh) + 1);
  }

  #explain(c: CollectorRecord, now: number): ScoreExplanation {
    const fresh = this.#isFresh(c, now);
    const inputs = {
      activeTasks: this.#active(c, fresh),
      queueDepth: this.#queue(c, fresh),
      cpu: this.#cpu(c, fresh),
      successRate: this.#successRate(c),
      durationFactor: this.#durationFactor(c),
    };
    const terms = scoreTerms(this.#w, inputs);
    const base = terms.active + terms.queue + terms.success + terms.cpu;
    return {
      id: c.id,
      score: base * c.weight,
      base,
      terms,
      inputs,
      estimated: {
        activeTasks: !(fresh && c.reportedActive !== UNKNOWN),
        queueDepth: !(fresh && c.reportedQueue !== UNKNOWN),
        cpu: !(fresh && c.reportedCpu !== UNKNOWN),
        successRate: c.succeeded + c.failed === 0,
        durationFactor: c.ewmaDurationMs === UNKNOWN,
      },
      metrics: this.#metricsState(c, now),
      weight: c.weight,
      slowStartFactor: this.#ramp(c, now),
      leastLoadedScore: this.#leastLoadedScore(c),
      ejected: c.ejected,
    };
  }

  // ---- selection --------------------------------------------------------------------------

  #eligible(
    c: CollectorRecord,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
  ): boolean {
    if (c.ejected && !ignoreEjection) return false;
    if (exclude === undefined) return true;
    return isIdArray(exclude) ? !exclude.includes(c.id) : !exclude.has(c.id);
  }

  /**
   * Slow start: a collector in its ramp takes part in a selection with probability equal to its
   * slow-start factor, so its share grows with the factor whatever the strategy.
   */
  #admitted(c: CollectorRecord, now: number): boolean {
    if (this.#o.slowStartMs === 0 || now - c.startedAt >= this.#o.slowStartMs) return true;
    return this.#o.random() < this.#ramp(c, now);
  }

  #index(n: number): number {
    const i = Math.floor(this.#o.random() * n);
    if (!(i >= 0)) return 0;
    return i < n ? i : n - 1;
  }

  #pick(
    pool: Pool,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
  ): CollectorRecord | undefined {
    const members = pool.members;
    const n = members.length;
    if (n === 0) return undefined;
    switch (this.#o.strategy) {
      case 'round-robin':
        return this.#roundRobin(pool, exclude, ignoreEjection, now);
      case 'least-loaded':
        return this.#scan(members, n, exclude, ignoreEjection, now, true);
      case 'weighted':
        return this.#scan(members, n, exclude, ignoreEjection, now, false);
      case 'p2c':
        return this.#p2c(members, n, exclude, ignoreEjection, now, false);
      case 'auto':
        return n < this.#o.p2cMinCandidates
          ? this.#scan(members, n, exclude, ignoreEjection, now, false)
          : this.#p2c(members, n, exclude, ignoreEjection, now, true);
    }
  }

  /**
   * Highest score among eligible candidates admitted by slow start (or, when slow start admitted
   * none, among all eligible ones); ties within 1e-9 relative are broken at random.
   */
  #scan(
    members: readonly CollectorRecord[],
    n: number,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
    leastLoaded: boolean,
  ): CollectorRecord | undefined {
    // Two running maxima, kept in locals (no allocation): admitted by slow start, and deferred.
    let best: CollectorRecord | undefined;
    let bestScore = 0;
    let bestTies = 0;
    let spare: CollectorRecord | undefined;
    let spareScore = 0;
    let spareTies = 0;
    const random = this.#o.random;
    for (let i = 0; i < n; i++) {
      const c = members[i];
      if (c === undefined || !this.#eligible(c, exclude, ignoreEjection)) continue;
      const s = leastLoaded ? this.#leastLoadedScore(c) : this.#score(c);
      if (this.#admitted(c, now)) {
        const tolerance = bestScore * TIE_EPSILON;
        if (best === undefined || s > bestScore + tolerance) {
          best = c;
          bestScore = s;
          bestTies = 1;
        } else if (s >= bestScore - tolerance) {
          // Reservoir sampling: each of k tied candidates is kept with probability 1/k.
          bestTies++;
          if (random() * bestTies < 1) best = c;
        }
      } else if (best === undefined) {
        const tolerance = spareScore * TIE_EPSILON;
        if (spare === undefined || s > spareScore + tolerance) {
          spare = c;
          spareScore = s;
          spareTies = 1;
        } else if (s >= spareScore - tolerance) {
          spareTies++;
          if (random() * spareTies < 1) spare = c;
        }
      }
    }
    return best ?? spare;
  }

  /**
   * Power of two choices: two distinct random candidates, the better score wins. O(1) unless
   * repeated draws hit ineligible candidates; then the eligible ones are listed once.
   */
  #p2c(
    members: readonly CollectorRecord[],
    n: number,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
    auto: boolean,
  ): CollectorRecord | undefined {
    let first: CollectorRecord | undefined;
    let firstIndex = -1;
    for (let draw = 0; draw < P2C_DRAWS && first === undefined; draw++) {
      const i = this.#index(n);
      const c = members[i];
      if (c !== undefined && this.#eligible(c, exclude, ignoreEjection)) {
        first = c;
        firstIndex = i;
      }
    }
    let second: CollectorRecord | undefined;
    if (first !== undefined && n > 1) {
      for (let draw = 0; draw < P2C_DRAWS && second === undefined; draw++) {
        let j = this.#index(n - 1);
        if (j >= firstIndex) j++;
        const c = members[j];
        if (c !== undefined && this.#eligible(c, exclude, ignoreEjection)) second = c;
      }
    }
    if (first !== undefined && second !== undefined) return this.#duel(first, second, now);
    if (first !== undefined && n === 1) return first;

    // Repeated draws hit ineligible candidates: list the eligible ones (one O(n) pass).
    let scratch = this.#scratch;
    if (scratch.length < n) {
      scratch = new Int32Array(Math.max(n, scratch.length * 2));
      this.#scratch = scratch;
    }
    let m = 0;
    for (let i = 0; i < n; i++) {
      const c = members[i];
      if (c !== undefined && this.#eligible(c, exclude, ignoreEjection)) scratch[m++] = i;
    }
    if (m === 0) return undefined;
    if (auto && m < this.#o.p2cMinCandidates) {
      // Few eligible ones left: a full scan is fairer than P2C among them.
      return this.#scan(members, n, exclude, ignoreEjection, now, false);
    }
    const i = this.#index(m);
    const a = members[scratch[i] ?? 0];
    if (m === 1 || a === undefined) return a;
    let j = this.#index(m - 1);
    if (j >= i) j++;
    const b = members[scratch[j] ?? 0];
    return b === undefined ? a : this.#duel(a, b, now);
  }

  /** P2C's comparison: slow start admission first, then the higher score, ties at random. */
  #duel(a: CollectorRecord, b: CollectorRecord, now: number): CollectorRecord {
    const inA = this.#admitted(a, now);
    const inB = this.#admitted(b, now);
    if (inA !== inB) return inA ? a : b;
    const sa = this.#score(a);
    const sb = this.#score(b);
    const tolerance = Math.max(sa, sb) * TIE_EPSILON;
    if (sa > sb + tolerance) return a;
    if (sb > sa + tolerance) return b;
    return this.#o.random() < 0.5 ? a : b;
  }

  /** Next eligible collector after the pool's cursor; slow start may pass one over. */
  #roundRobin(
    pool: Pool,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
  ): CollectorRecord | undefined {
    const members = pool.members;
    const n = members.length;
    const start = pool.cursor % n;
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const c = members[i];
      if (c === undefined || !this.#eligible(c, exclude, ignoreEjection)) continue;
      if (this.#admitted(c, now)) {
        pool.cursor = i + 1;
        return c;
      }
      if (fallback < 0) fallback = i;
    }
    if (fallback < 0) return undefined;
    pool.cursor = fallback + 1;
    return members[fallback];
  }

  // ---- ejection ---------------------------------------------------------------------------

  /** Panic: more than `maxEjectionPercent` of this pool is ejected, so ejection is ignored. */
  #isPanic(pool: Pool): boolean {
    if (pool.ejectionVersion !== this.#ejectionVersion) {
      let count = 0;
      for (const c of pool.members) if (c.ejected) count++;
      pool.ejectedCount = count;
      pool.ejectionVersion = this.#ejectionVersion;
    }
    const n = pool.members.length;
    return n > 0 && pool.ejectedCount * 100 > this.#o.maxEjectionPercent * n;
  }

  #maxEjected(): number {
    return Math.floor((this.#collectors.size * this.#o.maxEjectionPercent) / 100);
  }

  #tryEject(c: CollectorRecord, now: number): void {
    if (now >= this.#nextEjectionEnd) this.#endEjections(now);
    const maxEjected = this.#maxEjected();
    if (this.#ejected.size + 1 > maxEjected) {
      // Stays in rotation; its next failure tries again.
      this.#ejectionsSkipped++;
      this.#emit({
        type: 'ejection-skipped',
        id: c.id,
        at: now,
        ejected: this.#ejected.size,
        maxEjected,
      });
      return;
    }
    // The multiplier decays by one for every baseEjectionMs spent un-ejected since the last one.
    if (c.ejectionCount > 0) {
      const quiet = Math.floor((now - c.lastEjectionEnd) / this.#o.baseEjectionMs);
      if (quiet > 0) c.ejectionCount = Math.max(0, c.ejectionCount - quiet);
    }
    c.ejectionCount++;
    const duration = Math.min(this.#o.baseEjectionMs * c.ejectionCount, this.#o.maxEjectionMs);
    c.ejected = true;
    c.ejectedUntil = now + duration;
    c.consecutiveFailures = 0;
    this.#ejected.add(c);
    this.#ejectionVersion++;
    this.#ejections++;
    if (c.ejectedUntil < this.#nextEjectionEnd) this.#nextEjectionEnd = c.ejectedUntil;
    this.#emit({
      type: 'ejected',
      id: c.id,
      at: now,
      untilMs: c.ejectedUntil,
      ejectionCount: c.ejectionCount,
    });
  }

  #endEjections(now: number): void {
    for (const c of this.#ejected) {
      if (c.ejectedUntil <= now) this.#unEject(c, now);
    }
    this.#nextEjectionEnd = this.#earliestEjectionEnd();
  }

  #unEject(c: CollectorRecord, now: number): void {
    c.ejected = false;
    // Back in rotation with a clean slate: failures of tasks sent before the ejection do not count.
    c.consecutiveFailures = 0;
    c.lastEjectionEnd = Math.min(now, c.ejectedUntil);
    this.#ejected.delete(c);
    this.#ejectionVersion++;
    this.#emit({ type: 'ejection-ended', id: c.id, at: now });
  }

  #earliestEjectionEnd(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const c of this.#ejected) if (c.ejectedUntil < earliest) earliest = c.ejectedUntil;
    return earliest;
  }

  #emit(event: BalancerEvent): void {
    this.#o.onEvent?.(event);
  }
}

/** Creates a {@link LoadBalancer}; validates `options` (TypeError/RangeError naming the option). */
export function createLoadBalancer(options?: LoadBalancerOptions): LoadBalancer {
  return new LoadBalancer(options);
}

function known(value: number): number | undefined {
  return value === UNKNOWN ? undefined : value;
}

function checkTaskKinds(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError('register options.taskKinds must be an array');
  const kinds: string[] = [];
  for (const k of value) {
    if (typeof k !== 'string' || k.length === 0) {
      throw new TypeError('register options.taskKinds must contain non-empty strings');
    }
    if (!kinds.includes(k)) kinds.push(k);
  }
  return Object.freeze(kinds);
}
