// Allocation and retention per result of the ceiling scenario, in a fresh process started with
// --expose-gc and a young generation large enough that no GC runs inside a measured window (so
// the heap growth over the window is what was allocated). Prints one JSON line.
//   alloc-decode PATH     bytes allocated per result by decoding frames only
//   alloc-pipeline PATH   bytes allocated per result by decode + aggregator + completion
//   retained PATH         bytes kept alive per pending result (sets that never complete)
//   retained-decoded PATH bytes kept alive per result by the decoded form alone (no aggregator)
//   alloc-encode lean-encode|generated-encode   bytes allocated per result by encoding frames
// PATH: lazy | lazy-per-result | ts-proto
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { encodeFrame } from '@daemoneye/ipc-transport';
import {
  type DetectionResult,
  type DetectionResultView,
  decodeEnvelope,
  decodeEnvelopeLazy,
  encodeEnvelope,
  encodeTaskResultFrame,
  type TaskResult,
} from '@daemoneye/proto';
import { makeResults } from '../work.js';
import {
  buildTemplates,
  type DecodePath,
  type FrameHandler,
  lazyHandler,
  makeAggregator,
  RESULTS_PER_FRAME,
  RESULTS_PER_SET,
  runSet,
  type SetTemplate,
  tsProtoHandler,
} from './ceiling-work.js';

const gc: () => void =
  typeof globalThis.gc === 'function'
    ? globalThis.gc
    : () => {
        throw new Error('ceiling-probe needs --expose-gc');
      };

function used(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function settle(): number {
  for (let i = 0; i < 4; i++) gc();
  return used();
}

// Start times of every GC; entries arrive asynchronously, so windows are matched by time.
const gcStarts: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcStarts.push(entry.startTime);
});
observer.observe({ entryTypes: ['gc'] });

interface Pipeline {
  handle: FrameHandler;
  begin(id: string, expected: readonly string[]): number;
  pendingResults(): number;
}

function pipelineFor(path: DecodePath, final: boolean | undefined): Pipeline {
  if (path === 'ts-proto') {
    const aggregator = makeAggregator<DetectionResult>(() => undefined);
    return {
      handle: tsProtoHandler(aggregator, final),
      begin: (id, e) => aggregator.begin(id, e),
      pendingResults: () => aggregator.stats().pendingResults,
    };
  }
  const aggregator = makeAggregator<DetectionResultView>(() => undefined);
  return {
    handle: lazyHandler(aggregator, path === 'lazy' ? 'frame' : 'result', final),
    begin: (id, e) => aggregator.begin(id, e),
    pendingResults: () => aggregator.stats().pendingResults,
  };
}

/** Heap growth per result over `run`, with the number of GCs that ran inside the window. */
async function window(results: number, run: () => void): Promise<Record<string, number>> {
  const before = settle();
  const start = performance.now();
  run();
  const after = used();
  const end = performance.now();
  // Let the observer receive the entries of the window.
  await tick();
  await new Promise((resolve) => setTimeout(resolve, 10));
  const inWindow = gcStarts.filter((at) => at >= start && at <= end).length;
  return { perResult: (after - before) / results, gcInWindow: inWindow, results };
}

async function allocDecode(path: DecodePath, templates: SetTemplate[]) {
  const decodeOnly: FrameHandler =
    path === 'ts-proto'
      ? (_sender, frame) => {
          lazyOrFull.full(frame);
        }
      : (_sender, frame) => {
          lazyOrFull.lazy(frame, path === 'lazy' ? 'frame' : 'result');
        };
  // Warm up (JIT) outside the window.
  for (const template of templates) for (const frame of template.frames) decodeOnly('', frame);
  const frames = templates.flatMap((template) => template.frames);
  return window(frames.length * RESULTS_PER_FRAME, () => {
    for (const frame of frames) decodeOnly('', frame);
  });
}

const lazyOrFull = {
  sink: 0,
  full(frame: Buffer): void {
    const message = decodeEnvelope(frame);
    if (message.body?.$case === 'taskResult') this.sink += message.body.value.results.length;
  },
  lazy(frame: Buffer, copy: 'frame' | 'result'): void {
    const message = decodeEnvelopeLazy(frame, { copy });
    if (message.body?.$case === 'taskResult') this.sink += message.body.value.results.length;
  },
};

async function allocPipeline(path: DecodePath, templates: SetTemplate[]) {
  const pipeline = pipelineFor(path, undefined);
  for (const template of templates) runSet(pipeline, template, pipeline.handle);
  return window(templates.length * RESULTS_PER_SET, () => {
    for (const template of templates) runSet(pipeline, template, pipeline.handle);
  });
}

async function retained(path: DecodePath, templates: SetTemplate[]) {
  // final: false for every frame, so every set stays pending and keeps its results.
  const pipeline = pipelineFor(path, false);
  const before = settle();
  for (const template of templates) runSet(pipeline, template, pipeline.handle);
  const after = settle();
  // Read after the measurement, so the aggregator and its results are alive at it.
  const pending = pipeline.pendingResults();
  return { perResult: (after - before) / pending, results: pending };
}

async function retainedDecoded(path: DecodePath, templates: SetTemplate[]) {
  const frames = templates.flatMap((template) => template.frames);
  const kept: unknown[][] = [];
  const before = settle();
  for (const frame of frames) {
    if (path === 'ts-proto') {
      const body = decodeEnvelope(frame).body;
      if (body?.$case === 'taskResult') kept.push(body.value.results);
    } else {
      const copy = path === 'lazy' ? 'frame' : 'result';
      const body = decodeEnvelopeLazy(frame, { copy }).body;
      if (body?.$case === 'taskResult') kept.push([...body.value.results]);
    }
  }
  const after = settle();
  const count = kept.reduce((sum, results) => sum + results.length, 0);
  return { perResult: (after - before) / count, results: count };
}

async function allocEncode(lean: boolean) {
  const messages: TaskResult[] = Array.from({ length: 40 }, (_, i) => ({
    taskId: `task-${i}`,
    correlationId: `c-${i}`,
    results: makeResults('procmond-1', `task-${i}`, i * RESULTS_PER_FRAME, RESULTS_PER_FRAME, 1n),
    final: false,
    error: '',
  }));
  const encode = lean
    ? (m: TaskResult) => encodeTaskResultFrame(m, 1n)
    : (m: TaskResult) =>
        encodeFrame(encodeEnvelope({ messageId: 1n, body: { $case: 'taskResult', value: m } }));
  for (const message of messages) encode(message);
  return window(messages.length * RESULTS_PER_FRAME, () => {
    for (const message of messages) encode(message);
  });
}

const [mode, pathArg, setsArg] = process.argv.slice(2);
const path: DecodePath = pathArg === 'ts-proto' || pathArg === 'lazy-per-result' ? pathArg : 'lazy';
const templates = buildTemplates(Number(setsArg ?? '4'));
const output =
  mode === 'alloc-encode'
    ? await allocEncode(pathArg === 'lean-encode')
    : mode === 'retained-decoded'
      ? await retainedDecoded(path, templates)
      : mode === 'alloc-decode'
        ? await allocDecode(path, templates)
        : mode === 'alloc-pipeline'
          ? await allocPipeline(path, templates)
          : await retained(path, templates);
observer.disconnect();
process.stdout.write(`${JSON.stringify({ mode, path, ...output })}\n`);
