import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { type AggregatedResult, ResultAggregator } from '@daemoneye/aggregator';
import type { AggregatedResult as CoordinatorResult } from '@daemoneye/coordinator';
import { encodeTaskResultFrame } from '@daemoneye/proto';
import {
  type CoordinatorFleet,
  FloorFleet,
  type IpcFleet,
  startCoordinatorFleet,
  startIpcFleet,
} from '../harness.js';
import { distributionRow, type Row } from '../result.js';
import { iterations, type Scenario } from '../scenario.js';
import { nsToUs, Samples } from '../stats.js';
import {
  BENCH_TASK_KIND,
  encodeWork,
  type IpcTask,
  isIpcResult,
  type JsonResult,
  makeResults,
  SENT_NS_ATTRIBUTE,
  type WorkSpec,
} from '../work.js';

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
 * The latest `SENT_NS_ATTRIBUTE` stamp among a set's results; 0n when none. Each collector stamps
 * the last result of its final batch, and its results arrive together: only the last item of each
 * run of one sender is read, so the bench decodes K results per round, not all of them.
 */
function latestStamp(result: CoordinatorResult): bigint {
  let latest = 0n;
  const items = result.results;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === undefined || items[i + 1]?.sources[0] === item.sources[0]) continue;
    const stamp = item.result.attributes[SENT_NS_ATTRIBUTE];
    if (stamp !== undefined) {
      const ns = BigInt(stamp);
      if (ns > latest) latest = ns;
    }
  }
  return latest;
}

/**
 * Scatter-gather through the agent's own path: `coordinator.fanOut` to every collector the
 * coordinator spawned, one correlation set; completion is the coordinator's `result` event.
 */
export function coordinatorGatherer(
  fleet: CoordinatorFleet,
  work: WorkSpec,
  capacity: number,
  label: string,
): Gatherer {
  const rounds = new Map<string, Round>();
  const onResult = (result: CoordinatorResult): void => {
    const at = process.hrtime.bigint();
    const round = rounds.get(result.correlationId);
    if (!round) return;
    if (!result.complete) throw new Error(`set ${result.correlationId} ended ${result.reason}`);
    round.lastFinalNs = latestStamp(result);
    round.resolve(at);
  };
  fleet.coordinator.on('result', onResult);
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
          void fleet.coordinator.fanOut({
            kind: BENCH_TASK_KIND,
            payload,
            correlationId,
            timeoutMs: 30_000,
          });
        },
        samples,
        record,
      );
    },
    close() {
      fleet.coordinator.off('result', onResult);
    },
  };
}

/** Raw floor rounds at K (latest child write -> all K frames read), recorded like a gatherer. */
export function floorGatherer(floor: FloorFleet, capacity: number): Gatherer {
  const samples = newSamples(capacity);
  return {
    samples,
    async round(_i, record) {
      const ns = await floor.round();
      if (record) samples.finalToComplete.push(nsToUs(ns));
    },
    close() {},
  };
}

/** Bytes of the Envelope{TaskResult} a collector writes in one aggregation round (the floor's frame size). */
export function resultFrameBytes(work: WorkSpec, collectorId: string): number {
  const results = makeResults(
    collectorId,
    'k16-0/00000000-0000-0000-0000-000000000000',
    0,
    work.batchSize,
    BigInt(Date.now()),
  );
  const last = results[results.length - 1];
  if (last) last.attributes[SENT_NS_ATTRIBUTE] = String(process.hrtime.bigint());
  const frame = encodeTaskResultFrame(
    {
      taskId: 'k16-0/00000000-0000-0000-0000-000000000000',
      correlationId: 'k16-0',
      results,
      final: true,
      error: '',
    },
    1n,
  );
  return frame.length - 4;
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

const WORK: WorkSpec = { batches: 1, batchSize: 8 };
const KS = [1, 4, 16] as const;

/** Aggregation latency with K real collector processes, vs the child_process JSON baseline and the raw floor at K. */
export const aggregationScenario: Scenario = {
  name: 'aggregation',
  description: `Scatter-gather through @daemoneye/coordinator: createCoordinator spawns K = 1, 4, 16 real collector processes; each round is one coordinator.fanOut (one task per collector, one correlation set), each collector answering one TaskResult of ${WORK.batchSize} results marked final; one round in flight. "final -> complete" runs from the last collector's process.hrtime.bigint() just before its final write to the coordinator's 'result' event (CLOCK_MONOTONIC, shared by processes on Linux); "dispatch -> complete" from fanOut() to that event. Baselines in the same run, all three fleets alive at once and run in alternating blocks of 100 rounds: the same rounds over child_process IPC (process.send, JSON) into a ResultAggregator, and the raw floor at the same K (K raw child processes each write one pre-encoded frame of the same size as ours on a trigger; latest write -> all K read).`,
  async run(context) {
    const rows: Row[] = [];
    for (const k of KS) {
      const { warmup, measured } =
        k === 16
          ? iterations(context.quick, [300, 3000], [30, 200])
          : iterations(context.quick, [500, 5000], [50, 500]);
      context.progress(`aggregation: K=${k}, coordinator, child_process and raw floor alternating`);
      const before = loadavg()[0] ?? 0;
      const fleet = await startCoordinatorFleet(k, { prefix: `agg${k}` });
      let ours: GatherSamples;
      let base: GatherSamples;
      let floorSamples: GatherSamples;
      try {
        const ipcFleet = await startIpcFleet(k);
        try {
          const floor = await FloorFleet.start(k, resultFrameBytes(WORK, `agg${k}-1`));
          try {
            const coordinator = coordinatorGatherer(fleet, WORK, measured, `k${k}`);
            const ipc = ipcGatherer(ipcFleet, WORK, measured, `k${k}`);
            const raw = floorGatherer(floor, measured);
            await alternate([coordinator, ipc, raw], warmup, measured);
            coordinator.close();
            ipc.close();
            ours = coordinator.samples;
            base = ipc.samples;
            floorSamples = raw.samples;
          } finally {
            await floor.close();
          }
        } finally {
          await ipcFleet.close();
        }
      } finally {
        await fleet.close();
      }
      const after = loadavg()[0] ?? 0;
      const oursFinal = ours.finalToComplete.summary();
      const oursDispatch = ours.dispatchToComplete.summary();
      const baseFinal = base.finalToComplete.summary();
      const baseDispatch = base.dispatchToComplete.summary();
      const floorFinal = floorSamples.finalToComplete.summary();
      const load = `1-min load average ${before.toFixed(2)} before K=${k}, ${after.toFixed(2)} after`;
      rows.push(
        distributionRow(`K=${k} final -> complete (coordinator)`, 'us', oursFinal, {
          target: { kind: 'max', value: 1000, on: 'p99' },
          ratios: [
            {
              label: 'p99 / floor p99 at this K',
              value: oursFinal.p99 / floorFinal.p99,
              target: { kind: 'max', value: 2 },
            },
            {
              label: 'p99 / child_process p99',
              value: oursFinal.p99 / baseFinal.p99,
              target: { kind: 'max', value: 1 },
            },
          ],
          note: load,
        }),
        distributionRow(`K=${k} final -> complete, child_process JSON`, 'us', baseFinal, {
          baseline: true,
          ratios: [{ label: 'p99 / floor p99 at this K', value: baseFinal.p99 / floorFinal.p99 }],
        }),
        distributionRow(`K=${k} raw floor (latest write -> all K read)`, 'us', floorFinal, {
          baseline: true,
        }),
        distributionRow(`K=${k} dispatch -> complete (coordinator)`, 'us', oursDispatch, {
          ratios: [
            { label: 'p50 / child_process p50', value: oursDispatch.p50 / baseDispatch.p50 },
            { label: 'p99 / child_process p99', value: oursDispatch.p99 / baseDispatch.p99 },
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
        'Ratios "p99 / child_process p99" below 1 mean we are faster than child_process IPC; "p99 / floor p99 at this K" is ours over the raw floor at the same K, same run.',
        'On 2 cores, K collectors plus the agent share 2 CPUs: with K = 16 the agent often waits for a runnable slot, which shows in p99.',
      ],
    };
  },
};
