import { describe, expect, it } from 'vitest';
import { measureCost } from './harness.js';

describe('measureCost', () => {
  it('reports this process CPU, GC and wall time over the measured stretch', () => {
    const meter = measureCost();
    let sink = 0;
    const deadline = process.hrtime.bigint() + 20_000_000n;
    while (process.hrtime.bigint() < deadline) sink += Math.sqrt(sink + 1);
    const cost = meter.stop();
    expect(sink).toBeGreaterThan(0);
    expect(cost.cpuUs).toBeGreaterThan(0);
    expect(cost.wallMs).toBeGreaterThanOrEqual(20);
    expect(cost.gcMs).toBeGreaterThanOrEqual(0);
  });
});
