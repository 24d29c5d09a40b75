import { HealthState } from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import { admit } from './admission.js';
import { COORDINATOR_ERROR_CODES, CoordinatorError, isCoordinatorError } from './errors.js';
import { lineSplitter } from './reactions/line-splitter.js';
import { selfHealth } from './reactions/self-health.js';

const hello = { collectorId: 'p1', kind: 'procmond', pid: 42, taskKinds: ['enumerate'] };

describe('admit', () => {
  it.each([
    ['the process it started', hello, { kind: 'procmond', pid: 42 }, 'collector'],
    ['an unknown id', hello, undefined, 'unknown-collector'],
    ['a wrong kind', { ...hello, kind: 'netmond' }, { kind: 'procmond', pid: 42 }, 'wrong-kind'],
    ['a pid it did not start', { ...hello, pid: 7 }, { kind: 'procmond', pid: 42 }, 'pid-mismatch'],
    ['no process running for the id', hello, { kind: 'procmond', pid: undefined }, 'pid-mismatch'],
    ['a control client', { ...hello, collectorId: 'status-1', kind: 'cli' }, undefined, 'control'],
    [
      'a control client under a collector id',
      { ...hello, kind: 'cli' },
      { kind: 'procmond', pid: 42 },
      'control-id-taken',
    ],
    [
      'no task kinds',
      { ...hello, taskKinds: [] },
      { kind: 'procmond', pid: 42 },
      'invalid-task-kinds',
    ],
    [
      'a task kind that is no topic level',
      { ...hello, taskKinds: ['A B'] },
      { kind: 'procmond', pid: 42 },
      'invalid-task-kinds',
    ],
  ] as const)('%s', (_name, candidate, expected, verdict) => {
    const got = admit(candidate, expected, 'cli');
    expect('accept' in got ? got.accept : got.reject).toBe(verdict);
  });
});

describe('errors', () => {
  it('are branded with Symbol.for, so a second copy of the package is recognised', () => {
    const e = new CoordinatorError('ERR_COORDINATOR_CLOSED', 'closed');
    expect(isCoordinatorError(e)).toBe(true);
    expect(isCoordinatorError(e, 'ERR_COORDINATOR_CLOSED')).toBe(true);
    expect(isCoordinatorError(e, 'ERR_COORDINATOR_INVALID_REQUEST')).toBe(false);
    const copy = {
      [Symbol.for('@daemoneye/coordinator.error')]: true,
      code: 'ERR_COORDINATOR_CLOSED',
    };
    expect(isCoordinatorError(copy, 'ERR_COORDINATOR_CLOSED')).toBe(true);
    expect(isCoordinatorError(new Error('x'))).toBe(false);
    expect(new Set(COORDINATOR_ERROR_CODES).size).toBe(COORDINATOR_ERROR_CODES.length);
    expect(COORDINATOR_ERROR_CODES.every((c) => c.startsWith('ERR_COORDINATOR_'))).toBe(true);
  });
});

describe('self health', () => {
  it('reads a heartbeat state when protocol v1 carries one, healthy otherwise', () => {
    const beat = { activeTasks: 0, queueDepth: 0, cpu: 0, memoryBytes: 0n };
    expect(selfHealth(beat).health).toBe('healthy');
    expect(
      selfHealth({ ...beat, state: HealthState.HEALTH_STATE_DEGRADED, message: 'disk slow' }),
    ).toEqual({
      health: 'degraded',
      message: 'disk slow',
    });
  });
});

describe('collector stderr lines', () => {
  it('splits any chunking into lines and bounds a line that never ends', () => {
    const split = lineSplitter(8);
    expect(split('ab')).toEqual([]);
    expect(split('c\nde\n\nf')).toEqual(['abc', 'de']);
    expect(split('0123456789')).toEqual(['f0123456']);
    expect(split('x\n')).toEqual(['x']);
  });
});
