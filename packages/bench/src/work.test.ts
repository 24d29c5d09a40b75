import { describe, expect, it } from 'vitest';
import {
  decodeWork,
  encodeWork,
  isIpcCpuReply,
  isIpcCpuRequest,
  isIpcResult,
  isIpcTask,
  makeResults,
} from './work.js';

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

describe('baseline message guards', () => {
  it('tell the cpu question and answer apart from tasks and results', () => {
    const reply = { type: 'cpu', collectorId: 'ipc-1', user: 10, system: 2 };
    expect(isIpcCpuRequest({ type: 'cpu?' })).toBe(true);
    expect(isIpcCpuReply(reply)).toBe(true);
    expect(isIpcCpuReply({ type: 'cpu', collectorId: 'ipc-1', user: '10', system: 2 })).toBe(false);
    expect(isIpcCpuReply({ type: 'cpu?' })).toBe(false);
    expect(isIpcCpuRequest(reply)).toBe(false);
    expect(isIpcTask(reply)).toBe(false);
    expect(isIpcResult(reply)).toBe(false);
    expect(isIpcCpuReply(null)).toBe(false);
  });
});
