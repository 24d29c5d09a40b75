import { type CallbackErrorHandler, isCallbackErrorHandler } from './callbacks.js';
import { type Clock, systemClock } from './clock.js';
import type { HealthTrackerOptions } from './health-types.js';
import { clockOption, delayOption, functionOption, numberOption, readOptions } from './options.js';
import { type ResolvedPhiOptions, resolvePhiOptions } from './phi.js';

const DEFAULTS = {
  heartbeatIntervalMs: 10_000,
  staleAfterIntervals: 3,
  suspectAfterIntervals: 1.5,
  maxMessageLength: 256,
} as const;

const OPTION_KEYS = [
  'heartbeatIntervalMs',
  'staleAfterIntervals',
  'suspectAfterIntervals',
  'phi',
  'stallThresholdMs',
  'maxMessageLength',
  'clock',
  'onCallbackError',
];

/** {@link HealthTrackerOptions} validated, with defaults applied and intervals turned into ms. */
export interface ResolvedHealthOptions {
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  readonly suspectAfterMs: number;
  readonly stallThresholdMs: number;
  readonly maxMessageLength: number;
  /** Undefined: phi accrual off. */
  readonly phi: ResolvedPhiOptions | undefined;
  readonly clock: Clock;
  readonly onCallbackError: CallbackErrorHandler | undefined;
}

/** Validates a HealthTracker's options (TypeError / RangeError naming the option). */
export function resolveHealthOptions(
  options: HealthTrackerOptions | undefined,
): ResolvedHealthOptions {
  const o = readOptions('options', options, OPTION_KEYS);
  const d = DEFAULTS;
  const intervalMs = delayOption(
    'options.heartbeatIntervalMs',
    o.heartbeatIntervalMs,
    d.heartbeatIntervalMs,
    1,
  );
  const stale = numberOption(
    'options.staleAfterIntervals',
    o.staleAfterIntervals,
    d.staleAfterIntervals,
    { min: 1, max: 1000 },
  );
  const suspect = numberOption(
    'options.suspectAfterIntervals',
    o.suspectAfterIntervals,
    Math.min(d.suspectAfterIntervals, stale),
    { min: 0, max: stale, minExclusive: true },
  );
  const stallThresholdMs = delayOption(
    'options.stallThresholdMs',
    o.stallThresholdMs,
    Math.min(1000, Math.ceil(intervalMs / 2)),
    1,
  );
  const maxMessageLength = numberOption(
    'options.maxMessageLength',
    o.maxMessageLength,
    d.maxMessageLength,
    { min: 0, max: 65_536, integer: true },
  );
  let phi: ResolvedPhiOptions | undefined;
  if (o.phi === undefined || o.phi === false) phi = undefined;
  else if (o.phi === true) phi = resolvePhiOptions({}, 'options.phi');
  else phi = resolvePhiOptions(o.phi, 'options.phi');
  const clock = clockOption('options.clock', o.clock, systemClock);
  const onCallbackError = functionOption(
    'options.onCallbackError',
    o.onCallbackError,
    isCallbackErrorHandler,
  );
  return {
    intervalMs,
    staleAfterMs: stale * intervalMs,
    suspectAfterMs: suspect * intervalMs,
    stallThresholdMs,
    maxMessageLength,
    phi,
    clock,
    onCallbackError,
  };
}
