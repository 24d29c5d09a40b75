import { type AggregatedResult, ResultAggregator } from '@daemoneye/aggregator';
import { encodeFrame } from '@daemoneye/ipc-transport';
import {
  type DetectionResult,
  type DetectionResultView,
  decodeEnvelope,
  decodeEnvelopeLazy,
  type Envelope,
  encodeEnvelope,
  encodeTaskResultFrame,
  type LazyCopyMode,
  type TaskResult,
} from '@daemoneye/proto';
import { makeResults } from '../work.js';

/** The shape of one correlation set: as in the throughput scenario. */
export const COLLECTORS = ['procmond-1', 'procmond-2', 'procmond-3', 'procmond-4'] as const;
export const FRAMES_PER_COLLECTOR = 10;
export const RESULTS_PER_FRAME = 100;
export const RESULTS_PER_SET = COLLECTORS.length * FRAMES_PER_COLLECTOR * RESULTS_PER_FRAME;

/** One set's frames in arrival order (collectors interleaved), as the agent's FrameDecoder yields them. */
export interface SetTemplate {
  readonly correlationId: string;
  /** Envelope payloads (no length prefix), each a subarray of one shared "socket chunk". */
  readonly frames: readonly Buffer[];
  /** Collector id of each frame. */
  readonly senders: readonly string[];
}

/**
 * `count` distinct sets of frames. Every payload is a window on one big Buffer, as a socket chunk
 * holding many frames would be, so a decoder that kept windows would pin the whole chunk.
 */
export function buildTemplates(count: number): SetTemplate[] {
  const templates: SetTemplate[] = [];
  for (let t = 0; t < count; t++) {
    const correlationId = `ceiling-${t}`;
    const encoded: Buffer[] = [];
    const senders: string[] = [];
    for (let f = 0; f < FRAMES_PER_COLLECTOR; f++) {
      for (const collector of COLLECTORS) {
        // Short ids, like the throughput scenario's, so a result is about 87 bytes on the wire.
        const taskId = `task-${t}`;
        const results = makeResults(
          collector,
          taskId,
          f * RESULTS_PER_FRAME,
          RESULTS_PER_FRAME,
          1_764_000_000_000n + BigInt(f),
        );
        encoded.push(
          encodeTaskResultFrame(
            {
              taskId,
              correlationId,
              results,
              final: f === FRAMES_PER_COLLECTOR - 1,
              error: '',
            },
            BigInt(f + 1),
          ),
        );
        senders.push(collector);
      }
    }
    const chunk = Buffer.concat(encoded);
    const frames: Buffer[] = [];
    let offset = 0;
    for (const frame of encoded) {
      frames.push(chunk.subarray(offset + 4, offset + frame.length));
      offset += frame.length;
    }
    templates.push({ correlationId, frames, senders });
  }
  return templates;
}

/** The decode paths compared. */
export type DecodePath = 'lazy' | 'lazy-per-result' | 'ts-proto';

/** Decodes one frame the way `path` does and hands its results to `sink`. */
export type FrameHandler = (sender: string, frame: Buffer) => void;

/** An aggregator for either result type, with no recent-id memory (template ids are reused). */
export function makeAggregator<R extends { readonly fingerprint: string }>(
  onComplete: (result: AggregatedResult<R>) => void,
): ResultAggregator<R> {
  return new ResultAggregator<R>({
    maxPendingSets: 1000,
    maxResultsPerSet: RESULTS_PER_SET,
    recentCompletedCapacity: 0,
    timeoutMs: 3_600_000,
    onComplete,
    dedupKey: (result) => result.fingerprint,
  });
}

/** The agent's per-frame work on the lazy path: decode the header and fingerprints, aggregate views. */
export function lazyHandler(
  aggregator: ResultAggregator<DetectionResultView>,
  copy: LazyCopyMode,
  final: boolean | undefined,
): FrameHandler {
  const options = { copy };
  return (sender, frame) => {
    const message = decodeEnvelopeLazy(frame, options);
    const body = message.body;
    if (body?.$case !== 'taskResult') throw new Error('expected a TaskResult');
    const view = body.value;
    aggregator.addResult(sender, view.correlationId, view.results, {
      final: final ?? view.final,
    });
  };
}

/** The same with the generated ts-proto decoder (today's path). */
export function tsProtoHandler(
  aggregator: ResultAggregator<DetectionResult>,
  final: boolean | undefined,
): FrameHandler {
  return (sender, frame) => {
    const message: Envelope = decodeEnvelope(frame);
    const body = message.body;
    if (body?.$case !== 'taskResult') throw new Error('expected a TaskResult');
    const value = body.value;
    aggregator.addResult(sender, value.correlationId, value.results, {
      final: final ?? value.final,
    });
  };
}

/** Runs one set through `handle`: begin, every frame, completion (from the last final). */
export function runSet(
  aggregator: { begin(id: string, expected: readonly string[]): number },
  template: SetTemplate,
  handle: FrameHandler,
): void {
  aggregator.begin(template.correlationId, COLLECTORS);
  const { frames, senders } = template;
  for (let i = 0; i < frames.length; i++) handle(senders[i] as string, frames[i] as Buffer);
}

/** One decode path's aggregator behind its frame handler. */
export interface Pipeline {
  readonly handle: FrameHandler;
  begin(id: string, expected: readonly string[]): number;
  pendingResults(): number;
}

/** The pipeline of `path`; `final` overrides each frame's own flag (false: sets never complete). */
export function pipelineFor(
  path: DecodePath,
  final: boolean | undefined,
  onComplete: (result: AggregatedResult<unknown>) => void = () => undefined,
): Pipeline {
  if (path === 'ts-proto') {
    const aggregator = makeAggregator<DetectionResult>(onComplete);
    return {
      handle: tsProtoHandler(aggregator, final),
      begin: (id, e) => aggregator.begin(id, e),
      pendingResults: () => aggregator.stats().pendingResults,
    };
  }
  const aggregator = makeAggregator<DetectionResultView>(onComplete);
  return {
    handle: lazyHandler(aggregator, path === 'lazy' ? 'frame' : 'result', final),
    begin: (id, e) => aggregator.begin(id, e),
    pendingResults: () => aggregator.stats().pendingResults,
  };
}

/** Decode only, the way `path` decodes: the number of results in a TaskResult frame (else 0). */
export function decoderFor(path: DecodePath): (frame: Buffer) => number {
  if (path === 'ts-proto') {
    return (frame) => {
      const body = decodeEnvelope(frame).body;
      return body?.$case === 'taskResult' ? body.value.results.length : 0;
    };
  }
  const options = { copy: path === 'lazy' ? ('frame' as const) : ('result' as const) };
  return (frame) => {
    const body = decodeEnvelopeLazy(frame, options).body;
    return body?.$case === 'taskResult' ? body.value.results.length : 0;
  };
}

/** `count` TaskResults of {@link RESULTS_PER_FRAME} results each, as a collector sends them. */
export function collectorMessages(count: number): TaskResult[] {
  return Array.from({ length: count }, (_, i) => ({
    taskId: `task-${i}`,
    correlationId: `c-${i}`,
    results: makeResults('procmond-1', `task-${i}`, i * RESULTS_PER_FRAME, RESULTS_PER_FRAME, 1n),
    final: false,
    error: '',
  }));
}

/** The baseline collector encode: the generated encoder, then a length-prefixed copy. */
export function generatedEncode(message: TaskResult): Uint8Array {
  return encodeFrame(
    encodeEnvelope({ messageId: 1n, body: { $case: 'taskResult', value: message } }),
  );
}
