import { numberOption, readOptions } from './options.js';

/** Options of the phi-accrual failure detector (Hayashibara et al.; Akka's logistic form). */
export interface PhiOptions {
  /** Phi at which a collector is failed. Default 8 (about 1 chance in 10^8 of being wrong). */
  threshold?: number | undefined;
  /** Lower bound of the interval standard deviation, in ms. Default 100. */
  minStdDevMs?: number | undefined;
  /** Number of recent heartbeat intervals kept. Default 100. */
  windowSize?: number | undefined;
  /** Intervals needed before phi is evaluated (until then only staleness applies). Default 3. */
  minSamples?: number | undefined;
  /** Extra pause tolerated on top of the mean interval, in ms. Default 0. */
  acceptablePauseMs?: number | undefined;
}

export interface ResolvedPhiOptions {
  readonly threshold: number;
  readonly minStdDevMs: number;
  readonly windowSize: number;
  readonly minSamples: number;
  readonly acceptablePauseMs: number;
}

const PHI_DEFAULTS: ResolvedPhiOptions = {
  threshold: 8,
  minStdDevMs: 100,
  windowSize: 100,
  minSamples: 3,
  acceptablePauseMs: 0,
};

const PHI_KEYS = ['threshold', 'minStdDevMs', 'windowSize', 'minSamples', 'acceptablePauseMs'];

export function resolvePhiOptions(options: unknown, prefix: string): ResolvedPhiOptions {
  const o = readOptions(prefix, options, PHI_KEYS);
  const d = PHI_DEFAULTS;
  const ms = { min: 0, max: 2_147_483_647, integer: true } as const;
  const resolved: ResolvedPhiOptions = {
    threshold: numberOption(`${prefix}.threshold`, o.threshold, d.threshold, {
      min: 0.1,
      max: 100,
    }),
    minStdDevMs: numberOption(`${prefix}.minStdDevMs`, o.minStdDevMs, d.minStdDevMs, {
      ...ms,
      min: 1,
    }),
    windowSize: numberOption(`${prefix}.windowSize`, o.windowSize, d.windowSize, {
      min: 2,
      max: 10_000,
      integer: true,
    }),
    minSamples: numberOption(`${prefix}.minSamples`, o.minSamples, d.minSamples, {
      min: 1,
      max: 10_000,
      integer: true,
    }),
    acceptablePauseMs: numberOption(
      `${prefix}.acceptablePauseMs`,
      o.acceptablePauseMs,
      d.acceptablePauseMs,
      ms,
    ),
  };
  if (resolved.minSamples > resolved.windowSize) {
    throw new RangeError(
      `${prefix}.minSamples must be <= ${prefix}.windowSize (${resolved.windowSize}), got ${resolved.minSamples}`,
    );
  }
  return resolved;
}

// Logistic approximation of the normal CDF tail used by Akka: P(interval > t).
function cubic(y: number): number {
  return y * (1.5976 + 0.070566 * y * y);
}

/** Phi for a normal-ish interval distribution; `Infinity` far in the tail. Internal (tests import it from this file). */
export function phiOf(elapsedMs: number, meanMs: number, stdDevMs: number): number {
  const y = (elapsedMs - meanMs) / stdDevMs;
  const e = Math.exp(-cubic(y));
  const pLater = elapsedMs > meanMs ? e / (1 + e) : 1 - 1 / (1 + e);
  return -Math.log10(pLater);
}

// Solves phiOf(mean + y * std) = threshold for y; depends on the threshold only. f is monotonic.
function crossingY(threshold: number): number {
  const p = 10 ** -threshold;
  const target = -Math.log(p / (1 - p));
  let lo = -50;
  let hi = 50;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (cubic(mid) < target) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Sliding-window phi-accrual detector for one collector. Internal to the health tracker. */
export class PhiAccrualDetector {
  readonly #options: ResolvedPhiOptions;
  readonly #intervals: Float64Array;
  readonly #crossingY: number;
  #count = 0;
  #next = 0;
  #sum = 0;
  #sumSq = 0;
  #last: number | undefined;
  #skipNext = false;

  constructor(options: ResolvedPhiOptions) {
    this.#options = options;
    this.#intervals = new Float64Array(options.windowSize);
    this.#crossingY = crossingY(options.threshold);
  }

  /** Records a heartbeat arrival time in ms. */
  heartbeat(at: number): void {
    if (this.#skipNext && this.#last !== undefined && at > this.#last) {
      this.#skipNext = false;
      this.#last = at;
      return;
    }
    if (this.#last !== undefined && at > this.#last) {
      const interval = at - this.#last;
      if (this.#count === this.#intervals.length) {
        const old = this.#intervals[this.#next] ?? 0;
        this.#sum -= old;
        this.#sumSq -= old * old;
      } else {
        this.#count++;
      }
      this.#intervals[this.#next] = interval;
      this.#next = (this.#next + 1) % this.#intervals.length;
      this.#sum += interval;
      this.#sumSq += interval * interval;
    }
    if (this.#last === undefined || at > this.#last) this.#last = at;
  }

  /** The next interval spans a stall of the agent: it re-anchors instead of being recorded. */
  skipNextInterval(): void {
    this.#skipNext = true;
  }

  #stats(): { mean: number; std: number } | undefined {
    if (this.#count < this.#options.minSamples) return undefined;
    const mean = this.#sum / this.#count;
    const variance = Math.max(0, this.#sumSq / this.#count - mean * mean);
    return {
      mean: mean + this.#options.acceptablePauseMs,
      std: Math.max(Math.sqrt(variance), this.#options.minStdDevMs),
    };
  }

  /** Current phi at time `now`; 0 until `minSamples` intervals were seen. */
  phi(now: number): number {
    const stats = this.#stats();
    if (stats === undefined || this.#last === undefined) return 0;
    return phiOf(now - this.#last, stats.mean, stats.std);
  }

  /** Absolute time at which phi reaches the threshold, or undefined while warming up. */
  failAt(): number | undefined {
    const stats = this.#stats();
    if (stats === undefined || this.#last === undefined) return undefined;
    return this.#last + stats.mean + this.#crossingY * stats.std;
  }
}
