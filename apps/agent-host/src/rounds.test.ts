import type {
  AggregatedItem,
  AggregatedResult,
  DispatchRequest,
  FanOutRequest,
} from '@daemoneye/coordinator';
import { type DetectionResultView, detectionResultView } from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import { encodeLine } from './line-encoding.js';
import { createLogger } from './log.js';
import { type OutputLine, resultLine } from './output-line.js';
import { RoundPolicy } from './rounds.js';

const proc = (pid: number, executable: string): DetectionResultView =>
  detectionResultView({
    fingerprint: `p${pid}`,
    kind: 'process',
    subject: `pid ${pid}`,
    attributes: { pid: String(pid), executable },
    collectedAtUnixMs: 1n,
  });

const honest: AggregatedItem<DetectionResultView> = {
  key: 'p1',
  result: proc(1, '/sbin/init'),
  sources: ['a', 'b'],
  conflict: false,
};
const disputed: AggregatedItem<DetectionResultView> = {
  key: 'p2',
  result: proc(2, '/tmp/forged'),
  sources: ['evil'],
  conflict: true,
  variants: [
    { result: proc(2, '/tmp/forged'), sources: ['evil'] },
    { result: proc(2, '/usr/bin/real'), sources: ['a'] },
  ],
  variantsDropped: 0,
};

function enumerated(results: AggregatedItem<DetectionResultView>[]): AggregatedResult {
  return {
    correlationId: 'r1',
    kind: 'enumerate',
    mode: 'fan-out',
    complete: true,
    reason: 'all-received',
    results,
    expected: ['a', 'b', 'evil'],
    responded: ['a', 'b', 'evil'],
    missing: [],
    missingReasons: {},
    failedTasks: [],
    duplicatesDropped: 0,
    overflowDropped: 0,
    conflicts: results.filter((r) => r.conflict).length,
    overflowed: [],
    startedAt: 0,
    completedAt: 1,
    startedAtUnixMs: 0,
    completedAtUnixMs: 1,
  };
}

describe('round policy: integrity targets', () => {
  it('come only from items without conflict', async () => {
    const dispatched: unknown[] = [];
    const coordinator = {
      fanOut: (_r: FanOutRequest) => Promise.resolve(enumerated([honest, disputed])),
      dispatch: (r: DispatchRequest) => {
        dispatched.push(JSON.parse(Buffer.from(r.payload ?? new Uint8Array()).toString('utf8')));
        return Promise.resolve(enumerated([]));
      },
    };
    const policy = new RoundPolicy(
      coordinator,
      createLogger('error', () => undefined),
      {
        timeoutMs: 1000,
        integrityPerRound: 10,
      },
    );
    expect(await policy.round(1)).toBe('ran');
    expect(dispatched).toEqual([{ pid: 1, executable: '/sbin/init' }]);
  });
});

describe('NDJSON result line', () => {
  it('shows a conflict with every variant and its sources', () => {
    const encoded = encodeLine(resultLine(enumerated([honest, disputed])), 1 << 20);
    expect(encoded.status).toBe('written');
    const line = JSON.parse(encoded.line.toString()) as OutputLine;
    expect(line.conflicts).toBe(1);
    expect(line.results[0]).toMatchObject({
      fingerprint: 'p1',
      conflict: false,
      sources: ['a', 'b'],
    });
    const item = line.results[1];
    expect(item?.conflict).toBe(true);
    if (item?.conflict !== true) return;
    expect(item.variants.map((v) => [v.attributes.executable, v.sources])).toEqual([
      ['/tmp/forged', ['evil']],
      ['/usr/bin/real', ['a']],
    ]);
    // Bigint times are strings.
    expect(line.results[0]?.collectedAtUnixMs).toBe('1');
  });
});
