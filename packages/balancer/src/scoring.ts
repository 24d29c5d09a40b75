import { type CollectorRecord, UNKNOWN } from './collector.js';
import type { Fleet } from './fleet.js';
import type { ResolvedOptions, ScoreWeights } from './options.js';
import { durationFactor, scoreTerms, TERM_POINTS } from './score.js';
import type { MetricsState, ScoreExplanation } from './types.js';

const TERM_SQUARED = TERM_POINTS * TERM_POINTS;
/** Bounds are raised by this much so that rounding (of `**` in the duration factor) cannot undercut them. */
const BOUND_SLACK = 1 + 1e-12;

/**
 * The two scores (weighted and least-loaded) of one collector, from its own state and the fleet
 * means. `refresh` caches the per-selection constants; every read is then O(1).
 */
export class Scorer {
  readonly #o: ResolvedOptions;
  readonly #w: ScoreWeights;
  readonly #fleet: Fleet;
  /** Time the constants were taken at. */
  #t = 0;

  constructor(o: ResolvedOptions, fleet: Fleet) {
    this.#o = o;
    this.#w = o.weights;
    this.#fleet = fleet;
  }

  /** Takes the time of the selection (the fleet means are read live). */
  refresh(now: number): void {
    this.#t = now;
  }

  isFresh(c: CollectorRecord, now: number): boolean {
    return c.hasReport && now - c.reportedAt <= this.#o.stalenessMs;
  }

  metricsState(c: CollectorRecord, now: number): MetricsState {
    if (!c.hasReport) return 'none';
    return this.isFresh(c, now) ? 'fresh' : 'stale';
  }

  healthFactor(c: CollectorRecord): number {
    return c.degraded ? this.#o.degradedFactor : 1;
  }

  /** Slow-start factor: the probability of taking part in a selection, 1 after the window. */
  ramp(c: CollectorRecord, now: number): number {
    const window = this.#o.slowStartMs;
    if (window === 0) return 1;
    const elapsed = now - c.startedAt;
    if (elapsed >= window) return 1;
    return Math.max(elapsed / window, this.#o.slowStartMinFactor);
  }

  /**
   * Reported active tasks plus dispatches minus completions since that report (never below the
   * local in-flight count); unknown reports use the fleet mean plus the local in-flight count.
   */
  active(c: CollectorRecord, fresh: boolean): number {
    if (fresh && c.reportedActive !== UNKNOWN) {
      const est = c.reportedActive + c.startedSinceReport - c.finishedSinceReport;
      return Math.max(est, c.inFlight);
    }
    return this.#fleet.meanActive + c.inFlight;
  }

  queue(c: CollectorRecord, fresh: boolean): number {
    return fresh && c.reportedQueue !== UNKNOWN ? c.reportedQueue : this.#fleet.meanQueue;
  }

  cpu(c: CollectorRecord, fresh: boolean): number {
    return fresh && c.reportedCpu !== UNKNOWN ? c.reportedCpu : this.#fleet.meanCpu;
  }

  /** The weighted score with the current fleet means: what `weighted` and `p2c` compare. */
  score(c: CollectorRecord): number {
    return this.scoreWith(c, this.#fleet.meanDuration, this.#fleet.meanSuccess);
  }

  /**
   * An upper bound of {@link score} for as long as the fleet's history means stay in their bands
   * (the score rises with the mean duration and with the mean success rate).
   */
  scoreBound(c: CollectorRecord): number {
    return this.scoreWith(c, this.#fleet.durationHigh, this.#fleet.successHigh) * BOUND_SLACK;
  }

  /**
   * The weighted score for a given mean duration and mean success rate, flattened for the hot
   * path (a non-inlined call returning a double boxes it). Must equal
   * `weight x healthFactor x sum(scoreTerms(...))` of {@link explain}; a property test checks it.
   * Every operation is monotonic in `meanDuration` and `meanSuccess`, which the bounds rely on.
   */
  scoreWith(c: CollectorRecord, meanDuration: number, meanSuccess: number): number {
    const w = this.#w;
    const fleet = this.#fleet;
    const fresh = c.hasReport && this.#t - c.reportedAt <= this.#o.stalenessMs;
    let active: number;
    if (fresh && c.reportedActive !== UNKNOWN) {
      active = c.reportedActive + c.startedSinceReport - c.finishedSinceReport;
      if (active < c.inFlight) active = c.inFlight;
    } else {
      active = fleet.meanActive + c.inFlight;
    }
    const queue = fresh && c.reportedQueue !== UNKNOWN ? c.reportedQueue : fleet.meanQueue;
    const cpu = fresh && c.reportedCpu !== UNKNOWN ? c.reportedCpu : fleet.meanCpu;
    const total = c.succeeded + c.failed;
    const success = total > 0 ? c.succeeded / total : meanSuccess;
    const r =
      c.ewmaDurationMs === UNKNOWN || meanDuration === 0
        ? 1
        : durationFactor(c.ewmaDurationMs, meanDuration, w.duration);
    let units = (active + 1) * r - 1;
    if (units < 0) units = 0;
    const pa = w.active * units;
    const pq = w.queue * queue * r;
    const ta = pa > 0 ? TERM_SQUARED / (TERM_POINTS + pa) : TERM_POINTS;
    const tq = pq > 0 ? TERM_SQUARED / (TERM_POINTS + pq) : TERM_POINTS;
    const health = c.degraded ? this.#o.degradedFactor : 1;
    return (ta + tq + w.success * success + w.cpu * (1 - cpu)) * c.weight * health;
  }

  /** `least-loaded`'s score: `weight x healthFactor / (active + queue + 1)`. */
  leastLoaded(c: CollectorRecord): number {
    const fresh = c.hasReport && this.#t - c.reportedAt <= this.#o.stalenessMs;
    const health = c.degraded ? this.#o.degradedFactor : 1;
    return (c.weight * health) / (this.active(c, fresh) + this.queue(c, fresh) + 1);
  }

  /** Every term and input of the weighted score, from the documented formula. */
  explain(c: CollectorRecord, now: number): ScoreExplanation {
    const fresh = this.isFresh(c, now);
    const total = c.succeeded + c.failed;
    const inputs = {
      activeTasks: this.active(c, fresh),
      queueDepth: this.queue(c, fresh),
      cpu: this.cpu(c, fresh),
      successRate: total > 0 ? c.succeeded / total : this.#fleet.meanSuccess,
      durationFactor: durationFactor(c.ewmaDurationMs, this.#fleet.meanDuration, this.#w.duration),
    };
    const terms = scoreTerms(this.#w, inputs);
    const base = terms.active + terms.queue + terms.success + terms.cpu;
    const healthFactor = this.healthFactor(c);
    return {
      id: c.id,
      score: base * c.weight * healthFactor,
      base,
      terms,
      inputs,
      estimated: {
        activeTasks: !(fresh && c.reportedActive !== UNKNOWN),
        queueDepth: !(fresh && c.reportedQueue !== UNKNOWN),
        cpu: !(fresh && c.reportedCpu !== UNKNOWN),
        successRate: total === 0,
        durationFactor: c.ewmaDurationMs === UNKNOWN,
      },
      metrics: this.metricsState(c, now),
      weight: c.weight,
      health: c.degraded ? 'degraded' : 'healthy',
      healthFactor,
      slowStartFactor: this.ramp(c, now),
      leastLoadedScore: this.leastLoaded(c),
      ejected: c.ejected,
    };
  }
}
