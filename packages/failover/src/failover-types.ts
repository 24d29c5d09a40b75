import type { CallbackErrorHandler } from './callbacks.js';
import type { Clock } from './clock.js';
import type { HealthTracker } from './health-tracker.js';
import type { PendingTask, PendingTaskRegistry } from './pending-task-registry.js';

// The FailoverManager's public types: the hooks the agent implements, events, counters, options.

/**
 * Places tasks on collectors; the agent implements it with the balancer and the IPC broker.
 * `route` is synchronous: it picks a collector that is not in `exclude`, sends the task to it and
 * returns its id, or returns undefined when no collector can take any task now (the rest of the
 * batch is then parked without asking again). Throwing means "could not send this one" (e.g.
 * `ERR_BACKPRESSURE`): that task is parked, a `route-failed` event carries the error, and routing
 * goes on with the next task. Returning an excluded or empty id is a bug of the router, reported
 * through `onCallbackError`.
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

/** Payload of `route-failed`: the router threw for one task; the task was parked. */
export interface RouteFailure<P = unknown> {
  readonly task: PendingTask<P>;
  /** The collector the task came from (undefined for a new task). */
  readonly from: string | undefined;
  readonly error: unknown;
}

/** Typed events of {@link FailoverManager}. Task outcomes are events of the registry. */
export type FailoverManagerEvents<P = unknown> = {
  failover: [report: FailoverReport];
  /** A task was placed on `to`; `from` is its previous collector (undefined if it had none). */
  'task-placed': [task: PendingTask<P>, from: string | undefined, to: string];
  /** A task could not be placed now and waits for a collector. */
  'task-parked': [task: PendingTask<P>, from: string | undefined];
  /** The router threw for this task ("could not send it"): it was parked, not lost. */
  'route-failed': [failure: RouteFailure<P>];
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
  /** Router throws (tasks parked). */
  readonly routeErrors: number;
  /** Hooks (subscriptions, aggregator, an invalid router answer) and listeners that threw. */
  readonly callbackErrors: number;
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
  /** Re-routings a task gets after the collector holding it fails. Default 3; integer [0, 100]. */
  maxRetries?: number | undefined;
  /** How long a task may wait parked for a collector, in ms; 0 fails instead of parking. Default 10 000. */
  placementTimeoutMs?: number | undefined;
  /** How often parked tasks are retried, in ms. Default 1 000; integer [1, 2^31-1]. */
  parkRetryIntervalMs?: number | undefined;
  /** Time source. Default `systemClock`. */
  clock?: Clock | undefined;
  /** Receives `ERR_FAILOVER_CALLBACK_FAILED` when a hook or listener throws. Default: re-thrown on a microtask. */
  onCallbackError?: CallbackErrorHandler | undefined;
}
