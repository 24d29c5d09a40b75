import { describe, expect, it } from 'vitest';
import { percentile, Samples, summarize } from './stats.js';

describe('percentile', () => {
  it('uses the nearest rank on the sorted samples', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile(sorted, 0.999)).toBe(100);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(sorted, 1)).toBe(100);
  });

  it('is NaN for no samples and rejects q outside [0, 1]', () => {
    expect(percentile([], 0.5)).toBeNaN();
    expect(() => percentile([1], 1.5)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts a copy exactly and leaves the input alone', () => {
    const input = [5, 1, 4, 2, 3];
    const summary = summarize(input);
    expect(input).toEqual([5, 1, 4, 2, 3]);
    expect(summary).toMatchObject({ n: 5, min: 1, max: 5, mean: 3, p50: 3, p99: 5 });
  });

  it('sorts numerically, not as strings', () => {
    expect(summarize([10, 9, 100]).p50).toBe(10);
  });
});

describe('Samples', () => {
  it('grows past its initial capacity', () => {
    const samples = new Samples(2);
    for (let i = 0; i < 1000; i++) samples.push(i);
    expect(samples.length).toBe(1000);
    expect(samples.summary().max).toBe(999);
  });
});
