import type { ChildProcess } from 'node:child_process';
import { ResultAggregator } from '@daemoneye/aggregator';
import type { DetectionResult } from '@daemoneye/proto';
import {
  type IpcFleet,
  startIpcFleet,
  startTransportFleet,
  type TransportFleet,
} from '../harness.js';
import { valueRow } from '../result.js';
import type { Scenario } from '../scenario.js';
import {
  BENCH_TASK_KIND,
  encodeWork,
  type IpcTask,
  isIpcResult,
  type JsonResult,
  type WorkSpec,
} from '../work.js';

const K = 4;
const WORK: WorkSpec = { batches: 10, batchSize: 100 };
const WINDOW = 4;

/** Counts of one sustained run. */
export interface ThroughputRun {
  readonly results: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/** Runs `warmup + sets` correlation sets with `WINDOW` in flight; `send` dispatches one set. */
async function sustain(
  aggregator: {
    begin(id: string, expected: readonly string[], options?: { timeoutMs?: number }): number;
  },
  ids: readonly string[],
  send: (correlationId: string) => void,
  onSetDone: (listener: (correlationId: string, results: number) => void) => void,
  warmup: number,
  sets: number,
  label: string,
): Promise<ThroughputRun> {
  let started = 0;
  let finished = 0;
  let measuredResults = 0;
  let measureStart = 0n;
  const total = warmup + sets;
  return new Promise<ThroughputRun>((resolve) => {
    const launch = (): void => {
      const correlationId = `${label}-${started++}`;
      if (started === warmup + 1) measureStart = process.hrtime.bigint();
      aggregator.begin(correlationId, ids, { timeoutMs: 60_000 });
      send(correlationId);
    };
    onSetDone((correlationId, results) => {
      finished++;
      const index = Number(correlationId.slice(label.length + 1));
      if (index >= warmup) measuredResults += results;
      if (finished === total) {
        const seconds = Number(process.hrtime.bigint() - measureStart) / 1e9;
        resolve({ results: measuredResults, seconds, perSecond: measuredResults / seconds });
        return;
      }
      if (started < total) launch();
    });
    for (let i = 0; i < Math.min(WINDOW, total); i++) launch();
  });
}

async function transportThroughput(
  fleet: TransportFleet,
  warmup: number,
  sets: number,
): Promise<ThroughputRun> {
  let listener: ((correlationId: string, results: number) => void) | undefined;
  const aggregator = new ResultAggregator<DetectionResult>({
    maxResultsPerSet: 1_000_000,
    onComplete: (result) => {
      if (!result.complete) throw new Error(`set ${result.correlationId} ended ${result.reason}`);
      listener?.(result.correlationId, result.results.length);
    },
  });
  fleet.broker.on('task-result', (collectorId, result) => {
    aggregator.addResult(collectorId, result.correlationId, result.results, {
      final: result.final,
    });
  });
  const payload = encodeWork(WORK);
  try {
    return await sustain(
      aggregator,
      fleet.ids,
      (correlationId) => {
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
      (l) => {
        listener = l;
      },
      warmup,
      sets,
      'tp',
    );
  } finally {
    fleet.broker.removeAllListeners('task-result');
    aggregator.close();
  }
}

async function ipcThroughput(
  fleet: IpcFleet,
  warmup: number,
  sets: number,
): Promise<ThroughputRun> {
  let listener: ((correlationId: string, results: number) => void) | undefined;
  const aggregator = new ResultAggregator<JsonResult>({
    maxResultsPerSet: 1_000_000,
    onComplete: (result) => {
      if (!result.complete) throw new Error(`set ${result.correlationId} ended ${result.reason}`);
      listener?.(result.correlationId, result.results.length);
    },
  });
  const onMessage = (message: unknown): void => {
    if (!isIpcResult(message)) return;
    aggregator.addResult(message.collectorId, message.correlationId, message.results, {
      final: message.final,
    });
  };
  const children: [string, ChildProcess][] = [];
  fleet.ids.forEach((id, index) => {
    const child = fleet.children[index];
    if (!child) return;
    children.push([id, child]);
    child.on('message', onMessage);
  });
  try {
    return await sustain(
      aggregator,
      fleet.ids,
      (correlationId) => {
        for (const [id, child] of children) {
          const task: IpcTask = {
            type: 'task',
            taskId: `${correlationId}/${id}`,
            correlationId,
            batches: WORK.batches,
            batchSize: WORK.batchSize,
          };
          child.send(task);
        }
      },
      (l) => {
        listener = l;
      },
      warmup,
      sets,
      'tp',
    );
  } finally {
    for (const [, child] of children) child.off('message', onMessage);
    aggregator.close();
  }
}

/** Results per second sustained into the aggregator from K = 4 streaming collectors. */
export const throughputScenario: Scenario = {
  name: 'throughput',
  description: `Results per second sustained into the ResultAggregator from K = ${K} streaming collector processes. Each correlation set expects all ${K}; each collector streams ${WORK.batches} TaskResult frames of ${WORK.batchSize} results (the last final), ${WINDOW} sets in flight; counted from the first measured dispatch to the last completion. Baseline: the same over child_process IPC with JSON into the same aggregator.`,
  async run(context) {
    const [warmup, sets, reps] = context.quick ? [3, 20, 1] : [10, 100, 3];
    const fleet = await startTransportFleet(K, { prefix: 'tp' });
    const runs: { ours: ThroughputRun[]; base: ThroughputRun[] } = { ours: [], base: [] };
    try {
      const ipcFleet = await startIpcFleet(K);
      try {
        // Alternate repetitions so both paths see the same background load.
        for (let rep = 0; rep < reps; rep++) {
          context.progress(`throughput: transport, repetition ${rep + 1}/${reps}`);
          runs.ours.push(await transportThroughput(fleet, warmup, sets));
          context.progress(`throughput: child_process, repetition ${rep + 1}/${reps}`);
          runs.base.push(await ipcThroughput(ipcFleet, warmup, sets));
        }
      } finally {
        await ipcFleet.close();
      }
    } finally {
      await fleet.close();
    }
    const total = (list: readonly ThroughputRun[]): ThroughputRun => {
      const results = list.reduce((sum, run) => sum + run.results, 0);
      const seconds = list.reduce((sum, run) => sum + run.seconds, 0);
      return { results, seconds, perSecond: results / seconds };
    };
    const ours = total(runs.ours);
    const base = total(runs.base);
    const each = (list: readonly ThroughputRun[]): string =>
      list.map((run) => Math.round(run.perSecond).toLocaleString('en-US')).join(', ');
    return {
      rows: [
        valueRow(`K=${K} transport -> aggregator`, 'results/s', ours.perSecond, ours.results, {
          target: { kind: 'min', value: 200_000, on: 'value' },
          ratios: [
            {
              label: 'ours / child_process',
              value: ours.perSecond / base.perSecond,
              target: { kind: 'min', value: 5 },
            },
          ],
        }),
        valueRow(
          `K=${K} child_process JSON -> aggregator`,
          'results/s',
          base.perSecond,
          base.results,
          {
            baseline: true,
          },
        ),
      ],
      notes: [
        `ours: ${ours.results} results in ${ours.seconds.toFixed(2)} s (repetitions: ${each(runs.ours)} /s); baseline: ${base.results} in ${base.seconds.toFixed(2)} s (${each(runs.base)} /s). n is the number of results counted; repetitions alternate between the two paths.`,
      ],
    };
  },
};
