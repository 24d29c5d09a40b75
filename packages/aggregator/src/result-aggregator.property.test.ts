import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../test/fake-clock.js';
import {
  ADD_RESULT_OUTCOMES,
  type AddResultOutcome,
  type AggregatedResult,
  AggregatorError,
  COMPLETION_REASONS,
  ResultAggregator,
} from './index.js';

interface Finding {
  readonly fingerprint: string;
  /** Which collector sent this copy, to check that the first copy is kept. */
  readonly origin: string;
}

const COLLECTORS = ['c1', 'c2', 'c3', 'c4'] as const;
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'] as const;
const IDS = 6;
const MAX_PENDING = 4;
const MAX_RESULTS = 3;

type Op =
  | { kind: 'begin'; id: number; collectors: string[]; timeoutMs: number }
  | { kind: 'result'; id: number; collector: string; keys: string[]; final: boolean }
  | { kind: 'fail'; collector: string }
  | { kind: 'advance'; ms: number }
  | { kind: 'cancel'; id: number }
  | { kind: 'reassign'; id: number; from: string; to: string }
  /** Replays the previous `result` operation (a collector re-sending a frame). */
  | { kind: 'redeliver' };

const collector = fc.constantFrom(...COLLECTORS);
const id = fc.integer({ min: 0, max: IDS - 1 });
/** Operations where one `result` batch in `finalOneIn` carries the final flag. */
const opArb = (finalOneIn: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('begin' as const),
        id,
        collectors: fc.uniqueArray(collector, { minLength: 1, maxLength: COLLECTORS.length }),
        timeoutMs: fc.integer({ min: 1, max: 60 }),
      }),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('result' as const),
        id,
        collector,
        keys: fc.array(fc.constantFrom(...KEYS), { maxLength: 4 }),
        final: fc.integer({ min: 1, max: finalOneIn }).map((n) => n === 1),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), collector }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.integer({ min: 0, max: 40 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), id }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('redeliver' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('reassign' as const),
        id,
        from: collector,
        to: collector,
      }),
    },
  );

type State = 'waiting' | 'final' | 'failed';

/** What the test knows about one begun set: its expectations and every accepted batch. */
interface Tracked {
  readonly correlationId: string;
  readonly deadline: number;
  /** Current expected collectors in order, with their state. */
  expected: [string, State][];
  readonly accepted: { collector: string; keys: string[] }[];
  completions: AggregatedResult<Finding>[];
}

const stateOf = (set: Tracked, who: string): State | undefined =>
  set.expected.find(([name]) => name === who)?.[1];

/** Reasons and outcomes seen over all runs, to prove the generator reaches every one. */
const seen = new Set<string>();

function run(ops: readonly Op[]): void {
  const clock = new FakeClock();
  const aggregator = new ResultAggregator<Finding>({
    clock,
    timeoutMs: 30,
    maxPendingSets: MAX_PENDING,
    maxResultsPerSet: MAX_RESULTS,
    recentCompletedCapacity: 1000,
    // A failed expectation inside the listener lands here; it is rethrown after the operation
    // so that fast-check sees it (and shrinks).
    onCallbackError: (error) => {
      failure ??= error.cause;
    },
  });
  let failure: unknown;
  const tracked = new Map<string, Tracked>();
  // Which operation is allowed to cause a given completion reason right now.
  let cause: { reason: string; id?: string } | undefined;
  let addCalls = 0;

  aggregator.on('complete', (result) => {
    const set = tracked.get(result.correlationId);
    expect(set, 'completion for a set that was never begun').toBeDefined();
    if (set === undefined) return;
    set.completions.push(result);
    seen.add(result.reason);
    expect(set.completions, 'every begun set completes exactly once').toHaveLength(1);

    // responded and missing partition expected; failed is part of missing.
    expect(result.expected).toEqual(set.expected.map(([name]) => name));
    expect([...result.responded, ...result.missing].sort()).toEqual([...result.expected].sort());
    expect(result.responded.filter((name) => result.missing.includes(name))).toEqual([]);
    expect(result.responded).toEqual(
      set.expected.filter(([, state]) => state === 'final').map(([name]) => name),
    );
    expect(result.failed).toEqual(
      set.expected.filter(([, state]) => state === 'failed').map(([name]) => name),
    );
    expect(result.complete).toBe(result.reason === 'all-received');

    // Results equal the deduplicated union of accepted inputs (first MAX_RESULTS keys).
    const order: string[] = [];
    const sources = new Map<string, string[]>();
    for (const batch of set.accepted) {
      for (const key of batch.keys) {
        let from = sources.get(key);
        if (from === undefined) {
          if (order.length >= MAX_RESULTS) continue;
          order.push(key);
          from = [];
          sources.set(key, from);
        }
        if (!from.includes(batch.collector)) from.push(batch.collector);
      }
    }
    expect(result.results.map((item) => item.key)).toEqual(order);
    for (const item of result.results) {
      expect(item.sources).toEqual(sources.get(item.key));
      expect(item.result.fingerprint).toBe(item.key);
      expect(item.result.origin, 'default merge keeps the first copy').toBe(item.sources[0]);
    }

    // The reason is justified by the state or by the operation that ran.
    const waiting = set.expected.filter(([, state]) => state === 'waiting').length;
    switch (result.reason) {
      case 'all-received':
        expect(set.expected.every(([, state]) => state === 'final')).toBe(true);
        break;
      case 'collector-failed':
        expect(waiting).toBe(0);
        expect(result.failed.length).toBeGreaterThan(0);
        break;
      case 'timeout':
        expect(result.completedAt).toBe(set.deadline);
        break;
      default:
        expect(cause?.reason).toBe(result.reason);
        if (cause?.id !== undefined) expect(cause.id).toBe(result.correlationId);
    }
  });

  const pending = () => [...tracked.values()].filter((set) => set.completions.length === 0);

  let previous: Op | undefined;
  for (const next of ops) {
    const step = next.kind === 'redeliver' ? previous : next;
    if (step === undefined) continue;
    if (step.kind === 'result') previous = step;
    cause = undefined;
    switch (step.kind) {
      case 'begin': {
        const correlationId = `id${step.id}`;
        const known = tracked.has(correlationId);
        const open = pending().length;
        try {
          const deadline = aggregator.begin(correlationId, step.collectors, {
            timeoutMs: step.timeoutMs,
          });
          expect(known).toBe(false);
          expect(open).toBeLessThan(MAX_PENDING);
          expect(deadline).toBe(clock.now() + step.timeoutMs);
          tracked.set(correlationId, {
            correlationId,
            deadline,
            expected: step.collectors.map((name): [string, State] => [name, 'waiting']),
            accepted: [],
            completions: [],
          });
        } catch (error) {
          expect(error).toBeInstanceOf(AggregatorError);
          const code = error instanceof AggregatorError ? error.code : undefined;
          expect(code).toBe(known ? 'ERR_DUPLICATE_CORRELATION' : 'ERR_TOO_MANY_PENDING');
        }
        break;
      }
      case 'result': {
        const correlationId = `id${step.id}`;
        const set = tracked.get(correlationId);
        const state = set === undefined ? undefined : stateOf(set, step.collector);
        const done = set !== undefined && set.completions.length > 0;
        const batch = step.keys.map((key) => ({ fingerprint: key, origin: step.collector }));
        // Update the expectations first: completion is delivered from inside addResult.
        if (set !== undefined && state === 'waiting' && !done) {
          set.accepted.push({ collector: step.collector, keys: step.keys });
          if (step.final) {
            set.expected = set.expected.map(([name, s]) => [
              name,
              name === step.collector ? 'final' : s,
            ]);
          }
        }
        cause = { reason: 'overflow', id: correlationId };
        const outcome = aggregator.addResult(step.collector, correlationId, batch, {
          final: step.final,
        });
        addCalls++;
        seen.add(outcome);
        let allowed: AddResultOutcome[];
        if (set === undefined) allowed = ['unknown-correlation'];
        else if (done) allowed = ['late'];
        else if (state === undefined || state === 'failed') allowed = ['unexpected-collector'];
        else if (state === 'final') allowed = ['late', 'duplicate'];
        else allowed = ['accepted', 'duplicate', 'over-limit'];
        expect(allowed).toContain(outcome);
        if (outcome === 'over-limit') expect(set?.completions[0]?.reason).toBe('overflow');
        break;
      }
      case 'fail': {
        let waitingOn = 0;
        for (const set of pending()) {
          if (stateOf(set, step.collector) !== 'waiting') continue;
          waitingOn++;
          set.expected = set.expected.map(([name, s]) => [
            name,
            name === step.collector ? 'failed' : s,
          ]);
        }
        expect(aggregator.collectorFailed(step.collector)).toBe(waitingOn);
        break;
      }
      case 'advance':
        clock.advance(step.ms);
        break;
      case 'cancel': {
        const correlationId = `id${step.id}`;
        const set = tracked.get(correlationId);
        const wasPending = set !== undefined && set.completions.length === 0;
        cause = { reason: 'cancelled', id: correlationId };
        expect(aggregator.cancel(correlationId)).toBe(wasPending);
        break;
      }
      case 'reassign': {
        const set = tracked.get(`id${step.id}`);
        const outcome = aggregator.reassign(`id${step.id}`, step.from, step.to);
        if (set === undefined || set.completions.length > 0) {
          expect(outcome).toBe('not-pending');
          break;
        }
        const from = stateOf(set, step.from);
        const to = stateOf(set, step.to);
        if (from === undefined) expect(outcome).toBe('unexpected-collector');
        else if (from === 'final') expect(outcome).toBe('already-final');
        else if (to !== undefined && to !== 'failed') {
          expect(outcome).toBe('already-expected');
        } else {
          expect(outcome).toBe('reassigned');
          set.expected = set.expected
            .filter(([name]) => name !== step.to || name === step.from)
            .map(([name, s]) => (name === step.from ? [step.to, 'waiting'] : [name, s]));
        }
        break;
      }
      case 'redeliver':
        break;
    }

    if (failure !== undefined) throw failure;
    // No set stays pending once nothing is outstanding, or after its deadline.
    for (const set of pending()) {
      expect(set.expected.some(([, state]) => state === 'waiting')).toBe(true);
      expect(set.deadline).toBeGreaterThan(clock.now());
    }
    const stats = aggregator.stats();
    expect(stats.pendingSets).toBe(pending().length);
    const completed = Object.values(stats.completed).reduce((a, b) => a + b, 0);
    expect(stats.begun).toBe(stats.pendingSets + completed);
    expect(Object.values(stats.outcomes).reduce((a, b) => a + b, 0)).toBe(addCalls);
  }

  cause = { reason: 'shutdown' };
  aggregator.close();
  if (failure !== undefined) throw failure;
  for (const set of tracked.values()) expect(set.completions).toHaveLength(1);
  expect(aggregator.stats().pendingSets).toBe(0);
  expect(aggregator.stats().pendingResults).toBe(0);
  expect(clock.timerCount).toBe(0);
}

describe('ResultAggregator properties (fixed seed)', () => {
  it('random interleavings of begin / results / final / failures / timeouts / cancel / reassign', () => {
    fc.assert(
      // Frequent finals reach all-received; rare ones let sets live long enough to overflow.
      fc.property(
        fc
          .constantFrom(2, 4)
          .chain((finalOneIn) =>
            fc.array(opArb(finalOneIn), { minLength: 10, maxLength: 100, size: 'max' }),
          ),
        (ops) => run(ops),
      ),
      { seed: 20_240_603, numRuns: 500 },
    );
    for (const name of [...COMPLETION_REASONS, ...ADD_RESULT_OUTCOMES]) {
      expect(seen, `never reached ${name}`).toContain(name);
    }
  });
});
