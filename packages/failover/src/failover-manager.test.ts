import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type AggregatorNotifier,
  FailoverManager,
  type FailoverManagerOptions,
  HealthTracker,
  type PendingTask,
  PendingTaskRegistry,
  type TaskRouter,
} from './index.js';

/** Round-robin over the collectors marked up, skipping excluded ones; records every send. */
class FakeRouter implements TaskRouter {
  readonly up = new Set<string>();
  readonly sent: Array<{ taskId: string; to: string }> = [];
  #next = 0;
  route(task: PendingTask, exclude: ReadonlySet<string>): string | undefined {
    const candidates = [...this.up].filter((id) => !exclude.has(id));
    if (candidates.length === 0) return undefined;
    const to = candidates[this.#next++ % candidates.length];
    if (to === undefined) return undefined;
    this.sent.push({ taskId: task.taskId, to });
    return to;
  }
}

function setup(options: Partial<FailoverManagerOptions> = {}) {
  const clock = new FakeClock();
  const registry = new PendingTaskRegistry({ clock });
  const router = new FakeRouter();
  const calls: string[] = [];
  const aggregator: AggregatorNotifier = {
    collectorFailed: (id) => calls.push(`collectorFailed ${id}`),
    reassign: (c, from, to) => calls.push(`reassign ${c} ${from}->${to}`),
  };
  const subscriptions = { removeSubscriptions: (id: string) => calls.push(`unsubscribe ${id}`) };
  const manager = new FailoverManager({
    registry,
    router,
    aggregator,
    subscriptions,
    clock,
    ...options,
  });
  const outcomes: string[] = [];
  registry.on('task-completed', (t) => outcomes.push(`${t.taskId} completed`));
  registry.on('task-failed', (t, reason) => outcomes.push(`${t.taskId} failed ${reason}`));
  return { clock, registry, router, manager, calls, outcomes };
}

function invariant(registry: PendingTaskRegistry) {
  const s = registry.stats();
  expect(s.accepted).toBe(s.completed + s.failed + s.pending);
}

describe('FailoverManager', () => {
  it('moves a failed collector’s tasks, then cleans subscriptions and tells the aggregator', () => {
    const { registry, router, manager, calls } = setup();
    router.up.add('a').add('b').add('c');
    for (let i = 0; i < 6; i++) registry.assign({ taskId: `t${i}`, correlationId: `c${i}` }, 'a');
    router.up.delete('a');
    const report = manager.handleFailure('a', 'process-exited');
    expect(report).toMatchObject({ collectorId: 'a', taken: 6, moved: 6, parked: 0, failed: 0 });
    expect(registry.countFor('a')).toBe(0);
    expect(registry.countFor('b') + registry.countFor('c')).toBe(6);
    expect(router.sent.map((s) => s.to).every((to) => to !== 'a')).toBe(true);
    expect(calls.slice(0, 6).every((c) => c.startsWith('reassign c'))).toBe(true);
    expect(calls.slice(6)).toEqual(['unsubscribe a', 'collectorFailed a']);
    invariant(registry);
  });

  it('is idempotent: one failover per failure however many times it is reported', () => {
    const { registry, router, manager, calls } = setup();
    router.up.add('b');
    registry.assign({ taskId: 't1', correlationId: 'c' }, 'a');
    const failovers: string[] = [];
    manager.on('failover', (r) => failovers.push(r.collectorId));
    expect(manager.handleFailure('a', 'connection-lost')).toBeDefined();
    expect(manager.handleFailure('a', 'process-exited')).toBeUndefined();
    expect(manager.handleFailure('a', 'stale')).toBeUndefined();
    expect(failovers).toEqual(['a']);
    expect(calls.filter((c) => c === 'collectorFailed a')).toHaveLength(1);
    expect(router.sent).toHaveLength(1);
    expect(manager.stats()).toMatchObject({ failovers: 1, duplicateFailures: 2 });
    // After re-registration a new failure is a new failover.
    manager.collectorAvailable('a');
    expect(manager.handleFailure('a')).toBeDefined();
    expect(manager.stats().failovers).toBe(2);
  });

  it('wired to a HealthTracker: socket close + exit + staleness give one failover', () => {
    const clock = new FakeClock();
    const health = new HealthTracker({ heartbeatIntervalMs: 100, clock });
    const { registry, router, manager } = setup({ health, clock });
    router.up.add('a').add('b');
    health.register('a');
    health.register('b');
    registry.assign({ taskId: 't1', correlationId: 'c' }, 'a');
    router.up.delete('a');
    health.connectionLost('a');
    health.processExited('a', null, 'SIGKILL');
    for (let i = 0; i < 10; i++) {
      clock.advance(100);
      health.heartbeat('b');
    }
    manager.handleFailure('a');
    expect(manager.stats().failovers).toBe(1);
    expect(registry.get('t1')?.collectorId).toBe('b');
    // handleFailure marks the tracker too.
    manager.handleFailure('b');
    expect(health.state('b')).toBe('failed');
    expect(manager.stats().failovers).toBe(2);
    // Re-registration makes it available again and retries parked tasks.
    router.up.add('a');
    health.register('a');
    expect(manager.isFailed('a')).toBe(false);
    expect(registry.get('t1')?.collectorId).toBe('a');
    manager.close();
    health.close();
  });

  it('enforces the retry budget per task (default 3 re-routings)', () => {
    const { registry, router, manager, outcomes } = setup();
    router.up.add('a').add('b');
    registry.assign({ taskId: 't1', correlationId: 'c' }, 'a');
    let holder = 'a';
    for (let i = 0; i < 3; i++) {
      manager.handleFailure(holder);
      const next = registry.get('t1')?.collectorId;
      expect(next).toBeDefined();
      manager.collectorAvailable(holder);
      holder = next ?? '';
    }
    expect(registry.get('t1')?.attempts).toBe(4);
    manager.handleFailure(holder);
    expect(registry.has('t1')).toBe(false);
    expect(outcomes).toEqual(['t1 failed retry-budget-exhausted']);
    expect(manager.stats().retryBudgetExhausted).toBe(1);
    invariant(registry);
  });

  it('maxRetries: 0 fails a task with its first collector', () => {
    const { registry, router, manager, outcomes } = setup({ maxRetries: 0 });
    router.up.add('b');
    registry.assign({ taskId: 't1', correlationId: 'c' }, 'a');
    manager.handleFailure('a');
    expect(outcomes).toEqual(['t1 failed retry-budget-exhausted']);
  });

  it('parks tasks that cannot be placed and fails them after placementTimeoutMs', () => {
    const { clock, registry, manager, outcomes } = setup({
      placementTimeoutMs: 5000,
      parkRetryIntervalMs: 1000,
    });
    for (let i = 0; i < 3; i++) registry.assign({ taskId: `t${i}`, correlationId: 'c' }, 'a');
    const report = manager.handleFailure('a');
    expect(report).toMatchObject({ taken: 3, moved: 0, parked: 3 });
    expect(manager.parkedCount).toBe(3);
    clock.advance(4999);
    expect(outcomes).toEqual([]);
    expect(registry.size).toBe(3);
    clock.advance(1);
    expect(outcomes).toEqual([
      't0 failed placement-timeout',
      't1 failed placement-timeout',
      't2 failed placement-timeout',
    ]);
    expect(manager.parkedCount).toBe(0);
    expect(manager.stats().placementTimeouts).toBe(3);
    expect(clock.timerCount).toBe(0);
    invariant(registry);
  });

  it('places parked tasks when a collector becomes available (or on the periodic retry)', () => {
    const { clock, registry, router, manager, calls } = setup({ parkRetryIntervalMs: 1000 });
    registry.assign({ taskId: 't1', correlationId: 'c1' }, 'a');
    registry.assign({ taskId: 't2', correlationId: 'c2' }, 'a');
    manager.handleFailure('a');
    expect(manager.parkedCount).toBe(2);
    router.up.add('b');
    expect(manager.collectorAvailable('b')).toBe(2);
    // The set waited for a placeholder while the task was parked, then follows it to b.
    expect(calls).toContain('reassign c1 parked:t1->b');
    expect(manager.stats().parkedPlaced).toBe(2);

    registry.assign({ taskId: 't3', correlationId: 'c3' }, 'b');
    router.up.clear();
    manager.handleFailure('b');
    expect(manager.parkedCount).toBe(3);
    router.up.add('c');
    clock.advance(1000);
    expect(manager.parkedCount).toBe(0);
    expect(registry.countFor('c')).toBe(3);
    expect(clock.timerCount).toBe(0);
  });

  it('ignores completions from the old collector after a task moved', () => {
    const { registry, router, manager, outcomes } = setup();
    router.up.add('b');
    registry.assign({ taskId: 't1', correlationId: 'c' }, 'a');
    manager.handleFailure('a');
    expect(registry.complete('t1', 'a')).toBe('stale');
    expect(registry.complete('t1', 'b')).toBe('completed');
    expect(registry.complete('t1', 'a')).toBe('unknown');
    expect(outcomes).toEqual(['t1 completed']);
    expect(registry.stats()).toMatchObject({ staleCompletions: 1, unknownCompletions: 1 });
  });

  it('fails pinned (fan-out) tasks and expired tasks instead of moving them', () => {
    const { clock, registry, router, manager, outcomes } = setup();
    router.up.add('b');
    registry.assign({ taskId: 'p', correlationId: 'c', pinned: true }, 'a');
    registry.assign({ taskId: 'd', correlationId: 'c', deadline: clock.now() + 10 }, 'a');
    registry.assign({ taskId: 'ok', correlationId: 'c' }, 'a');
    clock.advance(10);
    const report = manager.handleFailure('a');
    expect(report).toMatchObject({ moved: 1, failed: 2 });
    expect(outcomes).toEqual(['p failed collector-failed', 'd failed deadline-exceeded']);
  });

  it('dispatch() routes or parks new tasks and surfaces registry errors', () => {
    const { registry, router, manager } = setup();
    router.up.add('a');
    expect(manager.dispatch({ taskId: 't1', correlationId: 'c' }).collectorId).toBe('a');
    router.up.clear();
    expect(manager.dispatch({ taskId: 't2', correlationId: 'c' }).collectorId).toBeUndefined();
    expect(manager.parkedCount).toBe(1);
    expect(() => manager.dispatch({ taskId: 't1', correlationId: 'c' })).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_DUPLICATE_TASK' }),
    );
    manager.close();
    expect(registry.get('t2')).toBeUndefined();
    expect(registry.stats().failed).toBe(1);
    expect(() => manager.dispatch({ taskId: 't3', correlationId: 'c' })).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_CLOSED' }),
    );
    invariant(registry);
  });

  it('survives throwing hooks and a router that breaks its contract', () => {
    const clock = new FakeClock();
    const registry = new PendingTaskRegistry({ clock });
    let mode: 'throw' | 'excluded' = 'throw';
    const hooks: string[] = [];
    const manager = new FailoverManager({
      registry,
      clock,
      router: {
        route: () => {
          if (mode === 'throw') throw new Error('send failed');
          return 'a';
        },
      },
      aggregator: {
        collectorFailed: () => {
          throw new Error('boom');
        },
        reassign: () => undefined,
      },
      onCallbackError: (e) => hooks.push(`${e.code}: ${e.message}`),
    });
    const routeErrors: unknown[] = [];
    manager.on('route-failed', (f) => routeErrors.push(f.error));
    registry.assign({ taskId: 't1', correlationId: 'c' }, 'a');
    manager.handleFailure('a');
    expect(manager.parkedCount).toBe(1);
    mode = 'excluded';
    manager.retryParked();
    expect(manager.parkedCount).toBe(1);
    expect(routeErrors).toHaveLength(1);
    expect(hooks).toEqual([
      'ERR_FAILOVER_CALLBACK_FAILED: FailoverManager hook aggregator.collectorFailed threw: boom',
      'ERR_FAILOVER_CALLBACK_FAILED: FailoverManager hook router.route threw: router returned an excluded or invalid collector: a',
    ]);
    expect(manager.stats()).toMatchObject({ routeErrors: 1, callbackErrors: 2 });
    manager.close();
    invariant(registry);
  });

  it('a router that throws for one task parks only that task and goes on', () => {
    const clock = new FakeClock();
    const registry = new PendingTaskRegistry({ clock });
    const manager = new FailoverManager({
      registry,
      clock,
      router: {
        route: (task) => {
          if (task.taskId === 't1') throw new Error('ERR_BACKPRESSURE');
          return 'b';
        },
      },
    });
    for (let i = 0; i < 3; i++) registry.assign({ taskId: `t${i}`, correlationId: 'c' }, 'a');
    expect(manager.handleFailure('a')).toMatchObject({ moved: 2, parked: 1 });
    expect(registry.get('t1')?.collectorId).toBeUndefined();
    expect(manager.stats().routeErrors).toBe(1);
    manager.close();
    invariant(registry);
  });

  // Regression (issue 16): this test checked the invariant on setup()'s registry, which it never used.
  it('redistributes 10 000 tasks of one collector, each exactly once (invariant on the registry used)', () => {
    const clock = new FakeClock();
    const router = new FakeRouter();
    const big = new PendingTaskRegistry({ maxPendingTasks: 20_000, clock });
    const m = new FailoverManager({ registry: big, router, clock });
    router.up.add('b').add('c');
    for (let i = 0; i < 10_000; i++) big.assign({ taskId: `t${i}`, correlationId: 'c' }, 'a');
    const report = m.handleFailure('a');
    expect(report).toMatchObject({ taken: 10_000, moved: 10_000 });
    expect(new Set(router.sent.map((s) => s.taskId)).size).toBe(10_000);
    expect(big.countFor('b')).toBe(5000);
    expect(big.countFor('c')).toBe(5000);
    for (let i = 0; i < 10_000; i += 2) big.complete(`t${i}`);
    m.close();
    expect(big.stats()).toMatchObject({ accepted: 10_000, completed: 5000, pending: 5000 });
    invariant(big);
  });
});

describe('FailoverManager under throwing hooks (regressions found in review)', () => {
  it('a task-placed listener that throws mid-failover loses no task and still cleans up', () => {
    const hookErrors: unknown[] = [];
    const { registry, router, manager, calls } = setup({
      onCallbackError: (e) => hookErrors.push(e.cause),
    });
    router.up.add('a').add('b');
    for (let i = 0; i < 5; i++) registry.assign({ taskId: `t${i}`, correlationId: `c${i}` }, 'a');
    let placed = 0;
    manager.on('task-placed', () => {
      placed++;
      if (placed === 2) throw new Error('listener broke');
    });
    router.up.delete('a');
    const report = manager.handleFailure('a');
    expect(report).toMatchObject({ taken: 5, moved: 5 });
    for (let i = 0; i < 5; i++) expect(registry.get(`t${i}`)?.collectorId).toBe('b');
    expect(hookErrors).toHaveLength(1);
    expect(calls).toContain('unsubscribe a');
    expect(calls).toContain('collectorFailed a');
    invariant(registry);
  });

  it('a router that ends the task itself is not an error', () => {
    const clock = new FakeClock();
    const registry = new PendingTaskRegistry({ clock });
    const manager = new FailoverManager({
      registry,
      clock,
      router: {
        route: (task) => {
          registry.fail(task.taskId, 'send-failed');
          return 'b';
        },
      },
    });
    registry.assign({ taskId: 't1', correlationId: 'c1' }, 'a');
    const report = manager.handleFailure('a');
    expect(report).toMatchObject({ taken: 1, moved: 0, failed: 1 });
    expect(registry.has('t1')).toBe(false);
    invariant(registry);
  });

  it('keeps a parked task’s set open: placeholder before collectorFailed, then to the new collector or failed', () => {
    const { clock, registry, router, manager, calls } = setup({ placementTimeoutMs: 1000 });
    registry.assign({ taskId: 't1', correlationId: 'c1' }, 'a');
    registry.assign({ taskId: 't2', correlationId: 'c2' }, 'a');
    manager.handleFailure('a');
    expect(calls).toEqual([
      'reassign c1 a->parked:t1',
      'reassign c2 a->parked:t2',
      'unsubscribe a',
      'collectorFailed a',
    ]);
    router.up.add('b');
    manager.retryParked();
    expect(calls.slice(4)).toEqual(['reassign c1 parked:t1->b', 'reassign c2 parked:t2->b']);

    // A task that times out parked fails its placeholder, so its set stops waiting.
    registry.assign({ taskId: 't3', correlationId: 'c3' }, 'b');
    router.up.clear();
    manager.handleFailure('b');
    clock.advance(1000);
    expect(calls).toContain('collectorFailed parked:t3');
    expect(registry.has('t3')).toBe(false);
    invariant(registry);
  });
});
