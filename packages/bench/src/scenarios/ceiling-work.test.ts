import type { AggregatedResult } from '@daemoneye/aggregator';
import type { DetectionResult, DetectionResultView } from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import {
  buildTemplates,
  lazyHandler,
  makeAggregator,
  RESULTS_PER_SET,
  runSet,
  tsProtoHandler,
} from './ceiling-work.js';

describe('ceiling scenario paths', () => {
  it('lazy and ts-proto paths complete the same sets with the same results', () => {
    const [template] = buildTemplates(1);
    if (!template) throw new Error('no template');
    const lazy: AggregatedResult<DetectionResultView>[] = [];
    const full: AggregatedResult<DetectionResult>[] = [];
    const lazyAggregator = makeAggregator<DetectionResultView>((r) => lazy.push(r));
    const fullAggregator = makeAggregator<DetectionResult>((r) => full.push(r));
    runSet(lazyAggregator, template, lazyHandler(lazyAggregator, 'frame', undefined));
    runSet(fullAggregator, template, tsProtoHandler(fullAggregator, undefined));
    expect(lazy).toHaveLength(1);
    expect(full).toHaveLength(1);
    const [a] = lazy;
    const [b] = full;
    expect(a?.reason).toBe('all-received');
    expect(a?.results).toHaveLength(RESULTS_PER_SET);
    expect(a?.results.map((item) => item.result.decode())).toEqual(
      b?.results.map((item) => item.result),
    );
  });

  it('frames are windows on one shared chunk (as a socket read would give them)', () => {
    const [template] = buildTemplates(1);
    const buffers = new Set(template?.frames.map((frame) => frame.buffer));
    expect(buffers.size).toBe(1);
  });
});
