import { checkNumber, checkObject } from './validate.js';

/** Restart backoff: `initialDelayMs * multiplier^(attempt-1)`, capped, with proportional jitter. */
export interface BackoffOptions {
  /** Delay before the first restart, in ms. Default 100; range [0, 3 600 000]. */
  initialDelayMs?: number;
  /** Growth factor per consecutive failure. Default 2; range [1, 100]. */
  multiplier?: number;
  /** Cap of the delay, in ms. Default 30 000; range [initialDelayMs, 3 600 000]. */
  maxDelayMs?: number;
  /** Jitter fraction: the delay is spread uniformly over `±jitter`. Default 0.2; range [0, 1]. */
  jitter?: number;
  /** A child that ran (ready) this long resets the sequence, in ms. Default 30 000; range [0, 86 400 000]. */
  resetAfterMs?: number;
}

/** Backoff options with every default applied. */
export type ResolvedBackoffOptions = Readonly<Required<BackoffOptions>>;

const DEFAULTS: ResolvedBackoffOptions = {
  initialDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
  resetAfterMs: 30_000,
};

/** Validates backoff options and applies defaults; `prefix` names the option in errors. */
export function resolveBackoffOptions(
  options: BackoffOptions = {},
  prefix = 'backoff',
): ResolvedBackoffOptions {
  checkObject(prefix, options);
  const o = { ...DEFAULTS, ...options };
  const initialDelayMs = checkNumber(`${prefix}.initialDelayMs`, o.initialDelayMs, 0, 3_600_000);
  return {
    initialDelayMs,
    multiplier: checkNumber(`${prefix}.multiplier`, o.multiplier, 1, 100),
    maxDelayMs: checkNumber(`${prefix}.maxDelayMs`, o.maxDelayMs, initialDelayMs, 3_600_000),
    jitter: checkNumber(`${prefix}.jitter`, o.jitter, 0, 1),
    resetAfterMs: checkNumber(`${prefix}.resetAfterMs`, o.resetAfterMs, 0, 86_400_000),
  };
}

/**
 * Delay before restart number `attempt` (1-based count of consecutive failures). `random` returns
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
