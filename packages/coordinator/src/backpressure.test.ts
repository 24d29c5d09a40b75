import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeContext } from '../test/helpers/fake-peers.js';

const ctx = fakeContext();
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());

describe('inbound backpressure on fake time', () => {
  it('a collector whose share is full is paused, its stale verdict held, then resumed, never killed', async () => {
    ctx.peers.modes.set('f1', 'flood');
    ctx.peers.modes.set('h1', 'hold');
    const c = ctx.make(['f1', 'h1'], {
      heartbeatIntervalMs: 1000,
      aggregation: { maxResultsPerSet: 100 },
    });
    const events: string[] = [];
    c.on('inbound-paused', (e) => events.push(`paused ${e.id} ${e.reason}`));
    c.on('inbound-resumed', (e) => events.push(`resumed ${e.id} ${e.heldVerdict}`));
    c.on('collector-killed', (e) => events.push(`killed ${e.id}`));
    c.on('collector-failed', (e) => events.push(`failed ${e.id}`));
    await c.start();
    const round = c.fanOut({ kind: 'enumerate', timeoutMs: 8000 });
    await ctx.until(() => events.includes('paused f1 count'));
    const f1 = (): string | undefined => c.status().collectors.find((x) => x.id === 'f1')?.state;
    expect(f1()).toBe('paused');
    // Far past 3 heartbeat intervals: its heartbeats sit unread, the verdict is held.
    await ctx.advance(5000);
    expect(c.status().inbound.heldVerdicts).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.startsWith('killed') || e.startsWith('failed'))).toEqual([]);
    await ctx.advance(3500);
    const result = await round;
    expect(result.overflowed).toEqual(['f1']);
    expect(result.missingReasons.f1).toBe('overflow');
    expect(result.results).toHaveLength(50);
    await ctx.until(() => events.includes('resumed f1 true'));
    await ctx.advance(1000);
    await ctx.until(() => f1() === 'healthy');
    expect(c.status().inbound).toEqual({ paused: 0, pauses: 1, resumes: 1, heldVerdicts: 1 });
    expect(events.filter((e) => e.startsWith('killed') || e.startsWith('failed'))).toEqual([]);
    expect(ctx.peers.children.get('f1')).toHaveLength(1);
  });
});

describe('conflicts on fake time', () => {
  it('the same fingerprint with other content from two collectors is a conflict with every variant', async () => {
    ctx.peers.modes.set('p2', 'forge');
    const c = ctx.make(['p1', 'p2']);
    await c.start();
    const result = await c.fanOut({ kind: 'enumerate' });
    expect(result.complete).toBe(true);
    expect(result.conflicts).toBe(1);
    const shared = result.results.find((r) => r.key === 'shared');
    expect(shared?.conflict).toBe(true);
    if (shared?.conflict !== true) return;
    const variants = shared.variants.map((v) => ({
      sources: [...v.sources],
      executable: v.result.attributes.executable,
    }));
    expect(variants).toHaveLength(2);
    expect(variants).toContainEqual({ sources: ['p1'], executable: undefined });
    expect(variants).toContainEqual({ sources: ['p2'], executable: '/tmp/evil' });
    // Agreeing copies are not conflicts.
    expect(result.results.filter((r) => r.conflict)).toHaveLength(1);
  });
});
