export type { AggregatedItem, AggregatedVariant } from '@daemoneye/aggregator';
export {
  type Admission,
  admit,
  type Candidate,
  type Expectation,
  REFUSAL_CODES,
  REFUSAL_REASONS,
  type RefusalReason,
} from './admission.js';
export { type Clock, systemClock } from './clock.js';
export {
  type ControlRequest,
  Coordinator,
  createCoordinator,
  ENV_COLLECTOR_ID,
  ENV_ENDPOINT,
  ENV_TOKEN_FILE,
  type StartReport,
} from './coordinator.js';
export {
  COORDINATOR_ERROR_CODES,
  CoordinatorError,
  type CoordinatorErrorCode,
  isCoordinatorError,
} from './errors.js';
export type { JournalReport } from './journal/hooks.js';
export {
  type FsyncPolicy,
  JOURNAL_DEFAULTS,
  type JournalOptions,
  MIN_JOURNAL_BYTES,
} from './journal/options.js';
export { readJournal } from './journal/read.js';
export type { JournalRecord } from './journal/records.js';
export type { RecoveryReport } from './journal/recovery.js';
export type { JournalStatus } from './journal/status.js';
export {
  type AggregationLimits,
  type CollectorSpec,
  type CoordinatorOptions,
  DEFAULTS,
  type FailoverLimits,
  type TransportLimits,
} from './options.js';
export type { SelfHealth } from './reactions/self-health.js';
export type {
  AggregatedResult,
  CollectorState,
  CollectorStatus,
  CoordinatorEvents,
  CoordinatorMessage,
  CoordinatorState,
  CoordinatorStatus,
  DispatchRequest,
  FanOutRequest,
  KillReason,
  ResultReason,
} from './types.js';
export { contentKey, encodedSize } from './weights.js';
