import { describe, expect, it } from 'vitest';
import { harness, simulate, tally } from '../test/helpers.js';
import type { StrategyName } from './index.js';

const FIVE = ['a', 'b', 'c', 'd', 'e'];

describe.each<StrategyName>(['auto', 'weighted', 'p2c', 'least-loaded', 'round-robin'])(
  'distribution with %s',
  (strategy) => {
    it('spreads 10 000 selections over 5 equal collectors within +-10 %', () => {
      const { balancer, clock } = harness({ strategy }, 11);
      for (const id of FIVE) balancer.register(id);
      const counts = simulate(balancer, clock, FIVE, {
        tasks: 10_000,
        arrivalMs: 1,
        durationMs: () => 20,
        heartbeatMs: 1000,
      });
      for (const id of FIVE) {
        expect(counts.get(id)).toBeGreaterThanOrEqual(1800);
        expect(counts.get(id)).toBeLessThanOrEqual(2200);
      }
    });
  },
);

describe.each<StrategyName>(['auto', 'weighted', 'p2c', 'least-loaded'])(
  'slow collectors with %s',
  (strategy) => {
    it('gives a collector with 4x the task duration clearly less', () => {
      const { balancer, clock } = harness({ strategy }, 12);
      for (const id of FIVE) balancer.register(id);
      const counts = simulate(balancer, clock, FIVE, {
        tasks: 10_000,
        arrivalMs: 5,
        durationMs: (id) => (id === 'e' ? 400 : 100),
        heartbeatMs: 1000,
      });
      const others = FIVE.slice(0, 4).map((id) => counts.get(id) ?? 0);
      const mean = others.reduce((a, b) => a + b, 0) / others.length;
      expect(counts.get('e') ?? 0).toBeLessThan(0.6 * mean);
      expect(counts.get('e') ?? 0).toBeGreaterThan(0);
    });
  },
);

describe('herd effect', () => {
  it.each<[StrategyName, number]>([
    ['auto', 5],
    ['weighted', 5],
    ['least-loaded', 5],
    ['auto', 64],
    ['p2c', 64],
  ])('%s over %i collectors: 1 000 selections between two heartbeats spread out', (strategy, n) => {
    const { balancer } = harness({ strategy }, 13);
    const ids = Array.from({ length: n }, (_, i) => `c${i}`);
    ids.forEach((id, i) => {
      balancer.register(id);
      balancer.updateMetrics(id, { activeTasks: i % 5, queueDepth: 0, cpu: 0.2 });
    });
    const picks: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const id = balancer.select();
      balancer.taskStarted(id);
      picks.push(id);
    }
    const counts = tally(picks);
    expect(counts.size).toBe(n);
    expect(Math.max(...counts.values())).toBeLessThan((2 * 1000) / n + 10);
  });

  it('is caused by stale data alone: without taskStarted a full scan herds', () => {
    // Documents why callers must report dispatches: the balancer cannot see them otherwise.
    const { balancer } = harness({ strategy: 'weighted' }, 14);
    FIVE.forEach((id, i) => {
      balancer.register(id);
      balancer.updateMetrics(id, { activeTasks: i });
    });
    const counts = tally(Array.from({ length: 1000 }, () => balancer.select()));
    expect(counts.get('a')).toBe(1000);
  });
});
