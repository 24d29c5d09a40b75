import type { StdioOptions } from 'node:child_process';
import { getPriority, setPriority as osSetPriority } from 'node:os';
import { resolveBackoffOptions } from './backoff.js';
import { type CallbackErrorHandler, isCallbackErrorHandler } from './callbacks.js';
import { type Clock, systemClock } from './clock.js';
import {
  clockOption,
  delayOption,
  enumOption,
  functionOption,
  idArgument,
  isFunction,
  numberOption,
  objectArgument,
  readOptions,
} from './options.js';
import type { IntensityRules } from './restart-intensity.js';
import type {
  CollectorSpec,
  RestartPolicy,
  SetPriorityFunction,
  SpawnFunction,
  SupervisorOptions,
} from './supervisor-types.js';

const DEFAULTS = {
  restart: 'permanent',
  maxRestarts: 5,
  restartWindowMs: 60_000,
  giveUpCoolDownMs: 60_000,
  maxGiveUpCoolDownMs: 600_000,
  readyTimeoutMs: 30_000,
  stopGraceMs: 5_000,
  stdio: 'ignore',
} as const;

const OPTION_KEYS = [
  'restart',
  'backoff',
  'maxRestarts',
  'restartWindowMs',
  'giveUpCoolDownMs',
  'maxGiveUpCoolDownMs',
  'readyTimeoutMs',
  'stopGraceMs',
  'niceness',
  'stdio',
  'clock',
  'random',
  'platform',
  'spawn',
  'setPriority',
  'onCallbackError',
] as const;

const SPEC_KEYS = ['id', 'command', 'args', 'env', 'inheritEnv', 'cwd', 'restart', 'niceness'];
const POLICIES: readonly RestartPolicy[] = ['permanent', 'transient', 'temporary'];
const NICENESS = { min: -20, max: 19, integer: true } as const;

function isStdio(value: unknown): value is StdioOptions {
  return typeof value === 'string' || Array.isArray(value);
}

/** Lower than the agent (10), but never asking for more than it has (that needs privileges). */
function defaultNiceness(): number {
  try {
    return Math.max(10, getPriority());
  } catch {
    return 10;
  }
}

// Any string: an unknown platform gets the POSIX signals.
function isPlatform(value: unknown): value is NodeJS.Platform {
  return typeof value === 'string';
}

/** {@link SupervisorOptions} validated, with defaults applied. */
export interface ResolvedSupervisorOptions {
  readonly policy: RestartPolicy;
  readonly rules: IntensityRules;
  readonly resetAfterMs: number;
  readonly readyTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly niceness: number | undefined;
  readonly stdio: StdioOptions;
  readonly clock: Clock;
  readonly platform: NodeJS.Platform;
  /** Undefined: `child_process.spawn`. */
  readonly spawn: SpawnFunction | undefined;
  readonly setPriority: SetPriorityFunction;
  readonly onCallbackError: CallbackErrorHandler | undefined;
}

/** Validates a Supervisor's options (TypeError / RangeError naming the option). */
export function resolveSupervisorOptions(
  options: SupervisorOptions | undefined,
): ResolvedSupervisorOptions {
  const o = readOptions('options', options, OPTION_KEYS);
  const d = DEFAULTS;
  const policy = enumOption('options.restart', o.restart, POLICIES, d.restart);
  const backoff = resolveBackoffOptions(o.backoff, 'options.backoff');
  const coolDownMs = delayOption(
    'options.giveUpCoolDownMs',
    o.giveUpCoolDownMs,
    d.giveUpCoolDownMs,
  );
  const rules: IntensityRules = {
    backoff,
    maxRestarts: numberOption('options.maxRestarts', o.maxRestarts, d.maxRestarts, {
      min: 0,
      max: 1000,
      integer: true,
    }),
    windowMs: delayOption('options.restartWindowMs', o.restartWindowMs, d.restartWindowMs, 1),
    coolDownMs,
    maxCoolDownMs: delayOption(
      'options.maxGiveUpCoolDownMs',
      o.maxGiveUpCoolDownMs,
      Math.max(d.maxGiveUpCoolDownMs, coolDownMs),
      coolDownMs,
    ),
    random: functionOption('options.random', o.random, isFunction<() => number>) ?? Math.random,
  };
  const readyTimeoutMs = delayOption('options.readyTimeoutMs', o.readyTimeoutMs, d.readyTimeoutMs);
  const stopGraceMs = delayOption('options.stopGraceMs', o.stopGraceMs, d.stopGraceMs);
  const niceness =
    o.niceness === null
      ? undefined
      : numberOption('options.niceness', o.niceness, defaultNiceness(), NICENESS);
  if (o.stdio !== undefined && !isStdio(o.stdio)) {
    throw new TypeError(`options.stdio must be a string or an array, got ${typeof o.stdio}`);
  }
  const stdio = o.stdio ?? d.stdio;
  const clock = clockOption('options.clock', o.clock, systemClock);
  if (o.platform !== undefined && !isPlatform(o.platform)) {
    throw new TypeError(
      `options.platform must be a string such as "linux", got ${typeof o.platform}`,
    );
  }
  const platform = o.platform ?? process.platform;
  const spawn = functionOption('options.spawn', o.spawn, isFunction<SpawnFunction>);
  const setPriority =
    functionOption('options.setPriority', o.setPriority, isFunction<SetPriorityFunction>) ??
    osSetPriority;
  const onCallbackError = functionOption(
    'options.onCallbackError',
    o.onCallbackError,
    isCallbackErrorHandler,
  );
  return {
    policy,
    rules,
    resetAfterMs: backoff.resetAfterMs,
    readyTimeoutMs,
    stopGraceMs,
    niceness,
    stdio,
    clock,
    platform,
    spawn,
    setPriority,
    onCallbackError,
  };
}

/**
 * Validates a {@link CollectorSpec} (TypeError / RangeError naming the field) and returns its
 * restart policy and niceness, the supervisor's where the spec leaves them out.
 */
export function resolveSpec(
  spec: CollectorSpec,
  defaults: { readonly policy: RestartPolicy; readonly niceness: number | undefined },
): { policy: RestartPolicy; niceness: number | undefined } {
  const s = readOptions('spec', objectArgument('spec', spec), SPEC_KEYS);
  idArgument('spec.id', s.id);
  idArgument('spec.command', s.command);
  if (
    s.args !== undefined &&
    (!Array.isArray(s.args) || s.args.some((a: unknown) => typeof a !== 'string'))
  ) {
    throw new TypeError('spec.args must be an array of strings, got an invalid array');
  }
  if (s.env !== undefined) objectArgument('spec.env', s.env);
  if (s.cwd !== undefined) idArgument('spec.cwd', s.cwd);
  const policy = enumOption('spec.restart', spec.restart, POLICIES, defaults.policy);
  let niceness: number | undefined;
  if (spec.niceness === undefined) niceness = defaults.niceness;
  else if (spec.niceness !== null) {
    niceness = numberOption('spec.niceness', spec.niceness, 0, NICENESS);
  }
  return { policy, niceness };
}
