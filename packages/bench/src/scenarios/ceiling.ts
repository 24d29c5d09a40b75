import { execFile } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  type DetectionResultView,
  decodeEnvelopeLazy,
  detectionResultJson,
  encodeTaskResultFrame,
  type TaskResult,
} from '@daemoneye/proto';
import { distributionRow, type Row, valueRow } from '../result.js';
import { iterations, type Scenario } from '../scenario.js';
import { Samples, type Summary, summarize } from '../stats.js';
import {
  buildTemplates,
  collectorMessages,
  type DecodePath,
  decoderFor,
  generatedEncode,
  type Pipeline,
  pipelineFor,
  RESULTS_PER_FRAME,
  RESULTS_PER_SET,
  runSet,
  type SetTemplate,
} from './ceiling-work.js';

const run = promisify(execFile);
const PATHS: readonly DecodePath[] = ['lazy', 'lazy-per-result', 'ts-proto'];
const LABEL: Record<DecodePath, string> = {
  lazy: 'lazy views (one copy per frame)',
  'lazy-per-result': 'lazy views (one copy per result)',
  'ts-proto': 'ts-proto full decode (baseline)',
};

async function probe(mode: string, path: string, sets: number): Promise<Record<string, number>> {
  const script = new URL('./ceiling-probe.js', import.meta.url).pathname;
  // A young generation of 256 MiB: no GC inside a measured window, so heap growth = allocation.
  const { stdout } = await run(
    process.execPath,
    [
      '--expose-gc',
      '--min-semi-space-size=256',
      '--max-semi-space-size=256',
      script,
      mode,
      path,
      String(sets),
    ],
    { maxBuffer: 1024 * 1024 },
  );
  const value: unknown = JSON.parse(stdout.trim());
  if (typeof value !== 'object' || value === null) throw new Error('ceiling-probe: bad output');
  const out: Record<string, number> = {};
  for (const [key, field] of Object.entries(value)) if (typeof field === 'number') out[key] = field;
  return out;
}

/** Rates from durations: the median rate, and the rate at the p99 (slow) duration. */
function rateSummary(durationsUs: Samples, resultsPerBatch: number): Summary {
  const d = durationsUs.summary();
  const rate = (us: number): number => (resultsPerBatch * 1e6) / us;
  return {
    n: d.n,
    min: rate(d.max),
    mean: rate(d.mean),
    p50: rate(d.p50),
    p90: rate(d.p90),
    p99: rate(d.p99),
    p999: rate(d.p999),
    max: rate(d.min),
  };
}

interface PathRun {
  readonly batches: Samples;
  cpuUs: number;
  wallUs: number;
  results: number;
  readonly windows: [number, number][];
  gcMs: number;
  completed: number;
}

function pipeline(path: DecodePath, state: PathRun): Pipeline {
  return pipelineFor(path, undefined, (result) => {
    state.completed++;
    if (result.results.length !== RESULTS_PER_SET) throw new Error('ceiling: results lost');
  });
}

/** Decode only: ns per result of each path, frames interleaved across paths. */
function decodeCost(templates: readonly SetTemplate[], rounds: number): Map<DecodePath, Samples> {
  const frames = templates.flatMap((template) => template.frames);
  const samples = new Map(PATHS.map((path) => [path, new Samples(rounds * frames.length)]));
  let sink = 0;
  const decoders = new Map(PATHS.map((path) => [path, decoderFor(path)]));
  for (let r = 0; r < rounds; r++) {
    for (const frame of frames) {
      for (const path of PATHS) {
        const start = process.hrtime.bigint();
        sink += decoders.get(path)?.(frame) ?? 0;
        const end = process.hrtime.bigint();
        samples.get(path)?.push(Number(end - start) / 1000 / RESULTS_PER_FRAME);
      }
    }
  }
  if (sink !== rounds * frames.length * PATHS.length * RESULTS_PER_FRAME) {
    throw new Error('ceiling: decode lost results');
  }
  return samples;
}

/** Collector side: one TaskResult of 100 results to a frame, lean vs generated + encodeFrame. */
function encodeCost(rounds: number): Row[] {
  const messages = collectorMessages(16);
  const cases: [string, (message: TaskResult) => Uint8Array][] = [
    ['encodeTaskResultFrame (one buffer, prefix reserved)', (m) => encodeTaskResultFrame(m, 1n)],
    ['encodeFrame(encodeEnvelope(...)) (generated encoder, then a prefixed copy)', generatedEncode],
  ];
  const samples = cases.map(() => new Samples(rounds * messages.length));
  for (let r = 0; r < rounds; r++) {
    for (const message of messages) {
      cases.forEach(([, encode], i) => {
        const start = process.hrtime.bigint();
        encode(message);
        const end = process.hrtime.bigint();
        samples[i]?.push(Number(end - start) / 1000 / RESULTS_PER_FRAME);
      });
    }
  }
  const base = samples[1]?.summary().p50 ?? Number.NaN;
  return cases.map(([name], i) => {
    const summary = samples[i]?.summary() ?? summarize([]);
    return distributionRow(`collector encode per result: ${name}`, 'us', summary, {
      ...(i === 1
        ? { baseline: true }
        : { ratios: [{ label: 'generated p50 / this p50', value: base / summary.p50 }] }),
    });
  });
}

/** What conflict detection pays per duplicate: contentKey() of a fresh view (nothing cached). */
function contentKeyCost(template: SetTemplate, rounds: number): Row {
  const samples = new Samples(rounds);
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const views: DetectionResultView[] = [];
    for (const frame of template.frames) {
      const body = decodeEnvelopeLazy(frame).body;
      if (body?.$case === 'taskResult') views.push(...body.value.results);
    }
    const start = process.hrtime.bigint();
    for (const view of views) sink += view.contentKey().length;
    const end = process.hrtime.bigint();
    samples.push(Number(end - start) / 1000 / views.length);
  }
  if (sink === 0) throw new Error('ceiling: empty content keys');
  return distributionRow(
    'contentKey() per call (what a duplicate costs for conflict detection)',
    'us',
    samples.summary(),
  );
}

/** NDJSON text of one result: from the view's bytes vs decode() + JSON.stringify. */
function jsonCost(template: SetTemplate, rounds: number): Row[] {
  const views: DetectionResultView[] = [];
  for (const frame of template.frames) {
    const body = decodeEnvelopeLazy(frame).body;
    if (body?.$case === 'taskResult') views.push(...body.value.results);
  }
  const sources = ['procmond-1', 'procmond-2'];
  const bigintReplacer = (_key: string, value: unknown): unknown =>
    typeof value === 'bigint' ? value.toString() : value;
  const cases: [string, (view: DetectionResultView) => string][] = [
    ['from bytes: detectionResultJson(view, sources)', (v) => detectionResultJson(v, sources)],
    [
      'decode() then JSON.stringify, timestamp as string',
      (v) => {
        const r = v.decode();
        return JSON.stringify({ ...r, collectedAtUnixMs: r.collectedAtUnixMs.toString(), sources });
      },
    ],
    [
      "decode() then JSON.stringify with a bigint replacer (the agent's sink today)",
      (v) => JSON.stringify({ ...v.decode(), sources }, bigintReplacer),
    ],
  ];
  const samples = cases.map(() => new Samples(rounds));
  let check = '';
  for (let r = 0; r < rounds; r++) {
    cases.forEach(([, write], i) => {
      const start = process.hrtime.bigint();
      let last = '';
      for (const view of views) last = write(view);
      const end = process.hrtime.bigint();
      samples[i]?.push(Number(end - start) / 1000 / views.length);
      if (i === 0) check = last;
      else if (last !== check) throw new Error('ceiling: NDJSON writers disagree');
    });
  }
  const base = samples[2]?.summary().p50 ?? Number.NaN;
  return cases.map(([name], i) => {
    const summary = samples[i]?.summary() ?? summarize([]);
    return distributionRow(`NDJSON result text per result: ${name}`, 'us', summary, {
      ratios: i === 2 ? [] : [{ label: 'replacer p50 / this p50', value: base / summary.p50 }],
      ...(i === 2 ? { baseline: true } : {}),
    });
  });
}

/** The in-process agent ceiling (issue 13, item 6): frames in memory -> decode -> aggregator. */
export const ceilingScenario: Scenario = {
  name: 'ceiling',
  description: `In process, one core, no sockets: pre-encoded Envelope{TaskResult} frames (4 collectors x 10 frames x ${RESULTS_PER_FRAME} results per correlation set, payloads as windows on one chunk) -> decode -> ResultAggregator.addResult -> completion. Paths side by side, sets alternated in blocks: decodeEnvelopeLazy (views, copy per frame / per result) and the generated ts-proto decodeEnvelope (baseline). Rates are per set (${RESULTS_PER_SET} results); "p99" is the rate at the p99 (slow) set duration. Allocation and retention from fresh --expose-gc processes (256 MiB young generation, no GC inside a window).`,
  async run(context) {
    const { warmup, measured } = iterations(context.quick, [30, 300], [6, 30]);
    const templates = buildTemplates(8);
    const block = 5;
    const runs = new Map<DecodePath, PathRun>();
    const pipes = new Map<DecodePath, Pipeline>();
    for (const path of PATHS) {
      const state: PathRun = {
        batches: new Samples(measured),
        cpuUs: 0,
        wallUs: 0,
        results: 0,
        windows: [],
        gcMs: 0,
        completed: 0,
      };
      runs.set(path, state);
      pipes.set(path, pipeline(path, state));
    }
    const gcEntries: { start: number; duration: number }[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcEntries.push({ start: entry.startTime, duration: entry.duration });
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    let setIndex = 0;
    for (let done = 0; done < warmup + measured; done += block) {
      context.progress(`ceiling: set ${done} of ${warmup + measured}`);
      for (const path of PATHS) {
        const state = runs.get(path);
        const pipe = pipes.get(path);
        if (!state || !pipe) continue;
        const windowStart = performance.now();
        const cpuStart = process.cpuUsage();
        for (let i = 0; i < block; i++) {
          const template = templates[(setIndex + i) % templates.length] as SetTemplate;
          const start = process.hrtime.bigint();
          runSet(pipe, template, pipe.handle);
          const end = process.hrtime.bigint();
          if (done >= warmup) state.batches.push(Number(end - start) / 1000);
        }
        if (done >= warmup) {
          const cpu = process.cpuUsage(cpuStart);
          state.cpuUs += cpu.user + cpu.system;
          state.wallUs += (performance.now() - windowStart) * 1000;
          state.results += block * RESULTS_PER_SET;
          state.windows.push([windowStart, performance.now()]);
        }
      }
      setIndex += block;
      // Let the GC observer and anything else queued run between blocks, as an event loop would.
      await tick();
    }
    await tick();
    observer.disconnect();
    for (const entry of gcEntries) {
      for (const state of runs.values()) {
        if (state.windows.some(([a, b]) => entry.start >= a && entry.start < b)) {
          state.gcMs += entry.duration;
        }
      }
    }

    const rows: Row[] = [];
    const baseline = runs.get('ts-proto');
    const baselineRate = baseline ? rateSummary(baseline.batches, RESULTS_PER_SET) : undefined;
    for (const path of PATHS) {
      const state = runs.get(path);
      if (!state) continue;
      const rate = rateSummary(state.batches, RESULTS_PER_SET);
      const isBaseline = path === 'ts-proto';
      rows.push(
        distributionRow(`agent ceiling, ${LABEL[path]}`, 'results/s', rate, {
          ...(isBaseline
            ? { baseline: true }
            : { target: { kind: 'min', value: 2e6, on: 'median' } }),
          ratios: [
            ...(isBaseline || !baselineRate
              ? []
              : [
                  { label: 'median / ts-proto median', value: rate.p50 / baselineRate.p50 },
                  { label: 'p99 / ts-proto p99', value: rate.p99 / baselineRate.p99 },
                ]),
            { label: 'GC share of wall time', value: state.gcMs / (state.wallUs / 1000) },
          ],
        }),
        valueRow(
          `agent CPU per result, ${LABEL[path]}`,
          'us',
          state.cpuUs / state.results,
          state.results,
        ),
      );
    }

    context.progress('ceiling: decode only');
    const decode = decodeCost(templates, context.quick ? 3 : 20);
    const tsDecode = decode.get('ts-proto')?.summary().p50 ?? Number.NaN;
    for (const path of PATHS) {
      const summary = decode.get(path)?.summary();
      if (!summary) continue;
      rows.push(
        distributionRow(`decode only, per result, ${LABEL[path]}`, 'us', summary, {
          ...(path === 'ts-proto'
            ? { baseline: true }
            : { ratios: [{ label: 'ts-proto p50 / this p50', value: tsDecode / summary.p50 }] }),
        }),
      );
    }

    context.progress('ceiling: allocation and retention');
    const memory: string[] = [];
    for (const path of PATHS) {
      const decodeAlloc = await probe('alloc-decode', path, 4);
      const pipelineAlloc = await probe('alloc-pipeline', path, 4);
      const kept = await probe('retained', path, 16);
      const form = await probe('retained-decoded', path, 16);
      const gcs = (decodeAlloc.gcInWindow ?? 0) + (pipelineAlloc.gcInWindow ?? 0);
      if (gcs > 0)
        memory.push(`${path}: ${gcs} GC(s) ran inside an allocation window, figure low.`);
      rows.push(
        valueRow(
          `allocated per result, decode only, ${LABEL[path]}`,
          'B',
          decodeAlloc.perResult ?? Number.NaN,
          decodeAlloc.results ?? 0,
        ),
        valueRow(
          `allocated per result, decode + aggregator + completion, ${LABEL[path]}`,
          'B',
          pipelineAlloc.perResult ?? Number.NaN,
          pipelineAlloc.results ?? 0,
        ),
        valueRow(
          `retained per pending result (heap + ArrayBuffers), ${LABEL[path]}`,
          'B',
          kept.perResult ?? Number.NaN,
          kept.results ?? 0,
          path === 'ts-proto'
            ? { baseline: true }
            : { target: { kind: 'max', value: 150, on: 'value' } },
        ),
        valueRow(
          `retained per result by the decoded form alone (no aggregator), ${LABEL[path]}`,
          'B',
          form.perResult ?? Number.NaN,
          form.results ?? 0,
        ),
      );
    }

    context.progress('ceiling: encode');
    rows.push(...encodeCost(context.quick ? 20 : 200));
    for (const path of ['lean-encode', 'generated-encode'] as const) {
      const encoded = await probe('alloc-encode', path, 4);
      rows.push(
        valueRow(
          `collector allocation per result, ${path === 'lean-encode' ? 'encodeTaskResultFrame' : 'encodeFrame(encodeEnvelope(...))'}`,
          'B',
          encoded.perResult ?? Number.NaN,
          encoded.results ?? 0,
        ),
      );
    }

    rows.push(contentKeyCost(templates[0] as SetTemplate, context.quick ? 20 : 200));

    context.progress('ceiling: NDJSON text');
    rows.push(...jsonCost(templates[0] as SetTemplate, context.quick ? 20 : 200));

    const completed = [...runs.values()].reduce((sum, state) => sum + state.completed, 0);
    return {
      rows,
      notes: [
        `${completed} sets completed (every one checked to hold all ${RESULTS_PER_SET} results). Fingerprints are distinct per collector, as in the throughput scenario, so no duplicate reaches contentKey().`,
        'The lazy path with one copy per frame keeps the whole results region of a frame (about 8.7 KB here) alive while any of its results is pending; the per-result copy pins only each result, at one ArrayBuffer per result.',
        ...memory,
      ],
    };
  },
};
