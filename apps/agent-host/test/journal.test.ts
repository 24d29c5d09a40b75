import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRunArgs, UsageError } from '../src/args.js';
import { formatStatus } from '../src/status.js';
import { agentTestContext, cli, fixture, until } from './helpers.js';

const ctx = agentTestContext();
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());

describe('--state-dir and --fsync', () => {
  it('parse: off by default, a policy only with a state dir, bad policies refused', () => {
    expect(parseRunArgs([]).stateDir).toBeUndefined();
    expect(parseRunArgs(['--state-dir', '/s'])).toMatchObject({ stateDir: '/s' });
    expect(parseRunArgs(['--state-dir', '/s', '--fsync', 'always'])).toMatchObject({
      stateDir: '/s',
      fsync: 'always',
    });
    expect(() => parseRunArgs(['--fsync', 'never'])).toThrow(/--fsync needs --state-dir/);
    expect(() => parseRunArgs(['--state-dir', '/s', '--fsync', 'often'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--state-dir', ''])).toThrow(UsageError);
  });

  it('status shows the journal (JSON and table); a stop leaves nothing live in it', async () => {
    const stateDir = join(ctx.dir(), 'state');
    const agent = ctx.run([
      '--collectors',
      'procmond=1',
      '--collector-script',
      `procmond=${fixture('fixed-procmond.mjs')}`,
      '--interval',
      '100',
      '--watch-interval',
      '0',
      '--state-dir',
      stateDir,
      '--fsync',
      'always',
      '--output',
      join(ctx.dir(), 'out.ndjson'),
    ]);
    const s = await until(async () => {
      const st = await ctx.status();
      return st !== undefined && (st.journal?.records ?? 0) > 0 ? st : undefined;
    });
    expect(s.journal).toMatchObject({
      state: 'ok',
      fsync: 'always',
      dir: stateDir,
      unjournaled: 0,
    });
    expect(s.journal?.syncs).toBeGreaterThan(0);
    expect(formatStatus(s)).toMatch(
      /^journal: ok, fsync always, \d+ B, unjournaled 0, compactions 0$/m,
    );
    expect((await cli(['stop', '--endpoint', ctx.endpoint()])).code).toBe(0);
    expect(await agent.exited).toMatchObject({ code: 0 });
    const again = ctx.run([
      '--collectors',
      'procmond=1',
      '--collector-script',
      `procmond=${fixture('fixed-procmond.mjs')}`,
      '--rounds',
      '1',
      '--state-dir',
      stateDir,
      '--output',
      join(ctx.dir(), 'out2.ndjson'),
    ]);
    await again.waitLog(
      /journal .*: \d+ records replayed, 0 bytes cut; 0 sets written again, 0 resumed, 0 closed/,
    );
    await again.exited;
  });

  it('an unwritable state dir is an ERROR line and a status, not an exit: the rounds go on', async () => {
    // A file where the directory should be: unwritable whoever runs the test (root too).
    const blocker = join(ctx.dir(), 'blocker');
    writeFileSync(blocker, 'not a directory');
    const agent = ctx.run([
      '--collectors',
      'procmond=1',
      '--collector-script',
      `procmond=${fixture('fixed-procmond.mjs')}`,
      '--interval',
      '100',
      '--watch-interval',
      '0',
      '--state-dir',
      join(blocker, 'state'),
      '--output',
      join(ctx.dir(), 'out.ndjson'),
    ]);
    await agent.waitLog(/ERROR ERR_COORDINATOR_JOURNAL_UNWRITABLE: journal .* cannot be written/);
    const s = await until(async () => {
      const st = await ctx.status();
      return st !== undefined && st.rounds >= 3 && (st.journal?.unjournaled ?? 0) > 0
        ? st
        : undefined;
    });
    expect(s.journal).toMatchObject({ state: 'unjournaled' });
    expect(s.journal?.lastError).toMatch(/^ENOTDIR|^EEXIST|^ENOENT/);
    expect(formatStatus(s)).toMatch(/^journal: unjournaled, /m);
    expect(agent.child.exitCode).toBeNull();
  });
});
