import { readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { type JournalRecord, readJournal } from '@daemoneye/coordinator';
import { mulberry32 } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../src/agent.js';
import { agentTestContext, alive, cli, fixture, until } from './helpers.js';

/** Restarts of the agent, each ended by a kill -9 at a seeded random point (the last one by `stop`). */
// Under Wine each incarnation (node.exe start, collectors, status over the pipe) takes several
// seconds: fewer of them there keep the test within its time.
const RESTARTS = Number(
  process.env.JOURNAL_CRASH_RESTARTS ?? (process.platform === 'win32' ? 4 : 8),
);
const SEED = Number(process.env.JOURNAL_CRASH_SEED ?? 20261202);
/** The incarnation before which the last journal record is torn (cut by a few bytes). */
const TEAR_BEFORE = 3;

const ctx = agentTestContext();
const collectorPids = new Set<number>();
beforeEach(() => ctx.setup());
afterEach(async () => {
  for (const pid of collectorPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  collectorPids.clear();
  await ctx.teardown();
});

/** Result lines' correlation ids of one output file; a line the kill cut in half is not counted. */
function writtenIds(path: string): string[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const ids: string[] = [];
  for (const line of text.split('\n')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && Reflect.get(parsed, 'type') === 'result')
        ids.push(String(Reflect.get(parsed, 'correlationId')));
    } catch {}
  }
  return ids;
}

/** Cuts the last whole record of the live segment by `bytes`: a write torn by an OS crash. */
function tearLastRecord(stateDir: string, bytes: number): number {
  const scan = readJournal(stateDir);
  const size = statSync(scan.path).size;
  truncateSync(scan.path, size - bytes);
  return scan.records.length;
}

const sets = (records: JournalRecord[]) =>
  new Set(records.flatMap((r) => (r.type === 'set-begun' ? [r.correlationId] : [])));

// The agent is killed with SIGKILL and stopped over IPC: both work on Windows too.
describe('journal: kill -9 of the agent over restarts', () => {
  it(`${RESTARTS} incarnations killed at random points lose no accepted task and write every set`, async () => {
    const started = Date.now();
    const random = mulberry32(SEED);
    const stateDir = join(ctx.dir(), 'state');
    const outputs: string[] = [];
    const recovery = { rewritten: 0, resumed: 0, closed: 0, fromJournal: 0, cutBytes: 0 };
    let kills = 0;
    let tornCut = -1;
    for (let i = 0; i < RESTARTS; i++) {
      if (i === TEAR_BEFORE) tearLastRecord(stateDir, 3);
      const out = join(ctx.dir(), `out-${i}.ndjson`);
      outputs.push(out);
      const agent = ctx.run([
        '--collectors',
        'procmond=2',
        '--collector-script',
        `procmond=${fixture('journal-procmond.mjs')}`,
        '--interval',
        '100',
        '--timeout',
        '1500',
        '--heartbeat-interval',
        '200',
        '--watch-interval',
        '0',
        '--integrity-per-round',
        '2',
        '--state-dir',
        stateDir,
        '--output',
        out,
      ]);
      await agent.waitLog(
        /journal .* records replayed, (\d+) bytes cut; (\d+) sets written again, (\d+) resumed, (\d+) closed, (\d+) completed/,
      );
      const m =
        /records replayed, (\d+) bytes cut; (\d+) sets written again, (\d+) resumed, (\d+) closed, (\d+) completed/.exec(
          agent.stderr,
        );
      const [cut, rewritten, resumed, closed, fromJournal] = (m?.slice(1) ?? []).map(Number);
      recovery.cutBytes += cut ?? 0;
      recovery.rewritten += rewritten ?? 0;
      recovery.resumed += resumed ?? 0;
      recovery.closed += closed ?? 0;
      recovery.fromJournal += fromJournal ?? 0;
      if (i === TEAR_BEFORE) tornCut = cut ?? 0;
      process.stdout.write(`journal crash: incarnation ${i} up after ${Date.now() - started} ms\n`);
      const s = await until(async (): Promise<AgentStatus | undefined> => {
        const r = await cli(['status', '--endpoint', ctx.endpoint(), '--json']);
        if (r.code !== 0) return undefined;
        const st: AgentStatus = JSON.parse(r.stdout);
        return st.collectors.every((c) => c.state === 'healthy') ? st : undefined;
      });
      for (const c of s.collectors) if (c.pid !== null) collectorPids.add(c.pid);
      expect(s.journal).toMatchObject({ state: 'ok', unjournaled: 0 });
      if (i === RESTARTS - 1) {
        await new Promise((r) => setTimeout(r, 500));
        expect((await cli(['stop', '--endpoint', ctx.endpoint()])).code).toBe(0);
        expect(await agent.exited).toMatchObject({ code: 0 });
        break;
      }
      // A seeded random point in the rounds: sets are in flight most of the time.
      await new Promise((r) => setTimeout(r, 200 + random() * 1200));
      agent.child.kill('SIGKILL');
      kills++;
      await agent.exited;
      // What a service manager does with the agent's cgroup: the orphaned collectors go too.
      for (const pid of collectorPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    const { records, stoppedAt } = readJournal(stateDir);
    expect(stoppedAt).toBeUndefined();
    // Every task accepted (journaled) in any incarnation ended exactly once.
    const accepted = new Set<string>();
    const ends = new Map<string, number>();
    for (const r of records) {
      if (r.type === 'task-accepted') accepted.add(r.taskId);
      if (r.type === 'task-ended') ends.set(r.taskId, (ends.get(r.taskId) ?? 0) + 1);
    }
    expect(accepted.size).toBeGreaterThan(0);
    const notOnce = [...accepted].filter((t) => ends.get(t) !== 1);
    expect(notOnce).toEqual([]);
    // Every set begun was written at least once, and at most once per incarnation.
    const perIncarnation = outputs.map(writtenIds);
    const everWritten = new Set(perIncarnation.flat());
    const begun = sets(records);
    expect([...begun].filter((id) => !everWritten.has(id))).toEqual([]);
    for (const ids of perIncarnation) expect(ids.length).toBe(new Set(ids).size);
    // The torn record was cut, and the journal went on from the last whole one.
    expect(tornCut).toBeGreaterThan(0);
    const rewrittenAcross = perIncarnation.flat().length - everWritten.size;
    const figures = {
      restarts: RESTARTS,
      kills,
      seed: SEED,
      tasks: accepted.size,
      sets: begun.size,
      setsWrittenTwice: rewrittenAcross,
      recovery,
      tornCutBytes: tornCut,
      records: records.length,
      runtimeMs: Date.now() - started,
    };
    process.stdout.write(`journal crash figures ${JSON.stringify(figures)}\n`);
  }, 240_000);
});
