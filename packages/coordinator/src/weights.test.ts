import { DetectionResult } from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import { contentKey, encodedSize } from './weights.js';

const base: DetectionResult = {
  fingerprint: 'fp',
  kind: 'process',
  subject: 'pid 1',
  attributes: { pid: '1', executable: '/sbin/init' },
  collectedAtUnixMs: 1_700_000_000_000n,
};

describe('encodedSize (the aggregator weigh)', () => {
  it.each([
    ['typical', base],
    ['empty', { fingerprint: '', kind: '', subject: '', attributes: {}, collectedAtUnixMs: 0n }],
    [
      'unicode and empty values',
      { ...base, subject: 'é☃𝄞', attributes: { a: '', '': 'b', ü: 'ß' } },
    ],
    [
      'long strings',
      { ...base, fingerprint: 'x'.repeat(300), attributes: { k: 'v'.repeat(20_000) } },
    ],
    ['max uint64', { ...base, collectedAtUnixMs: 2n ** 64n - 1n }],
    [
      'many attributes',
      {
        ...base,
        attributes: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, `${i}`])),
      },
    ],
  ])('matches DetectionResult.encode: %s', (_name, r) => {
    expect(encodedSize(r)).toBe(DetectionResult.encode(r).finish().length);
  });
});

describe('contentKey (conflicts)', () => {
  it('ignores the collection time and the attribute order, sees every other difference', () => {
    const k = contentKey(base);
    expect(contentKey({ ...base, collectedAtUnixMs: 1n })).toBe(k);
    expect(contentKey({ ...base, attributes: { executable: '/sbin/init', pid: '1' } })).toBe(k);
    expect(contentKey({ ...base, attributes: { pid: '1', executable: '/tmp/evil' } })).not.toBe(k);
    expect(contentKey({ ...base, subject: 'pid 2' })).not.toBe(k);
    expect(contentKey({ ...base, kind: 'file' })).not.toBe(k);
    // A volatile measurement is not content: two honest reads of it differ.
    const rss = (value: string) =>
      contentKey({ ...base, attributes: { ...base.attributes, 'volatile.rss': value } });
    expect(rss('4096')).toBe(rss('8192'));
    expect(rss('4096')).toBe(k);
    // No ambiguity from separators inside the strings.
    expect(contentKey({ ...base, attributes: { 'a","b': 'c' } })).not.toBe(
      contentKey({ ...base, attributes: { a: 'b","c' } }),
    );
  });
});
