import { describe, expect, it } from 'vitest';
import { decodeWork, encodeWork, makeResults } from './work.js';

describe('work specs', () => {
  it('round-trips through the task payload', () => {
    expect(decodeWork(encodeWork({ batches: 10, batchSize: 100 }))).toEqual({
      batches: 10,
      batchSize: 100,
    });
    expect(decodeWork(new Uint8Array())).toEqual({ batches: 1, batchSize: 0 });
  });

  it('makes results with distinct fingerprints per task', () => {
    const results = makeResults('c1', 't1', 0, 3, 0n);
    expect(new Set(results.map((r) => r.fingerprint)).size).toBe(3);
  });
});
