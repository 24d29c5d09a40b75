import { describe, expect, it } from 'vitest';
import { FakeClock } from '../test/fake-clock.js';
import { DEFAULTS, ResultAggregator, type ResultAggregatorOptions } from './index.js';

interface Finding {
  readonly fingerprint: string;
}

/** Constructs with deliberately untyped input, as a JavaScript caller could. */
function make(options: unknown): unknown {
  return Reflect.construct(ResultAggregator, [options]);
}

describe('option validation', () => {
  it('accepts no options and documents its defaults', () => {
    const aggregator = new ResultAggregator<Finding>();
    expect(aggregator.stats().pendingSets).toBe(0);
    expect(DEFAULTS).toEqual({
      timeoutMs: 5000,
      maxPendingSets: 10_000,
      maxResultsPerSet: 10_000,
      recentCompletedCapacity: 10_000,
    });
    aggregator.close();
  });

  it('accepts explicit undefined as the default', () => {
    const options: ResultAggregatorOptions<Finding> = {
      timeoutMs: undefined,
      clock: new FakeClock(),
    };
    expect(() => new ResultAggregator<Finding>(options)).not.toThrow();
  });

  it.each([
    ['timeoutMs', 0, '[1, 2147483647]'],
    ['timeoutMs', 2_147_483_648, '[1, 2147483647]'],
    ['timeoutMs', 1.5, '[1, 2147483647]'],
    ['timeoutMs', Number.NaN, '[1, 2147483647]'],
    ['maxPendingSets', 0, '[1, 1000000]'],
    ['maxPendingSets', 1_000_001, '[1, 1000000]'],
    ['maxResultsPerSet', 0, '[1, 1000000]'],
    ['maxResultsPerSet', Number.POSITIVE_INFINITY, '[1, 1000000]'],
    ['recentCompletedCapacity', -1, '[0, 1000000]'],
    ['recentCompletedCapacity', 2.5, '[0, 1000000]'],
  ])('rejects %s = %s with a RangeError naming the range', (name, value, range) => {
    expect(() => make({ [name]: value })).toThrow(RangeError);
    expect(() => make({ [name]: value })).toThrow(
      `option "${name}" must be an integer in ${range}`,
    );
  });

  it.each(['timeoutMs', 'maxPendingSets', 'maxResultsPerSet', 'recentCompletedCapacity'])(
    'rejects a non-number %s with a TypeError',
    (name) => {
      expect(() => make({ [name]: '10' })).toThrow(TypeError);
      expect(() => make({ [name]: '10' })).toThrow(`option "${name}" must be a number`);
    },
  );

  it.each(['dedupKey', 'merge', 'onComplete', 'onCallbackError'])(
    'rejects a non-function %s with a TypeError',
    (name) => {
      expect(() => make({ [name]: 42 })).toThrow(TypeError);
      expect(() => make({ [name]: 42 })).toThrow(`option "${name}" must be a function`);
    },
  );

  it('rejects a clock without the three methods', () => {
    expect(() => make({ clock: { now: () => 0 } })).toThrow(TypeError);
    expect(() => make({ clock: { now: () => 0 } })).toThrow('option "clock"');
  });

  it('rejects unknown options (typos) and non-object options', () => {
    expect(() => make({ timeout: 100 })).toThrow('unknown option "timeout"');
    expect(() => make(null)).toThrow(TypeError);
    expect(() => make(7)).toThrow('options must be an object');
  });

  it('accepts the bounds of every range', () => {
    expect(() =>
      make({
        timeoutMs: 2_147_483_647,
        maxPendingSets: 1,
        maxResultsPerSet: 1_000_000,
        recentCompletedCapacity: 0,
      }),
    ).not.toThrow();
  });

  it('requires dedupKey at compile time when R has no string fingerprint', () => {
    interface Plain {
      readonly id: number;
    }
    const clock = new FakeClock();
    // @ts-expect-error dedupKey is required for a result type without `fingerprint`
    const missing = new ResultAggregator<Plain>({ clock });
    // @ts-expect-error the options object itself is required then
    const none = new ResultAggregator<Plain>();
    const ok = new ResultAggregator<Plain>({ clock, dedupKey: (r) => String(r.id) });
    ok.begin('c', ['a']);
    expect(ok.addResult('a', 'c', [{ id: 1 }])).toBe('accepted');
    for (const aggregator of [missing, none, ok]) aggregator.close();
  });
});
