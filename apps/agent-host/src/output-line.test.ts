import type { AggregatedItem, AggregatedResult } from '@daemoneye/coordinator';
import { type DetectionResultView, detectionResultView } from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import { encodeLine } from './line-encoding.js';
import { resultLine } from './output-line.js';

const view = (i: number, executable: string): DetectionResultView =>
  detectionResultView({
    fingerprint: `p${i}`,
    kind: 'process',
    subject: `pid ${i} "quoted" é`,
    attributes: { pid: String(i), executable, __proto__: 'x', '': '\u0000' },
    collectedAtUnixMs: 2n ** 63n + BigInt(i),
  });

const items: AggregatedItem<DetectionResultView>[] = [
  { key: 'p1', result: view(1, '/sbin/init'), sources: ['a', 'b'], conflict: false },
  {
    key: 'p2',
    result: view(2, '/tmp/forged'),
    sources: ['evil'],
    conflict: true,
    variants: [
      { result: view(2, '/tmp/forged'), sources: ['evil'] },
      { result: view(2, '/usr/bin/real'), sources: ['a'] },
    ],
    variantsDropped: 3,
  },
  ...Array.from({ length: 40 }, (_, i) => ({
    key: `q${i}`,
    result: view(100 + i, `/bin/${'x'.repeat(i)}`),
    sources: ['a'],
    conflict: false as const,
  })),
];

const result: AggregatedResult = {
  correlationId: 'r1',
  kind: 'enumerate',
  mode: 'fan-out',
  complete: false,
  reason: 'timeout',
  results: items,
  expected: ['a', 'b', 'evil'],
  responded: ['a', 'evil'],
  missing: ['b'],
  missingReasons: { b: 'timeout' },
  failedTasks: [],
  duplicatesDropped: 0,
  overflowDropped: 0,
  conflicts: 1,
  overflowed: [],
  startedAt: 10,
  completedAt: 12.3456789,
  startedAtUnixMs: 1_700_000_000_000,
  completedAtUnixMs: 1_700_000_000_002,
};

/** The line as it was built before results came as views: decoded objects, bigint replacer. */
function decodedLine(r: AggregatedResult): Record<string, unknown> {
  const content = (v: DetectionResultView, sources: readonly string[]) => ({
    ...v.decode(),
    sources,
  });
  return {
    type: 'result',
    correlationId: r.correlationId,
    kind: r.kind,
    mode: r.mode,
    complete: r.complete,
    reason: r.reason,
    expected: r.expected,
    responded: r.responded,
    missing: r.missing,
    missingReasons: r.missingReasons,
    resultCount: r.results.length,
    conflicts: r.conflicts,
    overflowed: r.overflowed,
    results: r.results.map((item) =>
      item.conflict
        ? {
            ...content(item.result, item.sources),
            conflict: true,
            variants: item.variants.map((v) => content(v.result, v.sources)),
            variantsDropped: item.variantsDropped,
          }
        : { ...content(item.result, item.sources), conflict: false },
    ),
    startedAt: new Date(r.startedAtUnixMs).toISOString(),
    completedAt: new Date(r.completedAtUnixMs).toISOString(),
    latencyMs: Math.round((r.completedAt - r.startedAt) * 1000) / 1000,
  };
}

describe('result line from the results bytes', () => {
  it('is byte for byte the line of the decoded results, whole and cut at every size', () => {
    const prepared = resultLine(result);
    expect(prepared.latencyMs).toBe(2.346);
    const plain = decodedLine(result);
    const whole = encodeLine(plain, 1 << 20);
    expect(encodeLine(prepared, 1 << 20)).toEqual(whole);
    expect(whole.status).toBe('written');
    // Every cut: the same leading results kept, the same counts.
    for (let max = 256; max < whole.line.length + 64; max += 97) {
      expect(encodeLine(prepared, max)).toEqual(encodeLine(plain, max));
    }
  });
});
