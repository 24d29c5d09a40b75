import { delayOption, numberOption, readOptions } from './options.js';

/** Restart backoff: `initialDelayMs * multiplier^(attempt-1)`, capped, with proportional jitter. */
export interface BackoffOptions {
  /** Delay before the first restart, in ms. Default 100; integer [0, 2^31-1]. */
  initialDelayMs?: number | undefined;
  /** Growth factor per consecutive failure. Default 2; [1, 100]. */
  multiplier?: number | undefined;
  /** Cap of the delay, in ms. Default 30 000; integer [initialDelayMs, 2^31-1]. */
  maxDelayMs?: number | undefined;
  /** Jitter fraction: the delay is spread uniformly over `±jitter`. Default 0.2; [0, 1]. */
  jitter?: number | undefined;
  /** A child that ran (ready) this long resets the sequence, in ms. Default 30 000; integer [0, 2^31-1]. */
  resetAfterMs?: number | undefined;
}

/** Backoff options with every default applied. */
export interface ResolvedBackoffOptions {
  readonly initialDelayMs: number;
  readonly multiplier: number;
  readonly maxDelayMs: number;
  readonly jitter: number;
  readonly resetAfterMs: number;
}

const DEFAULTS: ResolvedBackoffOptions = {
  initialDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
  resetAfterMs: 30_000,
};

const KEYS = ['initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter', 'resetAfterMs'];

/** Validates backoff options and applies defaults; `prefix` names the option in errors. */
export function resolveBackoffOptions(
  options?: unknown,
  prefix = 'options.backoff',
): ResolvedBackoffOptions {
  const o = readOptions(prefix, options, KEYS);
  const d = DEFAULTS;
  const initialDelayMs = delayOption(
    `${prefix}.initialDelayMs`,
    o.initialDelayMs,
    d.initialDelayMs,
  );
  return {
    initialDelayMs,
    multiplier: numberOption(`${prefix}.multiplier`, o.multiplier, d.multiplier, {
      min: 1,
      max: 100,
    }),
    maxDelayMs: delayOption(
      `${prefix}.maxDelayMs`,
      o.maxDelayMs,
      Math.max(d.maxDelayMs, initialDelayMs),
      initialDelayMs,
    ),
    jitter: numberOption(`${prefix}.jitter`, o.jitter, d.jitter, { min: 0, max: 1 }),
    resetAfterMs: delayOption(`${prefix}.resetAfterMs`, o.resetAfterMs, d.resetAfterMs),
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
