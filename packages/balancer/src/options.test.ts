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
