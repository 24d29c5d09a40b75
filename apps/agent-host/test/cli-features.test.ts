import { spawn } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchStatus } from '../src/status.js';
import {
  agentTestContext,
  cli,
  eventLines,
  fixedCollectorArgs,
  fixture,
  outputLines,
  stopAgent,
  underWine,
} from './helpers.js';

const PROCMOND = fileURLToPath(new URL('../dist/collectors/procmond.js', import.meta.url));
const ctx = agentTestContext();
/** Rounds of the skippedRounds test: enough after the first that several find no collector. */
const ROUNDS = 10;
let dir = '';

beforeEach(async () => {
  await ctx.setup();
  dir = ctx.dir();
});
afterEach(() => ctx.teardown());

describe('daemoneye-agent: stop, commands, config, events, give-up', () => {
  it('stop asks the running agent over IPC to stop gracefully; without an agent it says so', async () => {
    const out = join(dir, 'o.ndjson');
    const agent = ctx.run([
      '--collectors',
      'procmond=1',
      '--heartbeat-interval',
      '200',
      '--interval',
      '200',
      '--output',
      out,
      ...fixedCollectorArgs(),
    ]);
    await until(async () => ((await ctx.status())?.rounds ?? 0) >= 1, { timeoutMs: 20_000 });
    const stopped = await cli(['stop', '--endpoint', ctx.endpoint()]);
    expect(stopped).toMatchObject({ code: 0, stdout: 'the agent is stopping\n' });
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(agent.stderr).toMatch(/stop requested by cli-/);
    await expect(stat(ctx.endpoint())).rejects.toMatchObject({ code: 'ENOENT' });
    const again = await cli(['stop', '--endpoint', ctx.endpoint()]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/daemoneye-agent stop: no agent/);
    for (const line of await outputLines(out)) expect(line.type).toBe('result');
  });

  // Under Wine, tasklist and PowerShell are stubs that list no process: procmond sees no start or
  // exit to publish. Real Windows runs it.
  it.skipIf(underWine)(
    '--collector-command runs any command line; procmond publishes lifecycle events as "type":"event" lines',
    async () => {
      const out = join(dir, 'o.ndjson');
      const agent = ctx.run([
        '--collectors',
        'procmond=1',
        '--collector-command',
        `procmond="${process.execPath}" '${PROCMOND}'`,
        '--watch-interval',
        '100',
        '--heartbeat-interval',
        '200',
        '--interval',
        '300',
        '--output',
        out,
      ]);
      await until(async () => ((await ctx.status())?.rounds ?? 0) >= 1, { timeoutMs: 20_000 });
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 400)'], {
        stdio: 'ignore',
      });
      const pid = child.pid ?? -1;
      const seen = await until(
        async () => {
          const events = (await eventLines(out)).filter(
            (e) => e.topic === 'events.process.lifecycle',
          );
          const mine = events.filter((e) => JSON.stringify(e.event).includes(`"pid":${pid},`));
          return mine.length >= 2 ? mine : undefined;
        },
        { timeoutMs: 15_000 },
      );
      expect(seen.map((e) => (e.event as { action: string }).action)).toEqual(['start', 'exit']);
      expect(seen[0]).toMatchObject({ type: 'event', collectorId: 'procmond-1' });
      expect((await stopAgent(agent, ctx.endpoint())).code).toBe(0);
      expect(agent.summary().events).toBeGreaterThanOrEqual(2);
      const results = await outputLines(out);
      expect(results.some((l) => l.kind === 'enumerate' && l.complete)).toBe(true);
    },
  );

  it('--config sets the run; no collector could start ends with 3, and so does --on-give-up exit', async () => {
    const config = join(dir, 'agent.json');
    await writeFile(
      config,
      JSON.stringify({
        // A collector that exits 1 at once (node, not /bin/false: Windows has none).
        collectors: [
          {
            kind: 'procmond',
            count: 1,
            command: process.execPath,
            args: ['-e', 'process.exit(1)'],
          },
        ],
        rounds: 3,
        interval: 100,
        heartbeatInterval: 200,
        onGiveUp: 'retry',
        output: join(dir, 'o.ndjson'),
      }),
    );
    // No collector could start at all: exit 3 as soon as the last one is given up, even with retry.
    const retry = ctx.run(['--config', config]);
    expect((await retry.exited).code).toBe(3);
    expect(retry.summary()).toMatchObject({ rounds: 0, skippedRounds: 0 });
    expect(retry.stderr).toMatch(/giving up on it for 60 s/);
    expect(retry.stderr).toMatch(/no collector could start \(procmond-1\)/);
    expect(await outputLines(join(dir, 'o.ndjson'))).toEqual([]);
    const exit = ctx.run(['--config', config, '--rounds', '0', '--on-give-up', 'exit']);
    expect((await exit.exited).code).toBe(3);
    expect(exit.stderr).toMatch(/no procmond collector is left and --on-give-up is exit/);
  });

  it('rounds with no collector connected are counted in skippedRounds, not run (status and summary)', async () => {
    const out = join(dir, 'o.ndjson');
    const agent = ctx.run([
      '--collectors',
      'procmond=1',
      '--collector-script',
      `procmond=${fixture('once-procmond.mjs')}`,
      '--heartbeat-interval',
      '200',
      '--interval',
      '200',
      '--rounds',
      String(ROUNDS),
      '--output',
      out,
    ]);
    // While it runs, status counts the skipped rounds too (asked in-process: the window is short).
    const seen = await until(async () => {
      const s = await fetchStatus(ctx.endpoint(), 2000).catch(() => undefined);
      return s && s.skippedRounds >= 1 ? s : undefined;
    });
    expect(seen.rounds).toBeGreaterThanOrEqual(1);
    // A collector did start (it answered round 1): not exit 3.
    expect((await agent.exited).code).toBe(0);
    const summary = agent.summary();
    expect(summary.rounds).toBeGreaterThanOrEqual(1);
    expect(summary.skippedRounds).toBeGreaterThanOrEqual(seen.skippedRounds);
    expect(summary.rounds + summary.skippedRounds).toBe(ROUNDS);
    expect(agent.stderr).toMatch(/round skipped: no collector is connected \(1 so far\)/);
    // A skipped round began no set: one enumerate line per round that ran.
    const enumerate = (await outputLines(out)).filter((l) => l.kind === 'enumerate');
    expect(enumerate).toHaveLength(summary.rounds);
  });

  it('a collector command that does not exist is refused before anything starts (exit 2)', async () => {
    const result = await cli([
      'run',
      '--collectors',
      'procmond=1',
      '--collector-command',
      `procmond=${join(dir, 'nope')} -x`,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /the procmond collector command ".*nope" does not exist or is not executable/,
    );
  });

  it('an unknown config key is refused with its JSON path (exit 2)', async () => {
    const config = join(dir, 'agent.json');
    await writeFile(config, JSON.stringify({ collectors: [{ kind: 'procmond', cout: 1 }] }));
    const result = await cli(['run', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\$\.collectors\[0\]\.cout is not a known key/);
  });
});
