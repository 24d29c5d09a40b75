import { randomUUID } from 'node:crypto';
import type { PendingTask, PendingTaskRegistry } from '@daemoneye/failover';
import type { Broker } from '@daemoneye/ipc-transport';
import { decodeTaskResultView, type TaskResult } from '@daemoneye/proto';
import type { Clock } from '../clock.js';
import { CoordinatorError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import type {
  AggregatedResult,
  CoordinatorMessage,
  DispatchRequest,
  FanOutRequest,
} from '../types.js';
import { Journal } from './journal.js';
import { Recovery, type RecoveryOwner, type RecoveryReport } from './recovery.js';
import type { JournalStatus } from './status.js';

/** Journal part of `status()`: the journal's own counters and what recovery did. */
export type JournalReport = JournalStatus & { readonly recovery: RecoveryReport };

/**
 * The coordinator's side of the journal: one call per hook (request accepted, task ended, batch,
 * result, delivered), so coordinator.ts stays a list of calls. Nothing here throws into the
 * coordinator: a journal that cannot write says so in its status and through `onError`.
 */
export class JournalHooks {
  readonly #journal: Journal;
  readonly #recovery: Recovery;
  /** Results merged at `emit('result')`, handed to the delivery that follows. */
  readonly #merged = new Map<string, AggregatedResult>();

  readonly #onError: (error: CoordinatorError) => void;

  private constructor(
    journal: Journal,
    owner: RecoveryOwner,
    onError: (error: CoordinatorError) => void,
  ) {
    this.#journal = journal;
    this.#recovery = new Recovery(journal, owner);
    this.#onError = onError;
  }

  /** Undefined when `options.journal` is not set. */
  static create(
    o: ResolvedOptions,
    owner: Omit<RecoveryOwner, 'clock' | 'maxAttempts'>,
    onError: (error: CoordinatorError) => void,
  ): JournalHooks | undefined {
    if (o.journal === undefined) return undefined;
    const clock: Clock = o.clock;
    const journal = new Journal(o.journal, clock, onError);
    return new JournalHooks(
      journal,
      { ...owner, clock, maxAttempts: (o.failover.maxRetries ?? 3) + 1 },
      onError,
    );
  }

  /** Opens the segment and runs the first recovery step (before the collectors start). */
  open(): void {
    if (this.#journal.open() !== undefined) this.#recover(() => this.#recovery.atOpen());
  }

  /** Second recovery step: the collectors are connected (or their start timeout passed). */
  started(): void {
    this.#recover(() => this.#recovery.afterStart());
  }

  /** A recovery that throws (a record it cannot make sense of) is reported, never a crash loop. */
  #recover(step: () => void): void {
    try {
      step();
    } catch (cause) {
      this.#onError(
        new CoordinatorError(
          'ERR_COORDINATOR_JOURNAL_RECOVERY',
          `journal recovery stopped: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        ),
      );
    }
  }

  /** Listens for batches (before the flows do) and task ends. */
  wire<P>(
    broker: Broker,
    registry: PendingTaskRegistry<P>,
    admitted: (id: string) => boolean,
  ): void {
    broker.on('task-result', (id, result) => {
      // Decoding the view back to objects costs a full decode: only for a set the journal holds open.
      if (admitted(id) && this.#journal.state.isOpen(result.correlationId)) {
        this.#journal.batch(id, decodeTaskResultView(result));
      }
    });
    registry.on('task-completed', (task) => this.taskEnded(task, 'completed', 'completed'));
    registry.on('task-failed', (task, reason) => this.taskEnded(task, 'failed', reason));
  }

  /**
   * Runs a checked request with its correlation id fixed here (so the journal can name the set),
   * then journals the set as begun with the tasks the flows accepted.
   */
  run<R extends FanOutRequest | DispatchRequest, P>(
    checked: { request: R; timeoutMs: number },
    mode: 'fan-out' | 'dispatch',
    flow: (request: R) => Promise<AggregatedResult>,
    collectorIds: Iterable<string>,
    registry: PendingTaskRegistry<P>,
  ): Promise<AggregatedResult> {
    const r = checked.request;
    const request = { ...r, correlationId: r.correlationId ?? `${r.kind}-${randomUUID()}` };
    const promise = flow(request);
    this.begun(request, mode, checked.timeoutMs, collectorIds, registry);
    return promise;
  }

  /**
   * After `fanOut`/`dispatch` returned: journals the set as begun with the tasks the flows
   * accepted for it. Results come on later ticks, so nothing of the set is missed; a set that
   * ended at once (nobody to ask) is not journaled as begun.
   */
  begun<P>(
    request: (FanOutRequest | DispatchRequest) & { correlationId: string },
    mode: 'fan-out' | 'dispatch',
    timeoutMs: number,
    collectorIds: Iterable<string>,
    registry: PendingTaskRegistry<P>,
  ): void {
    const correlationId = request.correlationId;
    const state = this.#journal.state;
    if (state.unwritten.has(correlationId)) return;
    const suffixes = mode === 'dispatch' ? ['task'] : [...collectorIds];
    const tasks = suffixes.flatMap((suffix) => {
      const task = registry.get(`${correlationId}/${suffix}`);
      return task === undefined ? [] : [task];
    });
    if (tasks.length === 0) return;
    const now = Date.now();
    this.#journal.record({
      type: 'set-begun',
      correlationId,
      kind: request.kind,
      mode,
      deadlineUnixMs: now + timeoutMs,
      startedAtUnixMs: now,
      payload: request.payload ?? new Uint8Array(),
    });
    for (const task of tasks) {
      this.#journal.record({
        type: 'task-accepted',
        taskId: task.taskId,
        correlationId,
        collectorId: task.collectorId ?? task.lastCollectorId,
        attempt: (state.attempts.get(task.taskId) ?? 0) + 1,
      });
    }
  }

  taskEnded<P>(task: PendingTask<P>, outcome: 'completed' | 'failed', reason: string): void {
    if (!this.#journal.state.tasks.has(task.taskId)) return;
    this.#journal.record({
      type: 'task-ended',
      taskId: task.taskId,
      correlationId: task.correlationId,
      outcome,
      reason,
    });
  }

  batch(collectorId: string, result: TaskResult): void {
    this.#journal.batch(collectorId, result);
  }

  /** At `emit('result')`: a resumed set gets its pre-crash batches; the set is journaled completed. */
  resultOf(event: string, value: unknown): AggregatedResult | undefined {
    if (event !== 'result' || !isResult(value)) return undefined;
    const merged = this.#recovery.merge(value);
    this.#journal.setCompleted(merged);
    if (merged !== value) this.#merged.set(value.correlationId, merged);
    return merged;
  }

  /** At delivery to subscribers: a result gets its merged form and its written mark. */
  delivering(message: CoordinatorMessage): CoordinatorMessage {
    if (message.type !== 'result') return message;
    const id = message.result.correlationId;
    const merged = this.#merged.get(id);
    this.#merged.delete(id);
    this.#journal.written(id);
    return merged === undefined ? message : { ...message, result: merged };
  }

  /** A recovered result was delivered: only the written mark. */
  redelivered(correlationId: string): void {
    this.#journal.written(correlationId);
  }

  status(): JournalReport {
    return { ...this.#journal.status(), recovery: { ...this.#recovery.report } };
  }

  close(): void {
    this.#journal.close();
  }
}

function isResult(value: unknown): value is AggregatedResult {
  return (
    typeof value === 'object' && value !== null && 'correlationId' in value && 'results' in value
  );
}
