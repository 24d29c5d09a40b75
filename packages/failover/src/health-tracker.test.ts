import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type CollectorFailure,
  type HealthStateChange,
  HealthTracker,
  type HealthTrackerOptions,
} from './index.js';

function setup(options: HealthTrackerOptions = {}) {
  const clock = new FakeClock();
  const tracker = new HealthTracker({ heartbeatIntervalMs: 100, clock, ...options });
  const changes: HealthStateChange[] = [];
  const failures: CollectorFailure[] = [];
  tracker.on('collector-state-change', (c) => changes.push(c));
  tracker.on('failed', (f) => failures.push(f));
  return { clock, tracker, changes, failures };
}

describe('HealthTracker', () => {
  it('goes healthy -> suspect -> failed by staleness at exactly 1.5 and 3 intervals', () => {
    const { clock, tracker, changes, failures } = setup();
    tracker.register('c1');
    const t0 = clock.now();
    expect(tracker.state('c1')).toBe('healthy');
    clock.advance(149);
    expect(tracker.state('c1')).toBe('healthy');
    clock.advance(1);
    expect(tracker.state('c1')).toBe('suspect');
    clock.advance(149);
    expect(tracker.state('c1')).toBe('suspect');
    clock.advance(1);
    expect(tracker.state('c1')).toBe('failed');
    expect(failures).toEqual([{ id: 'c1', reason: 'stale', at: t0 + 300, lastHeartbeatAt: t0 }]);
    expect(changes.map((c) => `${c.from}->${c.to}:${c.reason}`)).toEqual([
      'undefined->healthy:registered',
      'healthy->suspect:overdue',
      'suspect->failed:stale',
    ]);
    expect(clock.timerCount).toBe(0);
  });

  it('stays healthy with regular heartbeats and recovers from suspect on a heartbeat', () => {
    const { clock, tracker, changes } = setup();
    tracker.register('c1');
    for (let i = 0; i < 50; i++) {
      clock.advance(100);
      expect(tracker.heartbeat('c1')).toBe(true);
    }
    expect(tracker.state('c1')).toBe('healthy');
    clock.advance(200);
    expect(tracker.state('c1')).toBe('suspect');
    tracker.heartbeat('c1');
    expect(tracker.state('c1')).toBe('healthy');
    expect(changes.map((c) => c.to)).toEqual(['healthy', 'suspect', 'healthy']);
    // The lazy timer does not pile up: one timer per collector.
    expect(clock.timerCount).toBe(1);
  });

  it('connection loss and process exit fail at once; one failure however many reports', () => {
    const { tracker, failures } = setup();
    tracker.register('c1');
    expect(tracker.connectionLost('c1')).toBe(true);
    expect(tracker.processExited('c1', null, 'SIGKILL')).toBe(false);
    expect(tracker.markFailed('c1', 'stale')).toBe(false);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.reason).toBe('connection-lost');
    expect(tracker.stats()).toMatchObject({ failures: 1, duplicateFailureReports: 2 });

    tracker.register('c2');
    tracker.processExited('c2', 1, null);
    expect(failures[1]).toMatchObject({
      id: 'c2',
      reason: 'process-exited',
      exitCode: 1,
      signal: null,
    });
  });

  it('ignores heartbeats of failed or unknown collectors until register()', () => {
    const { clock, tracker } = setup();
    expect(tracker.heartbeat('nobody')).toBe(false);
    tracker.register('c1');
    tracker.connectionLost('c1');
    expect(tracker.heartbeat('c1')).toBe(false);
    expect(tracker.stats().ignoredHeartbeats).toBe(2);
    tracker.register('c1');
    expect(tracker.state('c1')).toBe('healthy');
    clock.advance(300);
    expect(tracker.state('c1')).toBe('failed');
    expect(tracker.stats().failures).toBe(2);
  });

  it('phi accrual fails a collector earlier than staleness when intervals are regular', () => {
    const { clock, tracker, failures } = setup({
      heartbeatIntervalMs: 1000,
      staleAfterIntervals: 3,
      phi: { threshold: 8, minStdDevMs: 100 },
    });
    tracker.register('c1');
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      tracker.heartbeat('c1');
    }
    const last = clock.now();
    expect(tracker.phi('c1')).toBeLessThan(1);
    clock.advance(1500);
    expect(tracker.state('c1')).toBe('suspect');
    expect(failures).toHaveLength(0);
    // 1 s mean, std clamped to 100 ms: phi 8 is reached ~5.6 std past the mean (~+1560 ms),
    // long before staleness at +3000 ms.
    clock.advance(100);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.reason).toBe('phi');
    expect((failures[0]?.at ?? 0) - last).toBeGreaterThan(1500);
    expect((failures[0]?.at ?? 0) - last).toBeLessThanOrEqual(1600);
  });

  it('phi reaches the threshold exactly when the detector predicts', () => {
    const { clock, tracker, failures } = setup({
      heartbeatIntervalMs: 1000,
      staleAfterIntervals: 10,
      suspectAfterIntervals: 10,
      phi: true,
    });
    tracker.register('c1');
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      tracker.heartbeat('c1');
    }
    clock.advance(1500);
    expect(tracker.phi('c1')).toBeLessThan(8);
    expect(failures).toHaveLength(0);
    clock.advance(100);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.reason).toBe('phi');
  });

  it('remove() forgets a collector without failing it; close() clears timers', () => {
    const { clock, tracker, failures } = setup();
    tracker.register('c1');
    tracker.register('c2');
    expect(tracker.remove('c1')).toBe(true);
    expect(tracker.remove('c1')).toBe(false);
    tracker.close();
    expect(clock.timerCount).toBe(0);
    clock.advance(10_000);
    expect(failures).toHaveLength(0);
    expect(tracker.list()).toEqual([]);
  });

  it('reports a snapshot per collector', () => {
    const { clock, tracker } = setup();
    tracker.register('c1');
    clock.advance(50);
    tracker.heartbeat('c1');
    expect(tracker.get('c1')).toMatchObject({
      id: 'c1',
      state: 'healthy',
      heartbeats: 1,
      lastHeartbeatAt: clock.now(),
      failedAt: undefined,
    });
    expect(tracker.get('x')).toBeUndefined();
    expect(tracker.isAlive('c1')).toBe(true);
  });
});
