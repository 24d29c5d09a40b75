import type { AggregatedResult } from '@daemoneye/aggregator';
import {
  type DetectionResult,
  type DetectionResultView,
  encodeTaskResultFrame,
} from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import * as work from './ceiling-work.js';

const PATHS: readonly work.DecodePath[] = ['lazy', 'lazy-per-result', 'ts-proto'];

describe('ceiling scenario paths', () => {
  it('lazy and ts-proto paths complete the same sets with the same results', () => {
    const [template] = work.buildTemplates(1);
    if (!template) throw new Error('no template');
    const lazy: AggregatedResult<DetectionResultView>[] = [];
    const full: AggregatedResult<DetectionResult>[] = [];
    const lazyAggregator = work.makeAggregator<DetectionResultView>((r) => lazy.push(r));
    const fullAggregator = work.makeAggregator<DetectionResult>((r) => full.push(r));
    work.runSet(lazyAggregator, template, work.lazyHandler(lazyAggregator, 'frame', undefined));
    work.runSet(fullAggregator, template, work.tsProtoHandler(fullAggregator, undefined));
    expect(lazy).toHaveLength(1);
    expect(full).toHaveLength(1);
    const [a] = lazy;
    const [b] = full;
    expect(a?.reason).toBe('all-received');
    expect(a?.results).toHaveLength(work.RESULTS_PER_SET);
    expect(a?.results.map((item) => item.result.decode())).toEqual(
      b?.results.map((item) => item.result),
    );
  });

  it('frames are windows on one shared chunk (as a socket read would give them)', () => {
    const [template] = work.buildTemplates(1);
    const buffers = new Set(template?.frames.map((frame) => frame.buffer));
    expect(buffers.size).toBe(1);
  });

  it('every path decodes every result of a frame, and its pipeline completes or keeps the set', () => {
    const [template] = work.buildTemplates(1);
    if (!template) throw new Error('no template');
    for (const path of PATHS) {
      const decode = work.decoderFor(path);
      expect(template.frames.map((frame) => decode(frame))).toEqual(
        template.frames.map(() => work.RESULTS_PER_FRAME),
      );
      const completed: number[] = [];
      const done = work.pipelineFor(path, undefined, (r) => completed.push(r.results.length));
      work.runSet(done, template, done.handle);
      expect(completed).toEqual([work.RESULTS_PER_SET]);
      expect(done.pendingResults()).toBe(0);
      const pending = work.pipelineFor(path, false);
      work.runSet(pending, template, pending.handle);
      expect(pending.pendingResults()).toBe(work.RESULTS_PER_SET);
    }
  });

  it('the generated-encoder baseline writes the same frames as encodeTaskResultFrame', () => {
    for (const message of work.collectorMessages(3)) {
      expect(message.results).toHaveLength(work.RESULTS_PER_FRAME);
      expect(Buffer.from(work.generatedEncode(message))).toEqual(
        encodeTaskResultFrame(message, 1n),
      );
    }
  });
});
