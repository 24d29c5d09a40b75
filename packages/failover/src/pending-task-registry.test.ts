import { FakeClock } from '@daemoneye/test-utils';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailoverError, isFailoverError, type PendingTask, PendingTaskRegistry } from './index.js';

function task(n: number) {
  return { taskId: `t${n}`, correlationId: `c${n}`, payload: { n } };
}

describe('PendingTaskRegistry', () => {
  it('tracks collector, correlation id, attempts, assignedAt and deadline', () => {
    const clock = new FakeClock();
    const registry = new PendingTaskRegistry<{ n: number }>({ clock });
    registry.assign({ ...task(1), deadline: clock.now() + 5000 }, 'a');
    clock.advance(10);
    const moved = registry.reassign('t1', 'b');
    expect(moved).toMatchObject({
      taskId: 't1',
      correlationId: 'c1',
      collectorId: 'b',
      lastCollectorId: 'b',
      attempts: 2,
      assignedAt: clock.now(),
      acceptedAt: clock.now() - 10,
      deadline: clock.now() + 4990,
      pinned: false,
      payload: { n: 1 },
    });
    expect(registry.countFor('a')).toBe(0);
    expect(registry.countFor('b')).toBe(1);
    expect(registry.stats().reassignments).toBe(1);
  });

  it('is bounded by maxPendingTasks with a typed error and a counter', () => {
    const registry = new PendingTaskRegistry({ maxPendingTasks: 2 });
    registry.assign(task(1), 'a');
    registry.assign(task(2), 'a');
    let caught: unknown;
    try {
      registry.assign(task(3), 'a');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FailoverError);
    expect(isFailoverError(caught, 'ERR_TOO_MANY_PENDING_TASKS')).toBe(true);
    expect(registry.stats()).toMatchObject({ accepted: 2, pending: 2, rejectedFull: 1 });
    registry.complete('t1');
    registry.assign(task(3), 'a');
    expect(registry.size).toBe(2);
  });

  it('rejects a duplicate task id while it is pending', () => {
    const registry = new PendingTaskRegistry();
    registry.assign(task(1), 'a');
    expect(() => registry.assign(task(1), 'b')).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_DUPLICATE_TASK' }),
    );
    expect(registry.stats().rejectedDuplicate).toBe(1);
    expect(registry.get('t1')?.collectorId).toBe('a');
  });

  it('take() detaches all tasks of one collector and only those', () => {
    const registry = new PendingTaskRegistry();
    for (let i = 0; i < 100; i++) registry.assign(task(i), i % 2 === 0 ? 'a' : 'b');
    const taken = registry.take('a');
    expect(taken).toHaveLength(50);
    expect(taken.every((t) => t.collectorId === undefined && t.lastCollectorId === 'a')).toBe(true);
    expect(registry.countFor('a')).toBe(0);
    expect(registry.countFor('b')).toBe(50);
    expect(registry.take('a')).toEqual([]);
    expect(registry.size).toBe(100);
  });

  it('ignores a completion from the old collector after the task moved, and duplicates', () => {
    const registry = new PendingTaskRegistry();
    const ignored: string[] = [];
    registry.on('completion-ignored', (id, from, why) => ignored.push(`${id}:${from}:${why}`));
    registry.assign(task(1), 'a');
    registry.take('a');
    registry.reassign('t1', 'b');
    expect(registry.complete('t1', 'a')).toBe('stale');
    expect(registry.complete('t1', 'b')).toBe('completed');
    expect(registry.complete('t1', 'b')).toBe('unknown');
    expect(ignored).toEqual(['t1:a:stale', 't1:b:unknown']);
    expect(registry.stats()).toMatchObject({
      completed: 1,
      staleCompletions: 1,
      unknownCompletions: 1,
    });
  });

  it('emits each outcome exactly once', () => {
    const registry = new PendingTaskRegistry();
    const outcomes: string[] = [];
    registry.on('task-completed', (t) => outcomes.push(`${t.taskId}:completed`));
    registry.on('task-failed', (t, reason) => outcomes.push(`${t.taskId}:failed:${reason}`));
    registry.assign(task(1), 'a');
    registry.assign(task(2), 'a');
    registry.complete('t1');
    registry.fail('t2', 'placement-timeout');
    expect(registry.fail('t2', 'again')).toBe(false);
    expect(outcomes).toEqual(['t1:completed', 't2:failed:placement-timeout']);
  });

  it('keeps accepted = completed + failed + pending under any sequence of operations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('assign'), task: fc.nat(30), collector: fc.nat(3) }),
      fc.record({ kind: fc.constant('complete'), task: fc.nat(30), collector: fc.nat(3) }),
      fc.record({ kind: fc.constant('fail'), task: fc.nat(30), collector: fc.nat(3) }),
      fc.record({ kind: fc.constant('take'), task: fc.nat(30), collector: fc.nat(3) }),
      fc.record({ kind: fc.constant('reassign'), task: fc.nat(30), collector: fc.nat(3) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const registry = new PendingTaskRegistry({ maxPendingTasks: 20 });
        const ended = new Map<string, number>();
        const count = (t: PendingTask) => ended.set(t.taskId, (ended.get(t.taskId) ?? 0) + 1);
        registry.on('task-completed', count);
        registry.on('task-failed', count);
        for (const o of ops) {
          const id = `t${o.task}`;
          const collector = `c${o.collector}`;
          try {
            if (o.kind === 'assign') registry.assign({ taskId: id, correlationId: 'x' }, collector);
            else if (o.kind === 'complete') registry.complete(id, collector);
            else if (o.kind === 'fail') registry.fail(id, 'test');
            else if (o.kind === 'take') registry.take(collector);
            else registry.reassign(id, collector);
          } catch (error) {
            expect(error).toBeInstanceOf(FailoverError);
          }
          const s = registry.stats();
          expect(s.accepted).toBe(s.completed + s.failed + s.pending);
          expect(s.pending).toBeLessThanOrEqual(20);
          let indexed = 0;
          for (let c = 0; c <= 3; c++) indexed += registry.countFor(`c${c}`);
          expect(indexed).toBeLessThanOrEqual(s.pending);
        }
        const s = registry.stats();
        expect([...ended.values()].reduce((a, b) => a + b, 0)).toBe(s.completed + s.failed);
      }),
      { seed: 20_240_501, numRuns: 200 },
    );
  });

  it('validates options', () => {
    expect(() => new PendingTaskRegistry({ maxPendingTasks: 0 })).toThrow(
      /maxPendingTasks must be an integer in \[1, 10000000\], got 0/,
    );
    expect(() => new PendingTaskRegistry({ maxPendingTasks: 1.5 })).toThrow(RangeError);
    const registry = new PendingTaskRegistry();
    expect(() => registry.assign({ taskId: '', correlationId: 'c' }, 'a')).toThrow(TypeError);
    expect(() => registry.reassign('nope', 'a')).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_UNKNOWN_TASK' }),
    );
  });
});
