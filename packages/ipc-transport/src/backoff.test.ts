import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveBackoffOptions } from './backoff.js';

const half = (): number => 0.5;

describe('backoff (the same shape as @daemoneye/failover)', () => {
  it('doubles from 100 ms up to the 5 s cap by default', () => {
    const options = resolveBackoffOptions();
    const delays = Array.from({ length: 9 }, (_, i) => backoffDelay(i + 1, options, half));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('jitter stays within ±jitter of the base and never exceeds the cap (fast-check, seed 3)', () => {
    const options = resolveBackoffOptions({ initialDelayMs: 20, maxDelayMs: 200, jitter: 0.5 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (attempt, r) => {
          const base = Math.min(200, 20 * 2 ** (attempt - 1));
          const delay = backoffDelay(attempt, options, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.5));
          expect(delay).toBeLessThanOrEqual(200);
          expect(Number.isFinite(delay)).toBe(true);
        },
      ),
      { seed: 3, numRuns: 500 },
    );
  });

  it('names the option with its prefix in errors', () => {
    expect(() => resolveBackoffOptions({ maxDelayMs: 3e9 }, 'reconnect')).toThrow(
      /^reconnect\.maxDelayMs must be/,
    );
  });
});
