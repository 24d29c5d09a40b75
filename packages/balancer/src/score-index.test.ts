import { mulberry32 } from '@daemoneye/test-utils';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { harness, tally } from '../test/helpers.js';
import type { CollectorHealth, LoadBalancer, LoadBalancerOptions } from './index.js';
import { ScoreIndex } from './score-index.js';

describe('ScoreIndex', () => {
  it('keeps every inner node at the max of its leaves through builds and updates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 3000, noNaN: true }), { minLength: 1, maxLength: 70 }),
        fc.array(fc.tuple(fc.nat(), fc.double({ min: -1, max: 3000, noNaN: true })), {
          maxLength: 50,
        }),
        (initial, updates) => {
          const index = new ScoreIndex(initial.length, 0, 0);
          for (const [i, v] of initial.entries()) index.setLeaf(i, v);
          index.build();
          const leaves = [...initial];
          for (const [at, v] of updates) {
            const i = at % leaves.length;
            const value = v < 0 ? Number.NEGATIVE_INFINITY : v;
            leaves[i] = value;
            index.update(i, value);
            expect(index.nodes[1]).toBe(Math.max(...leaves));
          }
          for (let k = 1; k < index.base; k++) {
            expect(index.nodes[k]).toBe(
              Math.max(index.nodes[2 * k] ?? -1, index.nodes[2 * k + 1] ?? -1),
            );
          }
        },
      ),
      { seed: 99, numRuns: 200 },
    );
  });
});

// ---- differential test: the indexed selection against a brute-force scan over explain() -----

const IDS = Array.from({ length: 24 }, (_, i) => `c${i}`);
const KINDS = ['enumerate', 'integrity', 'connections'];

type Op =
  | { op: 'register'; id: string; kinds: string[]; weight: number }
  | { op: 'remove'; id: string }
  | { op: 'restarted'; id: string }
  | {
      op: 'metrics';
      id: string;
      active: number | undefined;
      queue: number | undefined;
      cpu: number | undefined;
      health: CollectorHealth | undefined;
      ageMs: number;
    }
  | { op: 'started'; id: string; times: number }
  | { op: 'finished'; id: string; ok: boolean; durationMs: number }
  | { op: 'advance'; ms: number }
  | { op: 'select'; kind: string | undefined; exclude: string[] };

const id = fc.constantFrom(...IDS);
// Small integers make exact ties common, so the tie handling of the walk is exercised too.
const count = fc.option(fc.oneof(fc.integer({ min: 0, max: 6 }), fc.double({ min: 0, max: 50 })), {
  nil: undefined,
});
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('register' as const),
      id,
      kinds: fc.subarray(KINDS, { maxLength: 2 }),
      weight: fc.constantFrom(1, 1, 1, 2, 0.5),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), id }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restarted' as const), id }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('metrics' as const),
      id,
      active: count,
      queue: count,
      cpu: fc.option(fc.double({ min: 0, max: 1 }), { nil: undefined }),
      health: fc.option(fc.constantFrom<CollectorHealth>('healthy', 'degraded'), {
        nil: undefined,
      }),
      ageMs: fc.constantFrom(0, 0, 0, 500, 5000),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('started' as const),
      id,
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('finished' as const),
      id,
      ok: fc.integer({ min: 0, max: 3 }).map((x) => x !== 0),
      durationMs: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 1e4 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.constantFrom(1, 100, 1500, 4000),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('select' as const),
      kind: fc.option(fc.constantFrom(...KINDS, 'other'), { nil: undefined }),
      exclude: fc.subarray(IDS, { maxLength: 3 }),
    }),
  },
);

const options: fc.Arbitrary<LoadBalancerOptions> = fc.record({
  strategy: fc.constantFrom('weighted' as const, 'least-loaded' as const),
  stalenessMs: fc.constantFrom(3000, 30_000),
  consecutiveFailures: fc.constantFrom(2, 3),
  baseEjectionMs: fc.constant(2000),
  degradedFactor: fc.constantFrom(0.25, 0.5),
  weights: fc.record({
    cpu: fc.constantFrom(0, 50),
    duration: fc.constantFrom(0, 0.5, 1, 2),
  }),
});

/** What a full scan must choose from: every candidate within the tie tolerance of the best. */
function bruteForce(
  balancer: LoadBalancer,
  kind: string | undefined,
  exclude: readonly string[],
  panic: boolean,
  leastLoaded: boolean,
): { best: number; scores: Map<string, number> } {
  const scores = new Map<string, number>();
  let best = Number.NEGATIVE_INFINITY;
  for (const c of balancer.snapshot().collectors) {
    const capable = kind === undefined || c.taskKinds.length === 0 || c.taskKinds.includes(kind);
    if (!capable || exclude.includes(c.id) || (c.ejected && !panic)) continue;
    const e = balancer.explain(c.id);
    const s = leastLoaded ? e.leastLoadedScore : e.score;
    scores.set(c.id, s);
    if (s > best) best = s;
  }
  return { best, scores };
}

function run(
  o: LoadBalancerOptions,
  start: number,
  ops: readonly Op[],
  seed: number,
  slowStart: boolean,
) {
  const { balancer, clock } = harness({ ...o, slowStartMs: slowStart ? 3000 : 0 }, seed);
  for (let i = 0; i < start; i++) balancer.register(IDS[i] ?? 'c0');
  const leastLoaded = o.strategy === 'least-loaded';
  for (const step of ops) {
    switch (step.op) {
      case 'register':
        balancer.register(step.id, { taskKinds: step.kinds, weight: step.weight });
        break;
      case 'remove':
        balancer.remove(step.id);
        break;
      case 'restarted':
        balancer.restarted(step.id);
        break;
      case 'metrics':
        balancer.updateMetrics(step.id, {
          activeTasks: step.active,
          queueDepth: step.queue,
          cpu: step.cpu,
          health: step.health,
          at: clock.now() - step.ageMs,
        });
        break;
      case 'started':
        for (let i = 0; i < step.times; i++) balancer.taskStarted(step.id);
        break;
      case 'finished':
        balancer.taskFinished(step.id, step.durationMs, step.ok);
        break;
      case 'advance':
        clock.advance(step.ms);
        break;
      case 'select': {
        const panics = balancer.stats().panics;
        const chosen = balancer.trySelect({ taskKind: step.kind, exclude: step.exclude });
        const panic = balancer.stats().panics > panics;
        const { best, scores } = bruteForce(balancer, step.kind, step.exclude, panic, leastLoaded);
        if (chosen === undefined) {
          expect(scores.size).toBe(0);
          break;
        }
        const s = scores.get(chosen);
        expect(s).toBeDefined();
        if (!slowStart) {
          // The same choice as the full scan: the best score, or a tie within 1e-9 of it.
          expect(s ?? 0).toBeGreaterThanOrEqual(best - 2e-9 * best);
        } else {
          // Collectors past their ramp always take part, so the choice is at least as good as
          // the best of them (or slow start admitted none and there were none of them).
          const ramped = new Set(
            balancer
              .snapshot()
              .collectors.filter((c) => c.slowStartFactor === 1)
              .map((c) => c.id),
          );
          let bestRamped = Number.NEGATIVE_INFINITY;
          for (const [c, v] of scores) if (ramped.has(c) && v > bestRamped) bestRamped = v;
          if (ramped.has(chosen) || bestRamped > Number.NEGATIVE_INFINITY) {
            expect(s ?? 0).toBeGreaterThanOrEqual(bestRamped - 2e-9 * Math.abs(bestRamped));
          }
        }
        balancer.taskStarted(chosen);
        break;
      }
    }
  }
}

describe('indexed full scan equals a brute-force scan (differential property)', () => {
  it('chooses a best-scoring candidate after any sequence of events', () => {
    fc.assert(
      fc.property(
        options,
        fc.integer({ min: 0, max: IDS.length }),
        fc.array(op, { minLength: 30, maxLength: 200 }),
        fc.nat(),
        (o, start, ops, seed) => run(o, start, ops, seed, false),
      ),
      { seed: 20261201, numRuns: 300 },
    );
  });

  it('with slow start, never chooses below the best collector past its ramp', () => {
    fc.assert(
      fc.property(
        options,
        fc.integer({ min: 0, max: IDS.length }),
        fc.array(op, { minLength: 30, maxLength: 200 }),
        fc.nat(),
        (o, start, ops, seed) => run(o, start, ops, seed, true),
      ),
      { seed: 7, numRuns: 150 },
    );
  });

  it.each(['weighted', 'least-loaded'] as const)(
    '%s over 300 collectors (a deep tree, many exact ties, heartbeats, exclusions)',
    (strategy) => {
      const random = mulberry32(11);
      const { balancer, clock } = harness({ strategy, stalenessMs: 5000 }, 5);
      const ids = Array.from({ length: 300 }, (_, i) => `c${i}`);
      for (const c of ids) balancer.register(c, { taskKinds: random() < 0.2 ? ['scan'] : [] });
      const inFlight: string[] = [];
      for (let n = 0; n < 600; n++) {
        if (n % 5 === 0) {
          const c = ids[Math.floor(random() * ids.length)] ?? 'c0';
          balancer.updateMetrics(c, {
            activeTasks: Math.floor(random() * 4),
            queueDepth: Math.floor(random() * 3),
            health: random() < 0.1 ? 'degraded' : 'healthy',
          });
        }
        if (n % 50 === 0) clock.advance(1000);
        const kind = random() < 0.3 ? 'scan' : undefined;
        const exclude = [ids[Math.floor(random() * ids.length)] ?? 'c0'];
        const chosen = balancer.select({ taskKind: kind, exclude });
        const { best, scores } = bruteForce(
          balancer,
          kind,
          exclude,
          false,
          strategy === 'least-loaded',
        );
        expect(scores.get(chosen) ?? -1).toBeGreaterThanOrEqual(best - 2e-9 * best);
        balancer.taskStarted(chosen);
        inFlight.push(chosen);
        if (inFlight.length > 100) {
          balancer.taskFinished(inFlight.shift() ?? 'c0', 5 + random() * 50, random() > 0.05);
        }
      }
    },
  );

  it.each(['weighted', 'least-loaded'] as const)(
    '%s breaks a tie among many candidates uniformly (the walk visits every tied leaf)',
    (strategy) => {
      const { balancer } = harness({ strategy }, 21);
      const ids = Array.from({ length: 64 }, (_, i) => `c${i}`);
      for (const [i, c] of ids.entries()) {
        balancer.register(c);
        // Every fourth one is idle (the 16 tied best ones), the others carry load.
        balancer.updateMetrics(c, { activeTasks: i % 4 === 0 ? 0 : 3, queueDepth: 0 });
      }
      const counts = tally(Array.from({ length: 16_000 }, () => balancer.select()));
      for (const [i, c] of ids.entries()) {
        if (i % 4 === 0) {
          expect(counts.get(c) ?? 0).toBeGreaterThan(800);
          expect(counts.get(c) ?? 0).toBeLessThan(1200);
        } else {
          expect(counts.get(c) ?? 0).toBe(0);
        }
      }
    },
  );

  it('follows the mean task duration as it drifts across many finishes (bands re-centred)', () => {
    const { balancer } = harness({ strategy: 'weighted' }, 3);
    const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
    for (const [i, c] of ids.entries()) {
      balancer.register(c);
      balancer.updateMetrics(c, { activeTasks: i % 7, queueDepth: (i * 3) % 11, cpu: 0.2 });
    }
    for (let n = 0; n < 3000; n++) {
      const chosen = balancer.select();
      const { best, scores } = bruteForce(balancer, undefined, [], false, false);
      expect(scores.get(chosen) ?? 0).toBeGreaterThanOrEqual(best - 2e-9 * best);
      balancer.taskStarted(chosen);
      // Durations trend upwards, so the fleet mean leaves its band again and again.
      const done = ids[(n * 7) % ids.length] ?? 'c0';
      balancer.taskFinished(done, 10 + n / 10 + ((n * 13) % 17), true);
    }
  });
});
