import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type AggregatedResult,
  type AggregatorError,
  ResultAggregator,
  type ResultAggregatorOptions,
  type ShareFullEvent,
} from './index.js';

interface Blob {
  readonly fingerprint: string;
  /** Bytes the result stands for (read by the default `weigh`). */
  readonly byteLength?: number;
}

const b = (fingerprint: string, byteLength?: number): Blob =>
  byteLength === undefined ? { fingerprint } : { fingerprint, byteLength };
const many = (prefix: string, n: number, byteLength?: number): Blob[] =>
  Array.from({ length: n }, (_, i) => b(`${prefix}-${i}`, byteLength));

function setup(options: Omit<ResultAggregatorOptions<Blob>, 'clock'> = {}) {
  const clock = new FakeClock(0);
  const completed: AggregatedResult<Blob>[] = [];
  const full: ShareFullEvent[] = [];
  const errors: AggregatorError[] = [];
  const aggregator = new ResultAggregator<Blob>({
    clock,
    onCallbackError: (error) => errors.push(error),
    ...options,
  });
  aggregator.on('complete', (result) => completed.push(result));
  aggregator.on('share-full', (event) => full.push(event));
  return { clock, aggregator, completed, full, errors };
}

describe('per-collector shares of a set', () => {
  it('regression (issue 12): one collector flooding a set ends only its own part; the honest results land and the set completes all-received', () => {
    const { aggregator, completed, full } = setup({ maxResultsPerSet: 30 });
    aggregator.begin('round', ['p1', 'bad', 'p2']);
    expect(aggregator.addResult('bad', 'round', many('junk', 100_000))).toBe('over-limit');
    expect(full).toEqual([{ correlationId: 'round', collectorId: 'bad', reason: 'count' }]);
    expect(completed).toHaveLength(0);
    expect(aggregator.addResult('p1', 'round', many('p1', 10), { final: true })).toBe('accepted');
    expect(aggregator.addResult('p2', 'round', many('p2', 10), { final: true })).toBe('accepted');
    const [result] = completed;
    expect(result?.reason).toBe('all-received');
    expect(result?.complete).toBe(true);
    expect(result?.responded).toEqual(['p1', 'p2']);
    expect(result?.overflowed).toEqual(['bad']);
    expect(result?.missing).toEqual(['bad']);
    expect(result?.results).toHaveLength(30);
    expect(result?.results.filter((item) => item.sources[0] === 'bad')).toHaveLength(10);
    expect(result?.overflowDropped).toBe(100_000 - 10);
    const stats = aggregator.stats();
    expect(stats.shareFull).toEqual({
      count: 1,
      bytes: 0,
      'collector-bytes': 0,
      'pending-bytes': 0,
    });
    expect(stats.outcomes['over-limit']).toBe(1);
    expect(stats.overflowDropped).toBe(100_000 - 10);
    expect(stats.pendingResults).toBe(0);
    expect(stats.pendingBytes).toBe(0);
  });

  it('a full collector can no longer add anything to that set; its later batches are over-limit', () => {
    const { aggregator, completed } = setup({ maxResultsPerSet: 4 });
    aggregator.begin('c', ['p1', 'bad']);
    expect(aggregator.addResult('bad', 'c', many('x', 3))).toBe('over-limit');
    expect(aggregator.addResult('bad', 'c', many('x', 2), { final: true })).toBe('over-limit');
    expect(aggregator.addResult('bad', 'c', [])).toBe('over-limit');
    expect(aggregator.stats().overflowDropped).toBe(1 + 2);
    // The honest collector still has its whole share (2), duplicates of bad's keys included.
    expect(aggregator.addResult('p1', 'c', [b('x-0'), b('y-0'), b('y-1')], { final: true })).toBe(
      'accepted',
    );
    expect(completed[0]?.results.map((item) => [item.key, item.sources])).toEqual([
      ['x-0', ['bad', 'p1']],
      ['x-1', ['bad']],
      ['y-0', ['p1']],
      ['y-1', ['p1']],
    ]);
  });

  it('the count share is floor(maxResultsPerSet / expected), at least 1', () => {
    const { aggregator } = setup({ maxResultsPerSet: 10 });
    aggregator.begin('three', ['a', 'b', 'c']);
    expect(aggregator.addResult('a', 'three', many('a', 3))).toBe('accepted');
    expect(aggregator.addResult('a', 'three', [b('a-3')])).toBe('over-limit');
    aggregator.begin(
      'crowd',
      Array.from({ length: 20 }, (_, i) => `k${i}`),
    );
    expect(aggregator.addResult('k0', 'crowd', [b('one')])).toBe('accepted');
    expect(aggregator.addResult('k0', 'crowd', [b('two')])).toBe('over-limit');
  });

  it('the byte share: weigh(result) + resultOverheadBytes against floor(maxBytesPerSet / expected)', () => {
    const { aggregator, full, completed } = setup({
      maxBytesPerSet: 4096,
      resultOverheadBytes: 24,
      weigh: (r) => (r.byteLength ?? 0) * 2,
    });
    aggregator.begin('c', ['p1', 'p2']);
    // Share 2048: two of 1000 charged bytes fit, the third does not.
    expect(aggregator.addResult('p1', 'c', many('p1', 2, 488))).toBe('accepted');
    expect(aggregator.stats().pendingBytes).toBe(2000);
    expect(aggregator.addResult('p1', 'c', many('q', 1, 488))).toBe('over-limit');
    expect(full).toEqual([{ correlationId: 'c', collectorId: 'p1', reason: 'bytes' }]);
    aggregator.addResult('p2', 'c', many('p2', 2, 488), { final: true });
    expect(completed[0]?.bytes).toBe(4000);
    expect(completed[0]?.reason).toBe('all-received');
    expect(aggregator.stats().shareFull.bytes).toBe(1);
  });

  it('the default weigh reads a numeric byteLength, else charges only the overhead', () => {
    const { aggregator, completed } = setup();
    aggregator.begin('c', ['p']);
    const odd: unknown = { fingerprint: 'odd', byteLength: 'big' };
    const batch: Blob[] = [b('sized', 1000), b('plain')];
    if (typeof odd === 'object' && odd !== null && 'fingerprint' in odd) {
      batch.push({ fingerprint: String(odd.fingerprint) }, b('negative', -5));
    }
    aggregator.addResult('p', 'c', batch, { final: true });
    expect(completed[0]?.bytes).toBe(1000 + 4 * 256);
  });

  it('a weigh that throws or returns no finite non-negative number makes the result invalid', () => {
    const { aggregator, completed, errors } = setup({
      weigh: (r) => {
        if (r.fingerprint === 'throw') throw new Error('weigh bug');
        return r.fingerprint === 'nan' ? Number.NaN : r.fingerprint === 'neg' ? -1 : 1;
      },
    });
    aggregator.begin('c', ['p']);
    aggregator.addResult('p', 'c', [b('ok'), b('throw'), b('nan'), b('neg')], { final: true });
    expect(completed[0]?.results.map((item) => item.key)).toEqual(['ok']);
    expect(completed[0]?.invalidDropped).toBe(3);
    expect(errors.map((error) => error.message)).toEqual(['weigh threw for correlation id "c"']);
  });
});

describe('maxPendingBytes (all pending sets together)', () => {
  it('refuses with over-budget, ends that part, counts it, and has room again after a completion', () => {
    const { aggregator, full, completed } = setup({
      maxPendingBytes: 2048,
      resultOverheadBytes: 0,
    });
    aggregator.begin('a', ['p1']);
    aggregator.begin('b', ['p1', 'p2']);
    expect(aggregator.addResult('p1', 'a', many('a', 3, 600))).toBe('accepted');
    expect(aggregator.addResult('p2', 'b', many('b', 1, 600))).toBe('over-budget');
    expect(full).toEqual([{ correlationId: 'b', collectorId: 'p2', reason: 'pending-bytes' }]);
    const stats = aggregator.stats();
    expect(stats.pendingBytes).toBe(1800);
    expect(stats.outcomes['over-budget']).toBe(1);
    expect(stats.shareFull['pending-bytes']).toBe(1);
    // Room again once `a` completes.
    aggregator.addResult('p1', 'a', [], { final: true });
    expect(aggregator.stats().pendingBytes).toBe(0);
    expect(aggregator.addResult('p1', 'b', many('b', 3, 600), { final: true })).toBe('accepted');
    expect(completed.map((r) => [r.correlationId, r.reason, r.overflowed])).toEqual([
      ['a', 'all-received', []],
      ['b', 'all-received', ['p2']],
    ]);
  });
});

describe('maxPendingBytesPerCollector (one collector across all pending sets)', () => {
  it('regression: a collector expected in many sets cannot take the whole pending budget from the others', () => {
    const { aggregator, full, completed } = setup({
      maxPendingBytes: 8192,
      maxPendingBytesPerCollector: 2048,
      resultOverheadBytes: 0,
    });
    for (const id of ['t1', 't2', 't3']) aggregator.begin(id, ['bad']);
    aggregator.begin('round', ['p1', 'bad']);
    expect(aggregator.addResult('bad', 't1', many('a', 1, 1000))).toBe('accepted');
    expect(aggregator.addResult('bad', 't2', many('b', 1, 1000))).toBe('accepted');
    expect(aggregator.addResult('bad', 't3', many('c', 1, 1000))).toBe('over-budget');
    expect(full).toEqual([{ correlationId: 't3', collectorId: 'bad', reason: 'collector-bytes' }]);
    // The honest collector still has room (the global budget is far from full).
    expect(aggregator.addResult('p1', 'round', many('p', 2, 1000), { final: true })).toBe(
      'accepted',
    );
    expect(aggregator.stats().shareFull['collector-bytes']).toBe(1);
    expect(aggregator.stats().pendingBytes).toBe(4000);
    // Completing t1 gives bad 1000 bytes of room again.
    aggregator.cancel('t1');
    expect(aggregator.addResult('bad', 'round', many('d', 1, 1000), { final: true })).toBe(
      'accepted',
    );
    expect(completed.map((r) => [r.correlationId, r.reason])).toEqual([
      ['t3', 'overflow'],
      ['t1', 'cancelled'],
      ['round', 'all-received'],
    ]);
  });

  it('reassign hands what the slot holds to the new collector', () => {
    const { aggregator } = setup({
      maxPendingBytesPerCollector: 2048,
      resultOverheadBytes: 0,
    });
    aggregator.begin('s', ['p1']);
    aggregator.begin('other', ['p2']);
    aggregator.addResult('p1', 's', many('x', 2, 1000));
    aggregator.reassign('s', 'p1', 'p2');
    // p2 now answers for 2000 bytes: 1000 more is past its 2048.
    expect(aggregator.addResult('p2', 'other', many('y', 1, 1000))).toBe('over-budget');
    aggregator.begin('third', ['p1']);
    expect(aggregator.addResult('p1', 'third', many('z', 2, 1000))).toBe('accepted');
  });
});

describe('openShares / fullShares (when to stop and resume reading a collector)', () => {
  it('tracks open and full shares across begin, final, failure, overflow, reassign and completion', () => {
    const { aggregator } = setup({ maxResultsPerSet: 2 });
    const state = (id: string) => [aggregator.openShares(id), aggregator.fullShares(id)];
    aggregator.begin('s1', ['bad', 'p1']);
    aggregator.begin('s2', ['bad']);
    aggregator.begin('s3', ['p1', 'p2']);
    expect(state('bad')).toEqual([2, 0]);
    expect(state('p1')).toEqual([2, 0]);
    aggregator.addResult('bad', 's1', many('x', 2));
    expect(state('bad')).toEqual([1, 1]);
    aggregator.addResult('p1', 's3', [], { final: true });
    expect(state('p1')).toEqual([1, 0]);
    aggregator.collectorFailed('p2');
    expect(state('p2')).toEqual([0, 0]);
    expect(aggregator.reassign('s1', 'p1', 'p9')).toBe('reassigned');
    expect(state('p1')).toEqual([0, 0]);
    expect(state('p9')).toEqual([1, 0]);
    expect(aggregator.reassign('s1', 'bad', 'p8')).toBe('already-overflowed');
    aggregator.addResult('p9', 's1', [], { final: true });
    // s1 completed (bad overflowed, p9 final): bad's full share is gone, s2 is still open.
    expect(state('bad')).toEqual([1, 0]);
    aggregator.cancel('s2');
    expect(state('bad')).toEqual([0, 0]);
    expect(state('nobody')).toEqual([0, 0]);
  });

  it('a share-full listener may cancel the set mid-batch: one completion, state consistent', () => {
    const { aggregator, completed } = setup({ maxResultsPerSet: 2 });
    aggregator.on('share-full', (event) => aggregator.cancel(event.correlationId));
    aggregator.begin('c', ['bad', 'p1']);
    expect(aggregator.addResult('bad', 'c', many('x', 5), { final: true })).toBe('over-limit');
    expect(completed.map((r) => [r.reason, r.overflowed])).toEqual([['cancelled', ['bad']]]);
    const stats = aggregator.stats();
    expect(stats.pendingSets).toBe(0);
    expect(stats.pendingResults).toBe(0);
    expect(aggregator.fullShares('bad')).toBe(0);
  });

  it('a throwing share-full listener is reported, and the batch still completes the set', () => {
    const { aggregator, completed, errors } = setup({ maxResultsPerSet: 1 });
    aggregator.on('share-full', () => {
      throw new Error('listener bug');
    });
    aggregator.begin('c', ['bad']);
    expect(aggregator.addResult('bad', 'c', many('x', 2))).toBe('over-limit');
    expect(completed.map((r) => r.reason)).toEqual(['overflow']);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['ERR_AGGREGATOR_CALLBACK_FAILED', `a 'share-full' listener threw for correlation id "c"`],
    ]);
  });
});

describe('reassign and shares', () => {
  it('the slot keeps its usage: the new collector re-sending the same keys costs nothing, new keys count', () => {
    const { aggregator, completed } = setup({ maxResultsPerSet: 3 });
    aggregator.begin('c', ['p1']);
    aggregator.addResult('p1', 'c', many('k', 2));
    expect(aggregator.reassign('c', 'p1', 'p2')).toBe('reassigned');
    expect(aggregator.addResult('p2', 'c', many('k', 2))).toBe('accepted');
    expect(aggregator.addResult('p2', 'c', [b('k-2')])).toBe('accepted');
    expect(aggregator.addResult('p2', 'c', [b('k-3')], { final: true })).toBe('over-limit');
    expect(completed[0]?.reason).toBe('overflow');
    expect(completed[0]?.results.map((item) => item.sources)).toEqual([
      ['p1', 'p2'],
      ['p1', 'p2'],
      ['p2'],
    ]);
  });
});
