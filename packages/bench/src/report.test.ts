import { describe, expect, it } from 'vitest';
import { formatValue, markdownRow, markdownTable } from './report.js';
import { distributionRow, rowMeets, targetRatio, valueRow } from './result.js';
import { seededRandom } from './rng.js';
import { summarize } from './stats.js';

describe('rows and targets', () => {
  it('computes measured / target and the verdict of a maximum', () => {
    const row = distributionRow('x', 'us', summarize([1, 2, 3, 4]), {
      target: { kind: 'max', value: 2, on: 'p99' },
    });
    expect(targetRatio(row)).toBe(2);
    expect(rowMeets(row)).toBe(false);
    expect(markdownRow(row)).toContain('MISSED');
  });

  it('checks a minimum and ratio targets together', () => {
    const row = valueRow('tp', 'results/s', 300_000, 10, {
      target: { kind: 'min', value: 200_000, on: 'value' },
      ratios: [{ label: 'ours / base', value: 4, target: { kind: 'min', value: 5 } }],
    });
    expect(targetRatio(row)).toBe(1.5);
    expect(rowMeets(row)).toBe(false);
  });

  it('pads table columns the way the formatter keeps them', () => {
    expect(markdownTable(['a', 'bb'], [['long cell', 'x']]).split('\n')).toEqual([
      '| a         | bb  |',
      '| --------- | --- |',
      '| long cell | x   |',
    ]);
  });

  it('formats units', () => {
    expect(formatValue(1.234, 'us')).toBe('1.23 us');
    expect(formatValue(250_000.4, 'results/s')).toBe('250,000 /s');
    expect(formatValue(null, 'ms')).toBe('-');
  });
});

describe('seededRandom', () => {
  it('repeats its stream for the same seed and stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    for (let i = 0; i < 1000; i++) {
      const value = a();
      expect(value).toBe(b());
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });
});
