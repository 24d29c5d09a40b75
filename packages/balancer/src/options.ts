import type { BalancerEvent } from './events.js';

/** Selection strategies. `auto` scans every candidate below `p2cMinCandidates`, else uses P2C. */
export type StrategyName = 'auto' | 'weighted' | 'least-loaded' | 'round-robin' | 'p2c';

/** All strategy names, in documentation order. */
export const STRATEGIES: readonly StrategyName[] = Object.freeze([
  'auto',
  'weighted',
  'least-loaded',
  'round-robin',
  'p2c',
]);

/** Coefficients of the weighted score (see the README for the formula). */
export interface ScoreWeights {
  /** Points an active task costs at zero load (spec: 10). */
  readonly active: number;
  /** Points a queued task costs at zero load (spec: 5). */
  readonly queue: number;
  /** Points for a 100 % success rate (spec: 100). */
  readonly success: number;
  /** Points for an idle CPU (0 keeps the spec's formula, which ignores CPU). */
  readonly cpu: number;
  /** Exponent of the task-duration factor (0 ignores durations, 1 is proportional). */
  readonly duration: number;
}

/** Source of time in milliseconds; `performance.now()` unless injected. */
export interface Clock {
  now(): number;
}

/** Options of {@link LoadBalancer}; every field is optional, see {@link BALANCER_DEFAULTS}. */
export interface LoadBalancerOptions {
  /** Selection strategy. Default `'auto'`. */
  strategy?: StrategyName | undefined;
  /** `auto` switches from a full scan to P2C at this many candidates. Default 8. */
  p2cMinCandidates?: number | undefined;
  /** Score coefficients; missing fields keep their defaults. */
  weights?: Partial<ScoreWeights> | undefined;
  /** Heartbeat metrics older than this count as unknown. Default 30 000 (3 heartbeats). */
  stalenessMs?: number | undefined;
  /** Smoothing factor of the task-duration EWMA. Default 0.3. */
  ewmaAlpha?: number | undefined;
  /** Consecutive failed tasks that eject a collector. Default 5. */
  consecutiveFailures?: number | undefined;
  /** Ejection time is `baseEjectionMs x ejection count`. Default 30 000. */
  baseEjectionMs?: number | undefined;
  /** Upper bound of one ejection. Default 300 000. */
  maxEjectionMs?: number | undefined;
  /** At most this percentage of collectors is ejected at once (0 disables ejection). Default 50. */
  maxEjectionPercent?: number | undefined;
  /** A new or restarted collector's score ramps up over this window (0 disables). Default 10 000. */
  slowStartMs?: number | undefined;
  /** Score factor at the start of the slow-start ramp. Default 0.1. */
  slowStartMinFactor?: number | undefined;
  /** Time source (milliseconds). Default `{ now: () => performance.now() }`. */
  clock?: Clock | undefined;
  /** Uniform random numbers in [0, 1). Default `Math.random`. */
  random?: (() => number) | undefined;
  /** Called synchronously on ejection events; must not throw. Default: none. */
  onEvent?: ((event: BalancerEvent) => void) | undefined;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  readonly strategy: StrategyName;
  readonly p2cMinCandidates: number;
  readonly weights: ScoreWeights;
  readonly stalenessMs: number;
  readonly ewmaAlpha: number;
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  readonly slowStartMs: number;
  readonly slowStartMinFactor: number;
  readonly clock: Clock;
  readonly random: () => number;
  readonly onEvent: ((event: BalancerEvent) => void) | undefined;
}

/** The default of every numeric and strategy option, in one place. */
export const BALANCER_DEFAULTS = Object.freeze({
  strategy: 'auto',
  p2cMinCandidates: 8,
  weights: Object.freeze({ active: 10, queue: 5, success: 100, cpu: 0, duration: 1 }),
  stalenessMs: 30_000,
  ewmaAlpha: 0.3,
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 50,
  slowStartMs: 10_000,
  slowStartMinFactor: 0.1,
} as const satisfies Omit<ResolvedOptions, 'clock' | 'random' | 'onEvent'>);

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'strategy',
  'p2cMinCandidates',
  'weights',
  'stalenessMs',
  'ewmaAlpha',
  'consecutiveFailures',
  'baseEjectionMs',
  'maxEjectionMs',
  'maxEjectionPercent',
  'slowStartMs',
  'slowStartMinFactor',
  'clock',
  'random',
  'onEvent',
]);
const WEIGHT_KEYS: ReadonlySet<string> = new Set(['active', 'queue', 'success', 'cpu', 'duration']);

const MAX_MS = 2 ** 31 - 1;
const MAX_WEIGHT = 1_000_000;

interface NumberRule {
  readonly min: number;
  readonly max: number;
  /** Excludes `min` itself. */
  readonly minExclusive?: boolean;
  readonly integer?: boolean;
}

/** Validates a number option, returning the default when it is `undefined`. */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback;
  const kind = rule.integer ? 'an integer' : 'a finite number';
  const low = rule.minExclusive ? `> ${rule.min}` : `>= ${rule.min}`;
  const range = `${kind} ${low} and <= ${rule.max}`;
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be ${range} (got ${typeof value})`);
  }
  const tooLow = rule.minExclusive ? value <= rule.min : value < rule.min;
  if (
    !Number.isFinite(value) ||
    tooLow ||
    value > rule.max ||
    (rule.integer === true && !Number.isInteger(value))
  ) {
    throw new RangeError(`${name} must be ${range} (got ${value})`);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStrategy(value: unknown): value is StrategyName {
  return typeof value === 'string' && (STRATEGIES as readonly string[]).includes(value);
}

// Only the shape can be checked at run time; return values are sanitised where they are used.
function isFunction<F>(value: unknown): value is F {
  return typeof value === 'function';
}

function isClock(value: unknown): value is Clock {
  return isRecord(value) && typeof value.now === 'function';
}

function rejectUnknownKeys(
  name: string,
  value: Record<string, unknown>,
  known: ReadonlySet<string>,
) {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new TypeError(
        `${name} has an unknown option "${key}" (known: ${[...known].join(', ')})`,
      );
    }
  }
}

function resolveWeights(value: unknown): ScoreWeights {
  const d = BALANCER_DEFAULTS.weights;
  if (value === undefined) return d;
  if (!isRecord(value)) throw new TypeError('options.weights must be an object');
  rejectUnknownKeys('options.weights', value, WEIGHT_KEYS);
  const points = { min: 0, max: MAX_WEIGHT };
  return Object.freeze({
    active: numberOption('options.weights.active', value.active, d.active, points),
    queue: numberOption('options.weights.queue', value.queue, d.queue, points),
    success: numberOption('options.weights.success', value.success, d.success, points),
    cpu: numberOption('options.weights.cpu', value.cpu, d.cpu, points),
    duration: numberOption('options.weights.duration', value.duration, d.duration, {
      min: 0,
      max: 4,
    }),
  });
}

const defaultClock: Clock = { now: () => performance.now() };

/** Applies defaults and validates every option; throws TypeError/RangeError naming the option. */
export function resolveOptions(options: unknown): ResolvedOptions {
  const o: Record<string, unknown> = options === undefined ? {} : checkedRecord(options);
  rejectUnknownKeys('options', o, OPTION_KEYS);
  const d = BALANCER_DEFAULTS;

  let strategy: StrategyName = d.strategy;
  if (o.strategy !== undefined) {
    if (!isStrategy(o.strategy)) {
      throw new TypeError(
        `options.strategy must be one of ${STRATEGIES.join(', ')} (got ${String(o.strategy)})`,
      );
    }
    strategy = o.strategy;
  }

  const baseEjectionMs = numberOption(
    'options.baseEjectionMs',
    o.baseEjectionMs,
    d.baseEjectionMs,
    {
      min: 1,
      max: MAX_MS,
    },
  );
  const maxEjectionMs = numberOption('options.maxEjectionMs', o.maxEjectionMs, d.maxEjectionMs, {
    min: 1,
    max: MAX_MS,
  });
  if (maxEjectionMs < baseEjectionMs) {
    throw new RangeError(
      `options.maxEjectionMs must be >= options.baseEjectionMs (${maxEjectionMs} < ${baseEjectionMs})`,
    );
  }

  let clock = defaultClock;
  if (o.clock !== undefined) {
    if (!isClock(o.clock))
      throw new TypeError('options.clock must be an object with now(): number');
    clock = o.clock;
  }
  let random: () => number = Math.random;
  if (o.random !== undefined) {
    if (!isFunction<() => number>(o.random))
      throw new TypeError('options.random must be a function');
    random = o.random;
  }
  let onEvent: ((event: BalancerEvent) => void) | undefined;
  if (o.onEvent !== undefined) {
    if (!isFunction<(event: BalancerEvent) => void>(o.onEvent)) {
      throw new TypeError('options.onEvent must be a function');
    }
    onEvent = o.onEvent;
  }

  return Object.freeze({
    strategy,
    p2cMinCandidates: numberOption(
      'options.p2cMinCandidates',
      o.p2cMinCandidates,
      d.p2cMinCandidates,
      { min: 2, max: MAX_MS, integer: true },
    ),
    weights: resolveWeights(o.weights),
    stalenessMs: numberOption('options.stalenessMs', o.stalenessMs, d.stalenessMs, {
      min: 1,
      max: MAX_MS,
    }),
    ewmaAlpha: numberOption('options.ewmaAlpha', o.ewmaAlpha, d.ewmaAlpha, {
      min: 0,
      minExclusive: true,
      max: 1,
    }),
    consecutiveFailures: numberOption(
      'options.consecutiveFailures',
      o.consecutiveFailures,
      d.consecutiveFailures,
      { min: 1, max: 1_000_000, integer: true },
    ),
    baseEjectionMs,
    maxEjectionMs,
    maxEjectionPercent: numberOption(
      'options.maxEjectionPercent',
      o.maxEjectionPercent,
      d.maxEjectionPercent,
      { min: 0, max: 100 },
    ),
    slowStartMs: numberOption('options.slowStartMs', o.slowStartMs, d.slowStartMs, {
      min: 0,
      max: MAX_MS,
    }),
    slowStartMinFactor: numberOption(
      'options.slowStartMinFactor',
      o.slowStartMinFactor,
      d.slowStartMinFactor,
      { min: 0, minExclusive: true, max: 1 },
    ),
    clock,
    random,
    onEvent,
  });
}

function checkedRecord(value: unknown): Record<string, unknown> {
  if (!isRecord(value)) throw new TypeError('options must be an object');
  return value;
}
