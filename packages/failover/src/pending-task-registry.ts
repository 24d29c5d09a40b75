import { EventEmitter } from 'node:events';
import { type CallbackErrorHandler, guard, isCallbackErrorHandler } from './callbacks.js';
import { type Clock, systemClock } from './clock.js';
import { FailoverError } from './errors.js';
import {
  clockOption,
  functionOption,
  idArgument,
  numberOption,
  objectArgument,
  readOptions,
} from './options.js';

/** A task as handed to the registry (or to {@link FailoverManager.dispatch}). */
export interface TaskInput<P = unknown> {
  /** Unique, stable task id: re-delivery of the same id must be idempotent on collectors. */
  readonly taskId: string;
  /** Correlation id of the aggregator set this task belongs to. */
  readonly correlationId: string;
  /** Opaque data the router needs to (re)send the task, e.g. kind and payload. */
  readonly payload?: P;
  /** Absolute deadline in clock ms; an expired task is failed instead of being moved. */
  readonly deadline?: number;
  /** A pinned task belongs to its collector (fan-out): it fails with it instead of moving. */
  readonly pinned?: boolean;
}

/** A task the registry tracks until it ends `completed` or `failed`. */
export interface PendingTask<P = unknown> {
  readonly taskId: string;
  readonly correlationId: string;
  readonly payload: P | undefined;
  readonly deadline: number | undefined;
  readonly pinned: boolean;
  /** Collector holding the task, or undefined while it is detached (being moved or parked). */
  readonly collectorId: string | undefined;
  /** Last collector the task was assigned to (kept while detached); undefined if never placed. */
  readonly lastCollectorId: string | undefined;
  /** Number of assignments so far (0 while accepted but never placed, 1 after the first). */
  readonly attempts: number;
  /** Clock ms of the latest assignment. */
  readonly assignedAt: number;
  /** Clock ms at which the registry accepted the task. */
  readonly acceptedAt: number;
}

/** Why a task ended `failed`. Apps may pass their own strings to {@link PendingTaskRegistry.fail}. */
export type TaskFailureReason =
  | 'retry-budget-exhausted'
  | 'placement-timeout'
  | 'deadline-exceeded'
  | 'collector-failed'
  | 'manager-closed'
  | (string & {});

/** Result of {@link PendingTaskRegistry.complete}. */
export type CompletionResult =
  /** The task ended `completed` now. */
  | 'completed'
  /** The reporting collector no longer holds the task (it moved): ignored and counted. */
  | 'stale'
  /** No pending task with that id (already ended, or never accepted): ignored and counted. */
  | 'unknown';

/** Typed events of {@link PendingTaskRegistry}: each accepted task ends exactly once. */
export type PendingTaskRegistryEvents<P = unknown> = {
  'task-completed': [task: PendingTask<P>];
  'task-failed': [task: PendingTask<P>, reason: TaskFailureReason];
  'completion-ignored': [
    taskId: string,
    collectorId: string | undefined,
    result: 'stale' | 'unknown',
  ];
};

/** Counters. Invariant: `accepted = completed + failed + pending`. */
export interface PendingTaskRegistryStats {
  readonly accepted: number;
  readonly completed: number;
  readonly failed: number;
  readonly pending: number;
  /** Tasks refused because `maxPendingTasks` was reached. */
  readonly rejectedFull: number;
  /** Tasks refused because their id was already pending. */
  readonly rejectedDuplicate: number;
  /** Completions from a collector that no longer held the task. */
  readonly staleCompletions: number;
  /** Completions for ids that were not pending (duplicates, already failed). */
  readonly unknownCompletions: number;
  /** Reassignments after the first assignment. */
  readonly reassignments: number;
}

/** Options of {@link PendingTaskRegistry}. */
export interface PendingTaskRegistryOptions {
  /** Most tasks pending at once. Default 100 000; integer [1, 10 000 000]. */
  maxPendingTasks?: number | undefined;
  /** Time source (only `now()` is used). Default `systemClock`. */
  clock?: Clock | undefined;
  /** Receives `ERR_FAILOVER_CALLBACK_FAILED` when a listener throws. Default: re-thrown on a microtask. */
  onCallbackError?: CallbackErrorHandler | undefined;
}

const DEFAULTS = { maxPendingTasks: 100_000 } as const;
const OPTION_KEYS = ['maxPendingTasks', 'clock', 'onCallbackError'];

interface MutableTask<P> {
  taskId: string;
  correlationId: string;
  payload: P | undefined;
  deadline: number | undefined;
  pinned: boolean;
  collectorId: string | undefined;
  lastCollectorId: string | undefined;
  attempts: number;
  assignedAt: number;
  acceptedAt: number;
}

/**
 * Task id -> collector, correlation id, attempts, assignedAt, deadline. Bounded and counted; keeps
 * a per-collector index so taking all of a collector's tasks costs O(its tasks).
 */
export class PendingTaskRegistry<P = unknown> extends EventEmitter<PendingTaskRegistryEvents<P>> {
  readonly #clock: Clock;
  readonly #onCallbackError: CallbackErrorHandler | undefined;
  readonly #max: number;
  readonly #tasks = new Map<string, MutableTask<P>>();
  readonly #byCollector = new Map<string, Set<string>>();
  #accepted = 0;
  #completed = 0;
  #failed = 0;
  #rejectedFull = 0;
  #rejectedDuplicate = 0;
  #staleCompletions = 0;
  #unknownCompletions = 0;
  #reassignments = 0;

  constructor(options?: PendingTaskRegistryOptions) {
    super();
    const o = readOptions('options', options, OPTION_KEYS);
    this.#max = numberOption(
      'options.maxPendingTasks',
      o.maxPendingTasks,
      DEFAULTS.maxPendingTasks,
      {
        min: 1,
        max: 10_000_000,
        integer: true,
      },
    );
    this.#clock = clockOption('options.clock', o.clock, systemClock);
    this.#onCallbackError = functionOption(
      'options.onCallbackError',
      o.onCallbackError,
      isCallbackErrorHandler,
    );
  }

  /** Configured bound. */
  get maxPendingTasks(): number {
    return this.#max;
  }

  /** Number of pending tasks (assigned or detached). */
  get size(): number {
    return this.#tasks.size;
  }

  /**
   * Accepts a task assigned to `collectorId`. Throws `ERR_FAILOVER_DUPLICATE_TASK` if the id is pending and
   * `ERR_TOO_MANY_PENDING_TASKS` at the bound; both are counted and leave the registry unchanged.
   */
  assign(task: TaskInput<P>, collectorId: string): PendingTask<P> {
    idArgument('collectorId', collectorId);
    const entry = this.#accept(task);
    this.#place(entry, collectorId);
    return entry;
  }

  /**
   * Accepts a task without a collector yet (attempts 0), e.g. before routing it. Same errors and
   * counters as {@link assign}; place it with {@link reassign}.
   */
  accept(task: TaskInput<P>): PendingTask<P> {
    return this.#accept(task);
  }

  #accept(task: TaskInput<P>): MutableTask<P> {
    objectArgument('task', task);
    idArgument('task.taskId', task.taskId);
    if (typeof task.correlationId !== 'string') {
      throw new TypeError(`task.correlationId must be a string, got ${typeof task.correlationId}`);
    }
    if (this.#tasks.has(task.taskId)) {
      this.#rejectedDuplicate++;
      throw new FailoverError(
        'ERR_FAILOVER_DUPLICATE_TASK',
        `task ${task.taskId} is already pending`,
      );
    }
    if (this.#tasks.size >= this.#max) {
      this.#rejectedFull++;
      throw new FailoverError(
        'ERR_TOO_MANY_PENDING_TASKS',
        `cannot accept task ${task.taskId}: ${this.#max} tasks pending (maxPendingTasks)`,
      );
    }
    const now = this.#clock.now();
    const entry: MutableTask<P> = {
      taskId: task.taskId,
      correlationId: task.correlationId,
      payload: task.payload,
      deadline: task.deadline,
      pinned: task.pinned === true,
      collectorId: undefined,
      lastCollectorId: undefined,
      attempts: 0,
      assignedAt: now,
      acceptedAt: now,
    };
    this.#tasks.set(task.taskId, entry);
    this.#accepted++;
    return entry;
  }

  #place(entry: MutableTask<P>, collectorId: string): void {
    this.#unindex(entry);
    if (entry.attempts > 0) this.#reassignments++;
    entry.collectorId = collectorId;
    entry.lastCollectorId = collectorId;
    entry.attempts++;
    entry.assignedAt = this.#clock.now();
    this.#index(collectorId, entry.taskId);
  }

  /**
   * Places a pending task on `collectorId` (attempts + 1; counted as a reassignment unless it is
   * the first placement). Throws `ERR_FAILOVER_UNKNOWN_TASK`.
   */
  reassign(taskId: string, collectorId: string): PendingTask<P> {
    idArgument('collectorId', collectorId);
    const entry = this.#require(taskId);
    this.#place(entry, collectorId);
    return entry;
  }

  /** Detaches a pending task from its collector (it stays pending). Throws `ERR_FAILOVER_UNKNOWN_TASK`. */
  detach(taskId: string): PendingTask<P> {
    const entry = this.#require(taskId);
    this.#unindex(entry);
    entry.collectorId = undefined;
    return entry;
  }

  /**
   * Detaches and returns every task held by `collectorId`, in O(its tasks). The tasks stay pending
   * (counted in `pending`) until reassigned, completed or failed.
   */
  take(collectorId: string): PendingTask<P>[] {
    const ids = this.#byCollector.get(collectorId);
    if (ids === undefined) return [];
    this.#byCollector.delete(collectorId);
    const result: PendingTask<P>[] = [];
    for (const id of ids) {
      const entry = this.#tasks.get(id);
      if (entry === undefined) continue;
      entry.collectorId = undefined;
      result.push(entry);
    }
    return result;
  }

  /**
   * Ends a task `completed`. With `fromCollectorId`, a completion from a collector that no longer
   * holds the task is ignored (`'stale'`); an id that is not pending gives `'unknown'`. Both counted.
   */
  complete(taskId: string, fromCollectorId?: string): CompletionResult {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined) {
      this.#unknownCompletions++;
      this.#emit('completion-ignored', () =>
        this.emit('completion-ignored', taskId, fromCollectorId, 'unknown'),
      );
      return 'unknown';
    }
    if (fromCollectorId !== undefined && entry.collectorId !== fromCollectorId) {
      this.#staleCompletions++;
      this.#emit('completion-ignored', () =>
        this.emit('completion-ignored', taskId, fromCollectorId, 'stale'),
      );
      return 'stale';
    }
    this.#remove(entry);
    this.#completed++;
    this.#emit('task-completed', () => this.emit('task-completed', entry));
    return 'completed';
  }

  /** Ends a task `failed` with `reason`. False (nothing happens) if the id is not pending. */
  fail(taskId: string, reason: TaskFailureReason): boolean {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined) return false;
    this.#remove(entry);
    this.#failed++;
    this.#emit('task-failed', () => this.emit('task-failed', entry, reason));
    return true;
  }

  /** The pending task with that id, or undefined. */
  get(taskId: string): PendingTask<P> | undefined {
    return this.#tasks.get(taskId);
  }

  /** True if the id is pending. */
  has(taskId: string): boolean {
    return this.#tasks.has(taskId);
  }

  /** Number of tasks currently held by `collectorId`. */
  countFor(collectorId: string): number {
    return this.#byCollector.get(collectorId)?.size ?? 0;
  }

  /** Ids of the tasks currently held by `collectorId`. */
  taskIdsOf(collectorId: string): string[] {
    return [...(this.#byCollector.get(collectorId) ?? [])];
  }

  /** Counters; `accepted = completed + failed + pending` always holds. */
  stats(): PendingTaskRegistryStats {
    return {
      accepted: this.#accepted,
      completed: this.#completed,
      failed: this.#failed,
      pending: this.#tasks.size,
      rejectedFull: this.#rejectedFull,
      rejectedDuplicate: this.#rejectedDuplicate,
      staleCompletions: this.#staleCompletions,
      unknownCompletions: this.#unknownCompletions,
      reassignments: this.#reassignments,
    };
  }

  #emit(event: string, fn: () => void): void {
    guard(this.#onCallbackError, `a PendingTaskRegistry '${event}' listener`, fn);
  }

  #require(taskId: string): MutableTask<P> {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined) {
      throw new FailoverError('ERR_FAILOVER_UNKNOWN_TASK', `task ${taskId} is not pending`);
    }
    return entry;
  }

  #index(collectorId: string, taskId: string): void {
    let ids = this.#byCollector.get(collectorId);
    if (ids === undefined) {
      ids = new Set();
      this.#byCollector.set(collectorId, ids);
    }
    ids.add(taskId);
  }

  #unindex(entry: MutableTask<P>): void {
    if (entry.collectorId === undefined) return;
    const ids = this.#byCollector.get(entry.collectorId);
    if (ids === undefined) return;
    ids.delete(entry.taskId);
    if (ids.size === 0) this.#byCollector.delete(entry.collectorId);
  }

  #remove(entry: MutableTask<P>): void {
    this.#unindex(entry);
    this.#tasks.delete(entry.taskId);
  }
}
