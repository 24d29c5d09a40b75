// One house, checked in one place: the conventions CONTRIBUTING.md names, run against every
// library's own copy (aggregator, balancer and failover keep no runtime dependency on the others,
// so the small shared pieces are duplicated on purpose and this test is what keeps the copies the
// same; the coordinator, which depends on ipc-transport, re-exports that package's clock).
import { readFileSync } from 'node:fs';
import * as aggregator from '@daemoneye/aggregator';
import * as balancer from '@daemoneye/balancer';
import * as coordinator from '@daemoneye/coordinator';
import * as failover from '@daemoneye/failover';
import * as transport from '@daemoneye/ipc-transport';
import * as proto from '@daemoneye/proto';
import { FakeClock, mulberry32 } from '@daemoneye/test-utils';
import { describe, expect, expectTypeOf, it } from 'vitest';
// Likewise the option helpers, one copy in each library that has no runtime dependency to share.
import * as aggregatorOptions from '../packages/aggregator/src/options.js';
import * as balancerValidation from '../packages/balancer/src/validation.js';
import * as coordinatorOptions from '../packages/coordinator/src/option-helpers.js';
// The two backoff copies are deliberately not exported by their packages (test-only surface), so
// this root test imports their source files by relative path.
import * as failoverBackoff from '../packages/failover/src/backoff.js';
import * as failoverOptions from '../packages/failover/src/options.js';
import * as transportBackoff from '../packages/ipc-transport/src/backoff.js';
import * as transportOptions from '../packages/ipc-transport/src/options.js';

interface Library {
  readonly name: string;
  readonly codes: readonly string[];
  /** Method syntax on purpose: each guard takes its own code union, this test passes any string. */
  isError(error: unknown, code?: string): boolean;
}

/** Every library, by the package name its brand carries. */
const libraries: readonly Library[] = [
  { name: 'proto', codes: proto.PROTO_ERROR_CODES, isError: proto.isProtoError },
  {
    name: 'ipc-transport',
    codes: transport.TRANSPORT_ERROR_CODES,
    isError: transport.isTransportError,
  },
  {
    name: 'aggregator',
    codes: aggregator.AGGREGATOR_ERROR_CODES,
    isError: aggregator.isAggregatorError,
  },
  { name: 'balancer', codes: balancer.BALANCER_ERROR_CODES, isError: balancer.isBalancerError },
  { name: 'failover', codes: failover.FAILOVER_ERROR_CODES, isError: failover.isFailoverError },
  {
    name: 'coordinator',
    codes: coordinator.COORDINATOR_ERROR_CODES,
    isError: coordinator.isCoordinatorError,
  },
];

function guard(library: Library, error: unknown, code?: string): boolean {
  return library.isError(error, code);
}

/** An error made by "another loaded copy" of a package: not its constructor, only its brand. */
function secondCopyError(name: string, code: string): Error {
  const error = new Error(`from a second copy of @daemoneye/${name}`);
  Object.defineProperty(error, Symbol.for(`@daemoneye/${name}.error`), { value: true });
  Object.defineProperty(error, 'code', { value: code, enumerable: true });
  return error;
}

describe('error codes', () => {
  it.each(libraries)('$name has a non-empty *_ERROR_CODES of ERR_ codes', ({ codes }) => {
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('no code appears in two packages', () => {
    const owner = new Map<string, string>();
    const clashes: string[] = [];
    for (const { name, codes } of libraries) {
      for (const code of codes) {
        const first = owner.get(code);
        if (first !== undefined) clashes.push(`${code}: ${first} and ${name}`);
        owner.set(code, name);
      }
    }
    expect(clashes).toEqual([]);
  });
});

describe('isXError guards', () => {
  describe.each(libraries)('$name', (library) => {
    const code = library.codes[0] ?? 'ERR_NONE';
    const other = library.codes[1];

    it('recognises an error branded by a second copy, with and without its code', () => {
      const error = secondCopyError(library.name, code);
      expect(guard(library, error)).toBe(true);
      expect(guard(library, error, code)).toBe(true);
      if (other !== undefined) expect(guard(library, error, other)).toBe(false);
    });

    it('refuses an unbranded { code }, a plain Error and non-objects', () => {
      expect(guard(library, { code })).toBe(false);
      expect(guard(library, { code }, code)).toBe(false);
      expect(guard(library, Object.assign(new Error('x'), { code }))).toBe(false);
      expect(guard(library, undefined)).toBe(false);
      expect(guard(library, null)).toBe(false);
      expect(guard(library, code)).toBe(false);
    });

    it("refuses another package's brand", () => {
      for (const neighbour of libraries) {
        if (neighbour.name === library.name) continue;
        expect(guard(library, secondCopyError(neighbour.name, code), code)).toBe(false);
      }
    });
  });

  it('narrows to the code passed (types)', () => {
    const e: unknown = undefined;
    if (proto.isProtoError(e, 'ERR_PROTO_DECODE')) {
      expectTypeOf(e.code).toEqualTypeOf<'ERR_PROTO_DECODE'>();
    }
    if (proto.isProtoError(e)) expectTypeOf(e.code).toEqualTypeOf<proto.ProtoErrorCode>();
    if (transport.isTransportError(e, 'ERR_BACKPRESSURE')) {
      expectTypeOf(e.code).toEqualTypeOf<'ERR_BACKPRESSURE'>();
    }
    if (transport.isTransportError(e)) {
      expectTypeOf(e.code).toEqualTypeOf<transport.TransportErrorCode>();
    }
    if (aggregator.isAggregatorError(e, 'ERR_AGGREGATOR_CLOSED')) {
      expectTypeOf(e.code).toEqualTypeOf<'ERR_AGGREGATOR_CLOSED'>();
    }
    if (aggregator.isAggregatorError(e)) {
      expectTypeOf(e.code).toEqualTypeOf<aggregator.AggregatorErrorCode>();
    }
    if (balancer.isBalancerError(e, 'ERR_NO_COLLECTOR_AVAILABLE')) {
      expectTypeOf(e.code).toEqualTypeOf<'ERR_NO_COLLECTOR_AVAILABLE'>();
    }
    if (balancer.isBalancerError(e)) {
      expectTypeOf(e.code).toEqualTypeOf<balancer.BalancerErrorCode>();
    }
    if (failover.isFailoverError(e, 'ERR_FAILOVER_CLOSED')) {
      expectTypeOf(e.code).toEqualTypeOf<'ERR_FAILOVER_CLOSED'>();
    }
    if (failover.isFailoverError(e)) {
      expectTypeOf(e.code).toEqualTypeOf<failover.FailoverErrorCode>();
    }
    if (coordinator.isCoordinatorError(e, 'ERR_COORDINATOR_CLOSED')) {
      expectTypeOf(e.code).toEqualTypeOf<'ERR_COORDINATOR_CLOSED'>();
    }
    if (coordinator.isCoordinatorError(e)) {
      expectTypeOf(e.code).toEqualTypeOf<coordinator.CoordinatorErrorCode>();
    }
    expect(e).toBeUndefined();
  });
});

type Clock = transport.Clock;

const clocks: readonly { readonly name: string; readonly clock: Clock }[] = [
  { name: 'ipc-transport', clock: transport.systemClock },
  { name: 'aggregator', clock: aggregator.systemClock },
  { name: 'balancer', clock: balancer.systemClock },
  { name: 'failover', clock: failover.systemClock },
];

it("the coordinator has no clock of its own: it re-exports ipc-transport's", () => {
  expect(coordinator.systemClock).toBe(transport.systemClock);
  expectTypeOf<coordinator.Clock>().toEqualTypeOf<transport.Clock>();
});

function hasRef(handle: unknown): handle is { hasRef(): boolean } {
  return (
    typeof handle === 'object' &&
    handle !== null &&
    'hasRef' in handle &&
    typeof handle.hasRef === 'function'
  );
}

describe.each(clocks)('systemClock of $name', ({ clock }) => {
  it('now() has the performance.now() origin (ms since process start)', () => {
    const before = performance.now();
    const now = clock.now();
    const after = performance.now();
    expect(now).toBeGreaterThanOrEqual(before - 5);
    expect(now).toBeLessThanOrEqual(after + 5);
  });

  it("timers are unref'd (never keep the process alive)", () => {
    const handle = clock.setTimeout(() => {}, 60_000);
    try {
      expect(hasRef(handle)).toBe(true);
      if (hasRef(handle)) expect(handle.hasRef()).toBe(false);
    } finally {
      clock.clearTimeout(handle);
    }
  });

  it('clearTimeout cancels: a later sentinel timer fires and the cancelled one never did', async () => {
    let cancelledFired = false;
    const cancelled = clock.setTimeout(() => {
      cancelledFired = true;
    }, 1);
    clock.clearTimeout(cancelled);
    // Timers fire in deadline order: by the time the 20 ms sentinel runs, a 1 ms timer that was
    // not cancelled would have run first.
    await new Promise<void>((resolve) => {
      clock.setTimeout(resolve, 20);
    });
    expect(cancelledFired).toBe(false);
  });

  it('clearTimeout ignores unknown handles', () => {
    expect(() => clock.clearTimeout(undefined)).not.toThrow();
    expect(() => clock.clearTimeout({})).not.toThrow();
    expect(() => clock.clearTimeout(42)).not.toThrow();
  });
});

describe('the two backoff copies (failover, ipc-transport)', () => {
  const grid = [
    { initialDelayMs: 100, multiplier: 2, maxDelayMs: 30_000, jitter: 0.2, resetAfterMs: 30_000 },
    { initialDelayMs: 0, multiplier: 2, maxDelayMs: 5000, jitter: 0.5, resetAfterMs: 0 },
    { initialDelayMs: 250, multiplier: 1, maxDelayMs: 250, jitter: 0, resetAfterMs: 1000 },
    { initialDelayMs: 50, multiplier: 3.5, maxDelayMs: 2 ** 31 - 1, jitter: 1, resetAfterMs: 0 },
    { initialDelayMs: 1, multiplier: 100, maxDelayMs: 60_000, jitter: 0.1, resetAfterMs: 5 },
  ];

  it.each(grid)('resolve the same explicit options alike: %o', (options) => {
    expect(failoverBackoff.resolveBackoffOptions(options)).toEqual(
      transportBackoff.resolveBackoffOptions(options),
    );
  });

  it.each(grid)('give identical delays for attempts 0..1100 and seeded randoms: %o', (options) => {
    const a = failoverBackoff.resolveBackoffOptions(options);
    const b = transportBackoff.resolveBackoffOptions(options);
    for (const seed of [1, 7, 42, 2026]) {
      const randomA = mulberry32(seed);
      const randomB = mulberry32(seed);
      const delaysA: number[] = [];
      const delaysB: number[] = [];
      for (const attempt of [0, 1, 2, 3, 4, 5, 8, 13, 21, 34, 100, 1000, 1100]) {
        delaysA.push(failoverBackoff.backoffDelay(attempt, a, randomA));
        delaysB.push(transportBackoff.backoffDelay(attempt, b, randomB));
      }
      expect(delaysA).toEqual(delaysB);
    }
    // The un-jittered value (random = 0.5) too, and both extremes of the jitter.
    for (const r of [0, 0.5, 0.999_999]) {
      for (let attempt = 1; attempt <= 40; attempt++) {
        expect(failoverBackoff.backoffDelay(attempt, a, () => r)).toBe(
          transportBackoff.backoffDelay(attempt, b, () => r),
        );
      }
    }
  });
});

interface OptionHelpers {
  readonly name: string;
  /** The file holding the copy, from the repository root. */
  readonly file: string;
  describeValue(value: unknown): string;
  nearestName(key: string, known: readonly string[]): string | undefined;
  refuseUnknownKeys(path: string, value: object, known: readonly string[]): void;
  isClock?: (value: unknown) => boolean;
}

const optionHelpers: readonly OptionHelpers[] = [
  { name: 'aggregator', file: 'packages/aggregator/src/options.ts', ...aggregatorOptions },
  { name: 'balancer', file: 'packages/balancer/src/validation.ts', ...balancerValidation },
  {
    name: 'coordinator',
    file: 'packages/coordinator/src/option-helpers.ts',
    ...coordinatorOptions,
  },
  { name: 'failover', file: 'packages/failover/src/options.ts', ...failoverOptions },
  { name: 'ipc-transport', file: 'packages/ipc-transport/src/options.ts', ...transportOptions },
];

const KNOWN = [
  'timeoutMs',
  'maxFrameBytes',
  'maxRssBytes',
  'maxRetries',
  'active',
  'heartbeatIntervalMs',
];

describe.each(optionHelpers)('option helpers of $name', (helpers) => {
  it.each([
    ['abc', '"abc"'],
    ['', '""'],
    [5, '5'],
    [-0, '0'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [true, 'true'],
    [10n, '10n'],
    [null, 'null'],
    [undefined, 'undefined'],
    [Symbol('s'), 'Symbol(s)'],
    [[1], 'an array'],
    [{ a: 1 }, 'an object'],
    [Object.create(null), 'an object'],
    [() => 1, 'a function'],
  ])('describeValue(%o) is %s', (value, shown) => {
    expect(helpers.describeValue(value)).toBe(shown);
  });

  it.each([
    ['timeout', 'timeoutMs'], // a unit left out: a prefix
    ['maxRss', 'maxRssBytes'],
    ['maxRssBytesLimit', 'maxRssBytes'], // the other way round
    ['maxFrameByte', 'maxFrameBytes'],
    ['maxframebytes', 'maxFrameBytes'], // case-insensitive
    ['heartbeatIntervalMS', 'heartbeatIntervalMs'],
    ['maxRetry', 'maxRetries'], // distance 3
    ['actve', 'active'],
    ['zzzzzzzz', undefined],
    ['ma', undefined], // too short to be a prefix
    ['', undefined],
  ])('nearestName(%s) is %s', (key, near) => {
    expect(helpers.nearestName(key, KNOWN)).toBe(near);
  });

  it('refuseUnknownKeys: the path, the key and the nearest name, as a TypeError', () => {
    expect(() =>
      helpers.refuseUnknownKeys('options', { timeoutMs: 1, active: 2 }, KNOWN),
    ).not.toThrow();
    expect(() => helpers.refuseUnknownKeys('options', {}, KNOWN)).not.toThrow();
    expect(() => helpers.refuseUnknownKeys('options', { timeout: 1 }, KNOWN)).toThrow(
      new TypeError('options.timeout is not a known option (did you mean timeoutMs?)'),
    );
    expect(() => helpers.refuseUnknownKeys('options.backoff', { zzzz: 1 }, KNOWN)).toThrow(
      new TypeError('options.backoff.zzzz is not a known option'),
    );
  });

  const { isClock } = helpers;
  // balancer has no isClock: it takes any object with now().
  if (isClock === undefined) return;
  it('isClock accepts a Clock and nothing else', () => {
    const fn = (): void => {};
    expect(isClock(transport.systemClock)).toBe(true);
    expect(isClock(new FakeClock())).toBe(true); // methods on the prototype
    expect(isClock({ now: fn, setTimeout: fn, clearTimeout: fn })).toBe(true);
    expect(isClock({ now: fn, setTimeout: fn })).toBe(false);
    expect(isClock({ now: 1, setTimeout: fn, clearTimeout: fn })).toBe(false);
    expect(isClock(Object.assign([], { now: fn, setTimeout: fn, clearTimeout: fn }))).toBe(false);
    expect(isClock(null)).toBe(false);
    expect(isClock(undefined)).toBe(false);
    expect(isClock(fn)).toBe(false);
  });
});

it('the option helper copies are the same text (between the house markers)', () => {
  const block = (file: string): string => {
    const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
    const start = text.indexOf('// ---- house option helpers');
    const end = text.indexOf('// ---- end of the house option helpers');
    expect(start, file).toBeGreaterThanOrEqual(0);
    expect(end, file).toBeGreaterThan(start);
    return text.slice(start, end);
  };
  const [first, ...rest] = optionHelpers.map((helpers) => block(helpers.file));
  for (const other of rest) expect(other).toBe(first);
  const isClockOf = (file: string): string => {
    const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
    const start = text.indexOf('export function isClock(');
    return text.slice(start, text.indexOf('\n}\n', start));
  };
  const clocks = optionHelpers.filter((h) => h.isClock !== undefined).map((h) => isClockOf(h.file));
  expect(clocks).toHaveLength(4);
  for (const other of clocks) expect(other).toBe(clocks[0]);
});
