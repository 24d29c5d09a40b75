import { EventEmitter } from 'node:events';
import { type Clock, realClock } from './clock.js';
import { FailoverError } from './errors.js';
import type { CollectorFailure, HealthStateChange, HealthTracker } from './health-tracker.js';
import type { PendingTask, PendingTaskRegistry, TaskInput } from './pending-task-registry.js';
import { checkClock, checkFunction, checkId, checkNumber, checkObject } from './validate.js';

/**
 * Places tasks on collectors; the agent implements it with the balancer and the IPC broker.
 * `route` is synchronous: it picks a collector that is not in `exclude`, sends the task to it and
 * returns its id, or returns undefined when no collector can take any task now (the rest of the
 * batch is then parked without asking again). Throwing means "could not send this one": that task
 * is parked, the error reported as a `hook-error`, and routing goes on with the next task.
 */
export interface TaskRouter<P = unknown> {
  route(task: PendingTask<P>, exclude: ReadonlySet<string>): string | undefined;
}

/** Removes a failed collector's topic subscriptions (the agent implements it with the broker). */
export interface SubscriptionCleaner {
  removeSubscriptions(collectorId: string): void;
}

/** Keeps the aggregator's expectations in step with failover (the agent wires the aggregator). */
export interface AggregatorNotifier {
  /** The collector is dead: sets still expecting it complete without it. Called once per failover. */
  collectorFailed(collectorId: string): void;
  /** A task of `correlationId` moved: the set now expects `to` instead of `from`. */
  reassign(correlationId: string, from: string, to: string): void;
}

/** Summary of one failover, emitted as `failover` and returned by `handleFailure`. */
export interface FailoverReport {
  readonly collectorId: string;
  readonly reason: string | undefined;
  readonly at: number;
  /** Tasks taken from the collector. */
  readonly taken: number;
  /** Tasks placed on another collector. */
  readonly moved: number;
  /** Tasks waiting for a collector (up to `placementTimeoutMs`). */
  readonly parked: number;
  /** Tasks ended `failed` (pinned, retry budget, deadline). */
  readonly failed: number;
}

/** Which injected hook threw. */
export type FailoverHook = 'router' | 'subscriptions' | 'aggregator';

/** Payload of `hook-error`: an injected hook threw; the manager carried on. */
export interface HookError {
  readonly hook: FailoverHook;
  readonly collectorId: string | undefined;
  readonly taskId: string | undefined;
  readonly error: unknown;
}

/** Typed events of {@link FailoverManager}. Task outcomes are events of the registry. */
export type FailoverManagerEvents<P = unknown> = {
  failover: [report: FailoverReport];
  /** A task was placed on `to`; `from` is its previous collector (undefined if it had none). */
  'task-placed': [task: PendingTask<P>, from: string | undefined, to: string];
  /** A task could not be placed now and waits for a collector. */
  'task-parked': [task: PendingTask<P>, from: string | undefined];
  'hook-error': [error: HookError];
};

/** Counters of {@link FailoverManager}. */
export interface FailoverManagerStats {
  readonly failovers: number;
  /** `handleFailure` calls for a collector already failed over (ignored). */
  readonly duplicateFailures: number;
  readonly tasksMoved: number;
  readonly tasksParked: number;
  /** Tasks placed after waiting parked. */
  readonly parkedPlaced: number;
  readonly parkedNow: number;
  readonly retryBudgetExhausted: number;
  readonly placementTimeouts: number;
  readonly deadlineExceeded: number;
  readonly pinnedFailed: number;
  readonly hookErrors: number;
}

/** Result of {@link FailoverManager.dispatch}. */
export interface DispatchResult<P = unknown> {
  readonly task: PendingTask<P>;
  /** Collector the task went to, or undefined if it was parked. */
  readonly collectorId: string | undefined;
}

/** Options of {@link FailoverManager}. */
export interface FailoverManagerOptions<P = unknown> {
  /** Registry of pending tasks (required). Task outcomes are its events. */
  registry: PendingTaskRegistry<P>;
  /** Places tasks (required). */
  router: TaskRouter<P>;
  /** Called once per failover to drop the collector's subscriptions. */
  subscriptions?: SubscriptionCleaner;
  /** Told about moved tasks and failed collectors. */
  aggregator?: AggregatorNotifier;
  /**
   * When given: its `failed` events trigger `handleFailure`, a (re-)registration triggers
   * `collectorAvailable`, and `handleFailure` marks the collector failed in it.
   */
  health?: HealthTracker;
  /** Re-routings a task gets after the collector holding it fails. Default 3; range [0, 100]. */
  maxRetries?: number;
  /** How long a task may wait parked for a collector, in ms. Default 10 000; range [0, 3 600 000]. */
  placementTimeoutMs?: number;
  /** How often parked tasks are retried, in ms. Default 1 000; range [1, 3 600 000]. */
  parkRetryIntervalMs?: number;
  /** Time source. Default: real time, `unref()`ed timers. */
  clock?: Clock;
}

const DEFAULTS = {
  maxRetries: 3,
  placementTimeoutMs: 10_000,
  parkRetryIntervalMs: 1_000,
} as const;

/** Prefix of the placeholder a parked task's aggregator set expects (`parked:<taskId>`). */
export const PLACEHOLDER_PREFIX = 'parked:';

interface Parked<P> {
  readonly task: PendingTask<P>;
  readonly parkedAt: number;
}

// 'unavailable': the router has no collector now; 'rejected': it threw for this task only.
type Placement = 'placed' | 'parked' | 'failed' | 'unavailable' | 'rejected';

/**
 * Moves the unfinished work of failed collectors to healthy ones: one failover per failure,
 * a retry budget per task, parking with a timeout, and no silent drop (every task ends in the
 * registry as `completed` or `failed` with a reason).
 */
export class FailoverManager<P = unknown> extends EventEmitter<FailoverManagerEvents<P>> {
  readonly #registry: PendingTaskRegistry<P>;
  readonly #router: TaskRouter<P>;
  readonly #subscriptions: SubscriptionCleaner | undefined;
  readonly #aggregator: AggregatorNotifier | undefined;
  readonly #health: HealthTracker | undefined;
  readonly #maxRetries: number;
  readonly #placementTimeoutMs: number;
  readonly #retryIntervalMs: number;
  readonly #clock: Clock;
  readonly #failed = new Set<string>();
  readonly #parked = new Map<string, Parked<P>>();
  /** Task id -> the placeholder its aggregator set expects while the task waits parked. */
  readonly #expectations = new Map<string, string>();
  #expiryTimer: unknown;
  #retryTimer: unknown;
  #closed = false;
  #failovers = 0;
  #duplicateFailures = 0;
  #tasksMoved = 0;
  #tasksParked = 0;
  #parkedPlaced = 0;
  #retryBudgetExhausted = 0;
  #placementTimeouts = 0;
  #deadlineExceeded = 0;
  #pinnedFailed = 0;
  #hookErrors = 0;

  readonly #onHealthFailed = (failure: CollectorFailure): void => {
    if (!this.#failed.has(failure.id)) this.handleFailure(failure.id, failure.reason);
  };
  readonly #onHealthChange = (change: HealthStateChange): void => {
    if (change.to === 'healthy' && change.reason === 'registered') {
      this.collectorAvailable(change.id);
    }
  };
  readonly #onTaskEnded = (task: PendingTask<P>): void => {
    const parked = this.#parked.get(task.taskId);
    if (parked?.task === task) {
      this.#parked.delete(task.taskId);
      if (this.#parked.size === 0) this.#clearTimers();
    }
    const placeholder = this.#expectations.get(task.taskId);
    if (placeholder === undefined) return;
    this.#expectations.delete(task.taskId);
    // A parked task that ends without a collector: its set stops waiting for it.
    const aggregator = this.#aggregator;
    if (aggregator !== undefined && this.#registry.get(task.taskId) !== task) {
      this.#call('aggregator', undefined, task.taskId, () =>
        aggregator.collectorFailed(placeholder),
      );
    }
  };

  constructor(options: FailoverManagerOptions<P>) {
    super();
    checkObject('options', options);
    checkObject('registry', options.registry);
    checkObject('router', options.router);
    checkFunction('router.route', options.router.route);
    if (options.subscriptions !== undefined) {
      checkFunction('subscriptions.removeSubscriptions', options.subscriptions.removeSubscriptions);
    }
    if (options.aggregator !== undefined) {
      checkFunction('aggregator.collectorFailed', options.aggregator.collectorFailed);
      checkFunction('aggregator.reassign', options.aggregator.reassign);
    }
    if (options.health !== undefined) checkObject('health', options.health);
    const o = { ...DEFAULTS, ...options };
    this.#registry = o.registry;
    this.#router = o.router;
    this.#subscriptions = o.subscriptions;
    this.#aggregator = o.aggregator;
    this.#health = o.health;
    this.#maxRetries = checkNumber('maxRetries', o.maxRetries, 0, 100, true);
    this.#placementTimeoutMs = checkNumber(
      'placementTimeoutMs',
      o.placementTimeoutMs,
      0,
      3_600_000,
    );
    this.#retryIntervalMs = checkNumber('parkRetryIntervalMs', o.parkRetryIntervalMs, 1, 3_600_000);
    this.#clock = o.clock === undefined ? realClock(true) : checkClock('clock', o.clock);
    this.#health?.on('failed', this.#onHealthFailed);
    this.#health?.on('state-change', this.#onHealthChange);
    this.#registry.on('task-completed', this.#onTaskEnded);
    this.#registry.on('task-failed', this.#onTaskEnded);
  }

  /** Collectors failed over and not yet available again; passed to the router as `exclude`. */
  get failedCollectors(): ReadonlySet<string> {
    return this.#failed;
  }

  /** Number of tasks waiting for a collector. */
  get parkedCount(): number {
    return this.#parked.size;
  }

  /** True if `id` was failed over and has not been reported available since. */
  isFailed(id: string): boolean {
    return this.#failed.has(id);
  }

  /**
   * Accepts a new task and routes it (or parks it if no collector can take it now). Throws the
   * registry's `ERR_DUPLICATE_TASK` / `ERR_TOO_MANY_PENDING_TASKS`, or `ERR_MANAGER_CLOSED`.
   */
  dispatch(task: TaskInput<P>): DispatchResult<P> {
    if (this.#closed) throw new FailoverError('ERR_MANAGER_CLOSED', 'failover manager is closed');
    const pending = this.#registry.accept(task);
    const outcome = this.#place(pending, undefined, false);
    if (outcome === 'unavailable' || outcome === 'rejected') this.#park(pending, undefined);
    const current = this.#registry.get(pending.taskId);
    return { task: pending, collectorId: current === pending ? pending.collectorId : undefined };
  }

  /**
   * Fails over `collectorId`: marks it failed, takes its pending tasks, routes each elsewhere
   * (parking what cannot be placed), removes its subscriptions and tells the aggregator.
   * Idempotent: further calls before {@link collectorAvailable} return undefined and are counted.
   */
  handleFailure(collectorId: string, reason?: string): FailoverReport | undefined {
    checkId('collectorId', collectorId);
    if (this.#closed) return undefined;
    if (this.#failed.has(collectorId)) {
      this.#duplicateFailures++;
      return undefined;
    }
    this.#failed.add(collectorId);
    this.#failovers++;
    if (this.#health?.isAlive(collectorId)) this.#health.markFailed(collectorId, 'reported');
    const at = this.#clock.now();
    const tasks = this.#registry.take(collectorId);
    let moved = 0;
    let parked = 0;
    let failed = 0;
    // Once the router has nothing, the rest is parked without asking it again (O(1) each).
    let available = true;
    try {
      for (const task of tasks) {
        let outcome: Placement = 'unavailable';
        try {
          if (available) outcome = this.#place(task, collectorId, true, at);
          else outcome = this.#check(task, true, at) ?? 'unavailable';
          if (outcome === 'unavailable' || outcome === 'rejected') {
            if (outcome === 'unavailable') available = false;
            outcome = this.#park(task, collectorId, at);
          }
        } catch (error) {
          // A listener threw mid-way: this task must not be lost. Park it if it is still ours.
          this.#hookError('router', collectorId, task.taskId, error);
          if (this.#registry.get(task.taskId) !== task) outcome = 'failed';
          else if (task.collectorId !== undefined) outcome = 'placed';
          else if (this.#parked.has(task.taskId)) outcome = 'parked';
          else outcome = this.#safePark(task, collectorId, at);
        }
        if (outcome === 'placed') moved++;
        else if (outcome === 'parked') parked++;
        else failed++;
      }
    } finally {
      this.#tasksMoved += moved;
      this.#call('subscriptions', collectorId, undefined, () =>
        this.#subscriptions?.removeSubscriptions(collectorId),
      );
      this.#call('aggregator', collectorId, undefined, () =>
        this.#aggregator?.collectorFailed(collectorId),
      );
    }
    const report: FailoverReport = {
      collectorId,
      reason,
      at,
      taken: tasks.length,
      moved,
      parked,
      failed,
    };
    this.emit('failover', report);
    return report;
  }

  /**
   * `collectorId` is usable again (re-registered after a restart): it leaves the failed set and
   * parked tasks are retried. Returns how many parked tasks were placed.
   */
  collectorAvailable(collectorId: string): number {
    checkId('collectorId', collectorId);
    this.#failed.delete(collectorId);
    return this.retryParked();
  }

  /** Tries to place parked tasks now, oldest first; stops at the first "none available". */
  retryParked(): number {
    if (this.#closed) return 0;
    const now = this.#clock.now();
    let placed = 0;
    for (const [taskId, parked] of this.#parked) {
      if (this.#registry.get(taskId) !== parked.task) {
        this.#parked.delete(taskId);
        continue;
      }
      const outcome = this.#place(parked.task, parked.task.lastCollectorId, false, now);
      if (outcome === 'unavailable') break;
      if (outcome === 'rejected') continue;
      this.#parked.delete(taskId);
      if (outcome === 'placed') {
        placed++;
        this.#parkedPlaced++;
      }
    }
    if (this.#parked.size === 0) this.#clearTimers();
    return placed;
  }

  /** Counters. */
  stats(): FailoverManagerStats {
    return {
      failovers: this.#failovers,
      duplicateFailures: this.#duplicateFailures,
      tasksMoved: this.#tasksMoved,
      tasksParked: this.#tasksParked,
      parkedPlaced: this.#parkedPlaced,
      parkedNow: this.#parked.size,
      retryBudgetExhausted: this.#retryBudgetExhausted,
      placementTimeouts: this.#placementTimeouts,
      deadlineExceeded: this.#deadlineExceeded,
      pinnedFailed: this.#pinnedFailed,
      hookErrors: this.#hookErrors,
    };
  }

  /**
   * Stops timers and listeners; parked tasks end `failed` with reason `manager-closed` so every
   * accepted task still ends exactly once. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimers();
    this.#health?.off('failed', this.#onHealthFailed);
    this.#health?.off('state-change', this.#onHealthChange);
    const parked = [...this.#parked.values()];
    this.#parked.clear();
    for (const { task } of parked) {
      if (this.#registry.get(task.taskId) === task)
        this.#registry.fail(task.taskId, 'manager-closed');
    }
    this.#registry.off('task-completed', this.#onTaskEnded);
    this.#registry.off('task-failed', this.#onTaskEnded);
  }

  // Ends the task if it must not be placed (pinned after a failure, budget, deadline).
  #check(task: PendingTask<P>, afterFailure: boolean, now: number): Placement | undefined {
    if (afterFailure && task.pinned) {
      this.#pinnedFailed++;
      this.#registry.fail(task.taskId, 'collector-failed');
      return 'failed';
    }
    if (afterFailure && task.attempts - 1 >= this.#maxRetries) {
      this.#retryBudgetExhausted++;
      this.#registry.fail(task.taskId, 'retry-budget-exhausted');
      return 'failed';
    }
    if (task.deadline !== undefined && task.deadline <= now) {
      this.#deadlineExceeded++;
      this.#registry.fail(task.taskId, 'deadline-exceeded');
      return 'failed';
    }
    return undefined;
  }

  #place(
    task: PendingTask<P>,
    from: string | undefined,
    afterFailure: boolean,
    now = this.#clock.now(),
  ): Placement {
    const ended = this.#check(task, afterFailure, now);
    if (ended !== undefined) return ended;
    let to: string | undefined;
    try {
      to = this.#router.route(task, this.#failed);
    } catch (error) {
      this.#hookError('router', from, task.taskId, error);
      return 'rejected';
    }
    if (to === undefined) return 'unavailable';
    // The router may have ended the task itself (e.g. failed it when a send failed).
    if (this.#registry.get(task.taskId) !== task) return 'failed';
    if (this.#failed.has(to) || typeof to !== 'string' || to.length === 0) {
      const error = new TypeError(
        `router returned an excluded or invalid collector: ${String(to)}`,
      );
      this.#hookError('router', from, task.taskId, error);
      return 'rejected';
    }
    this.#registry.reassign(task.taskId, to);
    // The set expects the parked task's placeholder, or else the collector it came from.
    const expected = this.#expectations.get(task.taskId) ?? from;
    this.#expectations.delete(task.taskId);
    if (expected !== undefined && expected !== to) {
      const aggregator = this.#aggregator;
      if (aggregator !== undefined) {
        this.#call('aggregator', from, task.taskId, () =>
          aggregator.reassign(task.correlationId, expected, to),
        );
      }
    }
    this.emit('task-placed', task, from, to);
    return 'placed';
  }

  #park(task: PendingTask<P>, from: string | undefined, now = this.#clock.now()): Placement {
    if (this.#placementTimeoutMs === 0) {
      this.#placementTimeouts++;
      this.#registry.fail(task.taskId, 'placement-timeout');
      return 'failed';
    }
    this.#parked.set(task.taskId, { task, parkedAt: now });
    this.#tasksParked++;
    const aggregator = this.#aggregator;
    if (from !== undefined && aggregator !== undefined) {
      // Its set must not end when `from` is declared failed: it waits for a placeholder instead,
      // which becomes the new collector on placement or is failed if the task ends parked.
      const placeholder = `${PLACEHOLDER_PREFIX}${task.taskId}`;
      this.#expectations.set(task.taskId, placeholder);
      this.#call('aggregator', from, task.taskId, () =>
        aggregator.reassign(task.correlationId, from, placeholder),
      );
    }
    this.#armTimers(now);
    this.emit('task-parked', task, from);
    return 'parked';
  }

  #armTimers(now: number): void {
    if (this.#closed || this.#parked.size === 0) return;
    if (this.#retryTimer === undefined) {
      this.#retryTimer = this.#clock.setTimeout(() => {
        this.#retryTimer = undefined;
        this.retryParked();
        this.#armTimers(this.#clock.now());
      }, this.#retryIntervalMs);
    }
    if (this.#expiryTimer === undefined) {
      const first = this.#parked.values().next();
      if (first.done === true) return;
      const delay = Math.max(1, Math.ceil(first.value.parkedAt + this.#placementTimeoutMs - now));
      this.#expiryTimer = this.#clock.setTimeout(() => {
        this.#expiryTimer = undefined;
        this.#expire();
      }, delay);
    }
  }

  // The parked map is in parking order and the timeout is uniform, so expired tasks are a prefix.
  #expire(): void {
    const now = this.#clock.now();
    for (const [taskId, parked] of this.#parked) {
      if (parked.parkedAt + this.#placementTimeoutMs > now) break;
      this.#parked.delete(taskId);
      if (this.#registry.get(taskId) === parked.task) {
        this.#placementTimeouts++;
        this.#registry.fail(taskId, 'placement-timeout');
      }
    }
    if (this.#parked.size === 0) this.#clearTimers();
    else this.#armTimers(now);
  }

  #clearTimers(): void {
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    if (this.#expiryTimer !== undefined) this.#clock.clearTimeout(this.#expiryTimer);
    this.#retryTimer = undefined;
    this.#expiryTimer = undefined;
  }

  /** `#park`, but a throwing `task-parked` listener cannot undo it. */
  #safePark(task: PendingTask<P>, from: string, at: number): Placement {
    try {
      return this.#park(task, from, at);
    } catch (error) {
      this.#hookError('router', from, task.taskId, error);
      return this.#registry.get(task.taskId) === task ? 'parked' : 'failed';
    }
  }

  #call(
    hook: FailoverHook,
    collectorId: string | undefined,
    taskId: string | undefined,
    fn: () => void,
  ): void {
    try {
      fn();
    } catch (error) {
      this.#hookError(hook, collectorId, taskId, error);
    }
  }

  #hookError(
    hook: FailoverHook,
    collectorId: string | undefined,
    taskId: string | undefined,
    error: unknown,
  ): void {
    this.#hookErrors++;
    this.emit('hook-error', { hook, collectorId, taskId, error });
  }
}
