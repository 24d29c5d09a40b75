import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentStatus, OutputLine } from '../src/agent.js';
import {
  type AgentProcess,
  alive,
  cli,
  fixedCollectorArgs,
  outputLines,
  startAgent,
  stopAgent,
  tempDir,
  testEndpoint,
  until,
} from './helpers.js';

const linux = process.platform === 'linux';
const posix = process.platform !== 'win32';

/** About 8 s in CI; set CHAOS_MS=60000 (or more) for a long run by hand. */
const CHAOS_MS = Number(process.env.CHAOS_MS ?? 8000);
const SEED = Number(process.env.CHAOS_SEED ?? 20261129);

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
let agent: AgentProcess | undefined;
const seenPids = new Set<number>();

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  if (agent && agent.child.exitCode === null && agent.child.signalCode === null)
    agent.child.kill('SIGKILL');
  await agent?.exited;
  for (const pid of seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await cleanup();
});

// On POSIX the chaos mixes SIGKILL with SIGSTOP of collectors; Windows has no SIGSTOP, so there
// every victim is killed (the same random draws decide, so a seed picks the same victims). The
// agent's RSS comes from /proc on Linux and from its own `status --json` figure elsewhere; it is
// stopped with SIGTERM on POSIX and with `daemoneye-agent stop` on Windows (see stopAgent).
describe('chaos', () => {
  // Its own time limit: CHAOS_MS of chaos plus the start and the stop, where every `status` is a
  // new CLI process (1-2 s each under Wine: the whole test took 27.8 s in one lane run and ran over
  // the 30 s default in the next).
  it(
    `random collector kills and stops for ${CHAOS_MS} ms lose no task and emit every set once`,
    async () => {
      const random = mulberry32(SEED);
      const endpoint = testEndpoint(dir);
      const out = join(dir, 'out.ndjson');
      agent = startAgent([
        '--endpoint',
        endpoint,
        '--collectors',
        'procmond=2,netmond=1',
        '--interval',
        '100',
        '--timeout',
        '1000',
        '--heartbeat-interval',
        '100',
        '--output',
        out,
        ...fixedCollectorArgs(),
      ]);
      const status = async (): Promise<AgentStatus | undefined> => {
        const r = await cli(['status', '--endpoint', endpoint, '--json']);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
      };
      await until(async () => {
        const s = await status();
        return s?.collectors.every((c) => c.state === 'healthy') ? s : undefined;
      });
      const agentPid = agent.child.pid ?? 0;
      let kills = 0;
      let stops = 0;
      let maxRssKb = 0;
      const end = Date.now() + CHAOS_MS;
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, 300 + random() * 500));
        const s = await status();
        const rss = linux
          ? await readFile(`/proc/${agentPid}/status`, 'utf8').then((t) =>
              Number(/VmRSS:\s+(\d+)/.exec(t)?.[1] ?? 0),
            )
          : Math.round((s?.memory.rssBytes ?? 0) / 1024);
        maxRssKb = Math.max(maxRssKb, rss);
        const live = s?.collectors.filter((c) => c.pid !== null && c.state === 'healthy') ?? [];
        for (const c of s?.collectors ?? []) if (c.pid) seenPids.add(c.pid);
        const victim = live[Math.floor(random() * live.length)];
        if (!victim?.pid) continue;
        if (random() < 0.7 || !posix) {
          process.kill(victim.pid, 'SIGKILL');
          kills++;
        } else {
          // A hang: the agent must notice by staleness and kill it itself.
          process.kill(victim.pid, 'SIGSTOP');
          stops++;
        }
      }
      const final = await status();
      for (const c of final?.collectors ?? []) if (c.pid) seenPids.add(c.pid);
      expect((await stopAgent(agent, endpoint)).code).toBe(0);
      const summary = agent.summary();
      const lines: OutputLine[] = await outputLines(out);
      const ids = lines.map((l) => l.correlationId);
      const partial = lines.filter((l) => !l.complete).length;
      const figures = {
        durationMs: CHAOS_MS,
        seed: SEED,
        rounds: summary.rounds,
        tasks: summary.tasks,
        kills,
        stops,
        restarts: summary.restarts,
        sets: lines.length,
        partialSets: partial,
        maxAgentRssMb: Math.round(maxRssKb / 1024),
      };
      process.stdout.write(`chaos figures ${JSON.stringify(figures)}\n`);
      expect(summary.tasks.accepted).toBe(summary.tasks.completed + summary.tasks.failed);
      expect(summary.tasks.inFlight).toBe(0);
      expect(new Set(ids).size).toBe(ids.length);
      const { aggregation } = summary;
      expect(aggregation.begun).toBe(lines.length);
      expect(aggregation.completed).toBe(lines.length);
      expect(summary.rounds).toBeGreaterThan(3);
      expect(maxRssKb).toBeLessThan(400 * 1024);
      for (const pid of seenPids)
        expect(alive(pid), `collector pid ${pid} left running`).toBe(false);
    },
    CHAOS_MS + 60_000,
  );
});
