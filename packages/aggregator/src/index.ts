export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export { CONTENT_KEY_IGNORED, defaultContentKey } from './content.js';
export type { AggregatorErrorCode } from './errors.js';
export { AGGREGATOR_ERROR_CODES, AggregatorError, isAggregatorError } from './errors.js';
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
  AggregatedVariant,
  AggregatorStats,
  BeginRejectionCode,
  CompletionReason,
  ReassignOutcome,
  ShareFullEvent,
  ShareFullReason,
} from './types.js';
export { ADD_RESULT_OUTCOMES, COMPLETION_REASONS, SHARE_FULL_REASONS } from './types.js';
