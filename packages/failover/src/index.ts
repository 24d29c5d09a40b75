export {
  type BackoffOptions,
  backoffDelay,
  type ResolvedBackoffOptions,
  resolveBackoffOptions,
} from './backoff.js';
export type { Clock } from './clock.js';
export { FailoverError, type FailoverErrorCode, isFailoverError } from './errors.js';
export {
  type AggregatorNotifier,
  type DispatchResult,
  type FailoverHook,
  FailoverManager,
  type FailoverManagerEvents,
  type FailoverManagerOptions,
  type FailoverManagerStats,
  type FailoverReport,
  type HookError,
  PLACEHOLDER_PREFIX,
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
export { type PhiOptions, phiOf } from './phi.js';
export { type TerminateSignals, terminateSignals } from './platform.js';
export {
  type CollectorProcessInfo,
  type CollectorProcessState,
  type CollectorSpec,
  type ProcessExit,
  type RestartPolicy,
  type SpawnFunction,
  type SupervisedChild,
  Supervisor,
  type SupervisorEvents,
  type SupervisorOptions,
} from './supervisor.js';
