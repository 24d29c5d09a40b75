import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { harness } from '../test/helpers.js';
import {
  BALANCER_ERROR_CODES,
  BalancerError,
  type BalancerErrorCode,
  type BalancerEvent,
  isBalancerError,
} from './index.js';

function failTimes(
  balancer: {
    taskStarted(id: string): boolean;
    taskFinished(id: string, ms: number, ok: boolean): boolean;
  },
  id: string,
  n: number,
) {
  for (let i = 0; i < n; i++) {
    balancer.taskStarted(id);
    balancer.taskFinished(id, 10, false);
  }
}

describe('errors', () => {
  it('lists every code once, with the package noun where another package could share it', () => {
    expect(BALANCER_ERROR_CODES).toEqual([
      'ERR_NO_COLLECTOR_AVAILABLE',
      'ERR_BALANCER_UNKNOWN_COLLECTOR',
      'ERR_BALANCER_CALLBACK_FAILED',
    ]);
    expect(Object.isFrozen(BALANCER_ERROR_CODES)).toBe(true);
    expectTypeOf<BalancerErrorCode>().toEqualTypeOf<(typeof BALANCER_ERROR_CODES)[number]>();
  });

  it('is branded with Symbol.for, so a copy from another load of the package is recognised', () => {
    const error = new BalancerError('ERR_NO_COLLECTOR_AVAILABLE', 'none', { cause: 'x' });
    expect(error).toMatchObject({
      name: 'BalancerError',
      code: 'ERR_NO_COLLECTOR_AVAILABLE',
      cause: 'x',
    });
    expect(Reflect.get(error, Symbol.for('@daemoneye/balancer.error'))).toBe(true);
    // What a second copy of the package would construct: another class, the same global brand.
    const foreign = Object.assign(new Error('none'), {
      code: 'ERR_NO_COLLECTOR_AVAILABLE',
      [Symbol.for('@daemoneye/balancer.error')]: true,
    });
    expect(isBalancerError(foreign)).toBe(true);
    expect(isBalancerError(foreign, 'ERR_NO_COLLECTOR_AVAILABLE')).toBe(true);
    expect(isBalancerError(foreign, 'ERR_BALANCER_UNKNOWN_COLLECTOR')).toBe(false);
    const unbranded = Object.assign(new Error('none'), { code: 'ERR_NO_COLLECTOR_AVAILABLE' });
    expect(isBalancerError(unbranded)).toBe(false);
    expect(isBalancerError(null)).toBe(false);
    expect(isBalancerError('ERR_NO_COLLECTOR_AVAILABLE')).toBe(false);
  });

  it('isBalancerError(e, code) narrows to that code', () => {
    const e: unknown = new BalancerError('ERR_NO_COLLECTOR_AVAILABLE', 'none');
    if (isBalancerError(e, 'ERR_NO_COLLECTOR_AVAILABLE')) {
      expectTypeOf(e).toEqualTypeOf<BalancerError<'ERR_NO_COLLECTOR_AVAILABLE'>>();
      expectTypeOf(e.code).toEqualTypeOf<'ERR_NO_COLLECTOR_AVAILABLE'>();
    } else {
      expect.unreachable();
    }
    const any: unknown = new BalancerError('ERR_BALANCER_CALLBACK_FAILED', 'x');
    if (isBalancerError(any)) {
      expectTypeOf(any).toEqualTypeOf<BalancerError>();
      expectTypeOf(any.code).toEqualTypeOf<BalancerErrorCode>();
    }
  });

  it('explain of an unknown id throws ERR_BALANCER_UNKNOWN_COLLECTOR', () => {
    const { balancer } = harness();
    let caught: unknown;
    try {
      balancer.explain('nope');
    } catch (error) {
      caught = error;
    }
    expect(isBalancerError(caught, 'ERR_BALANCER_UNKNOWN_COLLECTOR')).toBe(true);
  });
});

describe('a throwing onEvent handler (the one callback policy)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('finishes the ejection, then hands ERR_BALANCER_CALLBACK_FAILED with the cause to onCallbackError', () => {
    const reported: BalancerError[] = [];
    const boom = new Error('handler bug');
    const seen: BalancerEvent[] = [];
    const { balancer } = harness({
      consecutiveFailures: 2,
      onEvent: (event) => {
        seen.push(event);
        throw boom;
      },
      onCallbackError: (error) => reported.push(error),
    });
    for (const id of ['a', 'b', 'c']) balancer.register(id);
    failTimes(balancer, 'a', 2);
    expect(seen.map((e) => e.type)).toEqual(['ejected']);
    expect(balancer.stats()).toMatchObject({ ejected: 1, ejections: 1, callbackErrors: 1 });
    expect(reported).toHaveLength(1);
    expect(isBalancerError(reported[0], 'ERR_BALANCER_CALLBACK_FAILED')).toBe(true);
    expect(reported[0]?.cause).toBe(boom);
    expect(reported[0]?.message).toContain('\'ejected\' event for collector "a"');
    for (let i = 0; i < 50; i++) expect(balancer.select()).not.toBe('a');
  });

  it('without onCallbackError, re-throws on a microtask after its own state is consistent', () => {
    const queued: Array<() => void> = [];
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      queued.push(callback);
    });
    const { balancer } = harness({
      consecutiveFailures: 1,
      onEvent: () => {
        throw new Error('handler bug');
      },
    });
    for (const id of ['a', 'b']) balancer.register(id);
    failTimes(balancer, 'a', 1);
    expect(balancer.stats()).toMatchObject({ ejected: 1, callbackErrors: 1 });
    expect(queued).toHaveLength(1);
    expect(() => queued[0]?.()).toThrow(
      expect.objectContaining({ code: 'ERR_BALANCER_CALLBACK_FAILED' }),
    );
  });

  it('a throwing onCallbackError is re-thrown on a microtask, and nothing else is lost', () => {
    const queued: Array<() => void> = [];
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      queued.push(callback);
    });
    const second = new Error('reporter bug');
    const { balancer, clock } = harness({
      consecutiveFailures: 1,
      baseEjectionMs: 1000,
      onEvent: () => {
        throw new Error('handler bug');
      },
      onCallbackError: () => {
        throw second;
      },
    });
    for (const id of ['a', 'b']) balancer.register(id);
    failTimes(balancer, 'a', 1);
    clock.advance(1000);
    // The ejection ends (and its event throws) inside select: the selection still happens.
    expect(['a', 'b']).toContain(balancer.select());
    expect(balancer.stats()).toMatchObject({ ejected: 0, callbackErrors: 2 });
    expect(queued).toHaveLength(2);
    expect(() => queued[1]?.()).toThrow(second);
  });
});
