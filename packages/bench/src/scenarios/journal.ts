import { join } from 'node:path';
import type { FsyncPolicy } from '@daemoneye/coordinator';
import { type CoordinatorFleet, startCoordinatorFleet, tempDir } from '../harness.js';
import { type Row, valueRow } from '../result.js';
import type { Scenario } from '../scenario.js';
import { BENCH_TASK_KIND, encodeWork, type WorkSpec } from '../work.js';

const K = 2;
const WORK: WorkSpec = { batches: 10, batchSize: 100 };
const WINDOW = 4;
type Mode = 'off' | FsyncPolicy;
const MODES: readonly Mode[] = ['off', 'never', 'interval', 'always'];

/** `warmup + sets` fan-outs with `WINDOW` in flight; results per second over the measured ones. */
async function sustain(fleet: CoordinatorFleet, warmup: number, sets: number): Promise<number> {
  const payload = encodeWork(WORK);
  let results = 0;
  let start = 0n;
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < warmup + sets) {
      const index = next++;
      if (index === warmup) start = process.hrtime.bigint();
      const r = await fleet.coordinator.fanOut({
        kind: BENCH_TASK_KIND,
        payload,
        timeoutMs: 60_000,
      });
      if (!r.complete) throw new Error(`set ${r.correlationId} ended ${r.reason}`);
      if (index >= warmup) results += r.results.length;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, one));
  return results / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function measure(
  mode: Mode,
  warmup: number,
  sets: number,
): Promise<{ perSecond: number; records: number; syncs: number }> {
  const state = await tempDir('de-bench-journal-');
  const fleet = await startCoordinatorFleet(K, {
    prefix: `jr-${mode}`,
    aggregation: { maxResultsPerSet: 1_000_000 },
    extra: mode === 'off' ? {} : { journal: { dir: join(state.dir, 'state'), fsync: mode } },
  });
  try {
    const perSecond = await sustain(fleet, warmup, sets);
    const j = fleet.coordinator.status().journal;
    return { perSecond, records: j?.records ?? 0, syncs: j?.syncs ?? 0 };
  } finally {
    await fleet.close();
    await state.remove();
  }
}

/** Throughput cost of the journal under each fsync policy, as a ratio to no journal in the same run. */
export const journalScenario: Scenario = {
  name: 'journal',
  description: `Results per second through coordinator.fanOut to K = ${K} bench collectors (${WORK.batches} TaskResult frames of ${WORK.batchSize} results each per set, ${WINDOW} sets in flight) with no journal and with the journal under fsync never, interval (100 ms) and always, in that order and alternated over repetitions in one run; each row's ratio is to the journal-off figure of the same run. The journal writes one record per result batch (its TaskResult bytes), so 'always' is one fdatasync per batch.`,
  async run(context) {
    const [warmup, sets, reps] = context.quick ? [2, 10, 1] : [5, 40, 2];
    const per = new Map<Mode, { perSecond: number[]; records: number; syncs: number }>();
    for (let rep = 0; rep < reps; rep++) {
      for (const mode of rep % 2 === 0 ? MODES : [...MODES].reverse()) {
        context.progress(`journal: ${mode}, repetition ${rep + 1}/${reps}`);
        const m = await measure(mode, warmup, sets);
        const entry = per.get(mode) ?? { perSecond: [], records: 0, syncs: 0 };
        entry.perSecond.push(m.perSecond);
        entry.records += m.records;
        entry.syncs += m.syncs;
        per.set(mode, entry);
      }
    }
    const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const off = mean(per.get('off')?.perSecond ?? []);
    const rows: Row[] = MODES.map((mode) => {
      const entry = per.get(mode);
      const value = mean(entry?.perSecond ?? []);
      return valueRow(
        mode === 'off' ? 'journal off' : `journal fsync ${mode}`,
        'results/s',
        value,
        sets * reps,
        mode === 'off'
          ? { baseline: true }
          : {
              ratios: [{ label: 'ours / journal off', value: value / off }],
              note: `${entry?.records ?? 0} records, ${entry?.syncs ?? 0} fdatasyncs`,
            },
      );
    });
    const each = (mode: Mode): string =>
      (per.get(mode)?.perSecond ?? []).map((v) => Math.round(v).toLocaleString('en-US')).join(', ');
    return {
      rows,
      notes: [
        `Repetitions (results/s): ${MODES.map((m) => `${m} ${each(m)}`).join('; ')}. n is the number of measured sets.`,
        "The journal is on the machine's temp directory; fdatasync cost depends on its file system (tmpfs makes it nearly free).",
      ],
    };
  },
};
