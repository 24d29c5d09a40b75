import { describe, expect, it } from 'vitest';
import { harness, simulate, tally } from '../test/helpers.js';
import type { BalancerEvent, LoadBalancer, LoadBalancerOptions } from './index.js';

function fail(balancer: LoadBalancer, id: string, times: number): void {
  for (let i = 0; i < times; i++) {
    balancer.taskStarted(id);
    balancer.taskFinished(id, 10, false);
  }
}

function setup(options: LoadBalancerOptions = {}, ids = ['a', 'b', 'c', 'd']) {
  const events: BalancerEvent[] = [];
  const h = harness({
    consecutiveFailures: 3,
    baseEjectionMs: 1000,
    maxEjectionMs: 2500,
    onEvent: (event) => events.push(event),
    ...options,
  });
  for (const id of ids) h.balancer.register(id);
  return { ...h, events };
}

function picks(balancer: LoadBalancer, n: number, kind?: string): Set<string> {
  return new Set(Array.from({ length: n }, () => balancer.select({ taskKind: kind })));
}

describe('outlier ejection', () => {
  it('ejects after N consecutive failures for base x count, capped at the maximum', () => {
    const { balancer, clock, events } = setup();
    fail(balancer, 'a', 2);
    balancer.taskFinished('a', 10, true);
    fail(balancer, 'a', 2);
    expect(balancer.stats().ejected).toBe(0);

    fail(balancer, 'a', 1);
    const start = clock.now();
    expect(events).toEqual([
      { type: 'ejected', id: 'a', at: start, untilMs: start + 1000, ejectionCount: 1 },
    ]);
    expect(picks(balancer, 200).has('a')).toBe(false);
    expect(balancer.snapshot().collectors[0]).toMatchObject({
      ejected: true,
      ejectedUntil: start + 1000,
      consecutiveFailures: 0,
    });

    clock.advance(1000);
    expect(picks(balancer, 200).has('a')).toBe(true);
    expect(events.at(-1)).toEqual({ type: 'ejection-ended', id: 'a', at: start + 1000 });

    fail(balancer, 'a', 3);
    expect(balancer.snapshot().collectors[0]?.ejectedUntil).toBe(clock.now() + 2000);
    clock.advance(2000);
    fail(balancer, 'a', 3);
    expect(balancer.snapshot().collectors[0]).toMatchObject({
      ejectionCount: 3,
      ejectedUntil: clock.now() + 2500,
    });
    expect(balancer.stats().ejections).toBe(3);
  });

  it('lets the multiplier decay by one per base period without ejection', () => {
    const { balancer, clock } = setup();
    fail(balancer, 'a', 3);
    clock.advance(1000);
    fail(balancer, 'a', 3);
    clock.advance(2000);
    // Two quiet base periods after the second ejection ended: count 2 -> 0, then this one -> 1.
    clock.advance(2000);
    fail(balancer, 'a', 3);
    expect(balancer.snapshot().collectors[0]).toMatchObject({
      ejectionCount: 1,
      ejectedUntil: clock.now() + 1000,
    });
  });

  it('never ejects more than maxEjectionPercent of the collectors', () => {
    const { balancer, events } = setup();
    fail(balancer, 'a', 3);
    fail(balancer, 'b', 3);
    fail(balancer, 'c', 3);
    expect(balancer.stats()).toMatchObject({ ejected: 2, ejections: 2, ejectionsSkipped: 1 });
    expect(events.at(-1)).toMatchObject({
      type: 'ejection-skipped',
      id: 'c',
      ejected: 2,
      maxEjected: 2,
    });
    expect(picks(balancer, 200)).toEqual(new Set(['c', 'd']));
    // Its next failure tries again, and succeeds once there is room.
    balancer.remove('a');
    fail(balancer, 'c', 1);
    expect(balancer.stats()).toMatchObject({ ejectionsSkipped: 2, ejected: 1 });
    fail(balancer, 'c', 0);
  });

  it('ejects nothing with maxEjectionPercent 0, and everything with 100', () => {
    const off = setup({ maxEjectionPercent: 0 });
    fail(off.balancer, 'a', 10);
    expect(off.balancer.stats()).toMatchObject({ ejected: 0, ejections: 0 });

    const all = setup({ maxEjectionPercent: 100 }, ['a', 'b']);
    fail(all.balancer, 'a', 3);
    fail(all.balancer, 'b', 3);
    expect(() => all.balancer.select()).toThrow(
      expect.objectContaining({ code: 'ERR_NO_COLLECTOR_AVAILABLE' }),
    );
  });

  it('panics, ignoring ejection, when more than maxEjectionPercent of a pool is ejected', () => {
    const { balancer } = setup({}, []);
    balancer.register('net-1', { taskKinds: ['connections'] });
    for (const id of ['p1', 'p2', 'p3']) balancer.register(id, { taskKinds: ['enumerate'] });
    fail(balancer, 'net-1', 3);
    expect(balancer.stats().ejected).toBe(1);
    // The only collector of its kind is ejected: 100 % > 50 %, so it is used anyway.
    expect(picks(balancer, 10, 'connections')).toEqual(new Set(['net-1']));
    expect(balancer.stats().panics).toBe(10);
    // Other pools are not in panic: 1 of 4 is 25 %.
    expect(picks(balancer, 50).has('net-1')).toBe(false);
    expect(picks(balancer, 10, 'enumerate').has('net-1')).toBe(false);
    expect(balancer.stats().panics).toBe(10);
    // Exclusion still holds in panic.
    expect(balancer.trySelect({ taskKind: 'connections', exclude: ['net-1'] })).toBeUndefined();
  });

  it('panics at exactly more than the percentage, not at it', () => {
    const { balancer } = setup({ maxEjectionPercent: 50 }, []);
    for (const id of ['a', 'b', 'c', 'd']) balancer.register(id, { taskKinds: ['k'] });
    for (const id of ['x', 'y', 'z', 'w']) balancer.register(id, { taskKinds: ['other'] });
    fail(balancer, 'a', 3);
    fail(balancer, 'b', 3);
    expect(picks(balancer, 100, 'k')).toEqual(new Set(['c', 'd']));
    fail(balancer, 'c', 3);
    expect(balancer.stats().ejected).toBe(3);
    expect(picks(balancer, 200, 'k')).toEqual(new Set(['a', 'b', 'c', 'd']));
  });

  it('ends an ejection when the collector restarts, keeping the escalation', () => {
    const { balancer, events } = setup();
    fail(balancer, 'a', 3);
    balancer.restarted('a');
    expect(events.at(-1)).toMatchObject({ type: 'ejection-ended', id: 'a' });
    expect(balancer.snapshot().collectors[0]).toMatchObject({ ejected: false, ejectionCount: 1 });
    fail(balancer, 'a', 3);
    expect(balancer.snapshot().collectors[0]).toMatchObject({ ejectionCount: 2 });
  });
});

describe('slow start', () => {
  it('ramps the admission factor linearly from slowStartMinFactor to 1 over slowStartMs', () => {
    const { balancer, clock } = harness({ slowStartMs: 10_000, slowStartMinFactor: 0.2 });
    balancer.register('a');
    expect(balancer.explain('a').slowStartFactor).toBe(0.2);
    clock.advance(5000);
    expect(balancer.explain('a').slowStartFactor).toBe(0.5);
    // Slow start gates admission; it does not distort the score shown to status displays.
    expect(balancer.explain('a').score).toBe(balancer.explain('a').base);
    clock.advance(5000);
    expect(balancer.explain('a').slowStartFactor).toBe(1);
    balancer.restarted('a');
    expect(balancer.explain('a').slowStartFactor).toBe(0.2);
    const off = harness({ slowStartMs: 0 });
    off.balancer.register('a');
    expect(off.balancer.explain('a').slowStartFactor).toBe(1);
  });

  it.each(['auto', 'p2c', 'least-loaded'] as const)(
    '%s: a new collector gets a growing share over the window',
    (strategy) => {
      const { balancer, clock } = harness({ strategy, slowStartMs: 10_000 }, 21);
      const old = ['a', 'b', 'c', 'd'];
      for (const id of old) balancer.register(id);
      clock.advance(60_000);
      balancer.register('new');
      const ids = [...old, 'new'];
      const params = { tasks: 2000, arrivalMs: 1, durationMs: () => 20, heartbeatMs: 1000 };
      const early = simulate(balancer, clock, ids, params).get('new') ?? 0;
      clock.advance(10_000);
      const late = simulate(balancer, clock, ids, params).get('new') ?? 0;
      expect(early).toBeGreaterThan(0);
      expect(early).toBeLessThan(0.6 * late);
      expect(late).toBeGreaterThan(350);
    },
  );

  it('re-registering an id restarts its slow start', () => {
    const { balancer, clock } = harness({ slowStartMs: 1000, strategy: 'weighted' });
    balancer.register('a');
    balancer.register('b');
    clock.advance(1000);
    balancer.register('b', { taskKinds: [] });
    // Equal scores: b takes part in about 10 % of the selections and wins half of those.
    const counts = tally(Array.from({ length: 2000 }, () => balancer.select()));
    expect(counts.get('b') ?? 0).toBeGreaterThan(40);
    expect(counts.get('b') ?? 0).toBeLessThan(200);
  });
});

describe('re-entrant onEvent (regressions found in review)', () => {
  it('never selects a collector that an ejection-ended handler just removed', () => {
    let balancer: LoadBalancer | undefined;
    const h = harness({
      strategy: 'round-robin',
      consecutiveFailures: 1,
      baseEjectionMs: 1000,
      onEvent: (event) => {
        if (event.type === 'ejection-ended') balancer?.remove(event.id);
      },
    });
    balancer = h.balancer;
    for (const id of ['a', 'b', 'c']) h.balancer.register(id);
    h.balancer.taskStarted('a');
    h.balancer.taskFinished('a', 10, false); // ejected
    h.clock.advance(5000); // the ejection ends at the next refresh, and the handler removes 'a'
    for (let i = 0; i < 10; i++) expect(h.balancer.select()).not.toBe('a');
    expect(h.balancer.has('a')).toBe(false);
  });

  it('maxEjectionPercent 0 disables ejection without reporting skipped ejections', () => {
    const { balancer, events } = setup({ maxEjectionPercent: 0, consecutiveFailures: 2 });
    fail(balancer, 'a', 10);
    expect(events).toEqual([]);
    expect(balancer.stats()).toMatchObject({ ejections: 0, ejectionsSkipped: 0 });
  });
});
