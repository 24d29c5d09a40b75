import { describe, expect, it } from 'vitest';
import {
  BALANCER_DEFAULTS,
  createLoadBalancer,
  LoadBalancer,
  type LoadBalancerOptions,
  STRATEGIES,
} from './index.js';

// Run-time validation exists for callers without types, so these tests bypass the types once here.
function construct(options: unknown): LoadBalancer {
  return new LoadBalancer(options as LoadBalancerOptions);
}

describe('options', () => {
  it('accepts no options and exposes the defaults', () => {
    const balancer = new LoadBalancer();
    expect(balancer.strategy).toBe('auto');
    expect(BALANCER_DEFAULTS).toMatchObject({
      strategy: 'auto',
      p2cMinCandidates: 8,
      stalenessMs: 30_000,
      ewmaAlpha: 0.3,
      consecutiveFailures: 5,
      baseEjectionMs: 30_000,
      maxEjectionMs: 300_000,
      maxEjectionPercent: 50,
      slowStartMs: 10_000,
      slowStartMinFactor: 0.1,
      weights: { active: 10, queue: 5, success: 100, cpu: 0, duration: 1 },
    });
    expect(Object.isFrozen(BALANCER_DEFAULTS)).toBe(true);
  });

  it('accepts every strategy', () => {
    for (const strategy of STRATEGIES) {
      expect(createLoadBalancer({ strategy }).strategy).toBe(strategy);
    }
  });

  it.each([
    [{ stalenessMs: 0 }, RangeError, 'options.stalenessMs'],
    [{ stalenessMs: Number.NaN }, RangeError, 'options.stalenessMs'],
    [{ stalenessMs: '10' }, TypeError, 'options.stalenessMs'],
    [{ ewmaAlpha: 0 }, RangeError, 'options.ewmaAlpha must be a finite number > 0 and <= 1'],
    [{ ewmaAlpha: 1.5 }, RangeError, 'options.ewmaAlpha'],
    [{ consecutiveFailures: 2.5 }, RangeError, 'options.consecutiveFailures must be an integer'],
    [{ consecutiveFailures: 0 }, RangeError, 'options.consecutiveFailures'],
    [{ baseEjectionMs: -1 }, RangeError, 'options.baseEjectionMs'],
    [{ baseEjectionMs: 10, maxEjectionMs: 5 }, RangeError, 'options.maxEjectionMs must be >='],
    [{ maxEjectionPercent: 101 }, RangeError, 'options.maxEjectionPercent'],
    [{ slowStartMs: -5 }, RangeError, 'options.slowStartMs'],
    [{ slowStartMinFactor: 0 }, RangeError, 'options.slowStartMinFactor'],
    [{ p2cMinCandidates: 1 }, RangeError, 'options.p2cMinCandidates'],
    [{ weights: { active: -1 } }, RangeError, 'options.weights.active'],
    [{ weights: { duration: 5 } }, RangeError, 'options.weights.duration'],
    [{ weights: { speed: 1 } }, TypeError, 'options.weights.speed is not a known option'],
    [{ weights: 3 }, TypeError, 'options.weights'],
    [{ strategy: 'fastest' }, TypeError, 'options.strategy must be one of auto, weighted'],
    [{ clock: {} }, TypeError, 'options.clock'],
    [{ clock: Date.now }, TypeError, 'options.clock'],
    [{ random: 0.5 }, TypeError, 'options.random'],
    [{ onEvent: 'log' }, TypeError, 'options.onEvent'],
    [
      { stalenessMS: 100 },
      TypeError,
      'options.stalenessMS is not a known option (did you mean stalenessMs?)',
    ],
  ])('rejects %o', (options, type, message) => {
    expect(() => construct(options)).toThrow(type);
    expect(() => construct(options)).toThrow(message);
  });

  it('rejects a non-object options argument', () => {
    expect(() => construct(42)).toThrow(TypeError);
    expect(() => construct(null)).toThrow(TypeError);
  });

  it('validates register options', () => {
    const balancer = new LoadBalancer();
    expect(() => balancer.register('')).toThrow(TypeError);
    expect(() => balancer.register('a', { weight: 0 })).toThrow(RangeError);
    expect(() => balancer.register('a', { weight: Number.POSITIVE_INFINITY })).toThrow(
      'register options.weight',
    );
    expect(() => balancer.register('a', { taskKinds: [''] })).toThrow(TypeError);
    expect(() => balancer.register('a', { taskKinds: 'scan' as never })).toThrow(TypeError);
    expect(balancer.size).toBe(0);
  });
});

// One row per option: a good value, a value of the wrong type, a value out of range (piscina style).
const OUT = Symbol('no out-of-range value');
const ROWS: ReadonlyArray<readonly [string, unknown, unknown, unknown, string]> = [
  ['strategy', 'p2c', 3, OUT, 'one of auto, weighted, least-loaded, round-robin, p2c'],
  ['p2cMinCandidates', 16, '8', 1, 'an integer >= 2 and <= 1000000'],
  ['stalenessMs', 10_000, '10', 2 ** 31, 'an integer >= 1 and <= 2147483647'],
  ['ewmaAlpha', 0.5, true, 0, 'a finite number > 0 and <= 1'],
  ['consecutiveFailures', 3, '3', 0, 'an integer >= 1 and <= 1000000'],
  ['baseEjectionMs', 1000, null, 0, 'an integer >= 1 and <= 2147483647'],
  ['maxEjectionMs', 400_000, {}, 3e9, 'an integer >= 1 and <= 2147483647'],
  ['maxEjectionPercent', 20, '20', 101, 'a finite number >= 0 and <= 100'],
  ['slowStartMs', 0, '0', -1, 'an integer >= 0 and <= 2147483647'],
  ['slowStartMinFactor', 0.5, '0.5', 1.5, 'a finite number > 0 and <= 1'],
  ['degradedFactor', 0.5, '0.5', 0, 'a finite number > 0 and <= 1'],
  ['weights', { active: 2 }, 5, OUT, 'an object'],
  ['clock', { now: () => 0 }, () => 0, OUT, 'a Clock (an object with now())'],
  ['random', () => 0.5, 0.5, OUT, 'a function'],
  ['onEvent', () => {}, 'log', OUT, 'a function'],
  ['onCallbackError', () => {}, 1, OUT, 'a function'],
];

describe('options, one row per option', () => {
  it('has a row for every option', () => {
    const names = ROWS.map(([name]) => name);
    expect(new Set(names).size).toBe(names.length);
    // Every key of the defaults plus the functions and the clock.
    for (const key of Object.keys(BALANCER_DEFAULTS)) expect(names).toContain(key);
  });

  it.each(ROWS)(
    '%s: good value, undefined, wrong type, out of range',
    (name, good, badType, out, allowed) => {
      expect(() => construct({ [name]: good })).not.toThrow();
      expect(() => construct({ [name]: undefined })).not.toThrow();
      expect(() => construct({ [name]: badType })).toThrow(TypeError);
      expect(() => construct({ [name]: badType })).toThrow(
        `options.${name} must be ${allowed}, got `,
      );
      if (out !== OUT) {
        expect(() => construct({ [name]: out })).toThrow(RangeError);
        expect(() => construct({ [name]: out })).toThrow(
          `options.${name} must be ${allowed}, got ${String(out)}`,
        );
      }
    },
  );

  it('refuses an unknown key with the nearest known name', () => {
    expect(() => construct({ stalenesMs: 1 })).toThrow(
      new TypeError('options.stalenesMs is not a known option (did you mean stalenessMs?)'),
    );
    expect(() => construct({ weights: { actve: 1 } })).toThrow(
      new TypeError('options.weights.actve is not a known option (did you mean active?)'),
    );
    expect(() => construct({ zzzzzzzzzz: 1 })).toThrow(
      new TypeError('options.zzzzzzzzzz is not a known option'),
    );
    const balancer = new LoadBalancer();
    expect(() => balancer.register('a', { tasKinds: ['x'] } as never)).toThrow(
      new TypeError('register options.tasKinds is not a known option (did you mean taskKinds?)'),
    );
  });

  it('takes undefined nested weights and register options as the defaults', () => {
    const balancer = construct({ weights: { active: undefined, duration: undefined } });
    balancer.register('a', { taskKinds: undefined, weight: undefined });
    expect(balancer.explain('a')).toMatchObject({ weight: 1, score: 2100 });
  });

  it('documents the floor and ceiling of every delay: 2^31-1 ms accepted, 2^31 refused', () => {
    for (const name of ['stalenessMs', 'baseEjectionMs', 'maxEjectionMs', 'slowStartMs']) {
      expect(() => construct({ maxEjectionMs: 2 ** 31 - 1, [name]: 2 ** 31 - 1 })).not.toThrow();
      expect(() => construct({ [name]: 2 ** 31 })).toThrow(RangeError);
      expect(() => construct({ [name]: 1.5 })).toThrow(RangeError);
    }
  });
});
