import { ResultAggregator } from '@daemoneye/aggregator';
import { distributionRow } from '../result.js';
import { iterations, type Scenario } from '../scenario.js';
import { nsToUs, Samples } from '../stats.js';

interface Item {
  readonly fingerprint: string;
}

/** In-process addResult + completion cost with 10 000 sets pending (issue 3). */
export const aggregatorScenario: Scenario = {
  name: 'aggregator',
  description:
    'ResultAggregator in process, 10 000 other sets pending: (a) addResult of one result marked final, which completes its set (onComplete included); (b) addResult of one new result into a set expecting 4 collectors (no completion).',
  async run(context) {
    const { warmup, measured } = iterations(context.quick, [10_000, 200_000], [1000, 20_000]);
    let completed = 0;
    const aggregator = new ResultAggregator<Item>({
      maxPendingSets: 20_000,
      maxResultsPerSet: 1_000_000,
      // Up to 210 000 results go into one open set: the default byte budgets (8 MiB per set,
      // shared out per collector; 8 MiB per collector; 32 MiB pending) would refuse them after
      // about 13 000 and case (b) would time the refusal path. Raised so it times addResult.
      maxBytesPerSet: 2 ** 36,
      maxPendingBytes: 2 ** 36,
      maxPendingBytesPerCollector: 2 ** 36,
      recentCompletedCapacity: 10_000,
      timeoutMs: 3_600_000,
      onComplete: () => {
        completed++;
      },
    });
    for (let i = 0; i < 10_000; i++) aggregator.begin(`bg-${i}`, ['a', 'b', 'c', 'd']);
    const final = new Samples(measured);
    for (let i = 0; i < warmup + measured; i++) {
      const id = `f-${i}`;
      aggregator.begin(id, ['c1']);
      const item: Item = { fingerprint: `r-${i}` };
      const start = process.hrtime.bigint();
      aggregator.addResult('c1', id, [item], { final: true });
      const end = process.hrtime.bigint();
      if (i >= warmup) final.push(nsToUs(end - start));
    }
    const streaming = new Samples(measured);
    // Sets of at most 50 000 results each, so no set holds the whole run.
    let current = '';
    for (let n = 0; n < warmup + measured; n++) {
      if (n % 50_000 === 0) {
        if (current !== '') aggregator.cancel(current);
        current = `s-${n}`;
        aggregator.begin(current, ['c1', 'c2', 'c3', 'c4']);
      }
      const item: Item = { fingerprint: `x-${n}` };
      const collector = `c${(n % 4) + 1}`;
      const start = process.hrtime.bigint();
      aggregator.addResult(collector, current, [item]);
      const end = process.hrtime.bigint();
      if (n >= warmup) streaming.push(nsToUs(end - start));
    }
    aggregator.cancel(current);
    const pending = aggregator.stats().pendingSets;
    aggregator.close();
    return {
      rows: [
        distributionRow('addResult(final) + completion, 10 000 pending', 'us', final.summary(), {
          target: { kind: 'max', value: 5, on: 'p99' },
        }),
        distributionRow('addResult(1 new result), 10 000 pending', 'us', streaming.summary(), {
          target: { kind: 'max', value: 5, on: 'p99' },
        }),
      ],
      notes: [
        `${completed} sets completed during the run; ${pending} pending at the end (10 000 background sets). Timer overhead included.`,
      ],
    };
  },
};
