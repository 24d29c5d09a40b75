import { join } from 'node:path';
import type { DetectionResult } from '@daemoneye/proto';
import { until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { Journal } from '../src/journal/journal.js';
import { resolveJournalOptions } from '../src/journal/options.js';
import { readJournal } from '../src/journal/read.js';
import type { JournalRecord } from '../src/journal/records.js';
import type { AggregatedResult } from '../src/types.js';
import { realContext, spec } from './helpers/context.js';

const ctx = realContext();
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());

const det = (fingerprint: string): DetectionResult => ({
  fingerprint,
  kind: 'process',
  subject: fingerprint,
  attributes: { by: 'before-the-crash' },
  collectedAtUnixMs: 1n,
});

/** Writes what a crashed agent would have left in `dir`. */
function leave(dir: string, records: JournalRecord[]): void {
  const o = resolveJournalOptions({ dir });
  if (o === undefined) throw new Error('no options');
  const j = new Journal(o, systemClock, (e) => {
    throw e;
  });
  j.open();
  for (const r of records) j.record(r);
  j.close();
}

const begun = (
  id: string,
  mode: 'fan-out' | 'dispatch',
  inMs: number,
  kind = 'enumerate',
): JournalRecord => ({
  type: 'set-begun',
  correlationId: id,
  kind,
  mode,
  deadlineUnixMs: Date.now() + inMs,
  startedAtUnixMs: Date.now() - 100,
  payload: new Uint8Array(),
});
const accepted = (id: string, task: string, c: string | undefined, attempt = 1): JournalRecord => ({
  type: 'task-accepted',
  taskId: `${id}/${task}`,
  correlationId: id,
  collectorId: c,
  attempt,
});

describe('journal recovery at start, real collectors', () => {
  it('re-writes unconfirmed sets, resumes open ones with their batches, closes expired ones, keeps the retry budget', async () => {
    const dir = join(ctx.dir(), 'state');
    const written = {
      correlationId: 'done-1',
      kind: 'enumerate',
      mode: 'fan-out',
      complete: true,
      reason: 'all-received',
      results: [],
      expected: ['p1'],
      responded: ['p1'],
      missing: [],
      missingReasons: {},
      failedTasks: [],
      duplicatesDropped: 0,
      overflowDropped: 0,
      conflicts: 0,
      overflowed: [],
      startedAt: 0,
      completedAt: 1,
      startedAtUnixMs: 0,
      completedAtUnixMs: 1,
    } satisfies AggregatedResult;
    leave(dir, [
      begun('done-1', 'fan-out', 20_000),
      accepted('done-1', 'p1', 'p1'),
      {
        type: 'batch',
        collectorId: 'p1',
        correlationId: 'done-1',
        taskId: 'done-1/p1',
        final: true,
        error: '',
        results: [det('kept:p1')],
      },
      {
        type: 'task-ended',
        taskId: 'done-1/p1',
        correlationId: 'done-1',
        outcome: 'completed',
        reason: 'completed',
      },
      { type: 'set-completed', result: written },
      begun('open-1', 'fan-out', 20_000),
      accepted('open-1', 'p1', 'p1'),
      accepted('open-1', 'p2', 'p2'),
      {
        type: 'batch',
        collectorId: 'p1',
        correlationId: 'open-1',
        taskId: 'open-1/p1',
        final: true,
        error: '',
        results: [det('journaled:p1')],
      },
      begun('late-1', 'fan-out', -1),
      accepted('late-1', 'p1', 'p1'),
      // Accepted, but its set is gone from the journal: it still ends, once.
      accepted('ghost-1', 'p1', 'p1'),
      // Of a kind this version refuses: the re-dispatch is refused, the set closed, nothing thrown.
      begun('odd-1', 'dispatch', 20_000, 'Not A Kind'),
      accepted('odd-1', 'task', 'p1'),
      begun('spent-1', 'dispatch', 20_000),
      accepted('spent-1', 'task', 'p2', 4),
    ]);
    const c = ctx.make({
      collectors: [spec('p1'), spec('p2')],
      heartbeatIntervalMs: 200,
      journal: { dir },
    });
    const results: AggregatedResult[] = [];
    c.on('result', (r) => results.push(r));
    await c.start();
    await until(() => results.some((r) => r.correlationId === 'open-1'), {
      what: 'open-1 resumed',
    });
    const by = new Map(results.map((r) => [r.correlationId, r]));
    await until(() => results.some((r) => r.correlationId === 'odd-1'), { what: 'odd-1 closed' });
    expect(results.map((r) => r.correlationId).sort()).toEqual([
      'done-1',
      'late-1',
      'odd-1',
      'open-1',
      'spent-1',
    ]);
    expect(results.find((r) => r.correlationId === 'odd-1')?.failedTasks[0]?.reason).toMatch(
      /^agent-restart: request\.kind must be/,
    );
    // Written again as it was, its items rebuilt from the journaled batches.
    expect({ ...by.get('done-1'), results: [] }).toEqual(written);
    expect(by.get('done-1')?.results.map((i) => [i.key, i.sources])).toEqual([['kept:p1', ['p1']]]);
    expect(by.get('late-1')).toMatchObject({ reason: 'agent-restart', missing: ['p1'] });
    expect(by.get('late-1')?.failedTasks).toEqual([
      { taskId: 'late-1/p1', collectorId: 'p1', reason: 'agent-restart' },
    ]);
    expect(by.get('spent-1')?.failedTasks).toEqual([
      { taskId: 'spent-1/task', collectorId: 'p2', reason: 'retry-budget-exhausted' },
    ]);
    const open = by.get('open-1');
    expect(open).toMatchObject({ complete: true, reason: 'all-received', missing: [] });
    expect([...(open?.responded ?? [])].sort()).toEqual(['p1', 'p2']);
    // p1 answered before the crash and was not asked again; p2 was.
    const keys = open?.results.map((i) => i.key).sort();
    expect(keys).toEqual(['journaled:p1', 'own:p2', 'shared']);
    const s = c.status();
    expect(s.tasks.accepted).toBe(1);
    expect(s.journal?.recovery).toMatchObject({
      rewritten: 1,
      closed: 3,
      resumed: 1,
      reissued: 1,
    });
    await c.close();
    const ended = readJournal(dir).records.filter((r) => r.type === 'task-ended');
    expect(ended.map((r) => r.taskId).sort()).toEqual([
      'done-1/p1',
      'ghost-1/p1',
      'late-1/p1',
      'odd-1/task',
      'open-1/p1',
      'open-1/p2',
      'spent-1/task',
    ]);
    // After a clean close nothing is left to recover.
    const again = new Journal(
      resolveJournalOptions({ dir }) ?? (undefined as never),
      systemClock,
      () => undefined,
    );
    again.open();
    expect(again.status().live).toEqual({ sets: 0, unwritten: 0, tasks: 0 });
    again.close();
  });
});
