import { type Clock, systemClock } from './clock.js';
import type { BalancerError } from './errors.js';
import type { BalancerEvent } from './events.js';
import { describeValue, isRecord, numberOption, refuseUnknownKeys } from './validation.js';

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
  /** A new or restarted collector's share ramps up over this window (0 disables). Default 10 000. */
  slowStartMs?: number | undefined;
  /** Slow-start factor at the start of the ramp. Default 0.1. */
  slowStartMinFactor?: number | undefined;
  /** Score multiplier of a collector whose last heartbeat said `health: 'degraded'`. Default 0.25. */
  degradedFactor?: number | undefined;
  /** Time source; only `now()` is read (the balancer sets no timers). Default {@link systemClock}. */
  clock?: Clock | undefined;
  /** Uniform random numbers in [0, 1). Default `Math.random`. */
  random?: (() => number) | undefined;
  /** Called synchronously on ejection events. A throw goes to `onCallbackError`. Default: none. */
  onEvent?: ((event: BalancerEvent) => void) | undefined;
  /**
   * Receives `ERR_BALANCER_CALLBACK_FAILED` (cause: what `onEvent` threw) once the balancer's own
   * state is consistent. Default: none, and the error is re-thrown on a microtask.
   */
  onCallbackError?: ((error: BalancerError<'ERR_BALANCER_CALLBACK_FAILED'>) => void) | undefined;
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
  readonly degradedFactor: number;
  readonly clock: Pick<Clock, 'now'>;
  readonly random: () => number;
  readonly onEvent: ((event: BalancerEvent) => void) | undefined;
  readonly onCallbackError:
    | ((error: BalancerError<'ERR_BALANCER_CALLBACK_FAILED'>) => void)
    | undefined;
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
  degradedFactor: 0.25,
} as const satisfies Omit<ResolvedOptions, 'clock' | 'random' | 'onEvent' | 'onCallbackError'>);

const OPTION_KEYS: readonly string[] = [
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
  'degradedFactor',
  'clock',
  'random',
  'onEvent',
  'onCallbackError',
];
const WEIGHT_KEYS: readonly string[] = ['active', 'queue', 'success', 'cpu', 'duration'];
const REGISTER_KEYS: readonly string[] = ['taskKinds', 'weight'];

/** Largest delay Node's timers take (larger values become 1 ms); the ceiling of every `*Ms`. */
export const MAX_DELAY_MS = 2 ** 31 - 1;
const MAX_WEIGHT = 1_000_000;
/** Largest static collector weight accepted by `register`. */
export const MAX_COLLECTOR_WEIGHT = 1_000_000;

function isStrategy(value: unknown): value is StrategyName {
  return typeof value === 'string' && (STRATEGIES as readonly string[]).includes(value);
}

// Only the shape can be checked at run time; return values are sanitised where they are used.
function isFunction<F>(value: unknown): value is F {
  return typeof value === 'function';
}

function hasNow(value: unknown): value is Pick<Clock, 'now'> {
  return isRecord(value) && typeof value.now === 'function';
}

function functionOption<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (!isFunction<F>(value)) {
    throw new TypeError(`options.${name} must be a function, got ${describeValue(value)}`);
  }
  return value;
}

function resolveWeights(value: unknown): ScoreWeights {
  const d = BALANCER_DEFAULTS.weights;
  if (value === undefined) return d;
  if (!isRecord(value)) {
    throw new TypeError(`options.weights must be an object, got ${describeValue(value)}`);
  }
  refuseUnknownKeys('options.weights', value, WEIGHT_KEYS);
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

/** Applies defaults and validates every option; throws TypeError/RangeError naming the option. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options !== undefined && !isRecord(options)) {
    throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  }
  const o: Record<string, unknown> = options ?? {};
  refuseUnknownKeys('options', o, OPTION_KEYS);
  const d = BALANCER_DEFAULTS;

  let strategy: StrategyName = d.strategy;
  if (o.strategy !== undefined) {
    if (!isStrategy(o.strategy)) {
      throw new TypeError(
        `options.strategy must be one of ${STRATEGIES.join(', ')}, got ${describeValue(o.strategy)}`,
      );
    }
    strategy = o.strategy;
  }

  const delay = { min: 1, max: MAX_DELAY_MS, integer: true };
  const baseEjectionMs = numberOption(
    'options.baseEjectionMs',
    o.baseEjectionMs,
    d.baseEjectionMs,
    delay,
  );
  const maxEjectionMs = numberOption(
    'options.maxEjectionMs',
    o.maxEjectionMs,
    d.maxEjectionMs,
    delay,
  );
  if (maxEjectionMs < baseEjectionMs) {
    throw new RangeError(
      `options.maxEjectionMs must be >= options.baseEjectionMs (${baseEjectionMs}), got ${maxEjectionMs}`,
    );
  }

  let clock: Pick<Clock, 'now'> = systemClock;
  if (o.clock !== undefined) {
    if (!hasNow(o.clock)) {
      throw new TypeError(
        `options.clock must be a Clock (an object with now()), got ${describeValue(o.clock)}`,
      );
    }
    clock = o.clock;
  }

  return Object.freeze({
    strategy,
    p2cMinCandidates: numberOption(
      'options.p2cMinCandidates',
      o.p2cMinCandidates,
      d.p2cMinCandidates,
      { min: 2, max: 1_000_000, integer: true },
    ),
    weights: resolveWeights(o.weights),
    stalenessMs: numberOption('options.stalenessMs', o.stalenessMs, d.stalenessMs, delay),
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
      max: MAX_DELAY_MS,
      integer: true,
    }),
    slowStartMinFactor: numberOption(
      'options.slowStartMinFactor',
      o.slowStartMinFactor,
      d.slowStartMinFactor,
      { min: 0, minExclusive: true, max: 1 },
    ),
    degradedFactor: numberOption('options.degradedFactor', o.degradedFactor, d.degradedFactor, {
      min: 0,
      minExclusive: true,
      max: 1,
    }),
    clock,
    random: functionOption<() => number>('random', o.random) ?? Math.random,
    onEvent: functionOption<(event: BalancerEvent) => void>('onEvent', o.onEvent),
    onCallbackError: functionOption<(error: BalancerError<'ERR_BALANCER_CALLBACK_FAILED'>) => void>(
      'onCallbackError',
      o.onCallbackError,
    ),
  });
}

/** Validated arguments of `register` (task kinds deduplicated and frozen). */
export interface ResolvedRegistration {
  readonly taskKinds: readonly string[];
  readonly weight: number;
}

/** Validates `register(id, options)`; messages name `register options.<name>`. */
export function resolveRegistration(options: unknown): ResolvedRegistration {
  if (options !== undefined && !isRecord(options)) {
    throw new TypeError(`register options must be an object, got ${describeValue(options)}`);
  }
  const o: Record<string, unknown> = options ?? {};
  refuseUnknownKeys('register options', o, REGISTER_KEYS);
  return {
    taskKinds: checkTaskKinds(o.taskKinds),
    weight: numberOption('register options.weight', o.weight, 1, {
      min: 0,
      minExclusive: true,
      max: MAX_COLLECTOR_WEIGHT,
    }),
  };
}

function checkTaskKinds(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) {
    throw new TypeError(
      `register options.taskKinds must be an array of non-empty strings, got ${describeValue(value)}`,
    );
  }
  const kinds: string[] = [];
  for (const k of value) {
    if (typeof k !== 'string' || k.length === 0) {
      throw new TypeError(
        `register options.taskKinds must be an array of non-empty strings, got an entry ${describeValue(k)}`,
      );
    }
    if (!kinds.includes(k)) kinds.push(k);
  }
  return Object.freeze(kinds);
}
