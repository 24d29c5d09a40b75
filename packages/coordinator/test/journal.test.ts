import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DetectionResult } from '@daemoneye/proto';
import { FakeClock, type TempDir, tempDir } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CoordinatorError } from '../src/errors.js';
import { crc32c } from '../src/journal/crc32c.js';
import { Journal } from '../src/journal/journal.js';
import {
  MIN_JOURNAL_BYTES,
  type ResolvedJournalOptions,
  resolveJournalOptions,
} from '../src/journal/options.js';
import { readJournal } from '../src/journal/read.js';
import { frameRecord, type JournalRecord, scanRecords } from '../src/journal/records.js';
import { SegmentFile } from '../src/journal/segment.js';
import type { AggregatedResult } from '../src/types.js';

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('de-journal-');
});
afterEach(async () => {
  await dir.cleanup();
});

const det = (fingerprint: string, size = 8): DetectionResult => ({
  fingerprint,
  kind: 'process',
  subject: fingerprint,
  attributes: { pad: 'x'.repeat(size) },
  collectedAtUnixMs: 1234n,
});

function options(extra: Partial<ResolvedJournalOptions> = {}): ResolvedJournalOptions {
  const o = resolveJournalOptions({ dir: join(dir.dir, 'state') });
  if (o === undefined) throw new Error('no options');
  return { ...o, ...extra };
}

function open(extra: Partial<ResolvedJournalOptions> = {}, clock = new FakeClock()) {
  const errors: CoordinatorError[] = [];
  const j = new Journal(options(extra), clock, (e) => errors.push(e));
  const report = j.open();
  return { j, report, errors, clock };
}

const begun = (id: string): JournalRecord => ({
  type: 'set-begun',
  correlationId: id,
  kind: 'enumerate',
  mode: 'fan-out',
  deadlineUnixMs: Date.now() + 5000,
  startedAtUnixMs: Date.now(),
  payload: new Uint8Array([1, 2, 3]),
});
const accepted = (id: string, c: string): JournalRecord => ({
  type: 'task-accepted',
  taskId: `${id}/${c}`,
  correlationId: id,
  collectorId: c,
  attempt: 1,
});
const batch = (id: string, c: string, results: DetectionResult[], final = true): JournalRecord => ({
  type: 'batch',
  collectorId: c,
  correlationId: id,
  taskId: `${id}/${c}`,
  final,
  error: '',
  results,
});

function segment(): string {
  const state = join(dir.dir, 'state');
  const name = readdirSync(state).find((n) => n.endsWith('.seg'));
  if (name === undefined) throw new Error('no segment');
  return join(state, name);
}

describe('crc32c', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array())).toBe(0);
  });
});

describe('journal segment', () => {
  it('replays every record kind after a reopen (bytes of a batch included)', () => {
    const { j } = open();
    j.record(begun('s1'));
    j.record(accepted('s1', 'p1'));
    j.record(batch('s1', 'p1', [det('a'), det('b')], false));
    j.record(begun('s2'));
    j.record(accepted('s2', 'p1'));
    j.record({
      type: 'task-ended',
      taskId: 's2/p1',
      correlationId: 's2',
      outcome: 'completed',
      reason: 'completed',
    });
    const result = {
      correlationId: 's2',
      kind: 'enumerate',
      results: [],
    } as unknown as AggregatedResult;
    j.setCompleted(result);
    j.close();
    const again = open();
    expect(again.report?.records).toHaveLength(7);
    const s = again.j.state;
    expect([...s.sets.keys()]).toEqual(['s1']);
    expect(s.sets.get('s1')?.batches[0]).toMatchObject({
      results: [det('a'), det('b')],
      final: false,
    });
    expect(s.sets.get('s1')?.begun).toMatchObject({ payload: new Uint8Array([1, 2, 3]) });
    expect([...s.unwritten.keys()]).toEqual(['s2']);
    expect([...s.tasks.keys()]).toEqual(['s1/p1']);
    again.j.close();
  });

  it('a torn tail is cut at the last whole record, and new records follow it', () => {
    const { j } = open();
    j.record(begun('s1'));
    j.record(accepted('s1', 'p1'));
    j.close();
    const whole = readFileSync(segment()).length;
    truncateSync(segment(), whole - 3);
    const again = open();
    expect(again.report).toMatchObject({ stoppedAt: 'torn' });
    expect(again.report?.records).toHaveLength(1);
    expect(again.j.status().opened.cutBytes).toBeGreaterThan(0);
    again.j.record(accepted('s1', 'p2'));
    again.j.close();
    const third = open();
    expect(third.report?.stoppedAt).toBeUndefined();
    expect([...(third.j.state.sets.get('s1')?.tasks.keys() ?? [])]).toEqual(['s1/p2']);
    third.j.close();
  });

  it('a CRC mismatch stops the replay there (the corrupt record and what follows are cut)', () => {
    const frames = [begun('s1'), accepted('s1', 'p1'), accepted('s1', 'p2')].map(frameRecord);
    const second = frames[1];
    if (second === undefined) throw new Error('no frame');
    second[second.length - 1] = (second[second.length - 1] ?? 0) ^ 0xff;
    const scan = scanRecords(Buffer.concat(frames));
    expect(scan.stoppedAt).toBe('crc');
    expect(scan.records).toHaveLength(1);
    expect(scan.validBytes).toBe(frames[0]?.length);
  });

  it('a length past the limit is corruption, not an allocation', () => {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(0xffffffff, 0);
    expect(scanRecords(head)).toMatchObject({ stoppedAt: 'length', validBytes: 0 });
  });

  it('compacts past maxBytes: the new segment holds only what is live', () => {
    const { j } = open({ maxBytes: MIN_JOURNAL_BYTES });
    j.record(begun('live'));
    j.record(accepted('live', 'p1'));
    for (let i = 0; i < 200; i++) {
      const id = `done-${i}`;
      j.record(begun(id));
      j.record(accepted(id, 'p1'));
      j.record(batch(id, 'p1', [det(`x${i}`, 500)]));
      j.record({
        type: 'task-ended',
        taskId: `${id}/p1`,
        correlationId: id,
        outcome: 'completed',
        reason: 'completed',
      });
      j.setCompleted({
        correlationId: id,
        kind: 'enumerate',
        results: [],
      } as unknown as AggregatedResult);
      j.record({ type: 'set-written', correlationId: id });
    }
    const st = j.status();
    expect(st.compactions).toBeGreaterThan(0);
    expect(st.segmentBytes).toBeLessThanOrEqual(MIN_JOURNAL_BYTES);
    j.close();
    expect(readdirSync(join(dir.dir, 'state')).filter((n) => n.endsWith('.seg'))).toHaveLength(1);
    const again = open();
    expect([...again.j.state.sets.keys()]).toEqual(['live']);
    expect(again.j.state.unwritten.size).toBe(0);
    again.j.close();
  });

  it('fsync policy: always syncs each record, interval once per period on the clock, never not at all', () => {
    const always = open({ fsync: 'always' });
    always.j.record(begun('a'));
    always.j.record(begun('b'));
    expect(always.j.status().syncs).toBe(2);
    always.j.close();
    const interval = open({ fsync: 'interval', fsyncIntervalMs: 100 });
    interval.j.record(begun('c'));
    interval.j.record(begun('d'));
    expect(interval.j.status().syncs).toBe(0);
    interval.clock.advance(100);
    expect(interval.j.status().syncs).toBe(1);
    interval.clock.advance(1000);
    expect(interval.j.status().syncs).toBe(1);
    interval.j.close();
    const never = open({ fsync: 'never' });
    never.j.record(begun('e'));
    never.clock.advance(1000);
    expect(never.j.status().syncs).toBe(0);
    never.j.close();
  });

  it('an unwritable state dir is a typed error and a counter, then a retry once it is writable', () => {
    // A regular file where the directory should be: unwritable for every user, root included.
    const blocker = join(dir.dir, 'blocker');
    writeFileSync(blocker, 'not a directory');
    const o = options({ retryMs: 1000, dir: join(blocker, 'state') });
    const errors: CoordinatorError[] = [];
    const clock = new FakeClock();
    const j = new Journal(o, clock, (e) => errors.push(e));
    expect(j.open()).toBeUndefined();
    expect(errors.map((e) => e.code)).toEqual(['ERR_COORDINATOR_JOURNAL_UNWRITABLE']);
    j.record(begun('lost'));
    j.record(begun('lost-too'));
    expect(j.status()).toMatchObject({ state: 'unjournaled', unjournaled: 2 });
    expect(j.status().lastError).toMatch(/^E[A-Z]+: /);
    clock.advance(1000);
    expect(j.status().state).toBe('unjournaled');
    expect(errors).toHaveLength(1);
    rmSync(blocker);
    clock.advance(1000);
    expect(j.status()).toMatchObject({ state: 'ok', lastError: null, compactions: 1 });
    j.close();
    const again = new Journal(o, clock, () => undefined);
    again.open();
    expect([...again.state.sets.keys()]).toEqual(['lost', 'lost-too']);
    again.close();
  });

  it('a record longer than a replay accepts is not written (the segment stays readable)', () => {
    const file = new SegmentFile(join(dir.dir, 'small'), 300);
    file.open();
    expect(file.append(begun('fits'))).toBeGreaterThan(0);
    expect(file.append(batch('big', 'p1', [det('x', 400)]))).toBe(0);
    const bytes = file.bytes;
    file.close();
    expect(readJournal(join(dir.dir, 'small'))).toMatchObject({
      validBytes: bytes,
      stoppedAt: undefined,
    });
    expect(readJournal(join(dir.dir, 'small')).records).toHaveLength(1);
  });

  it('a record this version cannot apply ends the replay with ERR_COORDINATOR_JOURNAL_RECOVERY, not a throw', () => {
    const { j } = open();
    j.record(begun('s1'));
    j.close();
    // A well-framed set-completed whose result is not an object (another version's, say).
    const odd = frameRecord({ type: 'set-completed', result: null as never });
    writeFileSync(segment(), Buffer.concat([readFileSync(segment()), odd]));
    const again = open();
    expect(again.errors.map((e) => e.code)).toEqual(['ERR_COORDINATOR_JOURNAL_RECOVERY']);
    expect([...again.j.state.sets.keys()]).toEqual(['s1']);
    expect(again.j.status().state).toBe('ok');
    again.j.close();
  });

  it('options: defaults, floor of maxBytes, unknown keys and bad policies refused', () => {
    expect(resolveJournalOptions({ dir: 'x' })).toEqual({
      dir: 'x',
      fsync: 'interval',
      fsyncIntervalMs: 100,
      maxBytes: 64 * 1024 * 1024,
      retryMs: 5000,
    });
    expect(() => resolveJournalOptions({ dir: 'x', maxBytes: 1024 })).toThrow(
      /options\.journal\.maxBytes must be an integer in 65536\.\./,
    );
    expect(() => resolveJournalOptions({ dir: 'x', fsync: 'sometimes' as 'always' })).toThrow(
      RangeError,
    );
    expect(() => resolveJournalOptions({ dir: '' })).toThrow(TypeError);
    expect(() => resolveJournalOptions({ dir: 'x', maxByte: 1 } as never)).toThrow(
      /did you mean maxBytes/,
    );
  });
});
