import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { distScript } from '../harness.js';
import { type Row, valueRow } from '../result.js';
import type { Scenario } from '../scenario.js';

const run = promisify(execFile);

async function probe(args: string[]): Promise<Record<string, number>> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', distScript('memory-probe.js'), ...args],
    {
      maxBuffer: 1024 * 1024,
    },
  );
  const value: unknown = JSON.parse(stdout.trim());
  if (typeof value !== 'object' || value === null) throw new Error('memory-probe: bad output');
  const out: Record<string, number> = {};
  for (const [key, field] of Object.entries(value)) if (typeof field === 'number') out[key] = field;
  return out;
}

const get = (record: Record<string, number>, key: string): number => record[key] ?? Number.NaN;

/** Heap and RSS per pending set and result, and bounded memory under a flood. */
export const memoryScenario: Scenario = {
  name: 'memory',
  description:
    'Each figure from a fresh process started with --expose-gc (heap after 4 gc() calls). Per pending set: ResultAggregator.begin with 4 expected collectors. Per pending result: addResult of distinct results into 100-result sets, bookkeeping only (result objects already alive) and with the result objects (DetectionResult-like, 4 strings + 2 attributes). Flood: 10 000 sets and 100 000 registry tasks (the default limits), then 200 000 more begins, tasks and unknown-correlation results and 50 000 results into one set; heap after vs at the limit.',
  async run(context) {
    const rows: Row[] = [];
    const sizes = context.quick ? [10_000] : [10_000, 100_000];
    for (const n of sizes) {
      context.progress(`memory: ${n} sets`);
      const sets = await probe(['sets', String(n)]);
      rows.push(
        valueRow(
          `heap per pending set @ ${n.toLocaleString('en-US')}`,
          'B',
          get(sets, 'heapPer'),
          n,
        ),
        valueRow(`RSS per pending set @ ${n.toLocaleString('en-US')}`, 'B', get(sets, 'rssPer'), n),
      );
      context.progress(`memory: ${n} results`);
      const results = await probe(['results', String(n)]);
      const whole = await probe(['results-with', String(n)]);
      rows.push(
        valueRow(
          `heap per pending result (bookkeeping) @ ${n.toLocaleString('en-US')}`,
          'B',
          get(results, 'heapPer'),
          n,
        ),
        valueRow(
          `heap per pending result (with result) @ ${n.toLocaleString('en-US')}`,
          'B',
          get(whole, 'heapPer'),
          n,
        ),
        valueRow(
          `RSS per pending result (with result) @ ${n.toLocaleString('en-US')}`,
          'B',
          get(whole, 'rssPer'),
          n,
        ),
      );
    }
    context.progress('memory: flood');
    const flood = await probe(['flood']);
    const growth = get(flood, 'afterFloodHeap') / get(flood, 'atLimitHeap');
    rows.push(
      valueRow('heap at the limits', 'MiB', get(flood, 'atLimitHeap') / 2 ** 20, 1, {
        baseline: true,
      }),
      valueRow('heap after the flood', 'MiB', get(flood, 'afterFloodHeap') / 2 ** 20, 1, {
        ratios: [{ label: 'after / at limit', value: growth, target: { kind: 'max', value: 1.1 } }],
      }),
      valueRow('RSS after the flood', 'MiB', get(flood, 'afterFloodRss') / 2 ** 20, 1, {
        ratios: [
          {
            label: 'after / at limit',
            value: get(flood, 'afterFloodRss') / get(flood, 'atLimitRss'),
          },
        ],
      }),
    );
    return {
      rows,
      notes: [
        `Flood: ${get(flood, 'rejectedBegins')} begins refused (ERR_TOO_MANY_PENDING), ${get(flood, 'rejectedTasks')} tasks refused by the registry, ${get(flood, 'unknown')} results counted unknown-correlation, ${get(flood, 'completedOverflow')} set completed with overflow; pending sets stayed at ${get(flood, 'pendingSets')}, registry tasks at ${get(flood, 'pendingTasks')}.`,
        'RSS moves in pages and keeps freed memory: per-item RSS is only indicative, mostly at 10 000.',
        '"Bounded" means heap after the flood within 10 % of the heap at the limits (the ratio target above).',
      ],
    };
  },
};
