import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CollectorClient } from '@daemoneye/ipc-transport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../src/agent.js';
import {
  type AgentProcess,
  agentTestContext,
  alive,
  fixedCollectorArgs,
  fixture,
  outputLines,
  stopAgent,
  until,
} from './helpers.js';

const linux = process.platform === 'linux';
const posix = process.platform !== 'win32';
const ctx = agentTestContext();
const { endpoint, status } = ctx;
let dir = '';
let pids: number[] = [];

beforeEach(async () => {
  await ctx.setup();
  dir = ctx.dir();
});

afterEach(async () => {
  await ctx.teardown();
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  pids = [];
});

function run(args: string[], detached = false): AgentProcess {
  return ctx.run(['--heartbeat-interval', '200', '--interval', '200', ...args], detached);
}

async function allHealthy(): Promise<AgentStatus> {
  return until(async () => {
    const s = await status();
    return s && s.collectors.length > 0 && s.collectors.every((c) => c.state === 'healthy')
      ? s
      : undefined;
  });
}

const MiB = 1024 * 1024;
/** The chatty collector's outbound queue bound (the transport's default maxQueueBytes). */
const QUEUE_BOUND = 8 * MiB;
/** What the chatty collector must have offered while the agent was stopped: 16 times its bound. */
const OFFERED = 16 * QUEUE_BOUND;
/** The agent's stop: well past its loop-lag tolerance (1 s) and its collectors' stale limit (300 ms). */
const STOP_MS = 2500;

interface ChattyStats {
  offered: number;
  accepted: number;
  refused: number;
  baseline: number;
  peak: number;
  gc: boolean;
}

async function chattyStats(path: string): Promise<ChattyStats | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined; // not written yet, or caught mid-write
  }
}

// Per test, the platform feature it needs: SIGSTOP/SIGCONT and process groups (POSIX; Windows has
// neither), /dev/full (Linux), and stops by SIGTERM/SIGINT with a clean exit (on Windows SIGTERM
// from another process is TerminateProcess: no handler runs).
describe('faults', () => {
  it('kill -9 of the agent: collectors exit, a restarted agent replaces the stale socket', async () => {
    const first = run([
      '--collectors',
      'procmond=1,netmond=1',
      ...fixedCollectorArgs(),
      '--output',
      join(dir, 'a.ndjson'),
    ]);
    const s = await allHealthy();
    const collectorPids = s.collectors.map((c) => Number(c.pid));
    pids.push(...collectorPids);
    first.child.kill('SIGKILL');
    await first.exited;
    // A Unix socket file outlives its process; a Windows pipe goes with its last handle.
    if (posix) await stat(endpoint());
    await until(() => (collectorPids.every((pid) => !alive(pid)) ? true : undefined), 10_000);
    const second = run([
      '--collectors',
      'procmond=1',
      ...fixedCollectorArgs(),
      '--rounds',
      '2',
      '--output',
      join(dir, 'b.ndjson'),
    ]);
    expect((await second.exited).code).toBe(0);
    const lines = (await readFile(join(dir, 'b.ndjson'), 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  // POSIX: SIGSTOP/SIGCONT do not exist on Windows.
  it.skipIf(!posix)(
    'SIGSTOP of the agent: a collector that keeps publishing holds its queue bound, not what it offered; after SIGCONT nobody is blamed and rounds resume',
    async () => {
      const agent = run([
        '--collectors',
        'procmond=1',
        '--collector-command',
        `procmond='${process.execPath}' --expose-gc '${fixture('chatty-procmond.mjs')}'`,
        '--heartbeat-interval',
        '100',
        '--output',
        join(dir, 'a.ndjson'),
      ]);
      const before = await until(async () => {
        const x = await status();
        return x && x.rounds >= 1 && x.collectors[0]?.state === 'healthy' ? x : undefined;
      });
      const pid = Number(before.collectors[0]?.pid);
      pids.push(pid);
      const flag = `${ctx.tokenPath()}.flood`;
      const statsPath = `${ctx.tokenPath()}.chatty.json`;
      agent.child.kill('SIGSTOP');
      const stoppedAt = performance.now();
      await writeFile(flag, '');
      // Stopped until the collector offered 16 times its queue bound, and for at least STOP_MS: a
      // stall shorter than the agent's loop-lag tolerance (1 s) looks like the collector's hang.
      const during = await until(async () => {
        const x = await chattyStats(statsPath);
        return x && x.offered >= OFFERED && performance.now() - stoppedAt >= STOP_MS
          ? x
          : undefined;
      });
      await rm(flag);
      agent.child.kill('SIGCONT');
      expect(during.gc).toBe(true);
      expect(during.refused).toBeGreaterThan(0);
      // What it retains (heap and Buffers after a GC) grew by the queue, not by what it offered. The
      // bound counts frame bytes; the memory behind them measured up to twice that here (16.1 MiB
      // over the baseline for 7.75 MiB queued), so the limit is three times the bound, and the
      // offered bytes are 16 times it (without the bound, growth follows the offered bytes).
      expect(during.accepted).toBeLessThanOrEqual(QUEUE_BOUND);
      expect(during.peak - during.baseline).toBeLessThan(3 * QUEUE_BOUND);
      // The agent's own stall is not the collector's fault: same process, no restart, and rounds
      // go on past those before the stop.
      const after = await until(async () => {
        const x = await status();
        const c = x?.collectors[0];
        return x && c?.state === 'healthy' && x.rounds >= before.rounds + 2 ? x : undefined;
      });
      expect(after.collectors[0]).toMatchObject({ pid, restarts: 0 });
      // The agent saw its own stall and held the verdict.
      expect(after.loopStalls).toBeGreaterThanOrEqual(1);
      expect(agent.stderr).not.toMatch(/procmond-1 failed|killed procmond-1|procmond-1 exited/);
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
    },
  );

  // POSIX: SIGSTOP does not exist on Windows.
  it.skipIf(!posix)(
    'SIGSTOP of a collector: failed by staleness, killed and restarted',
    async () => {
      const agent = run(['--collectors', 'procmond=2', '--output', join(dir, 'a.ndjson')]);
      const s = await allHealthy();
      const victim = s.collectors.find((c) => c.id === 'procmond-2');
      const pid = Number(victim?.pid);
      pids.push(pid);
      process.kill(pid, 'SIGSTOP');
      const stoppedAt = Date.now();
      await agent.waitLog(/procmond-2 failed \(stale\)/, 10_000);
      // Three 200 ms intervals, plus scheduling slack on a loaded 2-core machine.
      expect(Date.now() - stoppedAt).toBeLessThan(3000);
      const back = await until(async () => {
        const x = await status();
        const c = x?.collectors.find((y) => y.id === 'procmond-2');
        return c && c.state === 'healthy' && c.pid !== pid ? c : undefined;
      });
      expect(back.restarts).toBeGreaterThanOrEqual(1);
      expect(alive(pid)).toBe(false);
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
      const summary = agent.summary();
      expect(summary.tasks.accepted).toBe(summary.tasks.completed + summary.tasks.failed);
    },
  );

  // Linux: /dev/full (a device that fails every write with ENOSPC) exists only there.
  it.skipIf(!linux)('a full disk stops the agent cleanly with a clear error', async () => {
    const agent = run(['--collectors', 'procmond=1', '--rounds', '0', '--output', '/dev/full']);
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(agent.stderr).toMatch(/cannot write output: .*ENOSPC.*; stopping/);
    await expect(stat(endpoint())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an unwritable output path is refused with a clear error', async () => {
    const agent = run([
      '--collectors',
      'procmond=1',
      '--output',
      join(dir, 'missing', 'out.ndjson'),
    ]);
    expect((await agent.exited).code).toBe(1);
    expect(agent.stderr).toMatch(/cannot open output file .*ENOENT/);
  });

  it('a client with the token but a foreign id is refused in the handshake, never admitted', async () => {
    const out = join(dir, 'a.ndjson');
    const agent = run(['--collectors', 'procmond=1', '--output', out]);
    await allHealthy();
    const intruder = new CollectorClient({
      endpoint: endpoint(),
      collectorId: 'evil-1',
      kind: 'procmond',
      reconnect: false,
    });
    // Refused by the coordinator's admission inside the handshake: a Reject with a code.
    await expect(intruder.connect()).rejects.toMatchObject({
      rejectCode: 'ERR_UNKNOWN_COLLECTOR',
    });
    const impostor = new CollectorClient({
      endpoint: endpoint(),
      collectorId: 'procmond-1',
      kind: 'procmond',
      reconnect: false,
    });
    // Not the process the agent started for that id (admission runs before the duplicate check).
    await expect(impostor.connect()).rejects.toMatchObject({
      rejectCode: 'ERR_PID_MISMATCH',
    });
    const s = await allHealthy();
    expect(s.collectors.map((c) => c.id)).toEqual(['procmond-1']);
    expect((await stopAgent(agent, endpoint())).code).toBe(0);
    expect(agent.stderr).toMatch(/unexpected collector evil-1/);
    const lines = await outputLines(out);
    expect(lines.some((l: { correlationId: string }) => l.correlationId.includes('forged'))).toBe(
      false,
    );
  });

  // POSIX: process groups and kill(-pgid, SIGINT) do not exist on Windows (Ctrl-C is a console event).
  it.skipIf(!posix)(
    'Ctrl-C (SIGINT to the process group) lets the round in flight finish',
    async () => {
      const out = join(dir, 'a.ndjson');
      const agent = run(['--collectors', 'procmond=2', '--interval', '100', '--output', out], true);
      await allHealthy();
      const pgid = Number(agent.child.pid);
      process.kill(-pgid, 'SIGINT');
      expect((await agent.exited).code).toBe(0);
      const lines = await outputLines(out);
      // Collectors ignore SIGINT; the agent ends the round and stops them: no round is cut short.
      for (const line of lines.filter((l: { kind: string }) => l.kind === 'enumerate')) {
        expect(line.reason).not.toBe('collector-failed');
      }
      expect(agent.stderr).not.toMatch(/failed \(connection-lost\)/);
    },
  );

  // POSIX: on Windows SIGTERM from another process is TerminateProcess: no handler, no second signal.
  it.skipIf(!posix)(
    'a second signal while collectors ignore SIGTERM kills them and still removes the files',
    async () => {
      const agent = run([
        '--collectors',
        'procmond=1',
        '--collector-script',
        `procmond=${fixture('stubborn-procmond.mjs')}`,
        '--output',
        join(dir, 'a.ndjson'),
      ]);
      const s = await allHealthy();
      const pid = Number(s.collectors[0]?.pid);
      pids.push(pid);
      agent.child.kill('SIGTERM');
      await agent.waitLog(/finishing the round in flight/);
      await new Promise((r) => setTimeout(r, 500)); // the supervisor is now waiting out the grace
      expect(alive(pid)).toBe(true);
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code).toBe(130);
      expect(alive(pid)).toBe(false);
      await expect(stat(endpoint())).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(stat(join(dir, 'agent.token'))).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  // POSIX: on Windows SIGTERM from another process is TerminateProcess (no handler runs, no exit 0).
  it.skipIf(!posix)('SIGTERM while waiting for collectors to connect stops at once', async () => {
    const agent = run([
      '--collectors',
      'procmond=1',
      '--collector-script',
      `procmond=${fixture('silent-procmond.mjs')}`,
      '--output',
      join(dir, 'a.ndjson'),
    ]);
    await agent.waitLog(/started procmond-1/);
    const sent = Date.now();
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(Date.now() - sent).toBeLessThan(8000);
    await expect(stat(endpoint())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
