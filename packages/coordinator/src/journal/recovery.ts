import type { Clock } from '../clock.js';
import type { AggregatedResult, DispatchRequest, FanOutRequest } from '../types.js';
import type { Journal } from './journal.js';
import { itemsOf, mergeRecovered } from './merge.js';
import type { OpenSet } from './state.js';

/** What recovery needs of the coordinator. */
export interface RecoveryOwner {
  readonly clock: Clock;
  /** Attempts a task may have across incarnations (failover's `maxRetries` + 1). */
  readonly maxAttempts: number;
  /** Emits and delivers a result (and marks it written), without journaling it as completed again. */
  publish(result: AggregatedResult): void;
  connected(collectorId: string): boolean;
  fanOut(request: FanOutRequest): Promise<AggregatedResult>;
  dispatch(request: DispatchRequest): Promise<AggregatedResult>;
}

/** What recovery did, for status. */
export interface RecoveryReport {
  /** Completed sets written again (not confirmed written before the crash). */
  rewritten: number;
  /** Open sets completed from their journaled batches alone (every task had answered). */
  completedFromJournal: number;
  /** Open sets closed with reason `agent-restart` (deadline passed, collector gone, budget spent). */
  closed: number;
  /** Open sets whose unanswered tasks were issued again. */
  resumed: number;
  /** Tasks issued again. */
  reissued: number;
  /** Tasks ended `failed` by recovery. */
  tasksFailed: number;
}

/**
 * Journal recovery in two steps. `atOpen` (before the collectors start): sets completed but not
 * confirmed written are published again; open sets whose every task answered are completed from
 * their batches; open sets past their deadline are closed `agent-restart`. `afterStart` (once the
 * collectors connected or their start timeout passed): the unanswered tasks of the remaining sets
 * are issued again under the same correlation and task ids, within the retry budget; the new
 * result is merged with the journaled batches by {@link Recovery.merge}.
 */
export class Recovery {
  readonly report: RecoveryReport = {
    rewritten: 0,
    completedFromJournal: 0,
    closed: 0,
    resumed: 0,
    reissued: 0,
    tasksFailed: 0,
  };
  readonly #journal: Journal;
  readonly #owner: RecoveryOwner;
  /** Sets being resumed: correlation id -> what was journaled before the crash. */
  readonly #resuming = new Map<
    string,
    { open: OpenSet; failed: Map<string, { taskId: string; reason: string }> }
  >();
  #waiting: OpenSet[] = [];

  constructor(journal: Journal, owner: RecoveryOwner) {
    this.#journal = journal;
    this.#owner = owner;
  }

  #now(): { clock: number; unixMs: number } {
    return { clock: this.#owner.clock.now(), unixMs: Date.now() };
  }

  /** Tasks of `open` not ended and without a final batch; ends the answered ones in the journal. */
  #settle(open: OpenSet, failed: Map<string, { taskId: string; reason: string }>): string[] {
    const pending: string[] = [];
    for (const [taskId, accepted] of open.tasks) {
      const ended = open.ended.get(taskId);
      const holder =
        accepted.collectorId ?? open.batches.find((b) => b.taskId === taskId)?.collectorId;
      if (ended !== undefined) {
        if (ended.outcome === 'failed' && holder !== undefined)
          failed.set(holder, { taskId, reason: ended.reason });
        continue;
      }
      const final = open.batches.find((b) => b.taskId === taskId && b.final);
      if (final === undefined) {
        pending.push(taskId);
        continue;
      }
      const ok = final.error === '';
      this.#end(
        open,
        taskId,
        ok ? 'completed' : 'failed',
        ok ? 'completed' : `collector-error: ${final.error}`,
      );
      if (!ok) failed.set(final.collectorId, { taskId, reason: `collector-error: ${final.error}` });
    }
    return pending;
  }

  #end(open: OpenSet, taskId: string, outcome: 'completed' | 'failed', reason: string): void {
    if (outcome === 'failed') this.report.tasksFailed++;
    this.#journal.record({
      type: 'task-ended',
      taskId,
      correlationId: open.begun.correlationId,
      outcome,
      reason,
    });
  }

  #complete(
    open: OpenSet,
    failed: Map<string, { taskId: string; reason: string }>,
    live?: AggregatedResult,
  ): AggregatedResult {
    const result = mergeRecovered(open, live, { failed }, this.#now());
    this.#journal.setCompleted(result);
    return result;
  }

  /** Step one; call before the collectors start. */
  atOpen(): void {
    const state = this.#journal.state;
    for (const u of [...state.unwritten.values()]) {
      this.report.rewritten++;
      this.#owner.publish({ ...u.completed.result, results: itemsOf(u.batches) });
    }
    // A task whose set is no longer open cannot be answered into it: it ends here.
    for (const [taskId, accepted] of [...state.tasks]) {
      if (state.sets.has(accepted.correlationId)) continue;
      this.report.tasksFailed++;
      this.#journal.record({
        type: 'task-ended',
        taskId,
        correlationId: accepted.correlationId,
        outcome: 'failed',
        reason: 'agent-restart',
      });
    }
    const now = Date.now();
    for (const open of [...state.sets.values()]) {
      const failed = new Map<string, { taskId: string; reason: string }>();
      const pending = this.#settle(open, failed);
      const spent = pending.filter((t) => (state.attempts.get(t) ?? 1) >= this.#owner.maxAttempts);
      for (const taskId of spent) this.#fail(open, taskId, 'retry-budget-exhausted', failed);
      const left = pending.filter((t) => !spent.includes(t));
      if (left.length === 0) {
        if (pending.length === 0) this.report.completedFromJournal++;
        else this.report.closed++;
        this.#owner.publish(this.#complete(open, failed));
      } else if (open.begun.deadlineUnixMs <= now) {
        for (const taskId of left) this.#fail(open, taskId, 'agent-restart', failed);
        this.report.closed++;
        this.#owner.publish(this.#complete(open, failed));
      } else this.#waiting.push(open);
    }
  }

  #fail(
    open: OpenSet,
    taskId: string,
    reason: string,
    failed: Map<string, { taskId: string; reason: string }>,
  ): void {
    this.#end(open, taskId, 'failed', reason);
    const holder = open.tasks.get(taskId)?.collectorId;
    if (holder !== undefined) failed.set(holder, { taskId, reason });
  }

  /** Step two; call once the collectors connected (or their start timeout passed). */
  afterStart(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const open of waiting) {
      const b = open.begun;
      const failed = new Map<string, { taskId: string; reason: string }>();
      const pending = this.#settle(open, failed);
      const timeoutMs = Math.floor(b.deadlineUnixMs - Date.now());
      const targets: string[] = [];
      const issuedTasks: string[] = [];
      for (const taskId of pending) {
        const id = open.tasks.get(taskId)?.collectorId;
        const reachable = b.mode === 'dispatch' || (id !== undefined && this.#owner.connected(id));
        if (timeoutMs >= 1 && reachable) {
          issuedTasks.push(taskId);
          if (id !== undefined) targets.push(id);
        } else this.#fail(open, taskId, 'agent-restart', failed);
      }
      if (timeoutMs < 1 || (b.mode === 'fan-out' && targets.length === 0) || pending.length === 0) {
        this.report.closed++;
        this.#owner.publish(this.#complete(open, failed));
        continue;
      }
      this.report.resumed++;
      this.report.reissued += b.mode === 'fan-out' ? targets.length : 1;
      // A copy: this incarnation's own batches join the live set and must not be merged twice.
      const before = { ...open, tasks: new Map(open.tasks), batches: [...open.batches] };
      this.#resuming.set(b.correlationId, { open: before, failed });
      const request = {
        kind: b.kind,
        correlationId: b.correlationId,
        payload: b.payload,
        timeoutMs,
      };
      const issued =
        b.mode === 'fan-out'
          ? this.#owner.fanOut({ ...request, targets })
          : this.#owner.dispatch(request);
      // Refused (a journal of another version, a collector set that changed): closed, never thrown.
      issued.catch((cause: unknown) => {
        if (!this.#resuming.delete(b.correlationId)) return;
        const why = `agent-restart: ${cause instanceof Error ? cause.message : String(cause)}`;
        for (const taskId of issuedTasks) this.#fail(before, taskId, why.slice(0, 256), failed);
        this.report.resumed--;
        this.report.reissued -= b.mode === 'fan-out' ? targets.length : 1;
        this.report.closed++;
        this.#owner.publish(this.#complete(before, failed));
      });
    }
  }

  /** The result of a resumed set merged with what was journaled before the crash; others as they are. */
  merge(result: AggregatedResult): AggregatedResult {
    const entry = this.#resuming.get(result.correlationId);
    if (entry === undefined) return result;
    this.#resuming.delete(result.correlationId);
    return mergeRecovered(entry.open, result, { failed: entry.failed }, this.#now());
  }
}
