import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveBackoffOptions } from './backoff.js';

const half = () => 0.5;

describe('backoff', () => {
  it('defaults to 100 ms x2 up to 30 s', () => {
    const options = resolveBackoffOptions();
    const delays = Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, options, half));
    expect(delays).toEqual([
      100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000,
    ]);
    expect(options).toEqual({
      initialDelayMs: 100,
      multiplier: 2,
      maxDelayMs: 30_000,
      jitter: 0.2,
      resetAfterMs: 30_000,
    });
  });

  it('jitter stays within ±jitter of the base and never exceeds the cap', () => {
    const options = resolveBackoffOptions();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (attempt, r) => {
          const base = Math.min(30_000, 100 * 2 ** (attempt - 1));
          const delay = backoffDelay(attempt, options, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
          expect(delay).toBeLessThanOrEqual(Math.min(30_000, Math.ceil(base * 1.2)));
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });
});
