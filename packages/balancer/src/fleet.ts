import { type CollectorRecord, UNKNOWN } from './collector.js';
import type { ResolvedOptions } from './options.js';

/**
 * Relative half-width of the band of mean task durations the score bounds of an index hold for:
 * `max(1 %, 2 / collectors)`, since one task moves the mean by about `1 / collectors` of a
 * duration. Wider: fewer index rebuilds, looser bounds (more exact scores per selection).
 */
const DURATION_BAND = 0.01;
const DURATION_BAND_SPREAD = 2;
/** Half-width of the band of mean success rates the bounds hold for (used by collectors without history). */
const SUCCESS_BAND = 0.005;

/**
 * Fleet-wide inputs of the scores: means of the fresh heartbeat fields (running sums, rebuilt when
 * a report goes stale) and the running sums behind the mean task duration and success rate.
 * Two version numbers tell the score indexes when their bounds no longer hold.
 */
export class Fleet {
  readonly #stalenessMs: number;
  readonly #cpuScored: boolean;
  readonly #durationScored: boolean;

  /** Earliest time a counted report goes stale; past it the sums are rebuilt from scratch. */
  meansValidUntil = Number.NEGATIVE_INFINITY;
  meanActive = 0;
  meanQueue = 0;
  meanCpu = 0;
  /** Moves when a heartbeat mean changed and some collector uses it, or a collector went stale. */
  meansVersion = 0;

  // Running sums over the counted (fresh) reports, so a heartbeat costs O(1), not O(collectors).
  #sa = 0;
  #na = 0;
  #sq = 0;
  #nq = 0;
  #sc = 0;
  #nc = 0;
  /** Counted collectors that report every scored field: the others use the means. */
  #complete = 0;
  /** The sums moved since the means were last taken. */
  #sumsChanged = true;
  /** Collector count when the means were last taken. */
  #seen = -1;

  /** Removes `c`'s report from the sums (before it changes, or when `c` goes away). */
  uncount(c: CollectorRecord): void {
    if (!c.counted) return;
    c.counted = false;
    this.#sumsChanged = true;
    if (c.reportedActive !== UNKNOWN) {
      this.#sa -= c.reportedActive;
      this.#na--;
    }
    if (c.reportedQueue !== UNKNOWN) {
      this.#sq -= c.reportedQueue;
      this.#nq--;
    }
    if (c.reportedCpu !== UNKNOWN) {
      this.#sc -= c.reportedCpu;
      this.#nc--;
    }
    if (this.#isComplete(c)) this.#complete--;
  }

  /** Adds `c`'s report to the sums if it is fresh at `now`. */
  count(c: CollectorRecord, now: number): void {
    if (c.counted || !c.hasReport) return;
    const expires = c.reportedAt + this.#stalenessMs;
    if (now > expires) return;
    c.counted = true;
    this.#sumsChanged = true;
    if (expires < this.meansValidUntil) this.meansValidUntil = expires;
    if (c.reportedActive !== UNKNOWN) {
      this.#sa += c.reportedActive;
      this.#na++;
    }
    if (c.reportedQueue !== UNKNOWN) {
      this.#sq += c.reportedQueue;
      this.#nq++;
    }
    if (c.reportedCpu !== UNKNOWN) {
      this.#sc += c.reportedCpu;
      this.#nc++;
    }
    if (this.#isComplete(c)) this.#complete++;
  }

  #isComplete(c: CollectorRecord): boolean {
    return (
      c.reportedActive !== UNKNOWN &&
      c.reportedQueue !== UNKNOWN &&
      (c.reportedCpu !== UNKNOWN || !this.#cpuScored)
    );
  }

  /**
   * Brings the means up to `now`. Past the earliest expiry the sums are rebuilt (a collector went
   * stale: its score changed without an event of its own); otherwise the means come from the
   * running sums. Bumps `meansVersion` when a collector's score may have changed.
   */
  refreshMeans(collectors: ReadonlyMap<string, CollectorRecord>, now: number): void {
    // A registration without a report changes who is estimated, hence the size check.
    if (!this.#sumsChanged && now <= this.meansValidUntil && collectors.size === this.#seen) return;
    this.#sumsChanged = false;
    this.#seen = collectors.size;
    let expired = false;
    if (now > this.meansValidUntil) {
      expired = true;
      this.#sa = 0;
      this.#na = 0;
      this.#sq = 0;
      this.#nq = 0;
      this.#sc = 0;
      this.#nc = 0;
      this.#complete = 0;
      this.meansValidUntil = Number.POSITIVE_INFINITY;
      for (const c of collectors.values()) {
        c.counted = false;
        this.count(c, now);
      }
    }
    const meanActive = this.#na > 0 ? this.#sa / this.#na : 0;
    const meanQueue = this.#nq > 0 ? this.#sq / this.#nq : 0;
    const meanCpu = this.#nc > 0 ? this.#sc / this.#nc : 0;
    const changed =
      meanActive !== this.meanActive || meanQueue !== this.meanQueue || meanCpu !== this.meanCpu;
    const someEstimated = this.#complete < collectors.size;
    if (expired || (changed && someEstimated)) this.meansVersion++;
    this.meanActive = meanActive;
    this.meanQueue = meanQueue;
    this.meanCpu = meanCpu;
  }

  #durationSum = 0;
  #durationCount = 0;
  #successSum = 0;
  #successCount = 0;
  /** The history sums moved since {@link refreshHistory} last ran. */
  #historyChanged = true;
  /** Current means of task history, set by {@link refreshHistory}. */
  meanDuration = 0;
  meanSuccess = 1;
  /** The bands the current history version's bounds hold for. */
  durationLow = 0;
  durationHigh = 0;
  successLow = 1;
  successHigh = 1;
  /** Moves when the mean duration or success rate leaves its band. */
  historyVersion = 0;

  constructor(o: ResolvedOptions) {
    this.#stalenessMs = o.stalenessMs;
    this.#cpuScored = o.weights.cpu > 0;
    this.#durationScored = o.weights.duration > 0;
  }

  /** A collector's duration EWMA went from `before` (UNKNOWN: none) to `after`. */
  durationChanged(before: number, after: number): void {
    this.#historyChanged = true;
    if (before === UNKNOWN) {
      this.#durationCount++;
      this.#durationSum += after;
    } else {
      this.#durationSum += after - before;
    }
  }

  /** A collector's success rate went from `before` (UNKNOWN: no finished task) to `after`. */
  successChanged(before: number, after: number): void {
    this.#historyChanged = true;
    if (before === UNKNOWN) this.#successCount++;
    this.#successSum += after - (before === UNKNOWN ? 0 : before);
  }

  /** Exact sums again (after a removal or restart), so incremental updates cannot drift. */
  recomputeHistory(collectors: Iterable<CollectorRecord>): void {
    this.#historyChanged = true;
    this.#durationSum = 0;
    this.#durationCount = 0;
    this.#successSum = 0;
    this.#successCount = 0;
    for (const c of collectors) {
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

  /**
   * Sets the history means and re-centres a band each has left. Only collectors without history
   * use the mean success rate, so only while there are some does a new success band invalidate
   * bounds.
   */
  refreshHistory(collectors: number): void {
    if (!this.#historyChanged) return;
    this.#historyChanged = false;
    const withoutHistory = this.#successCount < collectors;
    const d = this.#durationCount > 0 ? this.#durationSum / this.#durationCount : 0;
    const s = this.#successCount > 0 ? this.#successSum / this.#successCount : 1;
    this.meanDuration = d;
    this.meanSuccess = s;
    if (this.#durationScored && (d < this.durationLow || d > this.durationHigh)) {
      // A zero mean means "no duration factor": the band is that single point.
      const band = 1 + Math.max(DURATION_BAND, DURATION_BAND_SPREAD / Math.max(collectors, 1));
      this.durationLow = d / band;
      this.durationHigh = d * band;
      this.historyVersion++;
    }
    if (s < this.successLow || s > this.successHigh) {
      this.successLow = s - SUCCESS_BAND;
      this.successHigh = s + SUCCESS_BAND;
      if (withoutHistory) this.historyVersion++;
    }
  }

  /** Collectors with a finished task since (re)start. */
  get withHistory(): number {
    return this.#successCount;
  }
}
