import { encodeEnvelope, type TaskAssignment, type TaskResultView } from '@daemoneye/proto';
import { RawPeer, startTransportFleet } from '../harness.js';
import { distributionRow } from '../result.js';
import { iterations, type Scenario } from '../scenario.js';
import { nsToUs, Samples } from '../stats.js';
import { BENCH_TASK_KIND, encodeWork, SENT_NS_ATTRIBUTE } from '../work.js';

/** Reads the sender's hrtime stamp from a final TaskResult; 0n when absent. */
export function sentNsOf(result: TaskResultView): bigint {
  for (let i = result.results.length - 1; i >= 0; i--) {
    const stamp = result.results[i]?.attributes[SENT_NS_ATTRIBUTE];
    if (stamp !== undefined) return BigInt(stamp);
  }
  return 0n;
}

function task(n: number): TaskAssignment {
  return {
    taskId: `t${n}`,
    correlationId: `c${n}`,
    taskKind: BENCH_TASK_KIND,
    payload: encodeWork({ batches: 1, batchSize: 0 }),
    deadlineUnixMs: 0n,
  };
}

/** Raw Unix-socket echo with our framing vs the Broker/CollectorClient request->reply. */
export const floorScenario: Scenario = {
  name: 'floor',
  description:
    'Round trip agent -> collector process -> agent: raw Unix socket echo with the same u32 framing (the floor) vs Broker.assignTask -> CollectorClient.sendResult(final) -> broker task-result; and one-way collector write -> agent decode.',
  async run(context) {
    const { warmup, measured } = iterations(context.quick, [2000, 20_000], [200, 2000]);
    const requestBytes = encodeEnvelope({
      messageId: 1n,
      body: { $case: 'taskAssignment', value: task(1) },
    });

    context.progress('floor: raw socket and transport, alternating');
    const raw = await RawPeer.start();
    const rawRtt = new Samples(measured);
    const rawOneWay = new Samples(measured);
    const rtt = new Samples(measured);
    const oneWay = new Samples(measured);
    try {
      const fleet = await startTransportFleet(1, { prefix: 'floor' });
      try {
        const id = fleet.ids[0] ?? 'floor-1';
        let waiter: ((at: bigint, result: TaskResultView) => void) | undefined;
        fleet.broker.on('task-result', (_collector, result) => {
          const at = process.hrtime.bigint();
          const resolve = waiter;
          waiter = undefined;
          resolve?.(at, result);
        });
        const total = warmup + measured;
        // Blocks of 500 alternate between the paths so both see the same background load.
        for (let from = 0; from < total; from += 500) {
          const to = Math.min(total, from + 500);
          for (let i = from; i < to; i++) {
            const ns = await raw.roundTrip(requestBytes);
            if (i >= warmup) rawRtt.push(nsToUs(ns));
          }
          for (let i = from; i < to; i++) {
            const ns = await raw.oneWay();
            if (i >= warmup) rawOneWay.push(nsToUs(ns));
          }
          for (let i = from; i < to; i++) {
            const reply = new Promise<{ at: bigint; result: TaskResultView }>((resolve) => {
              waiter = (at, result) => resolve({ at, result });
            });
            const start = process.hrtime.bigint();
            fleet.broker.assignTask(id, task(i));
            const { at, result } = await reply;
            if (i >= warmup) {
              rtt.push(nsToUs(at - start));
              oneWay.push(nsToUs(at - sentNsOf(result)));
            }
          }
        }
      } finally {
        await fleet.close();
      }
    } finally {
      await raw.close();
    }

    const rawRttSummary = rawRtt.summary();
    const rawOneWaySummary = rawOneWay.summary();
    const rttSummary = rtt.summary();
    const oneWaySummary = oneWay.summary();
    context.shared.set('floor/raw-one-way-p99', rawOneWaySummary.p99);
    return {
      rows: [
        distributionRow('raw socket echo round trip', 'us', rawRttSummary, { baseline: true }),
        distributionRow('transport request->reply round trip', 'us', rttSummary, {
          ratios: [
            { label: 'p50 / raw p50', value: rttSummary.p50 / rawRttSummary.p50 },
            { label: 'p99 / raw p99', value: rttSummary.p99 / rawRttSummary.p99 },
          ],
        }),
        distributionRow('raw socket one-way (peer write -> decoded)', 'us', rawOneWaySummary, {
          baseline: true,
        }),
        distributionRow(
          'transport one-way (sendResult -> task-result event)',
          'us',
          oneWaySummary,
          {
            ratios: [
              { label: 'p50 / raw p50', value: oneWaySummary.p50 / rawOneWaySummary.p50 },
              { label: 'p99 / raw p99', value: oneWaySummary.p99 / rawOneWaySummary.p99 },
            ],
          },
        ),
      ],
      notes: [
        `request: a ${requestBytes.length}-byte TaskAssignment envelope; the raw peer echoes it unparsed, the collector answers with a TaskResult carrying one stamp result.`,
      ],
    };
  },
};
