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
import {
  decodeEnvelope,
  decodeEnvelopeLazy,
  encodeTaskResultFrame,
  type TaskResult,
} from '@daemoneye/proto';
import * as work from './ceiling-work.js';

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

async function allocDecode(path: work.DecodePath, templates: work.SetTemplate[]) {
  const decode = work.decoderFor(path);
  let sink = 0;
  // Warm up (JIT) outside the window.
  for (const template of templates) for (const frame of template.frames) sink += decode(frame);
  const frames = templates.flatMap((template) => template.frames);
  const figures = await window(frames.length * work.RESULTS_PER_FRAME, () => {
    for (const frame of frames) sink += decode(frame);
  });
  if (sink !== 2 * frames.length * work.RESULTS_PER_FRAME)
    throw new Error('ceiling-probe: lost results');
  return figures;
}

async function allocPipeline(path: work.DecodePath, templates: work.SetTemplate[]) {
  const pipeline = work.pipelineFor(path, undefined);
  for (const template of templates) work.runSet(pipeline, template, pipeline.handle);
  return window(templates.length * work.RESULTS_PER_SET, () => {
    for (const template of templates) work.runSet(pipeline, template, pipeline.handle);
  });
}

async function retained(path: work.DecodePath, templates: work.SetTemplate[]) {
  // final: false for every frame, so every set stays pending and keeps its results.
  const pipeline = work.pipelineFor(path, false);
  const before = settle();
  for (const template of templates) work.runSet(pipeline, template, pipeline.handle);
  const after = settle();
  // Read after the measurement, so the aggregator and its results are alive at it.
  const pending = pipeline.pendingResults();
  return { perResult: (after - before) / pending, results: pending };
}

async function retainedDecoded(path: work.DecodePath, templates: work.SetTemplate[]) {
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
  const messages = work.collectorMessages(40);
  const encode = lean ? (m: TaskResult) => encodeTaskResultFrame(m, 1n) : work.generatedEncode;
  for (const message of messages) encode(message);
  return window(messages.length * work.RESULTS_PER_FRAME, () => {
    for (const message of messages) encode(message);
  });
}

const [mode, pathArg, setsArg] = process.argv.slice(2);
const path: work.DecodePath =
  pathArg === 'ts-proto' || pathArg === 'lazy-per-result' ? pathArg : 'lazy';
const templates = work.buildTemplates(Number(setsArg ?? '4'));
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
