export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type { AggregatorErrorCode } from './errors.js';
export { AggregatorError } from './errors.js';
export type {
  BaseAggregatorOptions,
  DedupKeyOption,
  Fingerprinted,
  ResultAggregatorOptions,
} from './options.js';
export { DEFAULTS } from './options.js';
export type {
  AddResultOptions,
  AggregatorEvents,
  BeginOptions,
  ResultAggregatorArgs,
} from './result-aggregator.js';
export { ResultAggregator } from './result-aggregator.js';
export type {
  AddResultOutcome,
  AggregatedItem,
  AggregatedResult,
  AggregatorStats,
  BeginRejectionCode,
  CompletionReason,
  ReassignOutcome,
} from './types.js';
export { ADD_RESULT_OUTCOMES, COMPLETION_REASONS } from './types.js';
