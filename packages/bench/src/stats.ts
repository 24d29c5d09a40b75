/** Summary of a set of samples; percentiles by nearest rank on an exact sort. */
export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Nearest-rank percentile (`q` in 0..1) of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`q must be in [0, 1], got ${q}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * n));
  return sorted[Math.min(n, rank) - 1] ?? Number.NaN;
}

/** Sorts a copy of the samples (exact, no histogram) and returns their summary. */
export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    n,
    min: n === 0 ? Number.NaN : (sorted[0] ?? Number.NaN),
    mean: n === 0 ? Number.NaN : sum / n,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: n === 0 ? Number.NaN : (sorted[n - 1] ?? Number.NaN),
  };
}

/** A growable buffer of float samples that avoids boxing numbers in a JS array. */
export class Samples {
  private data: Float64Array;
  private count = 0;

  constructor(capacity = 1024) {
    this.data = new Float64Array(Math.max(1, capacity));
  }

  get length(): number {
    return this.count;
  }

  push(value: number): void {
    if (this.count === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.count++] = value;
  }

  /** The recorded samples (a view, not a copy). */
  values(): Float64Array {
    return this.data.subarray(0, this.count);
  }

  summary(): Summary {
    return summarize(this.values());
  }
}

/** Nanoseconds between two `process.hrtime.bigint()` readings, as microseconds. */
export function nsToUs(ns: bigint): number {
  return Number(ns) / 1000;
}
