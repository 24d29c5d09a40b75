import type { JournalRecord } from './records.js';

type Begun = Extract<JournalRecord, { type: 'set-begun' }>;
type Batch = Extract<JournalRecord, { type: 'batch' }>;
type Accepted = Extract<JournalRecord, { type: 'task-accepted' }>;
type Ended = Extract<JournalRecord, { type: 'task-ended' }>;
type Completed = Extract<JournalRecord, { type: 'set-completed' }>;

/** A set completed and not yet marked written: its outcome (items left out) and its batches. */
export interface UnwrittenSet {
  readonly completed: Completed;
  readonly batches: readonly Batch[];
  readonly begun: Begun | undefined;
}

/** A set begun and not completed, with what was journaled of it. */
export interface OpenSet {
  readonly begun: Begun;
  /** Task id -> its latest acceptance. */
  readonly tasks: Map<string, Accepted>;
  /** Task id -> how it ended (tasks of this set that ended before the set did). */
  readonly ended: Map<string, Ended>;
  readonly batches: Batch[];
}

/**
 * What is live in a journal: open sets (with their tasks and result batches), sets completed but
 * not confirmed written, tasks accepted and not ended. Replaying a segment rebuilds it; a
 * compaction writes {@link LiveState.snapshot} as the next segment.
 */
export class LiveState {
  readonly sets = new Map<string, OpenSet>();
  readonly unwritten = new Map<string, UnwrittenSet>();
  /** Accepted, not ended: task id -> acceptance. */
  readonly tasks = new Map<string, Accepted>();
  /** Highest attempt journaled per task id (kept while the task or its set is live). */
  readonly attempts = new Map<string, number>();

  apply(record: JournalRecord): void {
    switch (record.type) {
      case 'set-begun':
        if (!this.sets.has(record.correlationId))
          this.sets.set(record.correlationId, {
            begun: record,
            tasks: new Map(),
            ended: new Map(),
            batches: [],
          });
        return;
      case 'task-accepted': {
        this.tasks.set(record.taskId, record);
        this.attempts.set(record.taskId, record.attempt);
        const set = this.sets.get(record.correlationId);
        set?.tasks.set(record.taskId, record);
        set?.ended.delete(record.taskId);
        return;
      }
      case 'batch':
        this.sets.get(record.correlationId)?.batches.push(record);
        return;
      case 'task-ended': {
        if (!this.tasks.delete(record.taskId)) return;
        const set = this.sets.get(record.correlationId);
        if (set?.tasks.has(record.taskId)) set.ended.set(record.taskId, record);
        else this.attempts.delete(record.taskId);
        return;
      }
      case 'set-completed': {
        const id = record.result.correlationId;
        const set = this.sets.get(id);
        if (set !== undefined) for (const taskId of set.tasks.keys()) this.attempts.delete(taskId);
        this.sets.delete(id);
        this.unwritten.set(id, {
          completed: record,
          batches: set?.batches ?? [],
          begun: set?.begun,
        });
        return;
      }
      case 'set-written':
        this.unwritten.delete(record.correlationId);
        return;
    }
  }

  /** True when a batch for this set would be kept (the set is open). */
  isOpen(correlationId: string): boolean {
    return this.sets.has(correlationId);
  }

  /** The records that rebuild this state, in an order replay accepts. */
  *snapshot(): Generator<JournalRecord> {
    const inSets = new Set<string>();
    for (const set of this.sets.values()) {
      yield set.begun;
      for (const [taskId, accepted] of set.tasks) {
        inSets.add(taskId);
        yield accepted;
        const ended = set.ended.get(taskId);
        if (ended !== undefined) yield ended;
      }
      yield* set.batches;
    }
    // A set not yet marked written keeps its batches: its items are rebuilt from them.
    for (const u of this.unwritten.values()) {
      if (u.begun !== undefined) yield u.begun;
      yield* u.batches;
      yield u.completed;
    }
    for (const [taskId, accepted] of this.tasks) if (!inSets.has(taskId)) yield accepted;
  }
}
