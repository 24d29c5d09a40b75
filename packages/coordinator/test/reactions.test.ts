import { until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRunning, realContext, spec } from './helpers/context.js';

/** Set by scripts/windows-lane.sh: win32 under Wine, which differs from Windows in places. */
const underWine = process.platform === 'win32' && process.env.DAEMONEYE_WINE === '1';
/** Where the OS view of a process is sampled: /proc on Linux, PowerShell's Get-Process on win32. */
const osSampled = process.platform === 'linux' || (process.platform === 'win32' && !underWine);
const ctx = realContext();
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());
const fast = { backoff: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 } };

describe('failure reactions with real processes', () => {
  it('connection lost while the process lives: killed after the reconnect grace, restarted', async () => {
    const c = ctx.make({
      collectors: [spec('d', 'drop')],
      heartbeatIntervalMs: 200,
      reconnectGraceMs: 300,
      failover: fast,
    });
    const killed: string[] = [];
    c.on('collector-killed', (e) => killed.push(e.reason));
    await c.start();
    const first = await until(() => (killed.length > 0 ? killed : undefined));
    expect(first[0]).toBe('connection-lost');
    // The restarted one drops too: it is killed again (nothing is left alive behind the agent's back).
    await until(() => (c.status().collectors[0]?.restarts ?? 0) >= 1);
    expect(c.status().kills['connection-lost']).toBeGreaterThanOrEqual(1);
  });

  it('honest collectors survive a 3 s blocked loop in the agent (staleness forgiven, not killed)', async () => {
    const c = ctx.make({
      collectors: [spec('h1'), spec('h2')],
      heartbeatIntervalMs: 100,
      failover: fast,
    });
    const killed: string[] = [];
    c.on('collector-killed', (e) => killed.push(`${e.id} ${e.reason}`));
    await c.start();
    await until(() => c.status().collectors.every((x) => (x.lastHeartbeatAgoMs ?? -1) >= 0));
    const pids = c.status().collectors.map((x) => x.pid);
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      // Block the event loop (as a multi-second GC pause or a huge result would).
    }
    await until(
      () =>
        c
          .status()
          .collectors.every((x) => x.state === 'healthy' && (x.lastHeartbeatAgoMs ?? 1e9) < 200),
      { timeoutMs: 5000 },
    );
    expect(killed).toEqual([]);
    expect(c.status().collectors.map((x) => x.pid)).toEqual(pids);
    expect(c.status().maxLoopLagMs).toBeGreaterThan(2000);
    expect((await c.fanOut({ kind: 'enumerate' })).complete).toBe(true);
  });

  // Under Wine the win32 sampler gets nothing: Wine's powershell.exe is a stub that prints
  // nothing and exits 0 (checked), so no OS view of the collector exists there.
  it.runIf(osSampled)(
    'resource watchdog from the OS view: a collector that lies about its memory is restarted over-memory',
    async () => {
      const c = ctx.make({
        collectors: [spec('liar', 'liar', { maxRssBytes: 1024 * 1024 })],
        heartbeatIntervalMs: 100,
        watchdogHeartbeats: 3,
        failover: fast,
      });
      await c.start();
      const pid = c.status().collectors[0]?.pid;
      await until(() => c.status().kills['over-memory'] >= 1, { timeoutMs: 10_000 });
      await until(() => !isRunning(pid));
      expect(c.status().collectors[0]?.lastKill).toBe('over-memory');
    },
  );

  it('given up is not the end: retried after a cool-down that doubles', async () => {
    const c = ctx.make({
      collectors: [spec('loop', 'crash')],
      giveUpCooldownMs: 300,
      failover: { maxRestarts: 1, backoff: { initialDelayMs: 10, jitter: 0 } },
    });
    const events: string[] = [];
    c.on('collector-given-up', (e) => events.push(`given-up ${e.retryInMs}`));
    c.on('collector-retry', (e) => events.push(`retry ${e.attempt}`));
    await c.start();
    await until(() => events.length >= 3, { timeoutMs: 10_000 });
    expect(events.slice(0, 3)).toEqual(['given-up 300', 'retry 1', 'given-up 600']);
  });

  it('collectors\u2019 events.# publishes reach subscribers; results arrive on results.<kind>', async () => {
    const c = ctx.make({ collectors: [spec('e1', 'events')], heartbeatIntervalMs: 200 });
    const topics: string[] = [];
    c.subscribe('events.process.+', (m) =>
      topics.push(`${m.topic} ${m.type === 'event' ? m.collectorId : ''}`),
    );
    c.subscribe('results.#', (m) => topics.push(m.topic));
    await c.start();
    await until(() => topics.length >= 2);
    await c.fanOut({ kind: 'enumerate' });
    expect(topics).toContain('events.process.lifecycle e1');
    expect(topics).toContain('results.enumerate');
  });
});

describe('inbound backpressure with real processes', () => {
  it('a collector flooding one set is paused, the honest results land, it is not killed and is resumed', async () => {
    const c = ctx.make({
      collectors: [spec('flood', 'flood'), spec('honest')],
      heartbeatIntervalMs: 200,
      aggregation: { maxResultsPerSet: 100 },
      failover: fast,
    });
    const events: string[] = [];
    c.on('inbound-paused', (e) => events.push(`paused ${e.id}`));
    c.on('inbound-resumed', (e) => events.push(`resumed ${e.id}`));
    c.on('collector-killed', (e) => events.push(`killed ${e.id}`));
    await c.start();
    const pid = c.status().collectors[0]?.pid;
    const result = await c.fanOut({ kind: 'enumerate', timeoutMs: 5000 });
    expect(events).toContain('paused flood');
    expect(result.responded).toContain('honest');
    expect(result.results.map((r) => r.key)).toContain('own:honest');
    expect(result.overflowed).toEqual(['flood']);
    await until(() => events.includes('resumed flood'));
    expect(c.status().inbound).toMatchObject({ paused: 0, pauses: 1, resumes: 1 });
    await until(() => c.status().collectors[0]?.state === 'healthy');
    expect(events.filter((e) => e.startsWith('killed'))).toEqual([]);
    expect(c.status().collectors[0]?.pid).toBe(pid);
    // Read again: its next round's part is received (its share is fresh in the new set).
    const next = await c.fanOut({ kind: 'enumerate', timeoutMs: 5000 });
    expect(next.responded).toContain('honest');
  });
});
