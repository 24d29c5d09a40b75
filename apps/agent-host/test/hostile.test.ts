import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CollectorClient } from '@daemoneye/ipc-transport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentTestContext, alive, outputLines, stopAgent, until } from './helpers.js';

const ROGUE = fileURLToPath(new URL('./fixtures/rogue-procmond.mjs', import.meta.url));
const CRASH_ONCE = fileURLToPath(new URL('./fixtures/crash-once-procmond.mjs', import.meta.url));
const ctx = agentTestContext();
const { endpoint, status } = ctx;
const lines = outputLines;
let dir = '';

beforeEach(async () => {
  await ctx.setup();
  dir = ctx.dir();
});

afterEach(() => ctx.teardown());

// The agent is stopped with SIGTERM on POSIX and with `daemoneye-agent stop` on Windows (where
// SIGTERM from another process is TerminateProcess and no handler runs): see stopAgent.
describe('hostile collectors against a running agent', () => {
  it('a compromised collector: forged correlation ids refused and counted, replays idempotent', async () => {
    const out = join(dir, 'out.ndjson');
    const agent = ctx.run([
      '--collectors',
      'procmond=1,netmond=1',
      '--collector-script',
      `procmond=${ROGUE}`,
      '--heartbeat-interval',
      '200',
      '--interval',
      '200',
      '--timeout',
      '1000',
      '--output',
      out,
    ]);
    const s = await until(async () => {
      const x = await status();
      return x && x.rounds >= 3 && x.rejectedResults > 0 ? x : undefined;
    });
    expect(s.collectors.every((c) => c.state === 'healthy')).toBe(true);
    expect((await stopAgent(agent, endpoint())).code).toBe(0);
    const summary = agent.summary();
    const all = await lines(out);
    const ids = all.map((l) => l.correlationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.some((id) => id.includes('forged') || id.includes('never-given'))).toBe(false);
    expect(summary.aggregation.begun).toBe(all.length);
    // Every enumerate round is complete: the rogue's real answers count, its forgeries do not.
    for (const line of all.filter((l) => l.kind === 'enumerate')) {
      expect(line.complete).toBe(true);
      const fingerprints = line.results.map((r) => r.fingerprint);
      expect(fingerprints.some((f) => f.startsWith('forged') || f === 'after-final')).toBe(false);
    }
    expect(summary.rejectedResults).toBeGreaterThanOrEqual(2 * summary.rounds);
    expect(summary.tasks.accepted).toBe(summary.tasks.completed + summary.tasks.failed);
    expect(summary.tasks.inFlight).toBe(0);
  });

  it.each(['procmond', 'cli'])(
    'an impostor with the token (kind %s) cannot take over a collector id',
    async (kind) => {
      const agent = ctx.run([
        '--collectors',
        'procmond=1',
        '--heartbeat-interval',
        '200',
        '--interval',
        '300',
        '--output',
        join(dir, 'o.ndjson'),
      ]);
      const before = await until(async () => {
        const x = await status();
        const c = x?.collectors[0];
        return c?.state === 'healthy' && c.pid ? c : undefined;
      });
      // Kill the real procmond and race its restart with an impostor under its id.
      process.kill(Number(before.pid), 'SIGKILL');
      let accepted = 0;
      let duplicates = 0;
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline && accepted === 0) {
        const impostor = new CollectorClient({
          endpoint: endpoint(),
          collectorId: 'procmond-1',
          kind,
          reconnect: false,
        });
        const closed = new Promise<void>((resolve) =>
          impostor.on('state-change', ({ to }) => to === 'closed' && resolve()),
        );
        try {
          await impostor.connect();
        } catch {
          duplicates++;
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        accepted++;
        // The broker let it in; the agent must throw it out at once.
        const thrownOut = await Promise.race([
          closed.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
        ]);
        expect(thrownOut).toBe(true);
      }
      process.stdout.write(`impostor figures ${JSON.stringify({ kind, accepted, duplicates })}\n`);
      expect(accepted + duplicates).toBeGreaterThan(0);
      const after = await until(async () => {
        const x = await status();
        const c = x?.collectors[0];
        return x && c?.state === 'healthy' && c.pid && c.pid !== before.pid
          ? { status: x, collector: c }
          : undefined;
      });
      expect(after.collector.pid).not.toBe(process.pid);
      expect(alive(Number(after.collector.pid))).toBe(true);
      expect(after.status.refusedCollectors).toBeGreaterThanOrEqual(accepted);
      expect((await stopAgent(agent, endpoint())).code).toBe(0);
      const summary = agent.summary();
      expect(summary.tasks.accepted).toBe(summary.tasks.completed + summary.tasks.failed);
    },
  );

  it('a collector that crashes holding a balanced task: the task waits for the restart and lands there', async () => {
    const out = join(dir, 'out.ndjson');
    const agent = ctx.run([
      '--collectors',
      'procmond=1',
      '--collector-script',
      `procmond=${CRASH_ONCE}`,
      '--heartbeat-interval',
      '200',
      '--interval',
      '200',
      '--timeout',
      '5000',
      '--rounds',
      '3',
      '--output',
      out,
    ]);
    expect((await agent.exited).code).toBe(0);
    const all = await lines(out);
    const integrity = all.filter((l) => l.kind === 'integrity');
    expect(integrity.length).toBeGreaterThan(0);
    // The first integrity task was parked when its collector crashed, then answered by the
    // restarted one: its set completes instead of failing with collector-failed.
    expect(integrity[0]).toMatchObject({
      complete: true,
      reason: 'all-received',
      responded: ['procmond-1'],
    });
    expect(agent.stderr).toMatch(/failover of procmond-1: 1 task\(s\) taken, 0 moved, 1 parked/);
    const summary = agent.summary();
    expect(summary.restarts).toBeGreaterThanOrEqual(1);
    expect(summary.tasks.accepted).toBe(summary.tasks.completed + summary.tasks.failed);
    expect(summary.tasks.inFlight).toBe(0);
  });
});
