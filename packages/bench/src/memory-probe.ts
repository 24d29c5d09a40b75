// Measures memory in a fresh process started with --expose-gc; prints one JSON line.
//   sets N      heap and RSS per pending correlation set (4 expected collectors, no results)
//   results N   heap and RSS per pending result, bookkeeping only (objects already alive)
//   results-with N  the same including the DetectionResult-like objects
//   flood       memory before and after a flood beyond every aggregator and registry limit
import { ResultAggregator } from '@daemoneye/aggregator';
import { PendingTaskRegistry } from '@daemoneye/failover';

interface Result {
  readonly fingerprint: string;
  readonly kind: string;
  readonly subject: string;
  readonly attributes: Record<string, string>;
}

const gc: () => void =
  typeof globalThis.gc === 'function'
    ? globalThis.gc
    : () => {
        throw new Error('memory-probe needs --expose-gc');
      };

function settle(): { heap: number; rss: number } {
  for (let i = 0; i < 4; i++) gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

function makeResult(i: number): Result {
  return {
    fingerprint: `collector-1/task-${i >> 8}/${i}`,
    kind: 'process',
    subject: `pid:${1000 + i}`,
    attributes: { exe: '/usr/bin/example', user: 'root' },
  };
}

function perSet(n: number): object {
  const aggregator = new ResultAggregator<Result>({ maxPendingSets: n, timeoutMs: 3_600_000 });
  const ids = Array.from({ length: n }, (_, i) => `corr-${i}`);
  const expected = ['procmond-1', 'procmond-2', 'netmond-1', 'netmond-2'];
  const before = settle();
  for (const id of ids) aggregator.begin(id, expected);
  const after = settle();
  const pending = aggregator.stats().pendingSets;
  aggregator.close();
  return {
    n,
    pending,
    heapPer: (after.heap - before.heap) / n,
    rssPer: (after.rss - before.rss) / n,
  };
}

function fill(
  n: number,
  prebuilt: readonly Result[] | undefined,
): { heap: number; rss: number; pending: number } {
  const perSetResults = 100;
  const sets = Math.ceil(n / perSetResults);
  const aggregator = new ResultAggregator<Result>({
    maxPendingSets: sets,
    timeoutMs: 3_600_000,
    // Up to 100 000 results from one collector: the default byte budgets (8 MiB per collector,
    // 32 MiB pending) would refuse most of them and the figure would be the refusal path's.
    // Raised so that every result is held and the heap per pending result is measured.
    maxBytesPerSet: 2 ** 36,
    maxPendingBytes: 2 ** 36,
    maxPendingBytesPerCollector: 2 ** 36,
  });
  for (let s = 0; s < sets; s++) aggregator.begin(`corr-${s}`, ['c1', 'c2']);
  const before = settle();
  for (let i = 0; i < n; i++) {
    const result = prebuilt ? prebuilt[i] : makeResult(i);
    if (result) aggregator.addResult('c1', `corr-${Math.floor(i / perSetResults)}`, [result]);
  }
  const after = settle();
  const pending = aggregator.stats().pendingResults;
  aggregator.close();
  return { heap: after.heap - before.heap, rss: after.rss - before.rss, pending };
}

function perResult(n: number, withObjects: boolean): object {
  if (withObjects) {
    // Bookkeeping plus the decoded result objects the aggregator keeps alive.
    const whole = fill(n, undefined);
    return { n, pending: whole.pending, heapPer: whole.heap / n, rssPer: whole.rss / n };
  }
  // Bookkeeping only: the result objects exist before and are not counted.
  const prebuilt = Array.from({ length: n }, (_, i) => makeResult(i));
  const index = fill(n, prebuilt);
  return {
    n,
    pending: index.pending,
    heapPer: index.heap / n,
    rssPer: index.rss / n,
    kept: prebuilt.length,
  };
}

function flood(): object {
  const aggregator = new ResultAggregator<Result>({ timeoutMs: 3_600_000 });
  const registry = new PendingTaskRegistry({});
  const limit = 10_000;
  for (let i = 0; i < limit; i++) aggregator.begin(`corr-${i}`, ['c1']);
  let added = 0;
  for (let i = 0; i < 10_000; i++) {
    aggregator.addResult('c1', 'corr-0', [makeResult(i)]);
    added++;
  }
  for (let i = 0; i < 100_000; i++) registry.assign({ taskId: `t-${i}`, correlationId: 'x' }, 'c1');
  const atLimit = settle();
  let rejectedBegins = 0;
  let rejectedTasks = 0;
  for (let i = 0; i < 200_000; i++) {
    try {
      aggregator.begin(`over-${i}`, ['c1']);
    } catch {
      rejectedBegins++;
    }
    try {
      registry.assign({ taskId: `over-${i}`, correlationId: 'x' }, 'c1');
    } catch {
      rejectedTasks++;
    }
    aggregator.addResult('c1', `unknown-${i}`, [makeResult(i)]);
  }
  // One set flooded beyond maxResultsPerSet completes with `overflow` instead of growing.
  for (let i = 0; i < 50_000; i++) aggregator.addResult('c1', 'corr-1', [makeResult(i)]);
  const afterFlood = settle();
  // Read both after the last measurement: V8 may collect an object whose last use has passed.
  const stats = aggregator.stats();
  const pendingTasks = registry.stats().pending;
  aggregator.close();
  return {
    atLimitHeap: atLimit.heap,
    afterFloodHeap: afterFlood.heap,
    atLimitRss: atLimit.rss,
    afterFloodRss: afterFlood.rss,
    rejectedBegins,
    rejectedTasks,
    added,
    pendingSets: stats.pendingSets,
    pendingTasks,
    completedOverflow: stats.completed.overflow,
    unknown: stats.outcomes['unknown-correlation'],
  };
}

const [mode, arg] = process.argv.slice(2);
const n = Number(arg ?? '10000');
const output =
  mode === 'sets'
    ? perSet(n)
    : mode === 'results'
      ? perResult(n, false)
      : mode === 'results-with'
        ? perResult(n, true)
        : flood();
process.stdout.write(`${JSON.stringify(output)}\n`);
