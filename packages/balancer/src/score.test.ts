import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { harness } from '../test/helpers.js';
import { type CollectorMetrics, LoadBalancer, systemClock } from './index.js';
import { activeUnits, durationFactor, loadTerm, type ScoreTerms, scoreTerms } from './score.js';

function sum(t: ScoreTerms): number {
  return t.active + t.queue + t.success + t.cpu;
}

const junk = fc.oneof(
  fc.double(),
  fc.constantFrom(
    0,
    -0,
    -1,
    1e308,
    Number.MAX_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ),
  fc.constant(undefined),
);
const metrics: fc.Arbitrary<CollectorMetrics> = fc.record(
  {
    activeTasks: junk,
    queueDepth: junk,
    cpu: junk,
    memoryBytes: fc.oneof(junk, fc.bigInt()),
    at: junk,
  },
  { requiredKeys: [] },
);

function isSaneScore(x: number): boolean {
  return Number.isFinite(x) && x >= 0;
}

describe('score formula', () => {
  it('matches the spec at zero load and keeps its slopes', () => {
    expect(loadTerm(10, 0)).toBe(1000);
    expect(loadTerm(10, 1)).toBeCloseTo(1000 - 10, 0);
    expect(loadTerm(5, 1)).toBeCloseTo(1000 - 5, 0);
    // Where the spec's unsigned formula underflows, this one is small but positive and ordered.
    expect(loadTerm(10, 100)).toBe(500);
    expect(loadTerm(10, 1000)).toBeLessThan(loadTerm(10, 999));
    expect(loadTerm(10, 1000)).toBeGreaterThan(0);
  });

  it('prices the task about to be placed by its duration', () => {
    expect(activeUnits(0, 1)).toBe(0);
    expect(activeUnits(0, 4)).toBe(3);
    expect(activeUnits(2, 0.1)).toBe(0);
    expect(durationFactor(400, 100, 1)).toBe(4);
    expect(durationFactor(400, 100, 0)).toBe(1);
    expect(durationFactor(1e9, 1, 1)).toBe(10);
    expect(durationFactor(0, 100, 1)).toBe(0.1);
    expect(durationFactor(-1, 100, 1)).toBe(1);
  });

  it('computes each term as documented', () => {
    const w = { active: 10, queue: 5, success: 100, cpu: 50, duration: 1 };
    const inputs = { activeTasks: 3, queueDepth: 7, cpu: 0.4, successRate: 0.9, durationFactor: 2 };
    const t = scoreTerms(w, inputs);
    expect(t.active).toBeCloseTo(1e6 / (1000 + 10 * (4 * 2 - 1)), 9);
    expect(t.queue).toBeCloseTo(1e6 / (1000 + 5 * 7 * 2), 9);
    expect(t.success).toBeCloseTo(90);
    expect(t.cpu).toBeCloseTo(30);
  });

  it('is finite and non-negative for any inputs and weights (property)', () => {
    const big = fc.double({ min: 0, max: 1e12, noNaN: true });
    fc.assert(
      fc.property(
        fc.record({
          active: fc.double({ min: 0, max: 1e6, noNaN: true }),
          queue: fc.double({ min: 0, max: 1e6, noNaN: true }),
          success: fc.double({ min: 0, max: 1e6, noNaN: true }),
          cpu: fc.double({ min: 0, max: 1e6, noNaN: true }),
          duration: fc.double({ min: 0, max: 4, noNaN: true }),
        }),
        big,
        big,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        big,
        big,
        (w, active, queue, cpu, success, ewma, mean) => {
          const factor = durationFactor(ewma, mean, w.duration);
          expect(factor).toBeGreaterThanOrEqual(0.1);
          expect(factor).toBeLessThanOrEqual(10);
          const inputs = { activeTasks: active, queueDepth: queue, cpu, successRate: success };
          const terms = scoreTerms(w, { ...inputs, durationFactor: factor });
          expect(isSaneScore(sum(terms))).toBe(true);
        },
      ),
      { seed: 4, numRuns: 2000 },
    );
  });
});

describe('scores through the public API', () => {
  it('never NaN, Infinity or negative for any heartbeat values, including missing (property)', () => {
    fc.assert(
      fc.property(
        fc.array(metrics, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(junk, fc.boolean()), { maxLength: 6 }),
        fc.integer({ min: 0, max: 100_000 }),
        (reports, finished, advanceMs) => {
          const { balancer, clock } = harness({ slowStartMs: 5000 });
          reports.forEach((report, i) => {
            balancer.register(`c${i}`);
            balancer.updateMetrics(`c${i}`, report);
          });
          balancer.register('silent');
          for (const [duration, ok] of finished) {
            balancer.taskStarted('c0');
            balancer.taskFinished('c0', duration ?? Number.NaN, ok);
          }
          clock.advance(advanceMs);
          for (const c of balancer.snapshot().collectors) {
            expect(isSaneScore(c.score)).toBe(true);
            const e = balancer.explain(c.id);
            for (const x of [e.score, e.base, e.leastLoadedScore, ...Object.values(e.terms)]) {
              expect(isSaneScore(x)).toBe(true);
            }
            for (const x of Object.values(e.inputs)) expect(isSaneScore(x)).toBe(true);
          }
          expect(typeof balancer.select()).toBe('string');
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it('survives a clock and a random source that return junk', () => {
    let t = 0;
    const values = [Number.NaN, 1, -3, Number.POSITIVE_INFINITY];
    const balancer = new LoadBalancer({
      clock: { ...systemClock, now: () => (t++ % 2 === 0 ? Number.NaN : t * 1000) },
      random: () => values[t++ % values.length] ?? 0,
    });
    for (let i = 0; i < 10; i++) balancer.register(`c${i}`);
    for (let i = 0; i < 100; i++) expect(balancer.select()).toMatch(/^c\d$/);
    for (const c of balancer.snapshot().collectors) expect(isSaneScore(c.score)).toBe(true);
  });
});

describe('metrics', () => {
  it('explains each term and flags estimated inputs', () => {
    const { balancer } = harness();
    balancer.register('a');
    balancer.updateMetrics('a', { activeTasks: 0, queueDepth: 0, cpu: 0.5 });
    const e = balancer.explain('a');
    expect(e.terms).toEqual({ active: 1000, queue: 1000, success: 100, cpu: 0 });
    expect(e.base).toBe(2100);
    expect(e.score).toBe(2100);
    expect(e.metrics).toBe('fresh');
    expect(e.estimated).toEqual({
      activeTasks: false,
      queueDepth: false,
      cpu: false,
      successRate: true,
      durationFactor: true,
    });
    expect(() => balancer.explain('nope')).toThrow(
      expect.objectContaining({ code: 'ERR_BALANCER_UNKNOWN_COLLECTOR' }),
    );
  });

  it('gives a collector without data the mean of the others, not zero and not the best', () => {
    const { balancer } = harness({ strategy: 'weighted' });
    balancer.register('light');
    balancer.register('heavy');
    balancer.register('new');
    balancer.updateMetrics('light', { activeTasks: 2, queueDepth: 0 });
    balancer.updateMetrics('heavy', { activeTasks: 10, queueDepth: 4 });
    const e = balancer.explain('new');
    expect(e.metrics).toBe('none');
    expect(e.inputs.activeTasks).toBe(6);
    expect(e.inputs.queueDepth).toBe(2);
    const scores = ['light', 'heavy', 'new'].map((id) => balancer.explain(id).score);
    expect(scores[2]).toBeLessThan(scores[0] ?? 0);
    expect(scores[2]).toBeGreaterThan(scores[1] ?? 0);
  });

  it('treats junk fields as missing and mixes them with the fleet mean', () => {
    const { balancer } = harness();
    balancer.register('a');
    balancer.register('b');
    balancer.updateMetrics('a', { activeTasks: 4, queueDepth: 1, cpu: 0.2, memoryBytes: 10n });
    balancer.updateMetrics('b', {
      activeTasks: Number.NaN,
      queueDepth: -3,
      cpu: 7,
      memoryBytes: Number.POSITIVE_INFINITY,
    });
    const e = balancer.explain('b');
    expect(e.inputs).toMatchObject({ activeTasks: 4, queueDepth: 1, cpu: 1 });
    expect(e.estimated).toMatchObject({ activeTasks: true, queueDepth: true, cpu: false });
    const snap = balancer.snapshot().collectors;
    expect(snap[0]).toMatchObject({ memoryBytes: 10, activeTasks: 4 });
    expect(snap[1]).toMatchObject({ memoryBytes: undefined, activeTasks: undefined, cpu: 1 });
  });

  it('counts metrics older than stalenessMs as unknown', () => {
    const { balancer, clock } = harness({ stalenessMs: 1000 });
    balancer.register('a');
    balancer.register('b');
    balancer.updateMetrics('a', { activeTasks: 50 });
    clock.advance(600);
    balancer.updateMetrics('b', { activeTasks: 10 });
    expect(balancer.explain('a').inputs.activeTasks).toBe(50);
    clock.advance(401);
    const a = balancer.explain('a');
    expect(a.metrics).toBe('stale');
    expect(a.inputs.activeTasks).toBe(10);
    clock.advance(600);
    expect(balancer.explain('b').metrics).toBe('stale');
    expect(balancer.explain('b').inputs.activeTasks).toBe(0);
  });

  it('applies an explicit report time and ignores reports older than the last one', () => {
    const { balancer, clock } = harness({ stalenessMs: 1000 });
    balancer.register('a');
    expect(balancer.updateMetrics('a', { activeTasks: 1, at: clock.now() - 900 })).toBe(true);
    expect(balancer.updateMetrics('a', { activeTasks: 9, at: clock.now() - 950 })).toBe(false);
    expect(balancer.explain('a').inputs.activeTasks).toBe(1);
    clock.advance(101);
    expect(balancer.explain('a').metrics).toBe('stale');
    expect(balancer.updateMetrics('ghost', { activeTasks: 1 })).toBe(false);
  });

  it('adds dispatches since the last heartbeat to its active count', () => {
    const { balancer } = harness();
    balancer.register('a');
    balancer.updateMetrics('a', { activeTasks: 3 });
    balancer.taskStarted('a');
    balancer.taskStarted('a');
    expect(balancer.explain('a').inputs.activeTasks).toBe(5);
    balancer.taskFinished('a', 10, true);
    expect(balancer.explain('a').inputs.activeTasks).toBe(4);
    balancer.updateMetrics('a', { activeTasks: 0 });
    // The report says 0 but one task is known to be in flight.
    expect(balancer.explain('a').inputs.activeTasks).toBe(1);
    expect(balancer.snapshot().collectors[0]?.inFlight).toBe(1);
  });

  it('keeps an EWMA of durations with alpha 0.3 and the spec success rate', () => {
    const { balancer } = harness();
    balancer.register('a');
    balancer.register('b');
    balancer.taskFinished('a', 100, true);
    balancer.taskFinished('a', 200, false);
    balancer.taskFinished('a', Number.NaN, true);
    balancer.taskFinished('a', -5, true);
    balancer.taskFinished('b', 100, true);
    const a = balancer.snapshot().collectors[0];
    expect(a?.ewmaDurationMs).toBeCloseTo(130);
    expect(a?.successRate).toBe(0.75);
    expect(a).toMatchObject({ tasksSucceeded: 3, tasksFailed: 1, inFlight: 0 });
    // Relative to the fleet mean of EWMAs (115).
    expect(balancer.explain('a').inputs.durationFactor).toBeCloseTo(130 / 115);
    expect(balancer.taskFinished('ghost', 1, true)).toBe(false);
    expect(balancer.taskStarted('ghost')).toBe(false);
  });

  it('forgets history on restart and on re-register', () => {
    const { balancer } = harness();
    balancer.register('a', { taskKinds: ['x'] });
    balancer.register('b');
    balancer.updateMetrics('a', { activeTasks: 3 });
    balancer.taskStarted('a');
    balancer.taskFinished('a', 100, false);
    expect(balancer.restarted('a')).toBe(true);
    expect(balancer.snapshot().collectors[0]).toMatchObject({
      metrics: 'none',
      inFlight: 0,
      ewmaDurationMs: undefined,
      successRate: undefined,
      tasksFailed: 0,
    });
    expect(balancer.restarted('ghost')).toBe(false);
    balancer.register('a', { taskKinds: ['y'], weight: 3 });
    expect(balancer.size).toBe(2);
    expect(balancer.snapshot().collectors[0]).toMatchObject({ taskKinds: ['y'], weight: 3 });
    expect(balancer.select({ taskKind: 'y' })).toMatch(/^[ab]$/);
    expect(() => balancer.select({ taskKind: 'x' })).not.toThrow();
    expect(balancer.has('a')).toBe(true);
  });
});
