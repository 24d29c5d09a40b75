import { FakeClock } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeContext } from '../test/helpers/fake-peers.js';
import { type AggregatedResult, type CoordinatorMessage, isCoordinatorError } from './index.js';

const ctx = fakeContext();

/**
 * Polls `check`, moving fake time 100 ms before each look. A restart waits for the child's exit,
 * which arrives after real socket I/O (slower under Wine), and then for a backoff timer on the fake
 * clock: an `until` that only waits in real time never fires that timer once the exit came late.
 */
function advanceUntil(check: () => boolean): Promise<true> {
  return ctx.until(async () => {
    await ctx.advance(100);
    return check() || undefined;
  });
}
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());

function noPlaceholder(result: AggregatedResult): void {
  const names = [
    ...result.expected,
    ...result.responded,
    ...result.missing,
    ...Object.keys(result.missingReasons),
  ];
  for (const item of result.results) names.push(...item.sources);
  expect(names.some((n) => n.startsWith('parked:'))).toBe(false);
}

describe('coordinator flows on fake time with fake peers', () => {
  it('fan-out: one task per connected collector, one set, duplicates merged', async () => {
    const c = ctx.make(['p1', 'p2']);
    expect(await c.start()).toEqual({ ready: ['p1', 'p2'], missing: [] });
    expect(c.state).toBe('running');
    const result = await c.fanOut({ kind: 'enumerate' });
    expect(result).toMatchObject({
      complete: true,
      reason: 'all-received',
      mode: 'fan-out',
      kind: 'enumerate',
    });
    expect(result.results.map((r) => r.key).sort()).toEqual(['own:p1', 'own:p2', 'shared']);
    expect(ctx.peers.tasks.get('p1')?.[0]?.deadlineUnixMs).toBeGreaterThan(BigInt(Date.now()));
  });

  it('fan-out to a holding collector ends at the timeout and says why it is missing', async () => {
    ctx.peers.modes.set('p2', 'hold');
    const c = ctx.make(['p1', 'p2']);
    await c.start();
    const pending = c.fanOut({ kind: 'enumerate', timeoutMs: 500 });
    await ctx.until(() => (ctx.peers.tasks.get('p2')?.length ?? 0) > 0);
    await ctx.advance(600);
    const result = await pending;
    expect(result).toMatchObject({
      complete: false,
      reason: 'timeout',
      responded: ['p1'],
      missing: ['p2'],
    });
    expect(result.missingReasons).toEqual({ p2: 'timeout' });
    const s = c.status();
    expect(s.tasks.accepted).toBe(s.tasks.completed + s.tasks.failed);
    expect(s.tasks.inFlight).toBe(0);
  });

  it('no collector: the fan-out resolves at once with reason no-collector', async () => {
    ctx.peers.modes.set('p1', 'silent');
    const c = ctx.make(['p1'], { startTimeoutMs: 200 });
    const started = c.start();
    await ctx.until(() => ctx.peers.children.has('p1'));
    await ctx.advance(300);
    expect(await started).toEqual({ ready: [], missing: ['p1'] });
    const result = await c.fanOut({ kind: 'enumerate' });
    expect(result).toMatchObject({ reason: 'no-collector', expected: [], complete: false });
  });

  it('start({ signal }): an abort ends the wait for Hellos at once', async () => {
    ctx.peers.modes.set('p1', 'silent');
    const c = ctx.make(['p1'], { startTimeoutMs: 100_000 });
    const abort = new AbortController();
    const started = c.start({ signal: abort.signal });
    await ctx.until(() => ctx.peers.children.has('p1'));
    abort.abort();
    expect(await started).toEqual({ ready: [], missing: ['p1'] });
  });

  it('dispatch: a parked task keeps the collector it was last on and says why it is missing', async () => {
    ctx.peers.modes.set('p1', 'hold');
    const c = ctx.make(['p1'], { failover: { placementTimeoutMs: 2000, maxRestarts: 0 } });
    await c.start();
    const pending = c.dispatch({ kind: 'integrity', timeoutMs: 10_000 });
    await ctx.until(() => (ctx.peers.tasks.get('p1')?.length ?? 0) > 0);
    ctx.peers.child('p1')?.exit(1, null);
    await ctx.until(() => c.status().collectors[0]?.state === 'given-up');
    await ctx.advance(2100);
    const result = await pending;
    noPlaceholder(result);
    expect(result).toMatchObject({
      complete: false,
      expected: ['p1'],
      missing: ['p1'],
      reason: 'collector-failed',
    });
    expect(result.missingReasons.p1).toBe('parked: placement-timeout');
    expect(result.failedTasks).toEqual([
      { taskId: `${result.correlationId}/task`, collectorId: 'p1', reason: 'placement-timeout' },
    ]);
  });

  it('dispatch with no collector at all: parked, then no-collector; the set names nobody', async () => {
    ctx.peers.modes.set('p1', 'silent');
    const c = ctx.make(['p1'], { startTimeoutMs: 100_000, failover: { placementTimeoutMs: 1000 } });
    void c.start();
    await ctx.until(() => ctx.peers.children.has('p1'));
    const pending = c.dispatch({ kind: 'integrity' });
    await ctx.advance(1100);
    const result = await pending;
    noPlaceholder(result);
    expect(result).toMatchObject({ reason: 'no-collector', expected: [] });
    expect(result.failedTasks[0]?.reason).toBe('placement-timeout');
  });

  it('dispatch moves to another collector when the first dies, and the set follows', async () => {
    ctx.peers.modes.set('p1', 'hold');
    ctx.peers.modes.set('p2', 'hold');
    const c = ctx.make(['p1', 'p2']);
    await c.start();
    const pending = c.dispatch({ kind: 'integrity', timeoutMs: 10_000 });
    const first = await ctx.until(() => [...ctx.peers.tasks.keys()][0]);
    const other = first === 'p1' ? 'p2' : 'p1';
    ctx.peers.modes.set(other, 'answer');
    ctx.peers.child(first)?.exit(null, 'SIGKILL');
    const result = await pending;
    expect(result).toMatchObject({ complete: true, expected: [other], responded: [other] });
  });

  it('an AbortSignal cancels: reason cancelled, tasks end failed', async () => {
    ctx.peers.modes.set('p1', 'hold');
    const c = ctx.make(['p1']);
    await c.start();
    const abort = new AbortController();
    const pending = c.fanOut({ kind: 'enumerate', signal: abort.signal });
    abort.abort();
    expect((await pending).reason).toBe('cancelled');
    expect(c.status().tasks).toMatchObject({ accepted: 1, failed: 1, inFlight: 0 });
    const already = await c.dispatch({ kind: 'integrity', signal: abort.signal });
    expect(already.reason).toBe('cancelled');
  });

  it('bad input and use after close reject with typed errors; close returns one promise', async () => {
    const c = ctx.make(['p1']);
    await c.start();
    await expect(c.fanOut({ kind: 'Bad Kind' })).rejects.toSatisfy((e) =>
      isCoordinatorError(e, 'ERR_COORDINATOR_INVALID_REQUEST'),
    );
    await expect(c.fanOut({ kind: 'enumerate', targets: ['nobody'] })).rejects.toSatisfy((e) =>
      isCoordinatorError(e, 'ERR_COORDINATOR_UNKNOWN_COLLECTOR'),
    );
    await expect(c.dispatch({ kind: 'integrity', timeoutMs: 0 })).rejects.toSatisfy((e) =>
      isCoordinatorError(e, 'ERR_COORDINATOR_INVALID_REQUEST'),
    );
    await c.fanOut({ kind: 'enumerate', correlationId: 'round-1' });
    await expect(c.dispatch({ kind: 'integrity', correlationId: 'round-1' })).rejects.toSatisfy(
      (e) => isCoordinatorError(e, 'ERR_COORDINATOR_INVALID_REQUEST'),
    );
    expect(() => c.subscribe('a.#.b', () => undefined)).toThrow(
      expect.objectContaining({ code: 'ERR_COORDINATOR_INVALID_REQUEST' }),
    );
    const closing = c.close();
    expect(c.close()).toBe(closing);
    await ctx.teardown();
    await expect(c.fanOut({ kind: 'enumerate' })).rejects.toSatisfy((e) =>
      isCoordinatorError(e, 'ERR_COORDINATOR_CLOSED'),
    );
    await expect(c.start()).rejects.toSatisfy((e) =>
      isCoordinatorError(e, 'ERR_COORDINATOR_CLOSED'),
    );
  });

  it('subscribe: results are published on results.<kind>', async () => {
    const c = ctx.make(['p1']);
    await c.start();
    const seen: CoordinatorMessage[] = [];
    const off = c.subscribe('results.+', (m) => seen.push(m));
    await c.fanOut({ kind: 'enumerate' });
    off();
    await c.fanOut({ kind: 'enumerate' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ type: 'result', topic: 'results.enumerate' });
  });

  it('a subscriber that throws goes to onCallbackError; the coordinator goes on', async () => {
    const errors: unknown[] = [];
    const c = ctx.make(['p1'], { onCallbackError: (e) => errors.push(e) });
    await c.start();
    c.subscribe('results.#', () => {
      throw new Error('boom');
    });
    expect((await c.fanOut({ kind: 'enumerate' })).complete).toBe(true);
    expect(errors).toHaveLength(1);
    expect(isCoordinatorError(errors[0], 'ERR_COORDINATOR_CALLBACK_FAILED')).toBe(true);
  });

  it('admission: a pid the coordinator did not start is refused and counted per reason', async () => {
    ctx.peers.modes.set('p1', 'wrong-pid');
    const refused: string[] = [];
    const c = ctx.make(['p1'], { startTimeoutMs: 500 });
    c.on('collector-refused', (e) => refused.push(e.reason));
    const started = c.start();
    await ctx.until(() => refused.length > 0);
    await ctx.advance(600);
    expect((await started).missing).toEqual(['p1']);
    expect(refused[0]).toBe('pid-mismatch');
    expect(c.status().refusals['pid-mismatch']).toBeGreaterThanOrEqual(1);
    expect(c.status().refusedCollectors).toBeGreaterThanOrEqual(1);
  });
});

describe('failure reactions on fake time', () => {
  it('connection lost while the process lives: killed after the reconnect grace, then restarted', async () => {
    const c = ctx.make(['p1'], { reconnectGraceMs: 1500 });
    const killed: string[] = [];
    c.on('collector-killed', (e) => killed.push(e.reason));
    await c.start();
    const child = ctx.peers.child('p1');
    await child?.client?.close('drop');
    await ctx.until(() => c.status().collectors[0]?.state === 'disconnected');
    await ctx.advance(1400);
    expect(killed).toEqual([]);
    expect(child?.exited).toBe(false);
    await ctx.advance(200);
    expect(killed).toEqual(['connection-lost']);
    expect(child?.signals).toEqual(['SIGKILL']);
    await advanceUntil(
      () =>
        c.status().collectors[0]?.state === 'healthy' && c.status().collectors[0]?.restarts === 1,
    );
    expect(c.status().kills['connection-lost']).toBe(1);
  });

  it('a stale collector (connected, no heartbeats) is killed and restarted', async () => {
    ctx.peers.modes.set('p1', 'mute');
    const c = ctx.make(['p1'], { heartbeatIntervalMs: 1000 });
    const killed: string[] = [];
    c.on('collector-killed', (e) => killed.push(e.reason));
    await c.start();
    ctx.peers.modes.set('p1', 'answer');
    const silentSince = ctx.clock.now();
    await ctx.advance(2500);
    expect(killed).toEqual([]);
    // Stale 3 intervals after its last heartbeat (the one sent at the Welcome).
    while (killed.length === 0 && ctx.clock.now() - silentSince < 5000) await ctx.advance(100);
    expect(killed).toEqual(['stale']);
    expect(ctx.clock.now() - silentSince).toBeLessThanOrEqual(3600);
    await advanceUntil(() => c.status().collectors[0]?.state === 'healthy');
    expect(c.status().collectors[0]?.restarts).toBe(1);
  });

  it('the agent’s own stall is not the collector’s fault: the HealthTracker holds the verdict', async () => {
    const clock = new FakeClock(1000);
    const c = ctx.make(['p1'], { heartbeatIntervalMs: 1000, loopLagToleranceMs: 1000, clock });
    const stalls: number[] = [];
    const killed: string[] = [];
    c.on('loop-stall', (e) => stalls.push(e.lagMs));
    c.on('collector-killed', (e) => killed.push(e.reason));
    await c.start();
    // A 5 s block: every timer due in it fires late, at once, before any socket is read.
    clock.stall(5000);
    clock.advance(0);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toBeGreaterThanOrEqual(2000);
    expect(killed).toEqual([]);
    expect(c.status().lagForgiven).toBeGreaterThanOrEqual(1);
    expect(c.status().loopStalls).toBe(1);
    expect(c.status().maxLoopLagMs).toBeGreaterThanOrEqual(2000);
    expect(c.status().collectors[0]?.state).not.toBe('failed');
  });

  it('held, not forgiven for good: a collector still silent after the stall is failed once the hold ends', async () => {
    ctx.peers.modes.set('p1', 'mute');
    const clock = new FakeClock(1000);
    const c = ctx.make(['p1'], { heartbeatIntervalMs: 1000, clock });
    const failed: string[] = [];
    c.on('collector-failed', (e) => failed.push(e.reason));
    await c.start();
    clock.stall(5000);
    clock.advance(0);
    expect(c.status().lagForgiven).toBeGreaterThanOrEqual(1);
    expect(failed).toEqual([]);
    // The hold is one interval plus the threshold: then the silence is the collector's.
    for (let i = 0; i < 25 && failed.length === 0; i++) clock.advance(100);
    expect(failed).toEqual(['stale']);
  });

  it('without a stall the same silence is the collector’s: failed stale (regression guard of the above)', async () => {
    const clock = new FakeClock(1000);
    const c = ctx.make(['p1'], { heartbeatIntervalMs: 1000, clock });
    const failed: string[] = [];
    c.on('collector-failed', (e) => failed.push(e.reason));
    await c.start();
    for (let i = 0; i < 50; i++) clock.advance(100);
    expect(failed).toEqual(['stale']);
    expect(c.status().lagForgiven).toBe(0);
  });

  it('resource watchdog: over maxRssBytes for 3 heartbeats in a row restarts with over-memory', async () => {
    const c = ctx.make(['p1'], {
      heartbeatIntervalMs: 200,
      collectors: [{ id: 'p1', kind: 'procmond', command: 'fake', maxRssBytes: 64 * 1024 * 1024 }],
      resourceSampler: async () => ({ rssBytes: 512 * 1024 * 1024, cpuTimeMs: 0 }),
    });
    const killed: { reason: string; detail: string }[] = [];
    c.on('collector-killed', (e) => killed.push(e));
    await c.start();
    await ctx.advance(200);
    await ctx.advance(200);
    expect(killed).toEqual([]);
    await ctx.advance(200);
    await ctx.until(() => killed.length > 0);
    expect(killed[0]?.reason).toBe('over-memory');
    expect(c.status().kills['over-memory']).toBe(1);
  });

  it('restart intensity reached: given-up, shown in status, retried after a doubling cool-down', async () => {
    ctx.peers.modes.set('p1', 'crash');
    const c = ctx.make(['p1'], {
      giveUpCooldownMs: 60_000,
      failover: { maxRestarts: 2, backoff: { initialDelayMs: 10, maxDelayMs: 10, jitter: 0 } },
    });
    const events: string[] = [];
    c.on('collector-given-up', (e) => events.push(`given-up ${e.retryInMs}`));
    c.on('collector-retry', (e) => events.push(`retry ${e.attempt}`));
    const started = c.start();
    for (let i = 0; i < 20 && events.length === 0; i++) await ctx.advance(20, 10);
    expect(await started).toEqual({ ready: [], missing: ['p1'] });
    expect(events).toEqual(['given-up 60000']);
    expect(c.status().collectors[0]?.state).toBe('given-up');
    expect(c.status().collectors[0]?.retryInMs).toBeGreaterThan(59_000);
    expect(c.status().givenUp).toBe(1);
    await ctx.advance(60_000, 1000);
    for (let i = 0; i < 20 && events.length < 3; i++) await ctx.advance(20, 10);
    expect(events).toEqual(['given-up 60000', 'retry 1', 'given-up 120000']);
    // 3 spawns per slot (first + 2 restarts), the retry counted as a restart too: never reset to 0.
    expect(c.status().collectors[0]?.restarts).toBe(5);
  });
});
