export type { BackoffOptions } from './backoff.js';
export type { CallbackErrorHandler } from './callbacks.js';
export { type Clock, systemClock } from './clock.js';
export {
  FAILOVER_ERROR_CODES,
  FailoverError,
  type FailoverErrorCode,
  isFailoverError,
} from './errors.js';
export {
  type AggregatorNotifier,
  type DispatchResult,
  FailoverManager,
  type FailoverManagerEvents,
  type FailoverManagerOptions,
  type FailoverManagerStats,
  type FailoverReport,
  PLACEHOLDER_PREFIX,
  type RouteFailure,
  type SubscriptionCleaner,
  type TaskRouter,
} from './failover-manager.js';
export {
  type CollectorFailure,
  type CollectorHealth,
  type FailureReason,
  type HealthChangeReason,
  type HealthState,
  type HealthStateChange,
  HealthTracker,
  type HealthTrackerEvents,
  type HealthTrackerOptions,
  type HealthTrackerStats,
  type HeartbeatReport,
  type LoopStall,
  type ReportedHealth,
  type ReportedHealthChange,
} from './health-tracker.js';
export {
  type CompletionResult,
  type PendingTask,
  PendingTaskRegistry,
  type PendingTaskRegistryEvents,
  type PendingTaskRegistryOptions,
  type PendingTaskRegistryStats,
  type TaskFailureReason,
  type TaskInput,
} from './pending-task-registry.js';
export type { PhiOptions } from './phi.js';
export { platformSampler, type ResourceSample, type ResourceSampler } from './resource-sampler.js';
export {
  type ResourceLimitExceeded,
  type ResourceLimits,
  type ResourceUsage,
  type ResourceVerdict,
  ResourceWatchdog,
  type ResourceWatchdogEvents,
  type ResourceWatchdogOptions,
  type ResourceWatchdogStats,
} from './resource-watchdog.js';
export {
  type CollectorProcessInfo,
  type CollectorProcessState,
  type CollectorSpec,
  type CollectorStateChange,
  type CollectorStateReason,
  type ProcessExit,
  type RestartPolicy,
  type SetPriorityFunction,
  type SpawnFunction,
  type SupervisedChild,
  Supervisor,
  type SupervisorEvents,
  type SupervisorOptions,
  type SupervisorState,
} from './supervisor.js';
