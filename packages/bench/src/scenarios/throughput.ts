import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { ResultAggregator } from '@daemoneye/aggregator';
import {
  type CoordinatorFleet,
  type IpcFleet,
  measureCost,
  type ProcessCost,
  startCoordinatorFleet,
  startIpcFleet,
  within,
} from '../harness.js';
import { type Row, valueRow } from '../result.js';
import type { Scenario } from '../scenario.js';
import {
  BENCH_CPU_KIND,
  BENCH_TASK_KIND,
  CPU_SYSTEM_ATTRIBUTE,
  CPU_USER_ATTRIBUTE,
  encodeWork,
  type IpcTask,
  isIpcCpuReply,
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
  /** The agent's CPU and GC over the run. */
  readonly agent: ProcessCost;
  /** CPU of all collectors together over the run, microseconds. */
  readonly collectorCpuUs: number;
}

/**
 * Runs `warmup + sets` correlation sets with `WINDOW` in flight; `launch` starts one set and
 * resolves with its result count. Counted from the first measured launch to the last completion.
 */
async function sustain(
  launch: (correlationId: string) => Promise<number>,
  warmup: number,
  sets: number,
  label: string,
): Promise<{ results: number; seconds: number }> {
  let started = 0;
  let finished = 0;
  let measuredResults = 0;
  let measureStart = 0n;
  const total = warmup + sets;
  return new Promise((resolve, reject) => {
    const next = (): void => {
      const index = started++;
      if (index === warmup) measureStart = process.hrtime.bigint();
      launch(`${label}-${index}`).then((results) => {
        finished++;
        if (index >= warmup) measuredResults += results;
        if (finished === total) {
          const seconds = Number(process.hrtime.bigint() - measureStart) / 1e9;
          resolve({ results: measuredResults, seconds });
          return;
        }
        if (started < total) next();
      }, reject);
    };
    for (let i = 0; i < Math.min(WINDOW, total); i++) next();
  });
}

/** Sum of user + system CPU the coordinator's collectors report (a `bench-cpu` fan-out). */
async function collectorCpu(fleet: CoordinatorFleet): Promise<number> {
  const result = await fleet.coordinator.fanOut({ kind: BENCH_CPU_KIND, timeoutMs: 10_000 });
  if (!result.complete) throw new Error(`cpu fan-out ended ${result.reason}`);
  let sum = 0;
  for (const item of result.results) {
    sum += Number(item.result.attributes[CPU_USER_ATTRIBUTE] ?? 0);
    sum += Number(item.result.attributes[CPU_SYSTEM_ATTRIBUTE] ?? 0);
  }
  return sum;
}

/** The same over the baseline's IPC channel. */
async function ipcCpu(fleet: IpcFleet): Promise<number> {
  const replies = fleet.children.map(async (child) => {
    const reply = new Promise<number>((resolve) => {
      const onMessage = (message: unknown): void => {
        if (!isIpcCpuReply(message)) return;
        child.off('message', onMessage);
        resolve(message.user + message.system);
      };
      child.on('message', onMessage);
    });
    child.send({ type: 'cpu?' });
    return within(reply, 10_000, 'child_process cpu');
  });
  return (await Promise.all(replies)).reduce((sum, us) => sum + us, 0);
}

async function coordinatorThroughput(
  fleet: CoordinatorFleet,
  warmup: number,
  sets: number,
): Promise<ThroughputRun> {
  const payload = encodeWork(WORK);
  const cpuBefore = await collectorCpu(fleet);
  const cost = measureCost();
  const { results, seconds } = await sustain(
    async (correlationId) => {
      const result = await fleet.coordinator.fanOut({
        kind: BENCH_TASK_KIND,
        payload,
        correlationId,
        timeoutMs: 60_000,
      });
      if (!result.complete) throw new Error(`set ${result.correlationId} ended ${result.reason}`);
      return result.results.length;
    },
    warmup,
    sets,
    `tp${Math.random().toString(36).slice(2, 8)}`,
  );
  const agent = cost.stop();
  const collectorCpuUs = (await collectorCpu(fleet)) - cpuBefore;
  return { results, seconds, perSecond: results / seconds, agent, collectorCpuUs };
}

async function ipcThroughput(
  fleet: IpcFleet,
  warmup: number,
  sets: number,
): Promise<ThroughputRun> {
  const waiters = new Map<string, (results: number) => void>();
  const aggregator = new ResultAggregator<JsonResult>({
    maxResultsPerSet: 1_000_000,
    // The baseline streams 4 000 results per set, 4 sets in flight: budgets raised so that it
    // measures the data path, not the refusal path (as the coordinator's defaults allow ours).
    maxBytesPerSet: 2 ** 30,
    maxPendingBytes: 2 ** 30,
    maxPendingBytesPerCollector: 2 ** 30,
    onComplete: (result) => {
      if (!result.complete) throw new Error(`set ${result.correlationId} ended ${result.reason}`);
      waiters.get(result.correlationId)?.(result.results.length);
      waiters.delete(result.correlationId);
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
    const cpuBefore = await ipcCpu(fleet);
    const cost = measureCost();
    const { results, seconds } = await sustain(
      (correlationId) => {
        const done = new Promise<number>((resolve) => waiters.set(correlationId, resolve));
        aggregator.begin(correlationId, fleet.ids, { timeoutMs: 60_000 });
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
        return done;
      },
      warmup,
      sets,
      `ipc${Math.random().toString(36).slice(2, 8)}`,
    );
    const agent = cost.stop();
    const collectorCpuUs = (await ipcCpu(fleet)) - cpuBefore;
    return { results, seconds, perSecond: results / seconds, agent, collectorCpuUs };
  } finally {
    for (const [, child] of children) child.off('message', onMessage);
    aggregator.close();
  }
}

function total(list: readonly ThroughputRun[]): ThroughputRun {
  const sum = (pick: (run: ThroughputRun) => number): number =>
    list.reduce((acc, run) => acc + pick(run), 0);
  const results = sum((run) => run.results);
  const seconds = sum((run) => run.seconds);
  return {
    results,
    seconds,
    perSecond: results / seconds,
    agent: {
      cpuUs: sum((run) => run.agent.cpuUs),
      gcMs: sum((run) => run.agent.gcMs),
      wallMs: sum((run) => run.agent.wallMs),
    },
    collectorCpuUs: sum((run) => run.collectorCpuUs),
  };
}

/** Rows of CPU per result and GC share beside a throughput figure. */
function costRows(label: string, run: ThroughputRun, ours: boolean): Row[] {
  const perResult = (us: number): number => (run.results > 0 ? us / run.results : Number.NaN);
  return [
    valueRow(`${label}: agent CPU per result`, 'us', perResult(run.agent.cpuUs), run.results, {
      baseline: !ours,
    }),
    valueRow(
      `${label}: collector CPU per result (all ${K})`,
      'us',
      perResult(run.collectorCpuUs),
      run.results,
      ours ? { target: { kind: 'max', value: 1, on: 'value' } } : { baseline: true },
    ),
    valueRow(
      `${label}: agent GC share of wall time`,
      '%',
      run.agent.wallMs > 0 ? (100 * run.agent.gcMs) / run.agent.wallMs : Number.NaN,
      run.results,
      {
        baseline: !ours,
        note: `${run.agent.gcMs.toFixed(0)} ms of GC in ${run.agent.wallMs.toFixed(0)} ms`,
      },
    ),
  ];
}

/** Results per second sustained through the coordinator from K = 4 streaming collectors. */
export const throughputScenario: Scenario = {
  name: 'throughput',
  description: `Results per second through @daemoneye/coordinator from K = ${K} streaming collector processes spawned by it: each set is one coordinator.fanOut to all ${K}; each collector streams ${WORK.batches} TaskResult frames of ${WORK.batchSize} results (the last final), ${WINDOW} sets in flight; counted from the first measured fanOut to the last resolved. Baseline: the same over child_process IPC with JSON into a ResultAggregator. Beside each figure: agent CPU per result (process.cpuUsage delta), collector CPU per result (each collector's own process.cpuUsage, asked before and after the run) and the agent's GC share (PerformanceObserver 'gc' entries / wall time).`,
  async run(context) {
    const [warmup, sets, reps] = context.quick ? [3, 20, 1] : [10, 100, 3];
    const loadBefore = loadavg()[0] ?? 0;
    const fleet = await startCoordinatorFleet(K, {
      prefix: 'tp',
      // 4 000 results per set: above the aggregator's default share of 10 000 per set once
      // 4 sets are in flight. The default byte budgets (8 MiB per set and per collector, 32 MiB
      // pending) hold these sets (about 0.4 MiB each), so ours measures the data path as is.
      aggregation: { maxResultsPerSet: 1_000_000 },
    });
    const runs: { ours: ThroughputRun[]; base: ThroughputRun[] } = { ours: [], base: [] };
    try {
      const ipcFleet = await startIpcFleet(K);
      try {
        // Alternate repetitions so both paths see the same background load.
        for (let rep = 0; rep < reps; rep++) {
          context.progress(`throughput: coordinator, repetition ${rep + 1}/${reps}`);
          runs.ours.push(await coordinatorThroughput(fleet, warmup, sets));
          context.progress(`throughput: child_process, repetition ${rep + 1}/${reps}`);
          runs.base.push(await ipcThroughput(ipcFleet, warmup, sets));
        }
      } finally {
        await ipcFleet.close();
      }
    } finally {
      await fleet.close();
    }
    const loadAfter = loadavg()[0] ?? 0;
    const ours = total(runs.ours);
    const base = total(runs.base);
    const each = (list: readonly ThroughputRun[]): string =>
      list.map((run) => Math.round(run.perSecond).toLocaleString('en-US')).join(', ');
    return {
      rows: [
        valueRow(`K=${K} coordinator fanOut`, 'results/s', ours.perSecond, ours.results, {
          target: { kind: 'min', value: 200_000, on: 'value' },
          ratios: [
            {
              label: 'ours / child_process',
              value: ours.perSecond / base.perSecond,
              target: { kind: 'min', value: 2 },
            },
          ],
        }),
        ...costRows(`K=${K} coordinator`, ours, true),
        valueRow(
          `K=${K} child_process JSON -> aggregator`,
          'results/s',
          base.perSecond,
          base.results,
          { baseline: true },
        ),
        ...costRows(`K=${K} child_process JSON`, base, false),
      ],
      notes: [
        `ours: ${ours.results} results in ${ours.seconds.toFixed(2)} s (repetitions: ${each(runs.ours)} /s); baseline: ${base.results} in ${base.seconds.toFixed(2)} s (${each(runs.base)} /s). n is the number of results counted; repetitions alternate between the two paths.`,
        `1-min load average ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end.`,
        'GC share: time in GC pauses over wall time of the run. Collector CPU includes the whole run of each collector process between the two cpu questions (heartbeats too).',
      ],
    };
  },
};
