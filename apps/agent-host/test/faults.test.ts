import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CollectorClient } from '@daemoneye/ipc-transport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../src/agent.js';
import { type AgentProcess, agentTestContext, alive, outputLines, until } from './helpers.js';

const linux = process.platform === 'linux';
const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
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

function rssKb(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((t) =>
    Number(/VmRSS:\s+(\d+)/.exec(t)?.[1] ?? 0),
  );
}

// Linux only: SIGSTOP/SIGCONT (Windows has neither), /dev/full, and stops by SIGTERM/SIGINT with a
// clean exit (on Windows SIGTERM from another process is TerminateProcess; no handler runs).
describe.skipIf(!linux)('faults', () => {
  it('kill -9 of the agent: collectors exit, a restarted agent replaces the stale socket', async () => {
    const first = run(['--collectors', 'procmond=1,netmond=1', '--output', join(dir, 'a.ndjson')]);
    const s = await allHealthy();
    const collectorPids = s.collectors.map((c) => Number(c.pid));
    pids.push(...collectorPids);
    first.child.kill('SIGKILL');
    await first.exited;
    await stat(endpoint()); // the stale socket file is left behind
    await until(() => (collectorPids.every((pid) => !alive(pid)) ? true : undefined), 10_000);
    const second = run([
      '--collectors',
      'procmond=1',
      '--rounds',
      '2',
      '--output',
      join(dir, 'b.ndjson'),
    ]);
    expect((await second.exited).code).toBe(0);
    const lines = (await readFile(join(dir, 'b.ndjson'), 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  it('SIGSTOP of the agent: collector memory stays bounded, the agent recovers', async () => {
    const agent = run([
      '--collectors',
      'procmond=1',
      '--heartbeat-interval',
      '100',
      '--output',
      join(dir, 'a.ndjson'),
    ]);
    const s = await allHealthy();
    const pid = Number(s.collectors[0]?.pid);
    pids.push(pid);
    const before = await rssKb(pid);
    agent.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 2000));
    const during = await rssKb(pid);
    agent.child.kill('SIGCONT');
    expect(during - before).toBeLessThan(50 * 1024);
    const after = await allHealthy();
    expect(after.rounds).toBeGreaterThanOrEqual(s.rounds);
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('SIGSTOP of a collector: failed by staleness, killed and restarted', async () => {
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
  });

  it('a full disk stops the agent cleanly with a clear error', async () => {
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
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(agent.stderr).toMatch(/unexpected collector evil-1/);
    const lines = await outputLines(out);
    expect(lines.some((l: { correlationId: string }) => l.correlationId.includes('forged'))).toBe(
      false,
    );
  });

  it('Ctrl-C (SIGINT to the process group) lets the round in flight finish', async () => {
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
  });

  it('a second signal while collectors ignore SIGTERM kills them and still removes the files', async () => {
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
  });

  it('SIGTERM while waiting for collectors to connect stops at once', async () => {
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
