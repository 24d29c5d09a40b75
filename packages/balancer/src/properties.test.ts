import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { harness } from '../test/helpers.js';
import { isBalancerError, type StrategyName } from './index.js';

const IDS = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'];
const KINDS = ['enumerate', 'integrity', 'connections'];

type Op =
  | { op: 'register'; id: string; kinds: string[] }
  | { op: 'remove'; id: string }
  | { op: 'restarted'; id: string }
  | { op: 'metrics'; id: string; active: number; queue: number }
  | { op: 'finish'; id: string; ok: boolean; durationMs: number; times: number }
  | { op: 'advance'; ms: number }
  | { op: 'select'; kind: string | undefined; exclude: string[]; asSet: boolean };

const id = fc.constantFrom(...IDS);
const initial = fc.array(fc.subarray(KINDS, { maxLength: 2 }), { maxLength: IDS.length });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('register' as const), id, kinds: fc.subarray(KINDS) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), id }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restarted' as const), id }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('metrics' as const),
      id,
      active: fc.double(),
      queue: fc.double(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('finish' as const),
      id,
      ok: fc.integer({ min: 0, max: 2 }).map((x) => x === 0),
      durationMs: fc.double(),
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.nat(60_000) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('select' as const),
      kind: fc.option(fc.constantFrom(...KINDS, 'other'), { nil: undefined }),
      exclude: fc.subarray(IDS, { maxLength: 6 }),
      asSet: fc.boolean(),
    }),
  },
);

describe.each<StrategyName>(['auto', 'weighted', 'least-loaded', 'round-robin', 'p2c'])(
  'selection invariants with %s (property)',
  (strategy) => {
    it('never selects an excluded, ejected, removed or incapable collector', () => {
      fc.assert(
        fc.property(
          initial,
          fc.array(op, { minLength: 20, maxLength: 120 }),
          fc.nat(),
          (start, ops, seed) => {
            const { balancer, clock } = harness(
              {
                strategy,
                p2cMinCandidates: 3,
                consecutiveFailures: 2,
                baseEjectionMs: 5000,
                slowStartMs: 2000,
              },
              seed,
            );
            const kinds = new Map<string, string[]>();
            start.forEach((k, i) => {
              const c = IDS[i] ?? 'c0';
              balancer.register(c, { taskKinds: k });
              kinds.set(c, k);
            });
            for (const step of ops) {
              switch (step.op) {
                case 'register':
                  balancer.register(step.id, { taskKinds: step.kinds });
                  kinds.set(step.id, step.kinds);
                  break;
                case 'remove':
                  expect(balancer.remove(step.id)).toBe(kinds.delete(step.id));
                  break;
                case 'restarted':
                  expect(balancer.restarted(step.id)).toBe(kinds.has(step.id));
                  break;
                case 'metrics':
                  balancer.updateMetrics(step.id, {
                    activeTasks: step.active,
                    queueDepth: step.queue,
                  });
                  break;
                case 'finish':
                  for (let i = 0; i < step.times; i++) {
                    balancer.taskStarted(step.id);
                    balancer.taskFinished(step.id, step.durationMs, step.ok);
                  }
                  break;
                case 'advance':
                  clock.advance(step.ms);
                  break;
                case 'select': {
                  const ejected = new Set(
                    balancer
                      .snapshot()
                      .collectors.filter((c) => c.ejected)
                      .map((c) => c.id),
                  );
                  const panicsBefore = balancer.stats().panics;
                  const exclude = step.asSet ? new Set(step.exclude) : step.exclude;
                  const capable = [...kinds].filter(
                    ([, k]) => step.kind === undefined || k.length === 0 || k.includes(step.kind),
                  );
                  const allowed = capable.filter(([c]) => !step.exclude.includes(c));
                  let chosen: string | undefined;
                  try {
                    chosen = balancer.select({ taskKind: step.kind, exclude });
                  } catch (error) {
                    expect(isBalancerError(error, 'ERR_NO_COLLECTOR_AVAILABLE')).toBe(true);
                    const open = allowed.filter(([c]) => !ejected.has(c));
                    const panic = balancer.stats().panics > panicsBefore;
                    expect(panic ? allowed : open).toEqual([]);
                    break;
                  }
                  expect(kinds.has(chosen)).toBe(true);
                  expect(step.exclude).not.toContain(chosen);
                  const k = kinds.get(chosen) ?? [];
                  if (step.kind !== undefined && k.length > 0) expect(k).toContain(step.kind);
                  if (ejected.has(chosen)) {
                    // Only allowed in panic: too much of the pool is ejected.
                    expect(balancer.stats().panics).toBe(panicsBefore + 1);
                    const ejectedInPool = capable.filter(([c]) => ejected.has(c)).length;
                    expect(ejectedInPool * 100).toBeGreaterThan(50 * capable.length);
                  }
                  break;
                }
              }
            }
            for (const c of balancer.snapshot().collectors) {
              expect(Number.isFinite(c.score) && c.score >= 0).toBe(true);
              // The flattened hot-path score equals the documented terms that explain() shows.
              const explained = balancer.explain(c.id).score;
              expect(Math.abs(explained - c.score)).toBeLessThanOrEqual(
                1e-9 * Math.max(1, c.score),
              );
              expect(c.inFlight).toBeGreaterThanOrEqual(0);
            }
          },
        ),
        { seed: 1234, numRuns: 300 },
      );
    });
  },
);
