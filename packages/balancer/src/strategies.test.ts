import { describe, expect, it } from 'vitest';
import { harness, tally } from '../test/helpers.js';
import { BalancerError, isBalancerError, type StrategyName } from './index.js';

function times<T>(n: number, f: () => T): T[] {
  return Array.from({ length: n }, f);
}

describe('weighted (full scan)', () => {
  it('picks the collector with the fewest active tasks', () => {
    const { balancer } = harness({ strategy: 'weighted' });
    for (const [id, active] of [
      ['a', 5],
      ['b', 1],
      ['c', 9],
    ] as const) {
      balancer.register(id);
      balancer.updateMetrics(id, { activeTasks: active, queueDepth: 0, cpu: 0 });
    }
    expect(new Set(times(50, () => balancer.select()))).toEqual(new Set(['b']));
  });

  it('weighs queue depth at half an active task, as the spec', () => {
    const { balancer } = harness({ strategy: 'weighted' });
    balancer.register('a');
    balancer.register('b');
    balancer.updateMetrics('a', { activeTasks: 3, queueDepth: 0 });
    balancer.updateMetrics('b', { activeTasks: 0, queueDepth: 8 });
    expect(balancer.select()).toBe('a');
    balancer.updateMetrics('b', { activeTasks: 0, queueDepth: 4 });
    expect(balancer.select()).toBe('b');
  });

  it('prefers the higher success rate under equal load', () => {
    const { balancer } = harness({ strategy: 'weighted' });
    balancer.register('a');
    balancer.register('b');
    balancer.taskFinished('a', 10, true);
    balancer.taskFinished('b', 10, false);
    expect(new Set(times(20, () => balancer.select()))).toEqual(new Set(['a']));
  });

  it('multiplies the score by the collector weight', () => {
    const { balancer } = harness({ strategy: 'weighted' });
    balancer.register('small');
    balancer.register('big', { weight: 2 });
    balancer.updateMetrics('small', { activeTasks: 0 });
    balancer.updateMetrics('big', { activeTasks: 50 });
    expect(balancer.select()).toBe('big');
  });

  it('breaks exact ties at random', () => {
    const { balancer } = harness({ strategy: 'weighted' });
    for (const id of ['a', 'b', 'c']) balancer.register(id);
    const counts = tally(times(3000, () => balancer.select()));
    for (const id of ['a', 'b', 'c']) {
      expect(counts.get(id)).toBeGreaterThan(850);
    }
  });

  it('uses cpu only when weights.cpu is set', () => {
    const plain = harness({ strategy: 'weighted' }).balancer;
    const withCpu = harness({ strategy: 'weighted', weights: { cpu: 100 } }).balancer;
    for (const balancer of [plain, withCpu]) {
      balancer.register('busy');
      balancer.register('idle');
      balancer.updateMetrics('busy', { activeTasks: 0, cpu: 0.9 });
      balancer.updateMetrics('idle', { activeTasks: 0, cpu: 0.1 });
    }
    expect(plain.explain('busy').score).toBe(plain.explain('idle').score);
    expect(new Set(times(20, () => withCpu.select()))).toEqual(new Set(['idle']));
    expect(withCpu.explain('idle').terms.cpu).toBeCloseTo(90);
  });
});

describe('least-loaded', () => {
  it('picks the smallest active + queue, counting local in-flight tasks', () => {
    const { balancer } = harness({ strategy: 'least-loaded' });
    balancer.register('a');
    balancer.register('b');
    balancer.updateMetrics('a', { activeTasks: 2, queueDepth: 2 });
    balancer.updateMetrics('b', { activeTasks: 3, queueDepth: 0 });
    expect(balancer.select()).toBe('b');
    balancer.taskStarted('b');
    balancer.taskStarted('b');
    expect(balancer.select()).toBe('a');
  });

  it('ignores task durations and success, unlike weighted', () => {
    const { balancer } = harness({ strategy: 'least-loaded' });
    balancer.register('a');
    balancer.register('b');
    balancer.taskFinished('a', 10_000, false);
    balancer.taskFinished('b', 10, true);
    const counts = tally(times(400, () => balancer.select()));
    expect(counts.get('a')).toBeGreaterThan(150);
  });
});

describe('round-robin', () => {
  it('cycles in registration order and skips excluded collectors', () => {
    const { balancer } = harness({ strategy: 'round-robin' });
    for (const id of ['a', 'b', 'c']) balancer.register(id);
    balancer.updateMetrics('a', { activeTasks: 100 });
    expect(times(6, () => balancer.select())).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(balancer.select({ exclude: ['a'] })).toBe('b');
    expect(balancer.select({ exclude: new Set(['c']) })).toBe('a');
  });

  it('keeps a cursor per task kind', () => {
    const { balancer } = harness({ strategy: 'round-robin' });
    balancer.register('p1', { taskKinds: ['proc'] });
    balancer.register('p2', { taskKinds: ['proc'] });
    balancer.register('n1', { taskKinds: ['net'] });
    expect(times(3, () => balancer.select({ taskKind: 'proc' }))).toEqual(['p1', 'p2', 'p1']);
    expect(balancer.select({ taskKind: 'net' })).toBe('n1');
    expect(balancer.select({ taskKind: 'proc' })).toBe('p2');
  });
});

describe('p2c', () => {
  it('never picks the single most loaded collector', () => {
    const { balancer } = harness({ strategy: 'p2c' });
    for (let i = 0; i < 10; i++) {
      balancer.register(`c${i}`);
      balancer.updateMetrics(`c${i}`, { activeTasks: i === 3 ? 500 : i });
    }
    const counts = tally(times(2000, () => balancer.select()));
    expect(counts.get('c3')).toBeUndefined();
    // Not always the best either: that is what keeps P2C away from the herd.
    expect(counts.get('c0') ?? 0).toBeLessThan(2000);
    expect(counts.size).toBeGreaterThan(5);
  });

  it('with two candidates always takes the better one', () => {
    const { balancer } = harness({ strategy: 'p2c' });
    balancer.register('a');
    balancer.register('b');
    balancer.updateMetrics('a', { activeTasks: 4 });
    balancer.updateMetrics('b', { activeTasks: 1 });
    expect(new Set(times(100, () => balancer.select()))).toEqual(new Set(['b']));
  });

  it('falls back to the eligible candidates when most are excluded', () => {
    const { balancer } = harness({ strategy: 'p2c' });
    const ids = times(64, () => '').map((_, i) => `c${i}`);
    for (const id of ids) balancer.register(id);
    const exclude = new Set(ids.slice(0, 62));
    const counts = tally(times(200, () => balancer.select({ exclude })));
    expect([...counts.keys()].sort()).toEqual(['c62', 'c63']);
  });
});

describe('auto', () => {
  function loaded(n: number) {
    const { balancer } = harness({ strategy: 'auto' }, 7);
    for (let i = 0; i < n; i++) {
      balancer.register(`c${i}`);
      balancer.updateMetrics(`c${i}`, { activeTasks: i });
    }
    return balancer;
  }

  it('scans every candidate below 8: always the best', () => {
    const balancer = loaded(7);
    expect(new Set(times(200, () => balancer.select()))).toEqual(new Set(['c0']));
  });

  it('uses P2C at 8 candidates and above: never the worst, not always the best', () => {
    const balancer = loaded(8);
    const counts = tally(times(400, () => balancer.select()));
    expect(counts.get('c7')).toBeUndefined();
    expect(counts.get('c0') ?? 0).toBeLessThan(400);
    expect(counts.get('c0') ?? 0).toBeGreaterThan(50);
  });

  it('counts candidates per task kind', () => {
    const { balancer } = harness({ strategy: 'auto' }, 3);
    for (let i = 0; i < 10; i++) {
      balancer.register(`c${i}`, { taskKinds: [i < 3 ? 'rare' : 'common'] });
      balancer.updateMetrics(`c${i}`, { activeTasks: i });
    }
    // Three capable collectors: a full scan, so always the best of them.
    expect(new Set(times(100, () => balancer.select({ taskKind: 'rare' })))).toEqual(
      new Set(['c0']),
    );
  });
});

describe.each<StrategyName>(['auto', 'weighted', 'least-loaded', 'round-robin', 'p2c'])(
  'selection rules with %s',
  (strategy) => {
    it('throws ERR_NO_COLLECTOR_AVAILABLE without collectors', () => {
      const { balancer } = harness({ strategy });
      expect(() => balancer.select()).toThrow(BalancerError);
      try {
        balancer.select({ taskKind: 'scan' });
      } catch (error) {
        expect(isBalancerError(error, 'ERR_NO_COLLECTOR_AVAILABLE')).toBe(true);
      }
      expect(balancer.trySelect()).toBeUndefined();
      expect(balancer.stats().noCollectorAvailable).toBe(3);
    });

    it('honours capabilities: declared kinds, or any kind when none declared', () => {
      const { balancer } = harness({ strategy });
      balancer.register('proc', { taskKinds: ['enumerate', 'integrity'] });
      balancer.register('net', { taskKinds: ['connections'] });
      expect(new Set(times(30, () => balancer.select({ taskKind: 'integrity' })))).toEqual(
        new Set(['proc']),
      );
      expect(() => balancer.select({ taskKind: 'unknown-kind' })).toThrow(
        'no collector available for task kind "unknown-kind"',
      );
      balancer.register('generic', { taskKinds: [] });
      expect(new Set(times(30, () => balancer.select({ taskKind: 'unknown-kind' })))).toEqual(
        new Set(['generic']),
      );
      expect(new Set(times(60, () => balancer.select({ taskKind: 'connections' })))).toEqual(
        new Set(['net', 'generic']),
      );
      expect(new Set(times(90, () => balancer.select()))).toEqual(
        new Set(['proc', 'net', 'generic']),
      );
    });

    it('never returns excluded or removed collectors', () => {
      const { balancer } = harness({ strategy });
      for (const id of ['a', 'b', 'c']) balancer.register(id);
      expect(balancer.remove('b')).toBe(true);
      expect(balancer.remove('b')).toBe(false);
      expect(new Set(times(30, () => balancer.select({ exclude: ['a'] })))).toEqual(new Set(['c']));
      expect(() => balancer.select({ exclude: ['a', 'c'] })).toThrow(BalancerError);
      expect(balancer.stats()).toMatchObject({ collectors: 2, selections: 30 });
    });
  },
);
