import { describe, expect, it } from 'vitest';
import { systemClock } from './clock.js';

describe('systemClock', () => {
  it('reads performance.now() (process start origin, not Unix time)', () => {
    const before = performance.now();
    const now = systemClock.now();
    const after = performance.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(after);
    expect(now).toBeLessThan(Date.now() / 1000); // far from an epoch timestamp
  });

  it('unrefs every timer, fires it, and ignores handles it does not know', async () => {
    let fired = false;
    const fire = new Promise<void>((resolve) => {
      const handle = systemClock.setTimeout(() => {
        fired = true;
        resolve();
      }, 1);
      expect(handle).toMatchObject({ hasRef: expect.any(Function) });
      if (
        typeof handle === 'object' &&
        handle !== null &&
        'hasRef' in handle &&
        typeof handle.hasRef === 'function'
      ) {
        expect(handle.hasRef()).toBe(false);
      }
    });
    await fire;
    expect(fired).toBe(true);
    const cancelled = systemClock.setTimeout(() => expect.unreachable(), 0);
    systemClock.clearTimeout(cancelled);
    expect(() => systemClock.clearTimeout(42)).not.toThrow();
    expect(() => systemClock.clearTimeout(undefined)).not.toThrow();
  });
});
