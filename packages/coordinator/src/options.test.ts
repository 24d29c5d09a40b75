import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveOptions } from './options.js';

const base = { collectors: [] };
function resolve(extra: Record<string, unknown>): unknown {
  return Reflect.apply(resolveOptions, undefined, [{ ...base, ...extra }]);
}

// One row per option: a good value, a wrong type, an out-of-range value (piscina style).
const rows: [name: string, good: unknown, badType: unknown, outOfRange: unknown][] = [
  ['heartbeatIntervalMs', 100, '100', 99],
  ['staleAfterIntervals', 3, '3', 0],
  ['startTimeoutMs', 1, true, 0],
  ['taskTimeoutMs', 2_147_483_647, '1', 2_147_483_648],
  ['stopGraceMs', 0, '0', 600_001],
  ['reconnectGraceMs', 0, null, -1],
  ['giveUpCooldownMs', 0, '1', -1],
  ['niceness', -5, 1.5, 20],
  ['giveUpMaxCooldownMs', 60_000, '1', 1],
  ['loopLagToleranceMs', 1, '1', 0],
  ['watchdogHeartbeats', 1000, '1', 1001],
  ['controlKind', 'ctl', 7, undefined],
  ['endpoint', '/tmp/x/agent.sock', 7, undefined],
];

describe('resolveOptions', () => {
  it('applies the documented defaults', () => {
    const o = resolveOptions({ collectors: [] });
    expect(o).toMatchObject({
      heartbeatIntervalMs: DEFAULTS.heartbeatIntervalMs,
      staleAfterIntervals: 3,
      startTimeoutMs: 30_000,
      taskTimeoutMs: 5000,
      stopGraceMs: 3000,
      reconnectGraceMs: 2000,
      giveUpCooldownMs: 60_000,
      giveUpMaxCooldownMs: 600_000,
      loopLagToleranceMs: 1000,
      watchdogHeartbeats: 3,
      controlKind: 'cli',
    });
  });

  it.each(rows)(
    '%s: accepts a good value, refuses a wrong type and an out-of-range value',
    (name, good, badType, outOfRange) => {
      expect(() => resolve({ [name]: good })).not.toThrow();
      expect(() => resolve({ [name]: undefined })).not.toThrow();
      expect(() => resolve({ [name]: badType })).toThrow(TypeError);
      expect(() => resolve({ [name]: badType })).toThrow(`options.${name} must be`);
      if (outOfRange !== undefined) {
        expect(() => resolve({ [name]: outOfRange })).toThrow(RangeError);
        expect(() => resolve({ [name]: outOfRange })).toThrow(`options.${name} must be`);
      }
    },
  );

  it('refuses unknown keys with the nearest known name, nested ones with their path', () => {
    expect(() => resolve({ heartbeatIntervalMS: 1 })).toThrow(
      'options.heartbeatIntervalMS is not a known option (did you mean heartbeatIntervalMs?)',
    );
    expect(() => resolve({ transport: { maxFrameByte: 1 } })).toThrow(
      'options.transport.maxFrameByte is not a known option (did you mean maxFrameBytes?)',
    );
    expect(() => resolve({ collectors: [{ id: 'a', kind: 'k', command: 'c', argz: [] }] })).toThrow(
      'options.collectors[0].argz is not a known option (did you mean args?)',
    );
  });

  it('checks every collector spec', () => {
    expect(() => resolve({ collectors: 'x' })).toThrow(TypeError);
    const nice = resolveOptions({
      collectors: [{ id: 'a', kind: 'k', command: 'c', niceness: null }],
    });
    expect(nice.collectors[0]?.niceness).toBeNull();
    expect(() =>
      resolve({ collectors: [{ id: 'a', kind: 'k', command: 'c', niceness: -21 }] }),
    ).toThrow('options.collectors[0].niceness');
    expect(() => resolve({ collectors: [{ id: 'bad id', kind: 'k', command: 'c' }] })).toThrow(
      RangeError,
    );
    expect(() => resolve({ collectors: [{ id: 'a', kind: '', command: 'c' }] })).toThrow(
      'options.collectors[0].kind',
    );
    expect(() =>
      resolve({ collectors: [{ id: 'a', kind: 'k', command: 'c', args: [1] }] }),
    ).toThrow(TypeError);
    expect(() =>
      resolve({ collectors: [{ id: 'a', kind: 'k', command: 'c', env: { A: 1 } }] }),
    ).toThrow(TypeError);
    expect(() =>
      resolve({ collectors: [{ id: 'a', kind: 'k', command: 'c', maxCpu: 2 }] }),
    ).toThrow(RangeError);
    expect(() =>
      resolve({ collectors: [{ id: 'a', kind: 'k', command: 'c', maxRssBytes: 10 }] }),
    ).toThrow(RangeError);
    expect(() =>
      resolve({
        collectors: [
          { id: 'a', kind: 'k', command: 'c' },
          { id: 'a', kind: 'k', command: 'd' },
        ],
      }),
    ).toThrow('must be unique');
    expect(() => resolve({ collectors: [{ id: 'a', kind: 'cli', command: 'c' }] })).toThrow(
      'control kind',
    );
  });

  it('refuses a clock without the three methods and non-function callbacks', () => {
    expect(() => resolve({ clock: { now: () => 0 } })).toThrow('options.clock');
    expect(() => resolve({ spawn: 1 })).toThrow('options.spawn must be a function');
    expect(() => resolve({ onCallbackError: 'x' })).toThrow(TypeError);
    expect(() => Reflect.apply(resolveOptions, undefined, [null])).toThrow(
      'options must be an object',
    );
  });
});
