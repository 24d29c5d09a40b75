import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import { ParkingLot } from './parking-lot.js';
import { type PendingTask, PendingTaskRegistry } from './pending-task-registry.js';

describe('ParkingLot', () => {
  function setup() {
    const clock = new FakeClock();
    const registry = new PendingTaskRegistry({ clock });
    const retries: number[] = [];
    const expired: string[] = [];
    const lot = new ParkingLot(clock, 1000, 300, {
      retry: () => retries.push(clock.now()),
      expired: (task: PendingTask) => expired.push(`${task.taskId}@${clock.now()}`),
    });
    const task = (id: string) => registry.accept({ taskId: id, correlationId: 'c' });
    return { clock, lot, retries, expired, task };
  }

  it('retries every interval and expires tasks in parking order, each at its own timeout', () => {
    const { clock, lot, retries, expired, task } = setup();
    lot.park(task('a'), clock.now());
    clock.advance(500);
    lot.park(task('b'), clock.now());
    clock.advance(1000);
    expect(retries).toEqual([300, 600, 900, 1200]); // at 1500 b expires first: the lot is empty
    expect(expired).toEqual(['a@1000', 'b@1500']);
    expect(lot.size).toBe(0);
    expect(clock.timerCount).toBe(0);
  });

  it('stops its timers when emptied or closed, and returns what was parked', () => {
    const { clock, lot, task } = setup();
    lot.park(task('a'), clock.now());
    expect(lot.remove('a')).toBe(true);
    expect(clock.timerCount).toBe(0);
    lot.park(task('b'), clock.now());
    expect(lot.close().map((p) => p.task.taskId)).toEqual(['b']);
    expect(clock.timerCount).toBe(0);
    lot.park(task('c'), clock.now());
    expect(clock.timerCount).toBe(0);
  });
});
