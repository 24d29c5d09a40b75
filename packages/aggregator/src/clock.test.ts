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
  it('reads a monotonic millisecond clock (performance.now)', () => {
    const a = systemClock.now();
    const b = systemClock.now();
    expect(typeof a).toBe('number');
    expect(b).toBeGreaterThanOrEqual(a);
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
