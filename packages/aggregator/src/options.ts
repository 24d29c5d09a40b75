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
  /** Results (new keys and conflict variants) one set holds; shared out per collector; 1..1_000_000. Default 10_000. */
  maxResultsPerSet?: number | undefined;
  /** Charged bytes one set holds; shared out per collector; 1024..2^40. Default 8 MiB. */
  maxBytesPerSet?: number | undefined;
  /** Charged bytes all pending sets hold together; 1024..2^40. Default 32 MiB. */
  maxPendingBytes?: number | undefined;
  /** Charged bytes one collector's slots hold across all pending sets; 1024..2^40. Default 8 MiB. */
  maxPendingBytesPerCollector?: number | undefined;
  /** Bytes charged per held result on top of `weigh(result)`; integer 0..65_536. Default 256. */
  resultOverheadBytes?: number | undefined;
  /** Distinct variants (the first included) one conflicting item keeps; integer 2..64. Default 8. */
  maxVariantsPerItem?: number | undefined;
  /** Charged bytes of all variants of one item; 1024..2^40. Default 4 MiB. */
  maxItemBytes?: number | undefined;
  /** How many completed ids are remembered to classify `late` results; 0..1_000_000. Default 10_000. */
  recentCompletedCapacity?: number | undefined;
  /**
   * Bytes of one result (for DetectionResults: their encoded size). Called once per result the
   * set would hold. Default: a numeric `byteLength` property of the result, else 0.
   */
  weigh?: ((result: R) => number) | undefined;
  /**
   * What two copies of one key must share to agree (not the collection time). Called only when a
   * copy of a held key arrives from another collector, and then for the held copy too (once).
   * Default: {@link defaultContentKey}.
   */
  contentKey?: ((result: R) => string) | undefined;
  /** Time source. Default {@link systemClock}. */
  clock?: Clock | undefined;
  /** Called once per completed set, before the `complete` event. */
  onComplete?: ((result: AggregatedResult<R>) => void) | undefined;
  /** Receives `ERR_AGGREGATOR_CALLBACK_FAILED` errors. Default: rethrown on a microtask. */
  onCallbackError?:
    | ((error: AggregatorError<'ERR_AGGREGATOR_CALLBACK_FAILED'>) => void)
    | undefined;
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

const MiB = 1024 * 1024;

/** Default values of every numeric option, in one place. */
export const DEFAULTS = {
  timeoutMs: 5000,
  maxPendingSets: 10_000,
  maxResultsPerSet: 10_000,
  maxBytesPerSet: 8 * MiB,
  maxPendingBytes: 32 * MiB,
  maxPendingBytesPerCollector: 8 * MiB,
  resultOverheadBytes: 256,
  maxVariantsPerItem: 8,
  maxItemBytes: 4 * MiB,
  recentCompletedCapacity: 10_000,
} as const;

/** Largest delay Node timers accept (about 24.8 days). */
export const MAX_TIMEOUT_MS = 2_147_483_647;
const MAX_COUNT = 1_000_000;
const MIN_BYTES = 1024;
const MAX_BYTES = 2 ** 40;

/** Options after validation, with defaults applied. */
export interface ResolvedOptions<R> {
  readonly timeoutMs: number;
  readonly maxPendingSets: number;
  readonly maxResultsPerSet: number;
  readonly maxBytesPerSet: number;
  readonly maxPendingBytes: number;
  readonly maxPendingBytesPerCollector: number;
  readonly resultOverheadBytes: number;
  readonly maxVariantsPerItem: number;
  readonly maxItemBytes: number;
  readonly recentCompletedCapacity: number;
  readonly dedupKey: ((result: R) => unknown) | undefined;
  readonly weigh: ((result: R) => unknown) | undefined;
  readonly contentKey: ((result: R) => unknown) | undefined;
  readonly clock: Clock;
  readonly onComplete: ((result: AggregatedResult<R>) => void) | undefined;
  readonly onCallbackError:
    | ((error: AggregatorError<'ERR_AGGREGATOR_CALLBACK_FAILED'>) => void)
    | undefined;
}

/** The options as `resolveOptions` reads them, whatever R is. */
export type AnyAggregatorOptions<R> = BaseAggregatorOptions<R> & {
  dedupKey?: ((result: R) => string) | undefined;
};

/** Integer options: [floor, ceiling], in one table so messages, docs and tests agree. */
const INTEGER_RANGES = {
  timeoutMs: [1, MAX_TIMEOUT_MS],
  maxPendingSets: [1, MAX_COUNT],
  maxResultsPerSet: [1, MAX_COUNT],
  maxBytesPerSet: [MIN_BYTES, MAX_BYTES],
  maxPendingBytes: [MIN_BYTES, MAX_BYTES],
  maxPendingBytesPerCollector: [MIN_BYTES, MAX_BYTES],
  resultOverheadBytes: [0, 65_536],
  maxVariantsPerItem: [2, 64],
  maxItemBytes: [MIN_BYTES, MAX_BYTES],
  recentCompletedCapacity: [0, MAX_COUNT],
} as const satisfies Record<keyof typeof DEFAULTS, readonly [number, number]>;

const FUNCTION_OPTIONS = [
  'dedupKey',
  'weigh',
  'contentKey',
  'onComplete',
  'onCallbackError',
] as const;

const KNOWN_OPTIONS: readonly string[] = [
  ...Object.keys(INTEGER_RANGES),
  ...FUNCTION_OPTIONS,
  'clock',
];

/** Returns whether `value` is an integer in `[min, max]`. */
export function isIntegerInRange(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function integerOption(name: keyof typeof INTEGER_RANGES, value: unknown): number {
  if (value === undefined) return DEFAULTS[name];
  const [min, max] = INTEGER_RANGES[name];
  if (typeof value !== 'number') {
    throw new TypeError(
      `options.${name} must be an integer in ${min}..${max}, got ${describeValue(value)}`,
    );
  }
  if (!isIntegerInRange(value, min, max)) {
    throw new RangeError(
      `options.${name} must be an integer in ${min}..${max}, got ${describeValue(value)}`,
    );
  }
  return value;
}

function functionOption<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`options.${name} must be a function, got ${describeValue(value)}`);
  }
  return value;
}

/** A Clock: an object (not an array) with `now`, `setTimeout` and `clearTimeout` functions. */
export function isClock(value: unknown): value is Clock {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    'now' in value &&
    typeof value.now === 'function' &&
    'setTimeout' in value &&
    typeof value.setTimeout === 'function' &&
    'clearTimeout' in value &&
    typeof value.clearTimeout === 'function'
  );
}

// ---- house option helpers -------------------------------------------------------------------
// The same text in aggregator, balancer, coordinator, failover and ipc-transport (each keeps no
// runtime dependency for it); test/conformance.test.ts runs every copy on one table.

/** How a value is shown in an option message: short, and never throwing. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/**
 * The known name nearest to `key`: case-insensitive edit distance at most max(3, length / 3), or
 * a prefix either way (`maxRss` for `maxRssBytes`: a unit left out is the commonest slip).
 */
export function nearestName(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = key.toLowerCase();
  for (const name of known) {
    const other = name.toLowerCase();
    const prefix = lower.length >= 3 && (other.startsWith(lower) || lower.startsWith(other));
    const d = prefix ? 1 : editDistance(lower, other);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(3, Math.floor(key.length / 3)) ? best : undefined;
}

/** Throws `<path>.<key> is not a known option (did you mean x?)` for a key not in `known`. */
export function refuseUnknownKeys(path: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = nearestName(key, known);
    const hint = near === undefined ? '' : ` (did you mean ${near}?)`;
    throw new TypeError(`${path}.${key} is not a known option${hint}`);
  }
}
// ---- end of the house option helpers --------------------------------------------------------

/** Validates the options once; throws TypeError/RangeError worded `options.<name> must be ...`. */
export function resolveOptions<R>(input: AnyAggregatorOptions<R> | undefined): ResolvedOptions<R> {
  const options = input === undefined ? {} : input;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  }
  refuseUnknownKeys('options', options, KNOWN_OPTIONS);
  const clock = options.clock ?? systemClock;
  if (!isClock(clock)) {
    throw new TypeError(
      `options.clock must be an object with now(), setTimeout() and clearTimeout(), got ${describeValue(clock)}`,
    );
  }
  return {
    timeoutMs: integerOption('timeoutMs', options.timeoutMs),
    maxPendingSets: integerOption('maxPendingSets', options.maxPendingSets),
    maxResultsPerSet: integerOption('maxResultsPerSet', options.maxResultsPerSet),
    maxBytesPerSet: integerOption('maxBytesPerSet', options.maxBytesPerSet),
    maxPendingBytes: integerOption('maxPendingBytes', options.maxPendingBytes),
    maxPendingBytesPerCollector: integerOption(
      'maxPendingBytesPerCollector',
      options.maxPendingBytesPerCollector,
    ),
    resultOverheadBytes: integerOption('resultOverheadBytes', options.resultOverheadBytes),
    maxVariantsPerItem: integerOption('maxVariantsPerItem', options.maxVariantsPerItem),
    maxItemBytes: integerOption('maxItemBytes', options.maxItemBytes),
    recentCompletedCapacity: integerOption(
      'recentCompletedCapacity',
      options.recentCompletedCapacity,
    ),
    dedupKey: functionOption('dedupKey', options.dedupKey),
    weigh: functionOption('weigh', options.weigh),
    contentKey: functionOption('contentKey', options.contentKey),
    clock,
    onComplete: functionOption('onComplete', options.onComplete),
    onCallbackError: functionOption('onCallbackError', options.onCallbackError),
  };
}
