import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it, vi } from 'vitest';
import {
  type AggregatedItem,
  type AggregatedResult,
  type AggregatorError,
  defaultContentKey,
  ResultAggregator,
  type ResultAggregatorOptions,
} from './index.js';

interface Detection {
  readonly fingerprint: string;
  readonly kind: string;
  readonly subject: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly collectedAtUnixMs: bigint;
}

const d = (fingerprint: string, exe: string, at = 1n): Detection => ({
  fingerprint,
  kind: 'process',
  subject: `pid:${fingerprint}`,
  attributes: { exe },
  collectedAtUnixMs: at,
});

function setup(options: Omit<ResultAggregatorOptions<Detection>, 'clock'> = {}) {
  const completed: AggregatedResult<Detection>[] = [];
  const errors: AggregatorError[] = [];
  const aggregator = new ResultAggregator<Detection>({
    clock: new FakeClock(),
    onCallbackError: (error) => errors.push(error),
    ...options,
  });
  aggregator.on('complete', (result) => completed.push(result));
  const items = (): readonly AggregatedItem<Detection>[] => {
    expect(completed).toHaveLength(1);
    return completed[0]?.results ?? [];
  };
  return { aggregator, completed, errors, items };
}

describe('conflicts are evidence', () => {
  it('regression (issue 12): a forger answering first never gets an honest collector named in its sources', () => {
    const { aggregator, completed, items } = setup();
    aggregator.begin('round', ['forger', 'honest']);
    aggregator.addResult('forger', 'round', [d('p1', '/tmp/evil'), d('p2', '/bin/sh')], {
      final: true,
    });
    aggregator.addResult('honest', 'round', [d('p1', '/usr/bin/ssh', 7n), d('p2', '/bin/sh', 9n)], {
      final: true,
    });
    const [p1, p2] = items();
    expect(p1).toEqual({
      key: 'p1',
      result: d('p1', '/tmp/evil'),
      sources: ['forger'],
      conflict: true,
      variants: [
        { result: d('p1', '/tmp/evil'), sources: ['forger'] },
        { result: d('p1', '/usr/bin/ssh', 7n), sources: ['honest'] },
      ],
      variantsDropped: 0,
    });
    // The collection time is not content: these two agree.
    expect(p2).toEqual({
      key: 'p2',
      result: d('p2', '/bin/sh'),
      sources: ['forger', 'honest'],
      conflict: false,
    });
    expect(completed[0]?.conflicts).toBe(1);
    expect(aggregator.stats().conflicts).toBe(1);
  });

  it('each later collector joins the variant it agrees with', () => {
    const { aggregator, items } = setup();
    aggregator.begin('c', ['a', 'b', 'c', 'd']);
    aggregator.addResult('a', 'c', [d('k', 'x')], { final: true });
    aggregator.addResult('b', 'c', [d('k', 'y')], { final: true });
    aggregator.addResult('c', 'c', [d('k', 'y')], { final: true });
    aggregator.addResult('d', 'c', [d('k', 'x')], { final: true });
    const [item] = items();
    expect(item?.sources).toEqual(['a', 'd']);
    expect(item?.conflict === true && item.variants.map((v) => v.sources)).toEqual([
      ['a', 'd'],
      ['b', 'c'],
    ]);
  });

  it('contentKey runs only when a copy from another collector arrives, and once for the kept copy', () => {
    const contentKey = vi.fn((r: Detection) => r.attributes.exe ?? '');
    const { aggregator } = setup({ contentKey });
    aggregator.begin('c', ['a', 'b', 'c']);
    aggregator.addResult('a', 'c', [d('k1', 'x'), d('k2', 'x'), d('k3', 'x')]);
    aggregator.addResult('a', 'c', [d('k1', 'x')]);
    expect(contentKey).not.toHaveBeenCalled();
    aggregator.addResult('b', 'c', [d('k1', 'x')]);
    expect(contentKey).toHaveBeenCalledTimes(2);
    aggregator.addResult('c', 'c', [d('k1', 'z')]);
    expect(contentKey).toHaveBeenCalledTimes(3);
  });

  it('a copy that differs from its own earlier copy (same collector) is a re-delivery, not a conflict', () => {
    const { aggregator, items } = setup();
    aggregator.begin('c', ['a']);
    aggregator.addResult('a', 'c', [d('k', 'x')]);
    expect(aggregator.addResult('a', 'c', [d('k', 'y')], { final: true })).toBe('accepted');
    expect(items()).toEqual([{ key: 'k', result: d('k', 'x'), sources: ['a'], conflict: false }]);
  });

  it('a contentKey that throws counts as disagreeing (reported)', () => {
    const { aggregator, errors, items } = setup({
      contentKey: (r) => {
        if (r.attributes.exe === 'boom') throw new Error('contentKey bug');
        return 'same';
      },
    });
    aggregator.begin('c', ['a', 'b', 'c']);
    aggregator.addResult('a', 'c', [d('k', 'x')], { final: true });
    aggregator.addResult('b', 'c', [d('k', 'boom')], { final: true });
    aggregator.addResult('c', 'c', [d('k', 'boom')], { final: true });
    const [item] = items();
    expect(item?.conflict === true && item.variants.map((v) => v.sources)).toEqual([
      ['a'],
      ['b'],
      ['c'],
    ]);
    expect(errors.map((e) => e.message)).toEqual([
      'contentKey threw for correlation id "c"',
      'contentKey threw for correlation id "c"',
    ]);
  });

  it('a contentKey returning no string (untyped caller) counts as disagreeing too', () => {
    const made: unknown = Reflect.construct(ResultAggregator, [
      { clock: new FakeClock(), contentKey: () => 42 },
    ]);
    if (!(made instanceof ResultAggregator)) throw new Error('not an aggregator');
    const completed: AggregatedResult<unknown>[] = [];
    made.on('complete', (result: AggregatedResult<unknown>) => completed.push(result));
    made.begin('c', ['a', 'b']);
    made.addResult('a', 'c', [d('k', 'x')], { final: true });
    made.addResult('b', 'c', [d('k', 'x')], { final: true });
    expect(completed[0]?.conflicts).toBe(1);
  });
});

describe('variant bounds', () => {
  it('maxVariantsPerItem: further contents are refused, counted, and never listed as sources', () => {
    const { aggregator, completed, items } = setup({ maxVariantsPerItem: 2 });
    aggregator.begin('c', ['a', 'b', 'c', 'd']);
    for (const [who, exe] of [
      ['a', 'x'],
      ['b', 'y'],
      ['c', 'z'],
      ['d', 'w'],
    ] as const) {
      aggregator.addResult(who, 'c', [d('k', exe)]);
    }
    // A refused sender re-delivering stays a duplicate.
    expect(aggregator.addResult('c', 'c', [d('k', 'z')])).toBe('duplicate');
    for (const who of ['a', 'b', 'c', 'd']) aggregator.addResult(who, 'c', [], { final: true });
    const [item] = items();
    expect(item?.conflict).toBe(true);
    if (item?.conflict !== true) return;
    expect(item.variants.map((v) => v.sources)).toEqual([['a'], ['b']]);
    expect(item.variantsDropped).toBe(2);
    expect(completed[0]?.variantsDropped).toBe(2);
    expect(aggregator.stats().variantsDropped).toBe(2);
    expect(completed[0]?.reason).toBe('all-received');
  });

  it('maxItemBytes: a variant that would take the item past it is refused', () => {
    const { aggregator, items } = setup({
      maxItemBytes: 2048,
      resultOverheadBytes: 0,
      weigh: (r) => (r.attributes.exe ?? '').length,
    });
    aggregator.begin('c', ['a', 'b', 'c']);
    aggregator.addResult('a', 'c', [d('k', 'x'.repeat(1000))], { final: true });
    aggregator.addResult('b', 'c', [d('k', 'y'.repeat(1000))], { final: true });
    aggregator.addResult('c', 'c', [d('k', 'z'.repeat(100))], { final: true });
    const [item] = items();
    expect(item?.conflict === true && [item.variants.length, item.variantsDropped]).toEqual([2, 1]);
  });

  it('a variant is charged to its sender: one past its share ends its part, and the dissent is kept', () => {
    const { aggregator, completed, items } = setup({ maxResultsPerSet: 2 });
    aggregator.begin('c', ['a', 'bad']);
    aggregator.addResult('bad', 'c', [d('own', 'q')]);
    aggregator.addResult('a', 'c', [d('k', 'x')], { final: true });
    expect(aggregator.addResult('bad', 'c', [d('k', 'forged')])).toBe('over-limit');
    const [own, k] = items();
    expect(own?.sources).toEqual(['bad']);
    expect(k).toMatchObject({ key: 'k', sources: ['a'], conflict: true, variantsDropped: 1 });
    expect(completed[0]?.overflowed).toEqual(['bad']);
  });
});

describe('defaultContentKey', () => {
  it('ignores the top-level collection time and property order, nothing else', () => {
    const base = d('k', 'x', 1n);
    expect(defaultContentKey(base)).toBe(defaultContentKey(d('k', 'x', 99n)));
    const reordered = {
      collectedAtUnixMs: 5n,
      attributes: { exe: 'x' },
      subject: base.subject,
      kind: base.kind,
      fingerprint: base.fingerprint,
    };
    expect(defaultContentKey(reordered)).toBe(defaultContentKey(base));
    expect(defaultContentKey(base)).not.toBe(defaultContentKey(d('k', 'y')));
    expect(defaultContentKey(base)).not.toBe(defaultContentKey({ ...base, kind: 'network' }));
    expect(defaultContentKey(base)).not.toBe(
      defaultContentKey({ ...base, attributes: { exe: 'x', collectedAtUnixMs: '1' } }),
    );
    expect(defaultContentKey({ v: 1 })).not.toBe(defaultContentKey({ v: '1' }));
    expect(defaultContentKey({ v: new Uint8Array([1]) })).not.toBe(
      defaultContentKey({ v: new Uint8Array([2]) }),
    );
    expect(defaultContentKey(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('throws for absurd nesting (so the copy counts as disagreeing)', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = { deep };
    expect(() => defaultContentKey(deep)).toThrow(RangeError);
  });
});
