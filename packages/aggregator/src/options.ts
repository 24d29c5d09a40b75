import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { AggregatorError } from './errors.js';
import type { AggregatedResult } from './types.js';

/** Options shared by every result type. */
export interface BaseAggregatorOptions<R> {
  /** Default per-set timeout in ms; integer 1..2_147_483_647. Default 5000. */
  timeoutMs?: number | undefined;
  /** Maximum concurrently pending sets; integer 1..1_000_000. Default 10_000. */
  maxPendingSets?: number | undefined;
  /** Maximum distinct results per set; integer 1..1_000_000. Default 10_000. */
  maxResultsPerSet?: number | undefined;
  /** How many completed ids are remembered to classify `late` results; 0..1_000_000. Default 10_000. */
  recentCompletedCapacity?: number | undefined;
  /** Combines a duplicate with the kept result. Default: keep the first. */
  merge?: ((kept: R, incoming: R, collectorId: string) => R) | undefined;
  /** Time source. Default {@link systemClock}. */
  clock?: Clock | undefined;
  /** Called once per completed set, before the `complete` event. */
  onComplete?: ((result: AggregatedResult<R>) => void) | undefined;
  /** Receives errors thrown by user callbacks. Default: rethrow asynchronously (uncaught). */
  onCallbackError?: ((error: AggregatorError) => void) | undefined;
}

/** A result type the default `dedupKey` can read. */
export interface Fingerprinted {
  readonly fingerprint: string;
}

/** `dedupKey` is optional when R has a string `fingerprint`, required otherwise. */
export type DedupKeyOption<R> = [R] extends [Fingerprinted]
  ? {
      /** Exact identity of a result for dedup. Default: `result.fingerprint`. */
      dedupKey?: ((result: R) => string) | undefined;
    }
  : {
      /** Exact identity of a result for dedup (required: R has no string `fingerprint`). */
      dedupKey: (result: R) => string;
    };

/** The one options object of `ResultAggregator`. */
export type ResultAggregatorOptions<R> = BaseAggregatorOptions<R> & DedupKeyOption<R>;

/** Default values of every option, in one place. */
export const DEFAULTS = {
  timeoutMs: 5000,
  maxPendingSets: 10_000,
  maxResultsPerSet: 10_000,
  recentCompletedCapacity: 10_000,
} as const;

/** Largest delay Node timers accept (about 24.8 days). */
export const MAX_TIMEOUT_MS = 2_147_483_647;
const MAX_COUNT = 1_000_000;

const KNOWN_OPTIONS = new Set([
  'timeoutMs',
  'maxPendingSets',
  'maxResultsPerSet',
  'recentCompletedCapacity',
  'dedupKey',
  'merge',
  'clock',
  'onComplete',
  'onCallbackError',
]);

/** Options after validation, with defaults applied. */
export interface ResolvedOptions<R> {
  readonly timeoutMs: number;
  readonly maxPendingSets: number;
  readonly maxResultsPerSet: number;
  readonly recentCompletedCapacity: number;
  readonly dedupKey: ((result: R) => unknown) | undefined;
  readonly merge: ((kept: R, incoming: R, collectorId: string) => R) | undefined;
  readonly clock: Clock;
  readonly onComplete: ((result: AggregatedResult<R>) => void) | undefined;
  readonly onCallbackError: ((error: AggregatorError) => void) | undefined;
}

/** Returns whether `value` is an integer in `[min, max]`. */
export function isIntegerInRange(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function integerOption(name: string, value: unknown, fallback: number, min: number, max: number) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`option "${name}" must be a number, got ${typeof value}`);
  }
  if (!isIntegerInRange(value, min, max)) {
    throw new RangeError(`option "${name}" must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function functionOption<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`option "${name}" must be a function, got ${typeof value}`);
  }
  return value;
}

function isClock(value: unknown): value is Clock {
  return (
    typeof value === 'object' &&
    value !== null &&
    'now' in value &&
    typeof value.now === 'function' &&
    'setTimeout' in value &&
    typeof value.setTimeout === 'function' &&
    'clearTimeout' in value &&
    typeof value.clearTimeout === 'function'
  );
}

/** The options as `resolveOptions` reads them, whatever R is. */
export type AnyAggregatorOptions<R> = BaseAggregatorOptions<R> & {
  dedupKey?: ((result: R) => string) | undefined;
};

/** Validates the options once; throws TypeError/RangeError naming the option and its range. */
export function resolveOptions<R>(input: AnyAggregatorOptions<R> | undefined): ResolvedOptions<R> {
  const options = input === undefined ? {} : input;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `options must be an object, got ${options === null ? 'null' : typeof options}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`unknown option "${key}"`);
  }
  const clock = options.clock ?? systemClock;
  if (!isClock(clock)) {
    throw new TypeError('option "clock" must have now(), setTimeout() and clearTimeout() methods');
  }
  return {
    timeoutMs: integerOption('timeoutMs', options.timeoutMs, DEFAULTS.timeoutMs, 1, MAX_TIMEOUT_MS),
    maxPendingSets: integerOption(
      'maxPendingSets',
      options.maxPendingSets,
      DEFAULTS.maxPendingSets,
      1,
      MAX_COUNT,
    ),
    maxResultsPerSet: integerOption(
      'maxResultsPerSet',
      options.maxResultsPerSet,
      DEFAULTS.maxResultsPerSet,
      1,
      MAX_COUNT,
    ),
    recentCompletedCapacity: integerOption(
      'recentCompletedCapacity',
      options.recentCompletedCapacity,
      DEFAULTS.recentCompletedCapacity,
      0,
      MAX_COUNT,
    ),
    dedupKey: functionOption('dedupKey', options.dedupKey),
    merge: functionOption('merge', options.merge),
    clock,
    onComplete: functionOption('onComplete', options.onComplete),
    onCallbackError: functionOption('onCallbackError', options.onCallbackError),
  };
}
