import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it, vi } from 'vitest';
import {
  type AggregatedResult,
  AggregatorError,
  type AggregatorErrorCode,
  ResultAggregator,
  type ResultAggregatorOptions,
} from './index.js';

interface Finding {
  readonly fingerprint: string;
  readonly value?: number;
}

const f = (fingerprint: string, value?: number): Finding =>
  value === undefined ? { fingerprint } : { fingerprint, value };

function setup(options: Omit<ResultAggregatorOptions<Finding>, 'clock'> = {}) {
  const clock = new FakeClock(1000);
  const completed: AggregatedResult<Finding>[] = [];
  const callbackErrors: AggregatorError[] = [];
  const aggregator = new ResultAggregator<Finding>({
    clock,
    onCallbackError: (error) => callbackErrors.push(error),
    ...options,
  });
  aggregator.on('complete', (result) => completed.push(result));
  const only = (): AggregatedResult<Finding> => {
    expect(completed).toHaveLength(1);
    const [first] = completed;
    if (first === undefined) throw new Error('no completion');
    return first;
  };
  return { clock, aggregator, completed, callbackErrors, only };
}

function codeOf(run: () => unknown): AggregatorErrorCode | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof AggregatorError) return error.code;
    throw error;
  }
  return undefined;
}

/** Deliberately trusts the shape only as far as being an array (simulates unchecked input). */
function isUntrustedBatch(value: unknown): value is Finding[] {
  return Array.isArray(value);
}

const keys = (result: AggregatedResult<Finding>) => result.results.map((item) => item.key);

describe('completion reasons', () => {
  it('all-received: completes when every expected collector sent final', () => {
    const { aggregator, clock, completed, only } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    expect(aggregator.addResult('p1', 'c1', [f('a')], { final: true })).toBe('accepted');
    clock.advance(7);
    expect(completed).toHaveLength(0);
    expect(aggregator.addResult('p2', 'c1', [f('b')], { final: true })).toBe('accepted');
    expect(only()).toEqual({
      correlationId: 'c1',
      results: [
        { key: 'a', result: f('a'), sources: ['p1'], conflict: false },
        { key: 'b', result: f('b'), sources: ['p2'], conflict: false },
      ],
      expected: ['p1', 'p2'],
      responded: ['p1', 'p2'],
      missing: [],
      failed: [],
      overflowed: [],
      complete: true,
      reason: 'all-received',
      duplicatesDropped: 0,
      overflowDropped: 0,
      invalidDropped: 0,
      conflicts: 0,
      variantsDropped: 0,
      bytes: 2 * 256,
      startedAt: 1000,
      completedAt: 1007,
    });
    expect(aggregator.pendingCount).toBe(0);
  });

  it('timeout: fires exactly at the deadline with the partial results', () => {
    const { aggregator, clock, completed, only } = setup({ timeoutMs: 100 });
    expect(aggregator.begin('c1', ['p1', 'p2'])).toBe(1100);
    aggregator.addResult('p1', 'c1', [f('a')], { final: true });
    aggregator.addResult('p2', 'c1', [f('b')]);
    clock.advance(99);
    expect(completed).toHaveLength(0);
    clock.advance(1);
    const result = only();
    expect(result.reason).toBe('timeout');
    expect(result.complete).toBe(false);
    expect(result.completedAt).toBe(1100);
    expect(result.responded).toEqual(['p1']);
    expect(result.missing).toEqual(['p2']);
    expect(keys(result)).toEqual(['a', 'b']);
  });

  it('timeout: per-set timeoutMs, deadlineAt, and the earlier of both', () => {
    const { aggregator, clock, completed } = setup({ timeoutMs: 1000 });
    expect(aggregator.begin('short', ['p'], { timeoutMs: 10 })).toBe(1010);
    expect(aggregator.begin('abs', ['p'], { deadlineAt: 1020 })).toBe(1020);
    expect(aggregator.begin('both', ['p'], { timeoutMs: 50, deadlineAt: 1030 })).toBe(1030);
    expect(aggregator.begin('both2', ['p'], { timeoutMs: 5, deadlineAt: 1030 })).toBe(1005);
    expect(aggregator.begin('default', ['p'])).toBe(2000);
    clock.advance(2000);
    expect(completed.map((r) => [r.correlationId, r.completedAt])).toEqual([
      ['both2', 1005],
      ['short', 1010],
      ['abs', 1020],
      ['both', 1030],
      ['default', 2000],
    ]);
  });

  it('timeout: a deadlineAt already past completes on the next timer tick, not inside begin', () => {
    const { aggregator, clock, completed } = setup();
    aggregator.begin('c1', ['p'], { deadlineAt: 500 });
    expect(completed).toHaveLength(0);
    clock.advance(0);
    expect(completed.map((r) => [r.reason, r.completedAt])).toEqual([['timeout', 1000]]);
  });

  it('timeout: deadlines beyond the largest timer delay still fire exactly', () => {
    const { aggregator, clock, completed } = setup();
    const far = 1000 + 5_000_000_000;
    aggregator.begin('far', ['p'], { deadlineAt: far });
    expect(clock.delays).toEqual([2_147_483_647]);
    clock.advanceTo(far - 1);
    expect(completed).toHaveLength(0);
    clock.advanceTo(far);
    expect(completed.map((r) => r.completedAt)).toEqual([far]);
  });

  it('collector-failed: completes at once when the failed collector was the last outstanding', () => {
    const { aggregator, only } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.addResult('p1', 'c1', [f('a')], { final: true });
    expect(aggregator.collectorFailed('p2')).toBe(1);
    const result = only();
    expect(result.reason).toBe('collector-failed');
    expect(result.complete).toBe(false);
    expect(result.responded).toEqual(['p1']);
    expect(result.missing).toEqual(['p2']);
    expect(result.failed).toEqual(['p2']);
  });

  it('collector-failed: otherwise stops waiting, and the reason stays collector-failed', () => {
    const { aggregator, completed, only } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.begin('c2', ['p3']);
    expect(aggregator.collectorFailed('p1')).toBe(1);
    expect(completed).toHaveLength(0);
    expect(aggregator.addResult('p1', 'c1', [f('x')])).toBe('unexpected-collector');
    aggregator.addResult('p2', 'c1', [f('a')], { final: true });
    const result = only();
    expect(result.reason).toBe('collector-failed');
    expect(result.failed).toEqual(['p1']);
    expect(result.missing).toEqual(['p1']);
    expect(aggregator.collectorFailed('p1')).toBe(0);
    expect(aggregator.collectorFailed('nobody')).toBe(0);
  });

  it('collector-failed: a collector that already sent final is not affected', () => {
    const { aggregator, completed } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.addResult('p1', 'c1', [], { final: true });
    expect(aggregator.collectorFailed('p1')).toBe(0);
    aggregator.addResult('p2', 'c1', [], { final: true });
    expect(completed[0]?.reason).toBe('all-received');
  });

  it('cancelled: cancel completes a pending set and returns whether it was pending', () => {
    const { aggregator, only } = setup();
    aggregator.begin('c1', ['p1']);
    aggregator.addResult('p1', 'c1', [f('a')]);
    expect(aggregator.cancel('c1')).toBe(true);
    expect(aggregator.cancel('c1')).toBe(false);
    expect(aggregator.cancel('nope')).toBe(false);
    const result = only();
    expect(result.reason).toBe('cancelled');
    expect(keys(result)).toEqual(['a']);
    expect(aggregator.addResult('p1', 'c1', [f('b')])).toBe('late');
  });

  it('shutdown: close completes everything pending, stops the timer and refuses begin', () => {
    const { aggregator, clock, completed } = setup();
    aggregator.begin('c1', ['p1']);
    aggregator.begin('c2', ['p2']);
    expect(clock.timerCount).toBe(1);
    aggregator.close();
    expect(aggregator.closed).toBe(true);
    expect(clock.timerCount).toBe(0);
    expect(completed.map((r) => [r.correlationId, r.reason])).toEqual([
      ['c1', 'shutdown'],
      ['c2', 'shutdown'],
    ]);
    expect(codeOf(() => aggregator.begin('c3', ['p1']))).toBe('ERR_AGGREGATOR_CLOSED');
    expect(aggregator.addResult('p1', 'c1', [f('a')])).toBe('late');
    expect(aggregator.addResult('p1', 'zz', [f('a')])).toBe('unknown-correlation');
    aggregator.close();
    clock.advance(10_000);
    expect(completed).toHaveLength(2);
    expect(aggregator.stats().beginRejected.ERR_AGGREGATOR_CLOSED).toBe(1);
  });

  it('overflow: a set where every collector filled its share completes at once', () => {
    const { aggregator, only } = setup({ maxResultsPerSet: 2 });
    aggregator.begin('c1', ['p1']);
    expect(aggregator.addResult('p1', 'c1', [f('a'), f('b')])).toBe('accepted');
    expect(aggregator.addResult('p1', 'c1', [f('c'), f('b'), f('d')], { final: true })).toBe(
      'over-limit',
    );
    const result = only();
    expect(result.reason).toBe('overflow');
    expect(result.complete).toBe(false);
    expect(result.overflowed).toEqual(['p1']);
    expect(result.missing).toEqual(['p1']);
    expect(result.responded).toEqual([]);
    expect(keys(result)).toEqual(['a', 'b']);
    expect(result.overflowDropped).toBe(3);
    expect(aggregator.addResult('p1', 'c1', [f('e')])).toBe('late');
    const stats = aggregator.stats();
    expect(stats.completed.overflow).toBe(1);
    expect(stats.outcomes['over-limit']).toBe(1);
    expect(stats.overflowDropped).toBe(3);
    expect(stats.shareFull).toEqual({
      count: 1,
      bytes: 0,
      'collector-bytes': 0,
      'pending-bytes': 0,
    });
  });
});

describe('addResult outcomes', () => {
  it('accepted, including an empty non-final batch', () => {
    const { aggregator } = setup();
    aggregator.begin('c1', ['p1']);
    expect(aggregator.addResult('p1', 'c1', [])).toBe('accepted');
    expect(aggregator.addResult('p1', 'c1', [f('a')])).toBe('accepted');
    expect(aggregator.stats().outcomes.accepted).toBe(2);
  });

  it('duplicate: the same result re-delivered by the same collector is idempotent', () => {
    const contentKey = vi.fn((r: Finding) => String(r.value));
    const { aggregator, only } = setup({ contentKey });
    aggregator.begin('c1', ['p1', 'p2']);
    expect(aggregator.addResult('p1', 'c1', [f('a', 1), f('b')])).toBe('accepted');
    expect(aggregator.addResult('p1', 'c1', [f('a', 1), f('b')])).toBe('duplicate');
    expect(aggregator.addResult('p1', 'c1', [f('a', 2)])).toBe('duplicate');
    // A re-delivery by the same collector is never compared (nor a conflict).
    expect(contentKey).not.toHaveBeenCalled();
    // A re-delivered batch that carries the final flag still changes state.
    expect(aggregator.addResult('p1', 'c1', [f('b')], { final: true })).toBe('accepted');
    // After final, an exact re-delivery is still a duplicate ...
    expect(aggregator.addResult('p1', 'c1', [f('a')], { final: true })).toBe('duplicate');
    expect(aggregator.addResult('p1', 'c1', [])).toBe('duplicate');
    // ... and anything new is late.
    expect(aggregator.addResult('p1', 'c1', [f('a'), f('z')])).toBe('late');
    aggregator.addResult('p2', 'c1', [], { final: true });
    const result = only();
    expect(result.results).toEqual([
      { key: 'a', result: f('a', 1), sources: ['p1'], conflict: false },
      { key: 'b', result: f('b'), sources: ['p1'], conflict: false },
    ]);
    expect(result.duplicatesDropped).toBe(5);
    expect(aggregator.stats().outcomes).toEqual({
      accepted: 3,
      duplicate: 4,
      late: 1,
      'unknown-correlation': 0,
      'unexpected-collector': 0,
      'over-limit': 0,
      'over-budget': 0,
    });
  });

  it('late: results for a recently completed id', () => {
    const { aggregator } = setup();
    aggregator.begin('c1', ['p1']);
    aggregator.addResult('p1', 'c1', [], { final: true });
    expect(aggregator.addResult('p1', 'c1', [f('a')])).toBe('late');
    expect(aggregator.addResult('p9', 'c1', [f('a')])).toBe('late');
    expect(aggregator.stats().outcomes.late).toBe(2);
  });

  it('late needs the bounded memory of completed ids; evicted ids become unknown', () => {
    const { aggregator } = setup({ recentCompletedCapacity: 2 });
    for (const id of ['c1', 'c2', 'c3']) {
      aggregator.begin(id, ['p']);
      aggregator.cancel(id);
    }
    expect(aggregator.stats().recentCompleted).toBe(2);
    expect(aggregator.addResult('p', 'c1', [])).toBe('unknown-correlation');
    expect(aggregator.addResult('p', 'c2', [])).toBe('late');
    expect(aggregator.addResult('p', 'c3', [])).toBe('late');
  });

  it('recentCompletedCapacity 0 disables late detection', () => {
    const { aggregator } = setup({ recentCompletedCapacity: 0 });
    aggregator.begin('c1', ['p']);
    aggregator.cancel('c1');
    expect(aggregator.addResult('p', 'c1', [])).toBe('unknown-correlation');
    expect(() => aggregator.begin('c1', ['p'])).not.toThrow();
  });

  it('unknown-correlation: never begun', () => {
    const { aggregator } = setup();
    expect(aggregator.addResult('p1', 'nope', [f('a')])).toBe('unknown-correlation');
    expect(aggregator.stats().outcomes['unknown-correlation']).toBe(1);
  });

  it('unexpected-collector: never expected, failed, or reassigned away', () => {
    const { aggregator } = setup();
    aggregator.begin('c1', ['p1', 'p2', 'p3']);
    expect(aggregator.addResult('zz', 'c1', [f('a')])).toBe('unexpected-collector');
    aggregator.collectorFailed('p2');
    expect(aggregator.addResult('p2', 'c1', [f('a')])).toBe('unexpected-collector');
    aggregator.reassign('c1', 'p3', 'p4');
    expect(aggregator.addResult('p3', 'c1', [f('a')])).toBe('unexpected-collector');
    expect(aggregator.addResult('p4', 'c1', [f('a')])).toBe('accepted');
    expect(aggregator.stats().outcomes['unexpected-collector']).toBe(3);
  });

  it('never throws on data-plane input, even when dedupKey throws', () => {
    const { aggregator, callbackErrors, only } = setup({
      dedupKey: (r) => {
        if (r.fingerprint === 'boom') throw new Error('bad result');
        return r.fingerprint;
      },
    });
    aggregator.begin('c1', ['p1']);
    expect(aggregator.addResult('p1', 'c1', [f('a'), f('boom')], { final: true })).toBe('accepted');
    expect(keys(only())).toEqual(['a']);
    expect(only().invalidDropped).toBe(1);
    expect(callbackErrors.map((e) => e.code)).toEqual(['ERR_AGGREGATOR_CALLBACK_FAILED']);
    expect(callbackErrors[0]?.cause).toEqual(new Error('bad result'));
    expect(aggregator.stats().invalidResults).toBe(1);
  });

  it('drops (and counts) results without a string fingerprint under the default dedupKey', () => {
    const { aggregator, callbackErrors, only } = setup();
    aggregator.begin('c1', ['p1']);
    // Untrusted input that breaks the declared type, as a JavaScript caller could send it.
    const raw: unknown = JSON.parse(
      '[{"fingerprint":"ok"},{"fingerprint":42},null,"text",{"other":1}]',
    );
    if (!isUntrustedBatch(raw)) throw new Error('not an array');
    aggregator.addResult('p1', 'c1', raw, { final: true });
    expect(keys(only())).toEqual(['ok']);
    expect(only().invalidDropped).toBe(4);
    expect(callbackErrors).toHaveLength(0);
  });
});

describe('dedup', () => {
  it('records every source in arrival order and compares keys exactly', () => {
    const { aggregator, only } = setup();
    aggregator.begin('c1', ['p1', 'p2', 'p3']);
    aggregator.addResult('p2', 'c1', [f('a'), f('A'), f('a ')]);
    aggregator.addResult('p1', 'c1', [f('a')], { final: true });
    aggregator.addResult('p3', 'c1', [f('a'), f('A')], { final: true });
    aggregator.addResult('p2', 'c1', [], { final: true });
    const result = only();
    expect(result.results.map((item) => [item.key, item.sources])).toEqual([
      ['a', ['p2', 'p1', 'p3']],
      ['A', ['p2', 'p3']],
      ['a ', ['p2']],
    ]);
    expect(result.duplicatesDropped).toBe(3);
    expect(aggregator.stats().duplicatesDropped).toBe(3);
  });

  it('keeps many distinct keys distinct (no hashing)', () => {
    const { aggregator, only } = setup({ maxResultsPerSet: 100_000 });
    aggregator.begin('c1', ['p1']);
    const batch = Array.from({ length: 20_000 }, (_, i) => f(`fp-${i}`));
    aggregator.addResult('p1', 'c1', batch, { final: true });
    expect(new Set(keys(only())).size).toBe(20_000);
  });
});

describe('begin errors and limits', () => {
  it('ERR_DUPLICATE_CORRELATION for a pending or recently completed id', () => {
    const { aggregator } = setup();
    aggregator.begin('c1', ['p1']);
    expect(codeOf(() => aggregator.begin('c1', ['p2']))).toBe('ERR_DUPLICATE_CORRELATION');
    aggregator.cancel('c1');
    expect(codeOf(() => aggregator.begin('c1', ['p2']))).toBe('ERR_DUPLICATE_CORRELATION');
    expect(aggregator.stats().beginRejected.ERR_DUPLICATE_CORRELATION).toBe(2);
    expect(aggregator.stats().begun).toBe(1);
  });

  it('ERR_TOO_MANY_PENDING_SETS at maxPendingSets, and room again after a completion', () => {
    const { aggregator } = setup({ maxPendingSets: 2 });
    aggregator.begin('c1', ['p1']);
    aggregator.begin('c2', ['p1']);
    let thrown: unknown;
    try {
      aggregator.begin('c3', ['p1']);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AggregatorError);
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).toMatchObject({ name: 'AggregatorError', code: 'ERR_TOO_MANY_PENDING_SETS' });
    expect(String(thrown)).toContain('maxPendingSets 2');
    expect(aggregator.stats().beginRejected.ERR_TOO_MANY_PENDING_SETS).toBe(1);
    aggregator.addResult('p1', 'c1', [], { final: true });
    expect(() => aggregator.begin('c3', ['p1'])).not.toThrow();
    expect(aggregator.stats().pendingSets).toBe(2);
  });

  it('ERR_AGGREGATOR_INVALID_ARGUMENT for bad ids, collectors and per-set times', () => {
    const { aggregator } = setup();
    const cases: (() => unknown)[] = [
      () => aggregator.begin('', ['p1']),
      () => aggregator.begin('c', []),
      () => aggregator.begin('c', ['p1', 'p1']),
      () => aggregator.begin('c', ['']),
      () =>
        aggregator.begin(
          'c',
          Array.from({ length: 20 }, () => 'same'),
        ),
      () => aggregator.begin('c', ['p1'], { timeoutMs: 0 }),
      () => aggregator.begin('c', ['p1'], { timeoutMs: 1.5 }),
      () => aggregator.begin('c', ['p1'], { deadlineAt: Number.NaN }),
      () => aggregator.begin('c', ['p1'], { deadlineAt: Number.POSITIVE_INFINITY }),
    ];
    for (const run of cases) expect(codeOf(run)).toBe('ERR_AGGREGATOR_INVALID_ARGUMENT');
    expect(aggregator.stats().beginRejected.ERR_AGGREGATOR_INVALID_ARGUMENT).toBe(cases.length);
    expect(aggregator.stats().begun).toBe(0);
    expect(() => aggregator.begin('c', ['p1'])).not.toThrow();
  });

  it('copies expectedCollectors: later mutation by the caller has no effect', () => {
    const { aggregator, only } = setup();
    const expected = ['p1'];
    aggregator.begin('c1', expected);
    expected.push('p2');
    aggregator.addResult('p1', 'c1', [], { final: true });
    expect(only().expected).toEqual(['p1']);
  });
});

describe('reassign', () => {
  it('moves a waiting expectation; partial results of the old collector are kept', () => {
    const { aggregator, only } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.addResult('p2', 'c1', [f('a')]);
    expect(aggregator.reassign('c1', 'p2', 'p3')).toBe('reassigned');
    aggregator.addResult('p1', 'c1', [], { final: true });
    aggregator.addResult('p3', 'c1', [f('a'), f('b')], { final: true });
    const result = only();
    expect(result.reason).toBe('all-received');
    expect(result.complete).toBe(true);
    expect(result.expected).toEqual(['p1', 'p3']);
    expect(result.results.map((item) => [item.key, item.sources])).toEqual([
      ['a', ['p2', 'p3']],
      ['b', ['p3']],
    ]);
  });

  it('re-expects a failed collector’s task on another collector', () => {
    const { aggregator, only } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.collectorFailed('p1');
    expect(aggregator.reassign('c1', 'p1', 'p3')).toBe('reassigned');
    aggregator.addResult('p2', 'c1', [], { final: true });
    expect(aggregator.pendingCount).toBe(1);
    aggregator.addResult('p3', 'c1', [], { final: true });
    expect(only().reason).toBe('all-received');
    expect(only().failed).toEqual([]);
  });

  it('may move a task back to a collector that failed in this set', () => {
    const { aggregator, only } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.collectorFailed('p1');
    expect(aggregator.reassign('c1', 'p2', 'p1')).toBe('reassigned');
    aggregator.addResult('p1', 'c1', [], { final: true });
    expect(only().expected).toEqual(['p1']);
    expect(only().reason).toBe('all-received');
  });

  it('regression: reassign(id, x, x) for a failed x re-expects x instead of dropping it', () => {
    // Found by the property test: the re-armed slot was spliced away, so the set could only
    // time out.
    const { aggregator, only } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.collectorFailed('p1');
    expect(aggregator.reassign('c1', 'p1', 'p1')).toBe('reassigned');
    aggregator.addResult('p2', 'c1', [], { final: true });
    expect(aggregator.pendingCount).toBe(1);
    aggregator.addResult('p1', 'c1', [f('a')], { final: true });
    expect(only().expected).toEqual(['p1', 'p2']);
    expect(only().reason).toBe('all-received');
  });

  it('reports why it could not move', () => {
    const { aggregator } = setup();
    aggregator.begin('c1', ['p1', 'p2']);
    aggregator.addResult('p1', 'c1', [], { final: true });
    expect(aggregator.reassign('nope', 'p1', 'p3')).toBe('not-pending');
    expect(aggregator.reassign('c1', 'zz', 'p3')).toBe('unexpected-collector');
    expect(aggregator.reassign('c1', 'p1', 'p3')).toBe('already-final');
    expect(aggregator.reassign('c1', 'p2', 'p1')).toBe('already-expected');
    expect(aggregator.reassign('c1', 'p2', 'p2')).toBe('already-expected');
    expect(codeOf(() => aggregator.reassign('c1', 'p2', ''))).toBe(
      'ERR_AGGREGATOR_INVALID_ARGUMENT',
    );
    aggregator.cancel('c1');
    expect(aggregator.reassign('c1', 'p2', 'p3')).toBe('not-pending');
  });
});

describe('timer', () => {
  it('arms one timer for the earliest deadline and re-arms only when needed', () => {
    const { aggregator, clock, completed } = setup({ timeoutMs: 1000 });
    for (let i = 0; i < 100; i++) aggregator.begin(`late-${i}`, ['p']);
    expect(clock.timerCount).toBe(1);
    expect(clock.delays).toEqual([1000]);
    aggregator.begin('early', ['p'], { timeoutMs: 10 });
    expect(clock.timerCount).toBe(1);
    expect(clock.cleared).toBe(1);
    expect(clock.delays).toEqual([1000, 10]);
    // Completing the earliest set does not touch the timer; it fires, skips it, re-arms.
    aggregator.cancel('early');
    clock.advance(10);
    expect(clock.delays).toEqual([1000, 10, 990]);
    clock.advance(990);
    expect(completed.filter((r) => r.reason === 'timeout')).toHaveLength(100);
    expect(clock.timerCount).toBe(0);
  });

  it('does not re-arm for each set begun within one millisecond of a fractional clock', () => {
    const { aggregator, clock, completed } = setup({ timeoutMs: 50 });
    clock.advance(0.25);
    aggregator.begin('a', ['p']);
    clock.advance(0.25);
    aggregator.begin('b', ['p']);
    clock.advance(0.25);
    aggregator.begin('c', ['p']);
    expect(clock.delays).toEqual([50]);
    expect(clock.cleared).toBe(0);
    clock.advanceTo(1050.25);
    expect(completed.map((r) => r.correlationId)).toEqual(['a']);
    // Timer delays are whole milliseconds: b and c fire on the next tick, under 1 ms late.
    clock.advanceTo(1051.25);
    expect(completed.map((r) => [r.correlationId, r.completedAt])).toEqual([
      ['a', 1050.25],
      ['b', 1051.25],
      ['c', 1051.25],
    ]);
    expect(clock.delays).toEqual([50, 1]);
  });

  it('stays exact while many completed entries are compacted away', () => {
    const { aggregator, clock, completed } = setup({ timeoutMs: 60_000 });
    for (let i = 0; i < 5000; i++) {
      aggregator.begin(`done-${i}`, ['p']);
      aggregator.addResult('p', `done-${i}`, [], { final: true });
      if (i % 1000 === 0) aggregator.begin(`open-${i}`, ['p'], { timeoutMs: 100 + i });
    }
    clock.advance(100);
    expect(completed.filter((r) => r.reason === 'timeout').map((r) => r.correlationId)).toEqual([
      'open-0',
    ]);
    clock.advance(4000);
    const timeouts = completed.filter((r) => r.reason === 'timeout');
    expect(timeouts.map((r) => r.completedAt - r.startedAt)).toEqual([100, 1100, 2100, 3100, 4100]);
    expect(aggregator.pendingCount).toBe(0);
  });
});

describe('callbacks', () => {
  it('delivers the same object to onComplete first, then to complete listeners', () => {
    const order: string[] = [];
    const seen: AggregatedResult<Finding>[] = [];
    const clock = new FakeClock();
    const aggregator = new ResultAggregator<Finding>({
      clock,
      onComplete: (result) => {
        order.push('onComplete');
        seen.push(result);
      },
    });
    aggregator.on('complete', (result) => {
      order.push('event');
      seen.push(result);
    });
    aggregator.begin('c1', ['p']);
    aggregator.addResult('p', 'c1', [], { final: true });
    expect(order).toEqual(['onComplete', 'event']);
    expect(seen[0]).toBe(seen[1]);
  });

  it('a throwing onComplete or listener does not corrupt state or reach the caller', () => {
    const clock = new FakeClock();
    const errors: AggregatorError[] = [];
    const aggregator = new ResultAggregator<Finding>({
      clock,
      onComplete: () => {
        throw new Error('callback bug');
      },
      onCallbackError: (error) => errors.push(error),
    });
    const received: string[] = [];
    aggregator.on('complete', (result) => {
      received.push(result.correlationId);
      throw new Error('listener bug');
    });
    aggregator.begin('c1', ['p']);
    expect(aggregator.addResult('p', 'c1', [f('a')], { final: true })).toBe('accepted');
    aggregator.begin('c2', ['p'], { timeoutMs: 5 });
    clock.advance(5);
    expect(received).toEqual(['c1', 'c2']);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['ERR_AGGREGATOR_CALLBACK_FAILED', 'onComplete threw for correlation id "c1"'],
      ['ERR_AGGREGATOR_CALLBACK_FAILED', `a 'complete' listener threw for correlation id "c1"`],
      ['ERR_AGGREGATOR_CALLBACK_FAILED', 'onComplete threw for correlation id "c2"'],
      ['ERR_AGGREGATOR_CALLBACK_FAILED', `a 'complete' listener threw for correlation id "c2"`],
    ]);
    expect(errors[0]?.cause).toEqual(new Error('callback bug'));
    const stats = aggregator.stats();
    expect(stats.callbackErrors).toBe(4);
    expect(stats.pendingSets).toBe(0);
    expect(stats.completed).toMatchObject({ 'all-received': 1, timeout: 1 });
    expect(aggregator.addResult('p', 'c1', [])).toBe('late');
    // The timer is still healthy after a throwing listener ran inside it.
    aggregator.begin('c3', ['p'], { timeoutMs: 5 });
    clock.advance(5);
    expect(received).toEqual(['c1', 'c2', 'c3']);
  });

  it('without onCallbackError, rethrows asynchronously (like any listener error)', () => {
    const queued: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      queued.push(task);
    });
    try {
      const aggregator = new ResultAggregator<Finding>({ clock: new FakeClock() });
      aggregator.on('complete', () => {
        throw new Error('listener bug');
      });
      aggregator.begin('c1', ['p']);
      expect(aggregator.addResult('p', 'c1', [], { final: true })).toBe('accepted');
      expect(aggregator.pendingCount).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(queued).toHaveLength(1);
    expect(() => queued[0]?.()).toThrow(/listener threw for correlation id "c1"/);
  });

  it('a handler that throws itself is rethrown asynchronously too', () => {
    const queued: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      queued.push(task);
    });
    try {
      const aggregator = new ResultAggregator<Finding>({
        clock: new FakeClock(),
        onComplete: () => {
          throw new Error('first');
        },
        onCallbackError: () => {
          throw new Error('second');
        },
      });
      aggregator.begin('c1', ['p']);
      aggregator.cancel('c1');
    } finally {
      spy.mockRestore();
    }
    expect(() => queued[0]?.()).toThrow('second');
  });

  it('allows re-entrant calls from a listener', () => {
    const { aggregator, clock, completed } = setup({ timeoutMs: 10 });
    aggregator.on('complete', (result) => {
      if (result.correlationId === 'c1') {
        aggregator.begin('c2', ['p1', 'p2']);
        aggregator.addResult('p2', 'c2', [f('x')], { final: true });
        aggregator.cancel('c3');
      }
    });
    aggregator.begin('c1', ['p1']);
    aggregator.begin('c3', ['p1']);
    aggregator.begin('c4', ['p1', 'p9'], { timeoutMs: 5 });
    // p1 fails: c1 completes, its listener begins c2 (which still waits on p1: begun after the
    // failure) and cancels c3 before the loop reaches it.
    expect(aggregator.collectorFailed('p1')).toBe(2);
    expect(completed.map((r) => [r.correlationId, r.reason])).toEqual([
      ['c1', 'collector-failed'],
      ['c3', 'cancelled'],
    ]);
    expect(aggregator.pendingCount).toBe(2);
    clock.advance(10);
    expect(completed.map((r) => [r.correlationId, r.reason])).toEqual([
      ['c1', 'collector-failed'],
      ['c3', 'cancelled'],
      ['c4', 'timeout'],
      ['c2', 'timeout'],
    ]);
  });

  it('a listener may close the aggregator while the timer fires', () => {
    const { aggregator, clock, completed } = setup({ timeoutMs: 10 });
    aggregator.once('complete', () => aggregator.close());
    aggregator.begin('c1', ['p']);
    aggregator.begin('c2', ['p'], { timeoutMs: 20 });
    aggregator.begin('c3', ['p'], { timeoutMs: 50 });
    clock.advance(100);
    expect(completed.map((r) => [r.correlationId, r.reason])).toEqual([
      ['c1', 'timeout'],
      ['c2', 'shutdown'],
      ['c3', 'shutdown'],
    ]);
    expect(clock.timerCount).toBe(0);
  });
});

describe('stats', () => {
  it('counts every set and every call; begun = pending + completed', () => {
    const { aggregator, clock } = setup({ timeoutMs: 10 });
    aggregator.begin('a', ['p1']);
    aggregator.begin('b', ['p1', 'p2']);
    aggregator.begin('c', ['p1']);
    aggregator.addResult('p1', 'a', [f('1'), f('2')], { final: true });
    aggregator.addResult('p1', 'b', [f('1')]);
    aggregator.addResult('p2', 'b', [f('1')]);
    aggregator.cancel('c');
    expect(aggregator.stats()).toMatchObject({
      pendingSets: 1,
      pendingResults: 1,
      begun: 3,
      duplicatesDropped: 1,
      recentCompleted: 2,
    });
    clock.advance(10);
    const stats = aggregator.stats();
    expect(stats.pendingResults).toBe(0);
    expect(stats.completed).toEqual({
      'all-received': 1,
      timeout: 1,
      'collector-failed': 0,
      cancelled: 1,
      shutdown: 0,
      overflow: 0,
    });
    expect(stats.outcomes.accepted).toBe(3);
    // Snapshots are copies.
    expect(aggregator.stats()).not.toBe(stats);
    expect(aggregator.stats().completed).not.toBe(stats.completed);
  });
});

describe('re-entrant callbacks (regressions found in review)', () => {
  interface Odd {
    readonly fingerprint: string;
    readonly bad?: boolean;
  }

  it('onCallbackError that cancels the set mid-batch does not complete it twice', () => {
    const clock = new FakeClock(1000);
    const completed: AggregatedResult<Odd>[] = [];
    const aggregator: ResultAggregator<Odd> = new ResultAggregator<Odd>({
      clock,
      dedupKey: (r) => {
        if (r.bad) throw new Error('bad result');
        return r.fingerprint;
      },
      onCallbackError: () => aggregator.cancel('c1'),
      onComplete: (r) => completed.push(r),
    });
    aggregator.begin('c1', ['a', 'b']);
    aggregator.addResult('a', 'c1', [{ fingerprint: 'x' }], { final: true });
    aggregator.addResult('b', 'c1', [{ fingerprint: 'bad', bad: true }, { fingerprint: 'y' }], {
      final: true,
    });
    expect(completed).toHaveLength(1);
    const stats = aggregator.stats();
    expect(stats.begun).toBe(1);
    expect(Object.values(stats.completed).reduce((a, b) => a + b, 0)).toBe(1);
    expect(stats.pendingResults).toBe(0);
    expect(stats.pendingSets).toBe(0);
    // The delivered result is not changed afterwards.
    const [only] = completed;
    expect(only?.results.map((i) => i.key)).toEqual(['x', 'y']);
  });

  it('a batch that is not an array is refused and counted, never thrown', () => {
    const { aggregator } = setup();
    aggregator.begin('c1', ['a']);
    const junk: unknown = 'ab';
    const outcome = Array.isArray(junk)
      ? 'accepted'
      : aggregator.addResult('a', 'c1', junk as never);
    expect(outcome).toBe('unexpected-collector');
    expect(aggregator.stats().outcomes['unexpected-collector']).toBe(1);
  });
});
