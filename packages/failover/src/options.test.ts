import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import {
  FailoverManager,
  HealthTracker,
  PendingTaskRegistry,
  ResourceWatchdog,
  Supervisor,
} from './index.js';

// Piscina-style: one row per option with a good value, a value of the wrong type (TypeError) and
// an out-of-range value (RangeError, or undefined when every value of the type is allowed).
type Row = readonly [name: string, good: unknown, badType: unknown, outOfRange: unknown];

const DELAY_OVERFLOW = 3e9; // Node turns a delay above 2^31-1 into 1 ms

function table(
  what: string,
  make: (options: Record<string, unknown>) => unknown,
  rows: readonly Row[],
  typo: readonly [misspelt: string, suggestion: string],
) {
  describe(`${what} options`, () => {
    it.each(rows)(
      '%s: good value accepted, bad type TypeError, out of range RangeError',
      (name, good, badType, outOfRange) => {
        expect(() => make({ [name]: good })).not.toThrow();
        expect(() => make({ [name]: undefined })).not.toThrow(); // undefined means the default
        expect(() => make({ [name]: badType })).toThrow(TypeError);
        expect(() => make({ [name]: badType })).toThrow(new RegExp(`^options\\.${name} must be `));
        if (outOfRange !== undefined) {
          expect(() => make({ [name]: outOfRange })).toThrow(RangeError);
          expect(() => make({ [name]: outOfRange })).toThrow(
            new RegExp(`^options\\.${name} must be .*, got ${JSON.stringify(outOfRange)}`),
          );
        }
      },
    );

    it('refuses an unknown key, naming the nearest known one', () => {
      const [misspelt, suggestion] = typo;
      expect(() => make({ [misspelt]: 1 })).toThrow(
        `options.${misspelt} is not a known option (did you mean ${suggestion}?)`,
      );
      expect(() => make({ zzzzzzzz: 1 })).toThrow('options.zzzzzzzz is not a known option');
    });
  });
}

const clock = new FakeClock();
const fn = () => undefined;

table(
  'Supervisor',
  (o) => new Supervisor({ clock, ...o }),
  [
    ['restart', 'transient', 5, 'always'],
    ['maxRestarts', 3, '3', 1001],
    ['restartWindowMs', 1000, '1', DELAY_OVERFLOW],
    ['giveUpCoolDownMs', 0, '0', DELAY_OVERFLOW],
    ['maxGiveUpCoolDownMs', 700_000, '1', DELAY_OVERFLOW],
    ['readyTimeoutMs', 0, '0', DELAY_OVERFLOW],
    ['stopGraceMs', 100, '100', -1],
    ['niceness', null, '10', 20],
    ['stdio', 'pipe', 5, undefined],
    ['clock', clock, {}, undefined],
    ['random', Math.random, 1, undefined],
    ['platform', 'win32', 1, undefined],
    ['spawn', fn, 1, undefined],
    ['setPriority', fn, 1, undefined],
    ['onCallbackError', fn, 1, undefined],
  ],
  ['maxRestart', 'maxRestarts'],
);

describe('Supervisor nested and cross-field options', () => {
  it('validates backoff.* with their full path', () => {
    expect(() => new Supervisor({ backoff: { jitter: 5 } })).toThrow(
      'options.backoff.jitter must be a number in [0, 1], got 5',
    );
    expect(() => new Supervisor({ backoff: { initialDelayMs: 500, maxDelayMs: 100 } })).toThrow(
      'options.backoff.maxDelayMs must be an integer in [500, 2147483647], got 100',
    );
    // @ts-expect-error misspelt on purpose
    expect(() => new Supervisor({ backoff: { initialDelay: 5 } })).toThrow(
      'options.backoff.initialDelay is not a known option (did you mean initialDelayMs?)',
    );
    expect(() => new Supervisor({ giveUpCoolDownMs: 5000, maxGiveUpCoolDownMs: 10 })).toThrow(
      RangeError,
    );
  });
});

table(
  'HealthTracker',
  (o) => new HealthTracker({ clock, ...o }),
  [
    ['heartbeatIntervalMs', 100, '100', 0],
    ['staleAfterIntervals', 2, '2', 0.5],
    ['suspectAfterIntervals', 1, '1', 0],
    ['phi', { threshold: 4 }, 5, undefined],
    ['stallThresholdMs', 20, '20', DELAY_OVERFLOW],
    ['maxMessageLength', 10, '10', 65_537],
    ['clock', clock, 1, undefined],
    ['onCallbackError', fn, 1, undefined],
  ],
  ['hearbeatIntervalMs', 'heartbeatIntervalMs'],
);

describe('HealthTracker cross-field options', () => {
  it('suspect must not come after stale; phi.* keep their path', () => {
    expect(() => new HealthTracker({ staleAfterIntervals: 2, suspectAfterIntervals: 3 })).toThrow(
      'options.suspectAfterIntervals must be a number in (0, 2], got 3',
    );
    expect(() => new HealthTracker({ phi: { windowSize: 1 } })).toThrow(
      'options.phi.windowSize must be an integer in [2, 10000], got 1',
    );
  });
});

const registry = new PendingTaskRegistry({ clock });
const router = { route: () => undefined };
table(
  'FailoverManager',
  (o) => new FailoverManager({ registry, router, clock, ...o }),
  [
    ['maxRetries', 1, '1', 101],
    ['placementTimeoutMs', 0, '0', DELAY_OVERFLOW],
    ['parkRetryIntervalMs', 10, '10', 0],
    ['clock', clock, 1, undefined],
    ['onCallbackError', fn, 1, undefined],
  ],
  ['maxRetry', 'maxRetries'],
);

describe('FailoverManager required hooks', () => {
  it('names the missing hook', () => {
    // @ts-expect-error missing route on purpose
    expect(() => new FailoverManager({ registry, router: {} })).toThrow(/options\.router\.route/);
    // @ts-expect-error missing registry on purpose
    expect(() => new FailoverManager({ router })).toThrow(/options\.registry must be an object/);
  });
});

table(
  'PendingTaskRegistry',
  (o) => new PendingTaskRegistry({ clock, ...o }),
  [
    ['maxPendingTasks', 10, '10', 0],
    ['clock', clock, 1, undefined],
    ['onCallbackError', fn, 1, undefined],
  ],
  ['maxPending', 'maxPendingTasks'],
);

const sampler = async () => undefined;
table(
  'ResourceWatchdog',
  (o) => new ResourceWatchdog({ clock, sampler, ...o }),
  [
    ['intervalMs', 0, '0', DELAY_OVERFLOW],
    ['consecutiveSamples', 2, '2', 0],
    ['sampler', sampler, 1, undefined],
    ['clock', clock, 1, undefined],
    ['onCallbackError', fn, 1, undefined],
  ],
  ['consecutive', 'consecutiveSamples'],
);
