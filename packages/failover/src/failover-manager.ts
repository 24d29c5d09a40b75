import { EventEmitter } from 'node:events';
import { type CallbackErrorHandler, guard, reportCallbackError } from './callbacks.js';
import type { Clock } from './clock.js';
import { FailoverError } from './errors.js';
import { readManagerOptions } from './failover-manager-options.js';
import type {
  AggregatorNotifier,
  DispatchResult,
  FailoverManagerEvents,
  FailoverManagerOptions,
  FailoverManagerStats,
  FailoverReport,
  SubscriptionCleaner,
  TaskRouter,
} from './failover-types.js';
import type { CollectorFailure, HealthStateChange, HealthTracker } from './health-tracker.js';
import { idArgument } from './options.js';
import { ParkingLot } from './parking-lot.js';
import type { PendingTask, PendingTaskRegistry, TaskInput } from './pending-task-registry.js';

export type * from './failover-types.js';

/** Prefix of the placeholder a parked task's aggregator set expects (`parked:<taskId>`). */
export const PLACEHOLDER_PREFIX = 'parked:';

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
  readonly #clock: Clock;
  readonly #onCallbackError: CallbackErrorHandler | undefined;
  readonly #lot: ParkingLot<P>;
  readonly #failed = new Set<string>();
  /** Task id -> the placeholder its aggregator set expects while the task waits parked. */
  readonly #expectations = new Map<string, string>();
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
  #routeErrors = 0;
  #callbackErrors = 0;

  readonly #onHealthFailed = (failure: CollectorFailure): void => {
    if (!this.#failed.has(failure.id)) this.handleFailure(failure.id, failure.reason);
  };
  readonly #onHealthChange = (change: HealthStateChange): void => {
    if (change.to === 'healthy' && change.reason === 'registered') {
      this.collectorAvailable(change.id);
    }
  };
  readonly #onTaskEnded = (task: PendingTask<P>): void => {
    if (this.#lot.get(task.taskId)?.task === task) this.#lot.remove(task.taskId);
    const placeholder = this.#expectations.get(task.taskId);
    if (placeholder === undefined) return;
    this.#expectations.delete(task.taskId);
    // A parked task that ends without a collector: its set stops waiting for it.
    const aggregator = this.#aggregator;
    if (aggregator !== undefined && this.#registry.get(task.taskId) !== task) {
      this.#hook('aggregator.collectorFailed', () => aggregator.collectorFailed(placeholder));
    }
  };

  constructor(options: FailoverManagerOptions<P>) {
    super();
    const o = readManagerOptions(options);
    this.#registry = o.registry;
    this.#router = o.router;
    this.#subscriptions = o.subscriptions;
    this.#aggregator = o.aggregator;
    this.#health = o.health;
    this.#maxRetries = o.maxRetries;
    this.#placementTimeoutMs = o.placementTimeoutMs;
    const retryIntervalMs = o.parkRetryIntervalMs;
    this.#clock = o.clock;
    this.#onCallbackError = o.onCallbackError;
    this.#lot = new ParkingLot<P>(this.#clock, this.#placementTimeoutMs, retryIntervalMs, {
      retry: () => {
        this.retryParked();
      },
      expired: (task) => {
        if (this.#registry.get(task.taskId) === task) {
          this.#placementTimeouts++;
          this.#registry.fail(task.taskId, 'placement-timeout');
        }
      },
    });
    this.#health?.on('failed', this.#onHealthFailed);
    this.#health?.on('collector-state-change', this.#onHealthChange);
    this.#registry.on('task-completed', this.#onTaskEnded);
    this.#registry.on('task-failed', this.#onTaskEnded);
  }

  /** Collectors failed over and not yet available again; passed to the router as `exclude`. */
  get failedCollectors(): ReadonlySet<string> {
    return this.#failed;
  }

  /** Number of tasks waiting for a collector. */
  get parkedCount(): number {
    return this.#lot.size;
  }

  /** True if `id` was failed over and has not been reported available since. */
  isFailed(id: string): boolean {
    return this.#failed.has(id);
  }

  /**
   * Accepts a new task and routes it (or parks it if no collector can take it now). Throws the
   * registry's `ERR_FAILOVER_DUPLICATE_TASK` / `ERR_TOO_MANY_PENDING_TASKS`, or `ERR_FAILOVER_CLOSED`.
   */
  dispatch(task: TaskInput<P>): DispatchResult<P> {
    if (this.#closed) {
      throw new FailoverError('ERR_FAILOVER_CLOSED', 'failover manager is closed');
    }
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
    idArgument('collectorId', collectorId);
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
    for (const task of tasks) {
      let outcome: Placement;
      if (available) outcome = this.#place(task, collectorId, true, at);
      else outcome = this.#check(task, true, at) ?? 'unavailable';
      if (outcome === 'unavailable' || outcome === 'rejected') {
        if (outcome === 'unavailable') available = false;
        outcome = this.#park(task, collectorId, at);
      }
      if (outcome === 'placed') moved++;
      else if (outcome === 'parked') parked++;
      else failed++;
    }
    this.#tasksMoved += moved;
    const subscriptions = this.#subscriptions;
    if (subscriptions !== undefined) {
      this.#hook('subscriptions.removeSubscriptions', () =>
        subscriptions.removeSubscriptions(collectorId),
      );
    }
    const aggregator = this.#aggregator;
    if (aggregator !== undefined) {
      this.#hook('aggregator.collectorFailed', () => aggregator.collectorFailed(collectorId));
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
    this.#emit('failover', () => this.emit('failover', report));
    return report;
  }

  /**
   * `collectorId` is usable again (re-registered after a restart): it leaves the failed set and
   * parked tasks are retried. Returns how many parked tasks were placed.
   */
  collectorAvailable(collectorId: string): number {
    idArgument('collectorId', collectorId);
    this.#failed.delete(collectorId);
    return this.retryParked();
  }

  /** Tries to place parked tasks now, oldest first; stops at the first "none available". */
  retryParked(): number {
    if (this.#closed) return 0;
    const now = this.#clock.now();
    let placed = 0;
    for (const parked of this.#lot.snapshot()) {
      const { task } = parked;
      if (this.#lot.get(task.taskId) !== parked) continue;
      if (this.#registry.get(task.taskId) !== task) {
        this.#lot.remove(task.taskId);
        continue;
      }
      const outcome = this.#place(task, task.lastCollectorId, false, now);
      if (outcome === 'unavailable') break;
      if (outcome === 'rejected') continue;
      this.#lot.remove(task.taskId);
      if (outcome === 'placed') {
        placed++;
        this.#parkedPlaced++;
      }
    }
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
      parkedNow: this.#lot.size,
      retryBudgetExhausted: this.#retryBudgetExhausted,
      placementTimeouts: this.#placementTimeouts,
      deadlineExceeded: this.#deadlineExceeded,
      pinnedFailed: this.#pinnedFailed,
      routeErrors: this.#routeErrors,
      callbackErrors: this.#callbackErrors,
    };
  }

  /**
   * Stops timers and listeners; parked tasks end `failed` with reason `manager-closed` so every
   * accepted task still ends exactly once. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#health?.off('failed', this.#onHealthFailed);
    this.#health?.off('collector-state-change', this.#onHealthChange);
    for (const { task } of this.#lot.close()) {
      if (this.#registry.get(task.taskId) === task) {
        this.#registry.fail(task.taskId, 'manager-closed');
      }
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
      this.#routeErrors++;
      this.#emit('route-failed', () => this.emit('route-failed', { task, from, error }));
      return this.#registry.get(task.taskId) === task ? 'rejected' : 'failed';
    }
    if (to === undefined) return 'unavailable';
    // The router may have ended the task itself (e.g. failed it when a send failed).
    if (this.#registry.get(task.taskId) !== task) return 'failed';
    if (typeof to !== 'string' || to.length === 0 || this.#failed.has(to)) {
      const bad = to;
      this.#hook('router.route', () => {
        throw new TypeError(`router returned an excluded or invalid collector: ${String(bad)}`);
      });
      return 'rejected';
    }
    this.#registry.reassign(task.taskId, to);
    // The set expects the parked task's placeholder, or else the collector it came from.
    const expected = this.#expectations.get(task.taskId) ?? from;
    this.#expectations.delete(task.taskId);
    const aggregator = this.#aggregator;
    if (expected !== undefined && expected !== to && aggregator !== undefined) {
      this.#hook('aggregator.reassign', () =>
        aggregator.reassign(task.correlationId, expected, to),
      );
    }
    this.#emit('task-placed', () => this.emit('task-placed', task, from, to));
    return 'placed';
  }

  #park(task: PendingTask<P>, from: string | undefined, now = this.#clock.now()): Placement {
    if (this.#registry.get(task.taskId) !== task) return 'failed';
    if (this.#placementTimeoutMs === 0) {
      this.#placementTimeouts++;
      this.#registry.fail(task.taskId, 'placement-timeout');
      return 'failed';
    }
    this.#lot.park(task, now);
    this.#tasksParked++;
    const aggregator = this.#aggregator;
    if (from !== undefined && aggregator !== undefined && !this.#expectations.has(task.taskId)) {
      // Its set must not end when `from` is declared failed: it waits for a placeholder instead,
      // which becomes the new collector on placement or is failed if the task ends parked.
      const placeholder = `${PLACEHOLDER_PREFIX}${task.taskId}`;
      this.#expectations.set(task.taskId, placeholder);
      this.#hook('aggregator.reassign', () =>
        aggregator.reassign(task.correlationId, from, placeholder),
      );
    }
    this.#emit('task-parked', () => this.emit('task-parked', task, from));
    return 'parked';
  }

  #hook(what: string, fn: () => void): void {
    try {
      fn();
    } catch (cause) {
      this.#callbackErrors++;
      reportCallbackError(this.#onCallbackError, `FailoverManager hook ${what}`, cause);
    }
  }

  #emit(event: string, fn: () => void): void {
    guard(this.#onCallbackError, `a FailoverManager '${event}' listener`, (): void => {
      try {
        fn();
      } catch (cause) {
        this.#callbackErrors++;
        throw cause;
      }
    });
  }
}
