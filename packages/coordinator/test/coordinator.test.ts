import { until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRunning, realContext, spec } from './helpers/context.js';

const ctx = realContext();
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());

describe('coordinator with real collector processes', () => {
  it('start, fan-out merged across collectors, dispatch, status, close', async () => {
    const c = ctx.make({ collectors: [spec('p1'), spec('p2')], heartbeatIntervalMs: 200 });
    const report = await c.start();
    expect(report).toEqual({ ready: ['p1', 'p2'], missing: [] });
    const fan = await c.fanOut({ kind: 'enumerate' });
    expect(fan).toMatchObject({ complete: true, reason: 'all-received', missing: [] });
    expect([...fan.expected].sort()).toEqual(['p1', 'p2']);
    const shared = fan.results.find((r) => r.key === 'shared');
    expect([...(shared?.sources ?? [])].sort()).toEqual(['p1', 'p2']);
    expect(fan.results).toHaveLength(3);
    const one = await c.dispatch({ kind: 'integrity' });
    expect(one).toMatchObject({ complete: true, mode: 'dispatch' });
    expect(one.expected).toHaveLength(1);
    const s = c.status();
    expect(s.tasks).toMatchObject({ accepted: 3, completed: 3, failed: 0, inFlight: 0 });
    expect(s.collectors.map((x) => x.state)).toEqual(['healthy', 'healthy']);
    const pids = s.collectors.map((x) => x.pid);
    await c.close();
    expect(c.state).toBe('closed');
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });

  it('kill -9: failure, restart, re-admission; the next fan-out is complete again', async () => {
    const c = ctx.make({
      collectors: [spec('p1')],
      heartbeatIntervalMs: 200,
      failover: { backoff: { initialDelayMs: 20, jitter: 0 } },
    });
    await c.start();
    const pid = c.status().collectors[0]?.pid ?? 0;
    process.kill(pid, 'SIGKILL');
    await until(() => {
      const x = c.status().collectors[0];
      return x?.state === 'healthy' && x.pid !== pid && x.restarts === 1;
    });
    expect(isRunning(pid)).toBe(false);
    expect((await c.fanOut({ kind: 'enumerate' })).complete).toBe(true);
  });
});
