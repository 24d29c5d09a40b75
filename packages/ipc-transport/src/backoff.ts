import {
  delayOption,
  intOption,
  MAX_DELAY_MS,
  optionsRecord,
  rejectUnknownKeys,
} from './options.js';

// The same shape as `@daemoneye/failover`'s backoff (same names and signatures), so one
// conformance test can run both copies; this package keeps no runtime dependency on failover.

/** Reconnect backoff: `initialDelayMs * multiplier^(attempt-1)`, capped, with proportional jitter. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 100; range 0..2^31-1. */
  initialDelayMs?: number;
  /** Growth factor per consecutive failure. Default 2; range 1..100. */
  multiplier?: number;
  /** Cap of the delay, in ms. Default 5000; range initialDelayMs..2^31-1. */
  maxDelayMs?: number;
  /** Jitter fraction: the delay is spread uniformly over `±jitter`. Default 0.5; range 0..1. */
  jitter?: number;
  /** A session that lasted this long resets the sequence, in ms. Default 0 (every Welcome resets). */
  resetAfterMs?: number;
}

/** Backoff options with every default applied. */
export type ResolvedBackoffOptions = Readonly<Required<BackoffOptions>>;

const DEFAULTS: ResolvedBackoffOptions = {
  initialDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 5000,
  jitter: 0.5,
  resetAfterMs: 0,
};

const KEYS = ['initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter', 'resetAfterMs'];

function fraction(
  options: Record<string, unknown>,
  name: string,
  fallback: number,
  max: number,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  const what = `options.${name} must be a number in ${name === 'multiplier' ? 1 : 0}..${max}, got ${String(value)}`;
  if (typeof value !== 'number') throw new TypeError(what);
  const min = name === 'multiplier' ? 1 : 0;
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(what);
  return value;
}

/** Validates backoff options and applies defaults; `prefix` names the option in errors. */
export function resolveBackoffOptions(
  options: BackoffOptions = {},
  prefix = 'backoff',
): ResolvedBackoffOptions {
  const o = optionsRecord(options);
  rejectUnknownKeys(o, KEYS);
  try {
    const initialDelayMs = delayOption(o, 'initialDelayMs', DEFAULTS.initialDelayMs);
    return {
      initialDelayMs,
      multiplier: fraction(o, 'multiplier', DEFAULTS.multiplier, 100),
      maxDelayMs: intOption(
        o,
        'maxDelayMs',
        Math.max(initialDelayMs, DEFAULTS.maxDelayMs),
        initialDelayMs,
        MAX_DELAY_MS,
      ),
      jitter: fraction(o, 'jitter', DEFAULTS.jitter, 1),
      resetAfterMs: delayOption(o, 'resetAfterMs', DEFAULTS.resetAfterMs),
    };
  } catch (error) {
    if (error instanceof RangeError)
      throw new RangeError(error.message.replace('options.', `${prefix}.`));
    if (error instanceof TypeError)
      throw new TypeError(error.message.replace('options.', `${prefix}.`));
    throw error;
  }
}

/**
 * Delay before retry number `attempt` (1-based count of consecutive failures). `random` returns
 * [0, 1); 0.5 gives the exact un-jittered value. The result never exceeds `maxDelayMs`.
 */
export function backoffDelay(
  attempt: number,
  options: ResolvedBackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  // 0 x Infinity would be NaN after ~1000 failures with a zero initial delay.
  const growth = options.multiplier ** exponent;
  const base =
    options.initialDelayMs === 0
      ? 0
      : Math.min(options.maxDelayMs, options.initialDelayMs * growth);
  const spread = options.jitter * (2 * random() - 1);
  return Math.round(Math.min(options.maxDelayMs, Math.max(0, base * (1 + spread))));
}
