import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhiAccrualDetector, phiOf, resolvePhiOptions } from './phi.js';

describe('phi accrual', () => {
  it('is about 0.3 at the mean and grows fast in the tail', () => {
    expect(phiOf(1000, 1000, 100)).toBeCloseTo(Math.log10(2), 5);
    expect(phiOf(1100, 1000, 100)).toBeGreaterThan(0.5);
    expect(phiOf(1500, 1000, 100)).toBeGreaterThan(5);
    expect(phiOf(2000, 1000, 100)).toBeGreaterThan(30);
  });

  it('is monotonic in elapsed time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        (a, b, mean, std) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(phiOf(hi, mean, std)).toBeGreaterThanOrEqual(phiOf(lo, mean, std));
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it('warms up for minSamples intervals, then predicts when phi reaches the threshold', () => {
    const detector = new PhiAccrualDetector(resolvePhiOptions({}, 'phi'));
    detector.heartbeat(0);
    detector.heartbeat(1000);
    detector.heartbeat(2000);
    expect(detector.phi(5000)).toBe(0);
    expect(detector.failAt()).toBeUndefined();
    detector.heartbeat(3000);
    const failAt = detector.failAt();
    expect(failAt).toBeDefined();
    // Regular 1 s intervals: std clamps to minStdDevMs (100), phi 8 is ~5.6 std past the mean.
    expect(failAt).toBeGreaterThan(3000 + 1000 + 500);
    expect(failAt).toBeLessThan(3000 + 1000 + 700);
    expect(detector.phi((failAt ?? 0) - 1)).toBeLessThan(8);
    expect(detector.phi((failAt ?? 0) + 1)).toBeGreaterThanOrEqual(8);
  });

  it('keeps a sliding window', () => {
    const detector = new PhiAccrualDetector(
      resolvePhiOptions({ windowSize: 3, minSamples: 3 }, 'phi'),
    );
    let t = 0;
    for (let i = 0; i < 10; i++) {
      t += 10_000;
      detector.heartbeat(t);
    }
    for (let i = 0; i < 3; i++) {
      t += 1000;
      detector.heartbeat(t);
    }
    // Only the last three 1 s intervals count.
    expect(detector.phi(t + 1000)).toBeCloseTo(Math.log10(2), 5);
  });

  it('validates options', () => {
    expect(() => resolvePhiOptions({ threshold: 0 }, 'phi')).toThrow(/phi\.threshold/);
    expect(() => resolvePhiOptions({ minSamples: 5, windowSize: 3 }, 'phi')).toThrow(RangeError);
  });
});
