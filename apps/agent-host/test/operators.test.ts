import { execFile, execFileSync } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentTestContext, CLI, cli, exitingCommand, literal } from './helpers.js';

const exec = promisify(execFile);
const posix = process.platform !== 'win32';
const ctx = agentTestContext();
let dir = '';

beforeEach(async () => {
  await ctx.setup();
  dir = ctx.dir();
});
afterEach(() => ctx.teardown());

async function gone(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
  );
}

function tmuxMissing(): string | undefined {
  // tmux drives a POSIX pseudo-terminal; Windows has consoles (ConPTY), which tmux does not run on.
  if (!posix) return 'tmux: POSIX only';
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'tmux is not installed (.ci/run installs it with apt when it can)';
  }
}
const noTmux = tmuxMissing();
if (noTmux !== undefined) console.warn(`live-table terminal test skipped: ${noTmux}`);

describe.skipIf(noTmux !== undefined)('the live table in a real terminal (tmux)', () => {
  it('keeps the WARN line of a SIGKILLed collector above one table; Ctrl-C leaves no stray text', async () => {
    const server = `de-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const tmux = (...args: string[]) => exec('tmux', ['-L', server, '-f', '/dev/null', ...args]);
    const pane = async () => (await tmux('capture-pane', '-p', '-t', 'agent')).stdout;
    const command = [
      process.execPath,
      CLI,
      'run',
      '--endpoint',
      ctx.endpoint(),
      '--collectors',
      'procmond=1,netmond=1',
      '--interval',
      '300',
      '--heartbeat-interval',
      '200',
    ]
      .map((w) => `'${w}'`)
      .join(' ');
    await tmux(
      'new-session',
      '-d',
      '-s',
      'agent',
      '-x',
      '100',
      '-y',
      '40',
      `${command}; echo "EXITED $?"; sleep 60`,
    );
    try {
      await until(async () => /netmond-1 +\d+ +healthy/.test(await pane()), {
        timeoutMs: 20_000,
        what: 'the table with a healthy netmond-1',
      });
      const before = await until(async () => {
        const s = await ctx.status();
        return s?.collectors.find((c) => c.id === 'netmond-1' && c.pid !== null);
      });
      process.kill(before.pid ?? 0, 'SIGKILL');
      // The WARN line is there, and it stays while the table is redrawn after the restart.
      await until(
        async () => {
          const text = await pane();
          return /WARN +netmond-1 exited \(code null, signal SIGKILL\)/.test(text) &&
            /netmond-1 +\d+ +healthy +\d+ +\S+ +\S+ +1 /.test(text)
            ? text
            : undefined;
        },
        { timeoutMs: 20_000, what: 'the WARN line and netmond-1 restarted' },
      );
      await until(async () => ((await ctx.status())?.rounds ?? 0) >= 3, { timeoutMs: 20_000 });
      const after = await pane();
      if (process.env.DAEMONEYE_SHOW_PANE) console.log(after);
      expect(after).toMatch(/WARN +netmond-1 exited \(code null, signal SIGKILL\)/);
      expect(after.match(/^ID +PID +STATE/gm)).toHaveLength(1);
      expect(after.match(/^daemoneye-agent: results DISCARDED/gm)).toHaveLength(1);
      // The table (not the timestamped log lines above it) fits 80 columns.
      for (const line of after.split('\n').filter((l) => !/^\d{4}-/.test(l)))
        expect(line.length).toBeLessThanOrEqual(80);
      await tmux('send-keys', '-t', 'agent', 'C-c');
      const end = await until(
        async () => {
          const text = await pane();
          return /EXITED 0/.test(text) ? text : undefined;
        },
        { timeoutMs: 20_000, what: 'the agent to exit' },
      );
      expect(end).not.toMatch(/dadaemoneye/);
      expect(end.match(/^ID +PID +STATE/gm)).toHaveLength(1);
      expect(await gone(ctx.endpoint())).toBe(true);
      expect(await gone(ctx.tokenPath())).toBe(true);
    } finally {
      await tmux('kill-server').catch(() => undefined);
    }
  });
});

describe('daemoneye-agent run: exit paths', () => {
  it('stdout closed by its reader (| head -1): a quiet exit 0, the socket and token files removed', async () => {
    const agent = ctx.run(['--collectors', 'procmond=1', '--interval', '200']);
    await new Promise((resolve) => agent.child.stdout?.once('data', resolve));
    agent.child.stdout?.destroy();
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(agent.stderr).not.toMatch(/EPIPE|ERROR/);
    expect(await gone(ctx.endpoint())).toBe(true);
    expect(await gone(ctx.tokenPath())).toBe(true);
  });

  it('stdout and stderr both closed (2>&1 | head): exit 0, the files removed', async () => {
    const agent = ctx.run(['--collectors', 'procmond=1', '--interval', '200']);
    await new Promise((resolve) => agent.child.stdout?.once('data', resolve));
    agent.child.stderr?.destroy();
    agent.child.stdout?.destroy();
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(await gone(ctx.endpoint())).toBe(true);
    expect(await gone(ctx.tokenPath())).toBe(true);
  });

  it('stderr closed: the agent keeps running; stop still removes the files', async () => {
    const out = join(dir, 'o.ndjson');
    const agent = ctx.run(['--collectors', 'procmond=1', '--interval', '200', '--output', out]);
    await agent.waitLog(/round 1:/);
    agent.child.stderr?.destroy();
    await until(async () => ((await ctx.status())?.rounds ?? 0) >= 3, { timeoutMs: 20_000 });
    expect((await cli(['stop', '--endpoint', ctx.endpoint()])).code).toBe(0);
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(await gone(ctx.endpoint())).toBe(true);
    expect(await gone(ctx.tokenPath())).toBe(true);
  });

  it('no collector could start: the wait ends at the give-up, exit 3, the files removed', async () => {
    const agent = ctx.run([
      '--collectors',
      'procmond=1',
      '--collector-command',
      `procmond=${exitingCommand()}`,
    ]);
    expect((await agent.exited).code).toBe(3);
    expect(agent.stderr).toMatch(/giving up on it/);
    expect(agent.stderr).toMatch(/ERROR no collector could start \(procmond-1\): stopping/);
    expect(await gone(ctx.endpoint())).toBe(true);
    expect(await gone(ctx.tokenPath())).toBe(true);
  });
});

describe('daemoneye-agent: command-line answers', () => {
  it.each([
    [['run', '--interval', '-5'], '--interval must be a whole number >= 0, got -5'],
    [['run', '--timeout', '-1'], '--timeout must be a whole number >= 1, got -1'],
    [['run', '--rounds', '1e3'], '--rounds must be a whole number >= 0, got "1e3"'],
    [
      ['run', '--collectors', 'procmond'],
      '--collectors: expected KIND=COUNT[,KIND=COUNT], got "procmond"',
    ],
    [
      ['run', '--collector-script', 'procmond'],
      '--collector-script: expected KIND=PATH, got "procmond"',
    ],
    [
      ['run', '--collector-script', 'procmond=/does/not/exist.js'],
      'the procmond collector script "/does/not/exist.js" does not exist or is not a file',
    ],
  ])('%j: exit 2, %s', async (argv, message) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(`daemoneye-agent: ${message}`);
    expect(result.stderr).not.toMatch(/ambiguous|at .*\.js:\d+/);
  });

  it('a collector script that is a directory is refused (exit 2)', async () => {
    const result = await cli(['run', '--collector-script', `procmond=${dir}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/collector script ".*" does not exist or is not a file/);
  });

  it('status and stop with no agent: "no agent is running at <endpoint>", exit 1', async () => {
    for (const command of ['status', 'stop']) {
      const result = await cli([command, '--endpoint', ctx.endpoint()]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^daemoneye-agent ${command}: no agent is running at ${literal(ctx.endpoint())}`,
        ),
      );
    }
    // A token file left without a socket: still "no agent is running".
    await writeFile(ctx.tokenPath(), 'x'.repeat(64), { mode: 0o600 });
    const stale = await cli(['status', '--endpoint', ctx.endpoint()]);
    expect(stale.stderr).toMatch(/no agent is running at /);
  });

  it('--version, and --help documents the exit codes', async () => {
    expect(await cli(['--version'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^daemoneye-agent \d+\.\d+\.\d+\n$/),
    });
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const line of [
      /0 +ok/,
      /1 +runtime failure/,
      /2 +bad command line/,
      /3 +no collector could start/,
    ])
      expect(help.stdout).toMatch(line);
    expect((await cli(['run', '--help'])).stdout).toMatch(
      /Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 no collector could start/,
    );
  });
});
