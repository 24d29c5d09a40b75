import { describe, expect, it } from 'vitest';
import { harness, tally } from '../test/helpers.js';
import { BALANCER_DEFAULTS, type StrategyName } from './index.js';

describe('self-reported health', () => {
  it('multiplies the score by degradedFactor (default 0.25) and shows it', () => {
    expect(BALANCER_DEFAULTS.degradedFactor).toBe(0.25);
    const { balancer } = harness();
    balancer.register('a');
    balancer.register('b');
    const metrics = { activeTasks: 0, queueDepth: 0, cpu: 0 };
    balancer.updateMetrics('a', { ...metrics, health: 'degraded' });
    balancer.updateMetrics('b', { ...metrics, health: 'healthy' });
    expect(balancer.explain('a')).toMatchObject({
      health: 'degraded',
      healthFactor: 0.25,
      base: 2100,
      score: 525,
      leastLoadedScore: 0.25,
    });
    expect(balancer.explain('b')).toMatchObject({
      health: 'healthy',
      healthFactor: 1,
      score: 2100,
    });
    expect(balancer.snapshot().collectors.map((c) => [c.id, c.health, c.score])).toEqual([
      ['a', 'degraded', 525],
      ['b', 'healthy', 2100],
    ]);
  });

  it('honours the degradedFactor option', () => {
    const { balancer } = harness({ degradedFactor: 0.5 });
    balancer.register('a');
    balancer.updateMetrics('a', { activeTasks: 0, queueDepth: 0, health: 'degraded' });
    expect(balancer.explain('a').score).toBe(1050);
  });

  it.each<StrategyName>(['weighted', 'least-loaded', 'p2c', 'auto'])(
    '%s gives a degraded collector less work',
    (strategy) => {
      const { balancer } = harness({ strategy, p2cMinCandidates: 2 });
      const ids = ['a', 'b', 'c', 'd'];
      for (const id of ids) balancer.register(id);
      for (const id of ids) {
        balancer.updateMetrics(id, {
          activeTasks: 1,
          queueDepth: 0,
          cpu: 0.1,
          health: id === 'a' ? 'degraded' : 'healthy',
        });
      }
      // Tasks start and finish in turn, so the loads stay comparable.
      const picks: string[] = [];
      for (let i = 0; i < 400; i++) {
        const id = balancer.select();
        picks.push(id);
        balancer.taskStarted(id);
        if (i >= 8) balancer.taskFinished(picks[i - 8] ?? id, 10, true);
      }
      const counts = tally(picks);
      const degraded = counts.get('a') ?? 0;
      for (const id of ['b', 'c', 'd']) expect(degraded).toBeLessThan((counts.get(id) ?? 0) / 2);
    },
  );

  it('never ejects a collector for being degraded, and still picks it when it is the only one', () => {
    const { balancer } = harness({ strategy: 'weighted', consecutiveFailures: 1 });
    balancer.register('a');
    balancer.register('b');
    for (let i = 0; i < 50; i++) balancer.updateMetrics('a', { health: 'degraded' });
    expect(balancer.stats()).toMatchObject({ ejected: 0, ejections: 0 });
    expect(balancer.select({ exclude: ['b'] })).toBe('a');
  });

  it('lasts until a heartbeat without it or a restart; junk counts as healthy', () => {
    const { balancer } = harness();
    balancer.register('a');
    balancer.updateMetrics('a', { health: 'degraded' });
    expect(balancer.explain('a').health).toBe('degraded');
    balancer.updateMetrics('a', { activeTasks: 1 });
    expect(balancer.explain('a').health).toBe('healthy');
    balancer.updateMetrics('a', { health: 'degraded' });
    balancer.restarted('a');
    expect(balancer.explain('a').health).toBe('healthy');
    balancer.updateMetrics('a', { health: 'sick' as never });
    expect(balancer.explain('a')).toMatchObject({ health: 'healthy', healthFactor: 1 });
  });
});
