import type { ChildProcess } from 'node:child_process';
import { type AggregatedResult, ResultAggregator } from '@daemoneye/aggregator';
import type { DetectionResult, TaskResult } from '@daemoneye/proto';
import {
  type IpcFleet,
  RawPeer,
  startIpcFleet,
  startTransportFleet,
  type TransportFleet,
} from '../harness.js';
import { distributionRow, type Row } from '../result.js';
import { iterations, type Scenario } from '../scenario.js';
import { nsToUs, Samples, type Summary } from '../stats.js';
import {
  BENCH_TASK_KIND,
  encodeWork,
  type IpcTask,
  isIpcResult,
  type JsonResult,
  type WorkSpec,
} from '../work.js';
import { sentNsOf } from './floor.js';

/** Per-round latencies of one scatter-gather path. */
export interface GatherSamples {
  /** Last collector's `final` write -> aggregator completion, microseconds. */
  readonly finalToComplete: Samples;
  /** Dispatch (begin + send) -> aggregator completion, microseconds. */
  readonly dispatchToComplete: Samples;
}

interface Round {
  lastFinalNs: bigint;
  resolve: (at: bigint) => void;
}

/** One scatter-gather path that can run one round at a time, recording into its samples. */
export interface Gatherer {
  readonly samples: GatherSamples;
  /** Runs round `i`; records it when `record` is true. */
  round(i: number, record: boolean): Promise<void>;
  close(): void;
}

function newSamples(capacity: number): GatherSamples {
  return { finalToComplete: new Samples(capacity), dispatchToComplete: new Samples(capacity) };
}

async function awaitRound(
  rounds: Map<string, Round>,
  correlationId: string,
  dispatch: () => void,
  samples: GatherSamples,
  record: boolean,
): Promise<void> {
  let round: Round | undefined;
  const done = new Promise<bigint>((resolve) => {
    round = { lastFinalNs: 0n, resolve };
  });
  if (!round) throw new Error('unreachable');
  rounds.set(correlationId, round);
  const start = process.hrtime.bigint();
  dispatch();
  const at = await done;
  rounds.delete(correlationId);
  if (record) {
    samples.finalToComplete.push(nsToUs(at - round.lastFinalNs));
    samples.dispatchToComplete.push(nsToUs(at - start));
  }
}

/**
 * Scatter-gather through the Broker and ResultAggregator: each round begins a set expecting
 * every collector, assigns one task to each, and waits for the aggregate.
 */
export function transportGatherer(
  fleet: TransportFleet,
  work: WorkSpec,
  capacity: number,
  label: string,
): Gatherer {
  const rounds = new Map<string, Round>();
  const aggregator = new ResultAggregator<DetectionResult>({
    onComplete: (result: AggregatedResult<DetectionResult>) => {
      const at = process.hrtime.bigint();
      rounds.get(result.correlationId)?.resolve(at);
    },
  });
  const onResult = (collectorId: string, result: TaskResult): void => {
    if (result.final) {
      const round = rounds.get(result.correlationId);
      const sent = sentNsOf(result);
      if (round && sent > round.lastFinalNs) round.lastFinalNs = sent;
    }
    aggregator.addResult(collectorId, result.correlationId, result.results, {
      final: result.final,
    });
  };
  fleet.broker.on('task-result', onResult);
  const payload = encodeWork(work);
  const samples = newSamples(capacity);
  return {
    samples,
    round(i, record) {
      const correlationId = `${label}-${i}`;
      return awaitRound(
        rounds,
        correlationId,
        () => {
          aggregator.begin(correlationId, fleet.ids);
          for (const id of fleet.ids) {
            fleet.broker.assignTask(id, {
              taskId: `${correlationId}/${id}`,
              correlationId,
              taskKind: BENCH_TASK_KIND,
              payload,
              deadlineUnixMs: 0n,
            });
          }
        },
        samples,
        record,
      );
    },
    close() {
      fleet.broker.off('task-result', onResult);
      aggregator.close();
    },
  };
}

/** The same rounds over `child_process` IPC with JSON, into the same ResultAggregator. */
export function ipcGatherer(
  fleet: IpcFleet,
  work: WorkSpec,
  capacity: number,
  label: string,
): Gatherer {
  const rounds = new Map<string, Round>();
  const aggregator = new ResultAggregator<JsonResult>({
    onComplete: (result: AggregatedResult<JsonResult>) => {
      const at = process.hrtime.bigint();
      rounds.get(result.correlationId)?.resolve(at);
    },
  });
  const onMessage = (message: unknown): void => {
    if (!isIpcResult(message)) return;
    if (message.final) {
      const round = rounds.get(message.correlationId);
      const sent = BigInt(message.sentNs || '0');
      if (round && sent > round.lastFinalNs) round.lastFinalNs = sent;
    }
    aggregator.addResult(message.collectorId, message.correlationId, message.results, {
      final: message.final,
    });
  };
  const byId = new Map<string, ChildProcess>();
  fleet.ids.forEach((id, index) => {
    const child = fleet.children[index];
    if (!child) return;
    byId.set(id, child);
    child.on('message', onMessage);
  });
  const samples = newSamples(capacity);
  return {
    samples,
    round(i, record) {
      const correlationId = `${label}-${i}`;
      return awaitRound(
        rounds,
        correlationId,
        () => {
          aggregator.begin(correlationId, fleet.ids);
          for (const [id, child] of byId) {
            const task: IpcTask = {
              type: 'task',
              taskId: `${correlationId}/${id}`,
              correlationId,
              batches: work.batches,
              batchSize: work.batchSize,
            };
            child.send(task);
          }
        },
        samples,
        record,
      );
    },
    close() {
      for (const child of byId.values()) child.off('message', onMessage);
      aggregator.close();
    },
  };
}

/**
 * Runs the gatherers in alternating blocks of `block` rounds, so that both see the same
 * background load on a shared machine; the first `warmup` rounds of each are not recorded.
 */
export async function alternate(
  gatherers: readonly Gatherer[],
  warmup: number,
  measured: number,
  block = 100,
): Promise<void> {
  const total = warmup + measured;
  for (let from = 0; from < total; from += block) {
    for (const gatherer of gatherers) {
      for (let i = from; i < Math.min(total, from + block); i++)
        await gatherer.round(i, i >= warmup);
    }
  }
}

/** Raw one-way p99 of this run (peer write -> decoded), the floor of the 2x target. */
async function rawOneWay(warmup: number, measured: number): Promise<Summary> {
  const peer = await RawPeer.start();
  const samples = new Samples(measured);
  try {
    for (let i = 0; i < warmup + measured; i++) {
      const ns = await peer.oneWay();
      if (i >= warmup) samples.push(nsToUs(ns));
    }
  } finally {
    await peer.close();
  }
  return samples.summary();
}

const WORK: WorkSpec = { batches: 1, batchSize: 8 };
const KS = [1, 4, 16] as const;

/** Aggregation latency with K real collector processes, vs the child_process JSON baseline. */
export const aggregationScenario: Scenario = {
  name: 'aggregation',
  description: `Scatter-gather with K = 1, 4, 16 real collector processes, each answering one TaskResult of ${WORK.batchSize} results marked final; one round in flight. "final -> complete" runs from the last collector's process.hrtime.bigint() just before its final write to the aggregator's onComplete in the agent (CLOCK_MONOTONIC, shared by processes on Linux); "dispatch -> complete" from begin() to onComplete. Baseline: the same rounds over child_process IPC (process.send, JSON) into the same ResultAggregator, both fleets alive at once and run in alternating blocks of 100 rounds so that both see the same background load.`,
  async run(context) {
    const rows: Row[] = [];
    const probe = iterations(context.quick, [2000, 20_000], [200, 2000]);
    context.progress('aggregation: raw one-way');
    const raw = await rawOneWay(probe.warmup, probe.measured);
    rows.push(
      distributionRow('raw socket one-way (peer write -> decoded)', 'us', raw, { baseline: true }),
    );
    for (const k of KS) {
      const { warmup, measured } =
        k === 16
          ? iterations(context.quick, [300, 3000], [30, 200])
          : iterations(context.quick, [500, 5000], [50, 500]);
      context.progress(`aggregation: K=${k}, transport and child_process alternating`);
      const fleet = await startTransportFleet(k, { prefix: `agg${k}` });
      let ours: GatherSamples;
      let base: GatherSamples;
      try {
        const ipcFleet = await startIpcFleet(k);
        try {
          const transport = transportGatherer(fleet, WORK, measured, `k${k}`);
          const ipc = ipcGatherer(ipcFleet, WORK, measured, `k${k}`);
          await alternate([transport, ipc], warmup, measured);
          transport.close();
          ipc.close();
          ours = transport.samples;
          base = ipc.samples;
        } finally {
          await ipcFleet.close();
        }
      } finally {
        await fleet.close();
      }
      const oursFinal = ours.finalToComplete.summary();
      const oursDispatch = ours.dispatchToComplete.summary();
      const baseFinal = base.finalToComplete.summary();
      const baseDispatch = base.dispatchToComplete.summary();
      rows.push(
        distributionRow(`K=${k} final -> complete`, 'us', oursFinal, {
          target: { kind: 'max', value: 1000, on: 'p99' },
          ratios: [
            {
              label: 'p99 / raw one-way p99',
              value: oursFinal.p99 / raw.p99,
              target: { kind: 'max', value: 2 },
            },
            { label: 'baseline p99 / ours', value: baseFinal.p99 / oursFinal.p99 },
          ],
        }),
        distributionRow(`K=${k} final -> complete, child_process JSON`, 'us', baseFinal, {
          baseline: true,
        }),
        distributionRow(`K=${k} dispatch -> complete`, 'us', oursDispatch, {
          ratios: [
            { label: 'baseline p50 / ours', value: baseDispatch.p50 / oursDispatch.p50 },
            { label: 'baseline p99 / ours', value: baseDispatch.p99 / oursDispatch.p99 },
          ],
        }),
        distributionRow(`K=${k} dispatch -> complete, child_process JSON`, 'us', baseDispatch, {
          baseline: true,
        }),
      );
    }
    return {
      rows,
      notes: [
        'Ratios "baseline / ours" above 1 mean we are faster than child_process IPC.',
        'On 2 cores, K collectors plus the agent share 2 CPUs: with K = 16 the agent often waits for a runnable slot, which shows in p99.',
      ],
    };
  },
};
