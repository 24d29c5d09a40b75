import { decodeEnvelope, type Envelope, encodeEnvelope } from '@daemoneye/proto';
import { distributionRow, type Row } from '../result.js';
import { iterations, type Scenario } from '../scenario.js';
import { nsToUs, Samples } from '../stats.js';
import { makeResults } from '../work.js';

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Cost of the hot message's codec (issue 2): our protobuf codec vs JSON, what child_process IPC pays. */
export const codecScenario: Scenario = {
  name: 'codec',
  description:
    'One Envelope{TaskResult} with 8 and with 100 DetectionResults, in process: encodeEnvelope/decodeEnvelope (ts-proto generated code on @bufbuild/protobuf) vs JSON.stringify/parse (what the child_process baseline pays). Per message, cases interleaved.',
  async run(context) {
    const rows: Row[] = [];
    for (const count of [8, 100]) {
      const { warmup, measured } = iterations(context.quick, [5000, 50_000], [500, 5000]);
      const results = makeResults('procmond-1', 'task-1', 0, count, 1_764_000_000_000n);
      const message: Envelope = {
        messageId: 7n,
        body: {
          $case: 'taskResult',
          value: { taskId: 'task-1', correlationId: 'c-1', results, final: true, error: '' },
        },
      };
      const bytes = Buffer.from(encodeEnvelope(message));
      const json = toJson(message);
      const cases: [string, () => unknown][] = [
        ['encode protobuf', () => encodeEnvelope(message)],
        ['encode JSON', () => toJson(message)],
        ['decode protobuf', () => decodeEnvelope(bytes)],
        ['decode JSON', () => JSON.parse(json)],
      ];
      const samples = new Map(cases.map(([name]) => [name, new Samples(measured)]));
      // Interleave the cases so background load hits all of them alike.
      for (let i = 0; i < warmup + measured; i++) {
        for (const [name, run] of cases) {
          const start = process.hrtime.bigint();
          run();
          const end = process.hrtime.bigint();
          if (i >= warmup) samples.get(name)?.push(nsToUs(end - start));
        }
      }
      const p50 = (name: string): number => samples.get(name)?.summary().p50 ?? Number.NaN;
      for (const [name] of cases) {
        const summary = samples.get(name)?.summary();
        if (!summary) continue;
        const op = name.split(' ')[0] ?? '';
        const ratios = name.endsWith('protobuf')
          ? [{ label: 'JSON p50 / protobuf p50', value: p50(`${op} JSON`) / summary.p50 }]
          : [];
        rows.push(
          distributionRow(`${name}, ${count} results`, 'us', summary, {
            ratios,
            ...(name.endsWith('JSON') ? { baseline: true } : {}),
          }),
        );
      }
    }
    return {
      rows,
      notes: [
        'A hand-written TaskResult codec (same bytes as ts-proto, checked by a differential property test) was tried and dropped: 1.5x faster encode in a tight loop, but no gain here or end to end (throughput and aggregation scenarios), where GC and the event loop dominate.',
      ],
    };
  },
};
