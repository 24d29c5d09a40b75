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

/**
 * A FakeClock whose `stall(ms)` plays a blocked event loop: time jumps by `ms` while nothing runs,
 * then every timer that fell due meanwhile fires late, all seeing the stall's end as `now()`.
 */
class StallingClock {
  readonly fake = new FakeClock();
  #pinned: number | undefined;
  now(): number {
    return this.#pinned ?? this.fake.now();
  }
  setTimeout(callback: () => void, delayMs: number): unknown {
    const extra = this.#pinned === undefined ? 0 : this.#pinned - this.fake.now();
    return this.fake.setTimeout(callback, delayMs + extra);
  }
  clearTimeout(handle: unknown): void {
    this.fake.clearTimeout(handle);
  }
  advance(ms: number): void {
    this.fake.advance(ms);
  }
  stall(ms: number): void {
    this.#pinned = this.fake.now() + ms;
    this.fake.advance(ms);
    this.#pinned = undefined;
  }
}

describe('HealthTracker against the agent’s own event-loop lag (issue 11)', () => {
  function stallSetup() {
    const clock = new StallingClock();
    const tracker = new HealthTracker({ heartbeatIntervalMs: 100, clock });
    const failures: CollectorFailure[] = [];
    const stalls: number[] = [];
    tracker.on('failed', (f) => failures.push(f));
    tracker.on('stall', (s) => stalls.push(s.lagMs));
    tracker.register('a');
    tracker.register('b');
    const beat = (ids: readonly string[], rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        clock.advance(100);
        for (const id of ids) tracker.heartbeat(id);
      }
    };
    return { clock, tracker, failures, stalls, beat };
  }

  it('a 3 s stall of the agent’s loop fails no collector: heartbeats queued meanwhile are read first', () => {
    const { clock, tracker, failures, stalls, beat } = stallSetup();
    beat(['a', 'b'], 10);
    clock.stall(3000); // the check timers fire 2.8 s late, before the sockets are read
    expect(failures).toEqual([]);
    for (const id of ['a', 'b']) tracker.heartbeat(id); // what sat in the socket
    beat(['a', 'b'], 20);
    expect(failures).toEqual([]);
    expect(tracker.state('a')).toBe('healthy');
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toBeGreaterThan(2500);
    expect(tracker.stats()).toMatchObject({ stalls: 1, failures: 0 });
    expect(tracker.stats().heldVerdicts).toBeGreaterThan(0);
  });

  it('a collector that is really silent is still failed, one interval and the threshold after the stall', () => {
    const { clock, tracker, failures, beat } = stallSetup();
    beat(['a', 'b'], 5);
    clock.stall(3000);
    const stallEnd = clock.now();
    tracker.heartbeat('a');
    beat(['a'], 5);
    expect(failures.map((f) => `${f.id}:${f.reason}`)).toEqual(['b:stale']);
    expect(failures[0]?.at).toBe(stallEnd + 100 + 50);
    expect(tracker.state('a')).toBe('healthy');
  });

  it('a timer late by less than stallThresholdMs gives its verdict; a lower threshold holds it', () => {
    const clock = new StallingClock();
    const plain = new HealthTracker({ heartbeatIntervalMs: 100, clock }); // threshold 50 ms
    const strict = new HealthTracker({ heartbeatIntervalMs: 100, clock, stallThresholdMs: 5 });
    plain.register('a');
    strict.register('a');
    clock.advance(250);
    clock.stall(60); // the stale deadline (300) fires at 310: 10 ms late
    expect(plain.state('a')).toBe('failed');
    expect(plain.stats().stalls).toBe(0);
    expect(strict.state('a')).toBe('suspect');
    expect(strict.stats()).toMatchObject({ stalls: 1, heldVerdicts: 1, maxLagMs: 10 });
    clock.advance(105); // the hold ends 100 + 5 ms after the stall
    expect(strict.state('a')).toBe('failed');
  });
});

describe('HealthTracker self-reported health (issue 11)', () => {
  it('keeps a degraded collector healthy, shows state and message, never fails it for it', () => {
    const { clock, tracker, failures } = setup({ maxMessageLength: 8 });
    const reported: string[] = [];
    tracker.on('reported-health-change', (c) =>
      reported.push(`${c.id}:${c.from}->${c.to}:${c.message}`),
    );
    tracker.register('a');
    for (let i = 0; i < 50; i++) {
      clock.advance(100);
      tracker.heartbeat('a', { state: 'degraded', message: 'disk full, dropping' });
    }
    expect(tracker.get('a')).toMatchObject({
      state: 'healthy',
      reportedState: 'degraded',
      reportedMessage: 'disk ful',
    });
    expect(failures).toEqual([]);
    expect(reported).toEqual(['a:healthy->degraded:disk ful']);
    expect(tracker.stats()).toMatchObject({ degraded: 1, truncatedMessages: 50 });
    tracker.heartbeat('a', { state: 'healthy', message: '' });
    expect(tracker.get('a')).toMatchObject({
      reportedState: 'healthy',
      reportedMessage: undefined,
    });
    expect(tracker.stats().degraded).toBe(0);
    expect(() => tracker.heartbeat('a', { state: 'sick' as 'healthy' })).toThrow(TypeError);
  });

  it('a degraded collector that goes silent fails as stale, like any other; register resets the report', () => {
    const { clock, tracker, failures } = setup();
    tracker.register('a');
    tracker.heartbeat('a', { state: 'degraded' });
    clock.advance(300);
    expect(failures.map((f) => f.reason)).toEqual(['stale']);
    tracker.register('a');
    expect(tracker.get('a')?.reportedState).toBe('healthy');
    expect(tracker.stats().degraded).toBe(0);
  });
});
