import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResultAggregator, systemClock } from './index.js';

function hasRef(handle: unknown): handle is { hasRef(): boolean } {
  return (
    typeof handle === 'object' &&
    handle !== null &&
    'hasRef' in handle &&
    typeof handle.hasRef === 'function'
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock', () => {
  it('now() is performance.now() itself: same origin (process start), never Unix time', () => {
    const spy = vi.spyOn(globalThis.performance, 'now').mockReturnValue(1234.5);
    try {
      expect(systemClock.now()).toBe(1234.5);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    // A clock with the Unix origin (Date.now, or timeOrigin + now) would be ~1.7e12 away.
    expect(Math.abs(systemClock.now() - performance.now())).toBeLessThan(1000);
  });

  it('passes the delay through to setTimeout unchanged', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fired: number[] = [];
    systemClock.setTimeout(() => fired.push(1), 30);
    vi.advanceTimersByTime(29);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([1]);
  });

  it('creates unref()ed real timers that can be cleared', () => {
    const callback = vi.fn();
    const handle = systemClock.setTimeout(callback, 60_000);
    expect(hasRef(handle)).toBe(true);
    expect(hasRef(handle) && handle.hasRef()).toBe(false);
    systemClock.clearTimeout(handle);
    systemClock.clearTimeout(undefined);
    systemClock.clearTimeout('not a timer');
    expect(callback).not.toHaveBeenCalled();
  });

  it('drives timeouts of an aggregator built with the default clock', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const aggregator = new ResultAggregator<{ fingerprint: string }>({ timeoutMs: 250 });
    const reasons: string[] = [];
    aggregator.on('complete', (result) => reasons.push(result.reason));
    aggregator.begin('c1', ['p1']);
    vi.advanceTimersByTime(249);
    expect(reasons).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reasons).toEqual(['timeout']);
    aggregator.close();
  });
});
