import { until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CollectorFailure, HealthTracker, Supervisor } from '../src/index.js';
import { Harness } from './helpers/harness.js';

let harness: Harness;
let supervisor: Supervisor;
let health: HealthTracker;

beforeEach(async () => {
  harness = await Harness.create();
  supervisor = new Supervisor({ readyTimeoutMs: 10_000, stopGraceMs: 500 });
  health = new HealthTracker({ heartbeatIntervalMs: 100 }); // stale after 300 ms
  harness.on('hello', ({ id, pid }) => {
    supervisor.markReady(id, pid);
    health.register(id);
  });
  harness.on('heartbeat', (id) => health.heartbeat(id));
  harness.on('disconnect', (id) => health.connectionLost(id));
  supervisor.on('exit', (e) => health.processExited(e.id, e.code, e.signal));
});

afterEach(async () => {
  await supervisor.close();
  health.close();
  await harness.close();
});

/** Blocks this process's event loop for `ms` (the agent stalls: GC, a sync call, a busy loop). */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('HealthTracker with real collectors and a blocked agent loop (issue 11)', () => {
  it('a 3 s block of the agent’s event loop fails none of its honest collectors', async () => {
    const ids = ['c1', 'c2', 'c3'];
    const failures: CollectorFailure[] = [];
    health.on('failed', (f) => failures.push(f));
    for (const id of ids) supervisor.start(harness.spec(id));
    await until(() => ids.every((id) => (health.get(id)?.heartbeats ?? 0) >= 5), {
      what: 'every collector heartbeating',
    });
    const before = new Map(ids.map((id) => [id, health.get(id)?.heartbeats ?? 0]));
    blockEventLoop(3000);
    // Sentinel: every collector has been heard from again, well past the stale time.
    await until(
      () => ids.every((id) => (health.get(id)?.heartbeats ?? 0) >= (before.get(id) ?? 0) + 40),
      { what: 'heartbeats after the stall', timeoutMs: 15_000 },
    );
    expect(failures).toEqual([]);
    for (const id of ids) expect(health.state(id)).not.toBe('failed');
    expect(health.stats().stalls).toBeGreaterThanOrEqual(1);
    expect(health.stats().maxLagMs).toBeGreaterThan(2000);
  });
});
