import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, ResultAggregator, type ResultAggregatorOptions } from './index.js';

interface Finding {
  readonly fingerprint: string;
}

/** Constructs with deliberately untyped input, as a JavaScript caller could. */
function make(options: unknown): ResultAggregator<Finding> {
  const made: unknown = Reflect.construct(ResultAggregator, [options]);
  if (!(made instanceof ResultAggregator)) throw new Error('not an aggregator');
  return made;
}

interface Row {
  readonly name: string;
  readonly good: unknown;
  readonly badType: unknown;
  /** Out of range (RangeError), or undefined when the option has no range. */
  readonly outOfRange?: unknown;
  /** The allowed values as the message states them. */
  readonly allowed: string;
}

const fn = () => 'k';

/** One row per option (piscina style): a good value, a bad type, an out-of-range value. */
const ROWS: readonly Row[] = [
  {
    name: 'timeoutMs',
    good: 2_147_483_647,
    badType: '10',
    outOfRange: 2_147_483_648,
    allowed: 'an integer in 1..2147483647',
  },
  {
    name: 'maxPendingSets',
    good: 1,
    badType: true,
    outOfRange: 1_000_001,
    allowed: 'an integer in 1..1000000',
  },
  {
    name: 'maxResultsPerSet',
    good: 1_000_000,
    badType: null,
    outOfRange: 0,
    allowed: 'an integer in 1..1000000',
  },
  {
    name: 'maxBytesPerSet',
    good: 1024,
    badType: '1MiB',
    outOfRange: 1023,
    allowed: 'an integer in 1024..1099511627776',
  },
  {
    name: 'maxPendingBytes',
    good: 2 ** 40,
    badType: 10n,
    outOfRange: 2 ** 40 + 1,
    allowed: 'an integer in 1024..1099511627776',
  },
  {
    name: 'maxPendingBytesPerCollector',
    good: 4096,
    badType: false,
    outOfRange: 0,
    allowed: 'an integer in 1024..1099511627776',
  },
  {
    name: 'resultOverheadBytes',
    good: 0,
    badType: [],
    outOfRange: 65_537,
    allowed: 'an integer in 0..65536',
  },
  {
    name: 'maxVariantsPerItem',
    good: 64,
    badType: {},
    outOfRange: 1,
    allowed: 'an integer in 2..64',
  },
  {
    name: 'maxItemBytes',
    good: 4096,
    badType: 'x',
    outOfRange: 1.5,
    allowed: 'an integer in 1024..1099511627776',
  },
  {
    name: 'recentCompletedCapacity',
    good: 0,
    badType: '0',
    outOfRange: -1,
    allowed: 'an integer in 0..1000000',
  },
  { name: 'dedupKey', good: fn, badType: 42, allowed: 'a function' },
  { name: 'weigh', good: () => 1, badType: 'byteLength', allowed: 'a function' },
  { name: 'contentKey', good: fn, badType: {}, allowed: 'a function' },
  { name: 'onComplete', good: fn, badType: 1, allowed: 'a function' },
  { name: 'onCallbackError', good: fn, badType: [], allowed: 'a function' },
  {
    name: 'clock',
    good: new FakeClock(),
    badType: { now: () => 0 },
    allowed: 'an object with now(), setTimeout() and clearTimeout()',
  },
];

describe('options (one row per option)', () => {
  it.each(ROWS)('$name: accepts a good value and undefined (the default)', (row) => {
    expect(() => make({ [row.name]: row.good }).close()).not.toThrow();
    expect(() => make({ [row.name]: undefined }).close()).not.toThrow();
  });

  it.each(ROWS)('$name: a bad type is a TypeError in the house shape', (row) => {
    expect(() => make({ [row.name]: row.badType })).toThrow(TypeError);
    expect(() => make({ [row.name]: row.badType })).toThrow(
      new RegExp(`^options\\.${row.name} must be ${escapeRegExp(row.allowed)}, got `),
    );
  });

  it.each(ROWS.filter((row) => row.outOfRange !== undefined))(
    '$name: out of range is a RangeError naming the range and the value',
    (row) => {
      expect(() => make({ [row.name]: row.outOfRange })).toThrow(RangeError);
      expect(() => make({ [row.name]: row.outOfRange })).toThrow(
        `options.${row.name} must be ${row.allowed}, got ${String(row.outOfRange)}`,
      );
    },
  );

  it('every numeric default is documented in DEFAULTS and every option has a row', () => {
    expect(DEFAULTS).toEqual({
      timeoutMs: 5000,
      maxPendingSets: 10_000,
      maxResultsPerSet: 10_000,
      maxBytesPerSet: 8 * 1024 * 1024,
      maxPendingBytes: 32 * 1024 * 1024,
      maxPendingBytesPerCollector: 8 * 1024 * 1024,
      resultOverheadBytes: 256,
      maxVariantsPerItem: 8,
      maxItemBytes: 4 * 1024 * 1024,
      recentCompletedCapacity: 10_000,
    });
    for (const name of Object.keys(DEFAULTS)) {
      expect(ROWS.map((row) => row.name)).toContain(name);
    }
  });

  it('NaN, Infinity and fractions are out of range, not a type error', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, 2.5]) {
      expect(() => make({ timeoutMs: value })).toThrow(RangeError);
    }
  });

  it('refuses an unknown key naming the nearest known option', () => {
    expect(() => make({ timeout: 100 })).toThrow(
      new TypeError('options.timeout is not a known option (did you mean timeoutMs?)'),
    );
    expect(() => make({ maxPendingByte: 1 })).toThrow('(did you mean maxPendingBytes?)');
    expect(() => make({ merge: fn })).toThrow('options.merge is not a known option');
    expect(() => make({ zzzzzzzzzzzzzzzzzz: 1 })).toThrow(
      /^options\.zzzzzzzzzzzzzzzzzz is not a known option$/,
    );
  });

  it('refuses options that are not an object', () => {
    expect(() => make(null)).toThrow(new TypeError('options must be an object, got null'));
    expect(() => make(7)).toThrow(new TypeError('options must be an object, got 7'));
  });

  it('accepts explicit undefined as the default (typed)', () => {
    const options: ResultAggregatorOptions<Finding> = {
      timeoutMs: undefined,
      maxBytesPerSet: undefined,
      clock: new FakeClock(),
    };
    expect(() => new ResultAggregator<Finding>(options).close()).not.toThrow();
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
