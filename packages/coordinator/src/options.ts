import type { LoadBalancerOptions } from '@daemoneye/balancer';
import type { BackoffOptions, ResourceSampler, SpawnFunction } from '@daemoneye/failover';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { CoordinatorError } from './errors.js';
import {
  type JournalOptions,
  type ResolvedJournalOptions,
  resolveJournalOptions,
} from './journal/options.js';
import {
  describeValue,
  fn,
  fraction,
  integer,
  isClock,
  isRecord,
  nested,
  refuseUnknownKeys,
  text,
} from './option-helpers.js';

/** One collector process the coordinator spawns and supervises, whatever executable it is. */
export interface CollectorSpec {
  /** Collector id, 1..128 characters of `[A-Za-z0-9_.:-]`; it must say this id in its Hello. */
  readonly id: string;
  /** Collector kind it must say in its Hello (e.g. `procmond`). */
  readonly kind: string;
  /** Executable, spawned directly (no shell), so the pid check sees the real process. */
  readonly command: string;
  /** Arguments. Default `[]`. */
  readonly args?: readonly string[];
  /** Extra environment, merged over the coordinator's own (the `DAEMONEYE_*` contract wins). */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory. Default: the coordinator's. */
  readonly cwd?: string;
  /** Killed and restarted with reason `over-memory` after `watchdogHeartbeats` OS samples in a row above this RSS. */
  readonly maxRssBytes?: number;
  /** Killed and restarted with reason `over-cpu` after `watchdogHeartbeats` OS samples in a row above this share of one core. */
  readonly maxCpu?: number;
  /** Niceness set right after spawn (integer -20..19); `null` keeps the inherited one. Default: `options.niceness`. */
  readonly niceness?: number | null;
}

/** Limits of the broker (`@daemoneye/ipc-transport`), passed through. */
export interface TransportLimits {
  auth?: boolean | undefined;
  handshakeTimeoutMs?: number | undefined;
  maxFrameBytes?: number | undefined;
  maxHandshakeBytes?: number | undefined;
  maxConnections?: number | undefined;
  maxQueueBytes?: number | undefined;
  maxQueueFrames?: number | undefined;
  maxSubscriptionsPerConnection?: number | undefined;
  maxCollectorIdLength?: number | undefined;
}

/** Limits of the aggregator (`@daemoneye/aggregator`), passed through. */
export interface AggregationLimits {
  maxPendingSets?: number | undefined;
  maxResultsPerSet?: number | undefined;
  maxBytesPerSet?: number | undefined;
  maxPendingBytes?: number | undefined;
  maxPendingBytesPerCollector?: number | undefined;
  resultOverheadBytes?: number | undefined;
  maxVariantsPerItem?: number | undefined;
  maxItemBytes?: number | undefined;
  recentCompletedCapacity?: number | undefined;
}

/** Failover and supervision limits (`@daemoneye/failover`), passed through. */
export interface FailoverLimits {
  maxRetries?: number | undefined;
  placementTimeoutMs?: number | undefined;
  parkRetryIntervalMs?: number | undefined;
  maxPendingTasks?: number | undefined;
  maxRestarts?: number | undefined;
  restartWindowMs?: number | undefined;
  backoff?: BackoffOptions | undefined;
  phi?: boolean | undefined;
}

/** Options of {@link createCoordinator}. */
export interface CoordinatorOptions {
  /** Collectors to spawn and supervise. Required (may be empty). */
  collectors: readonly CollectorSpec[];
  /** Socket path (Unix) or pipe name (Windows). Default: the platform default endpoint. */
  endpoint?: string | undefined;
  /** Heartbeat interval collectors are told to use, ms. Default 10 000; 100..3 600 000. */
  heartbeatIntervalMs?: number | undefined;
  /** Failed as stale after this many heartbeat intervals without one. Default 3; 1..1000. */
  staleAfterIntervals?: number | undefined;
  /** Time each collector has to say Hello after a spawn, ms. Default 30 000; 1..3 600 000. */
  startTimeoutMs?: number | undefined;
  /** Default `timeoutMs` of `fanOut` and `dispatch`, ms. Default 5000; 1..2^31-1. */
  taskTimeoutMs?: number | undefined;
  /** Time between SIGTERM and SIGKILL when stopping a collector, ms. Default 3000; 0..600 000. */
  stopGraceMs?: number | undefined;
  /** A collector whose connection dropped while its process lives is killed after this, ms. Default 2000; 0..600 000. */
  reconnectGraceMs?: number | undefined;
  /** First wait before a given-up collector is started again, ms (the Supervisor's `giveUpCoolDownMs`). Default 60 000; 0..2^31-1; 0: never retried. */
  giveUpCooldownMs?: number | undefined;
  /** The cool-down doubles up to this, ms. Default 600 000; giveUpCooldownMs..2^31-1. */
  giveUpMaxCooldownMs?: number | undefined;
  /** The HealthTracker's `stallThresholdMs`: a check timer this late means the agent's own loop stalled, so verdicts wait. Default 1000; 1..2^31-1. */
  loopLagToleranceMs?: number | undefined;
  /** OS samples (one per heartbeat interval) in a row over `maxRssBytes`/`maxCpu` that restart a collector. Default 3; 1..1000. */
  watchdogHeartbeats?: number | undefined;
  /** The OS's view of a pid (failover's `ResourceSampler`: `{ rssBytes, cpuTimeMs }`). Default failover's `platformSampler`. */
  resourceSampler?: ResourceSampler | undefined;
  /** Niceness of the collectors (the Supervisor's option, integer -20..19); `null` keeps the inherited one. Default `max(10, the agent's own)`. */
  niceness?: number | null | undefined;
  /** Hello kind of control clients (`status`, `stop`): admitted, never given tasks. Default `'cli'`. */
  controlKind?: string | undefined;
  /** Broker limits. */
  transport?: TransportLimits | undefined;
  /** Aggregator limits. */
  aggregation?: AggregationLimits | undefined;
  /** Balancer options (strategy, weights, ejection, slow start), except `clock`. */
  balancing?: Omit<LoadBalancerOptions, 'clock'> | undefined;
  /** Failover and supervision limits. */
  failover?: FailoverLimits | undefined;
  /** The one time source given to every library. Default {@link systemClock}. */
  clock?: Clock | undefined;
  /** Spawns collector processes (tests inject fakes). Default `child_process.spawn`. */
  spawn?: SpawnFunction | undefined;
  /** Receives errors thrown by subscribers, control handlers and event listeners. Default: re-thrown on a microtask. */
  onCallbackError?: ((error: CoordinatorError) => void) | undefined;
  /** The opt-in journal (accepted work survives the agent's own crash). Default: off. */
  journal?: JournalOptions | undefined;
}

/** Every default, in one place. */
export const DEFAULTS = {
  heartbeatIntervalMs: 10_000,
  staleAfterIntervals: 3,
  startTimeoutMs: 30_000,
  taskTimeoutMs: 5000,
  stopGraceMs: 3000,
  reconnectGraceMs: 2000,
  giveUpCooldownMs: 60_000,
  giveUpMaxCooldownMs: 600_000,
  loopLagToleranceMs: 1000,
  watchdogHeartbeats: 3,
  controlKind: 'cli',
} as const;

/** Longest delay Node timers accept. */
export const MAX_DELAY_MS = 2_147_483_647;

/** Options after validation, defaults applied. */
export interface ResolvedOptions {
  readonly collectors: readonly CollectorSpec[];
  readonly endpoint: string | undefined;
  readonly heartbeatIntervalMs: number;
  readonly staleAfterIntervals: number;
  readonly startTimeoutMs: number;
  readonly taskTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly reconnectGraceMs: number;
  readonly giveUpCooldownMs: number;
  readonly giveUpMaxCooldownMs: number;
  readonly loopLagToleranceMs: number;
  readonly watchdogHeartbeats: number;
  readonly resourceSampler: ResourceSampler | undefined;
  readonly niceness: number | null | undefined;
  readonly controlKind: string;
  readonly transport: TransportLimits;
  readonly aggregation: AggregationLimits;
  readonly balancing: Omit<LoadBalancerOptions, 'clock'>;
  readonly failover: FailoverLimits;
  readonly clock: Clock;
  readonly spawn: SpawnFunction | undefined;
  readonly onCallbackError: ((error: CoordinatorError) => void) | undefined;
  readonly journal: ResolvedJournalOptions | undefined;
}

const KNOWN = [
  'collectors',
  'endpoint',
  'heartbeatIntervalMs',
  'staleAfterIntervals',
  'startTimeoutMs',
  'taskTimeoutMs',
  'stopGraceMs',
  'reconnectGraceMs',
  'giveUpCooldownMs',
  'giveUpMaxCooldownMs',
  'loopLagToleranceMs',
  'watchdogHeartbeats',
  'resourceSampler',
  'niceness',
  'controlKind',
  'transport',
  'aggregation',
  'balancing',
  'failover',
  'clock',
  'spawn',
  'onCallbackError',
  'journal',
] as const;
const TRANSPORT_KEYS = [
  'auth',
  'handshakeTimeoutMs',
  'maxFrameBytes',
  'maxHandshakeBytes',
  'maxConnections',
  'maxQueueBytes',
  'maxQueueFrames',
  'maxSubscriptionsPerConnection',
  'maxCollectorIdLength',
];
const AGGREGATION_KEYS = [
  'maxPendingSets',
  'maxResultsPerSet',
  'maxBytesPerSet',
  'maxPendingBytes',
  'maxPendingBytesPerCollector',
  'resultOverheadBytes',
  'maxVariantsPerItem',
  'maxItemBytes',
  'recentCompletedCapacity',
];
const FAILOVER_KEYS = [
  'maxRetries',
  'placementTimeoutMs',
  'parkRetryIntervalMs',
  'maxPendingTasks',
  'maxRestarts',
  'restartWindowMs',
  'backoff',
  'phi',
];
const BALANCING_KEYS = [
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
  'random',
  'onEvent',
];
const SPEC_KEYS = [
  'id',
  'kind',
  'command',
  'args',
  'env',
  'cwd',
  'maxRssBytes',
  'maxCpu',
  'niceness',
];
const COLLECTOR_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

function spec(path: string, value: unknown): CollectorSpec {
  if (!isRecord(value))
    throw new TypeError(`${path} must be an object, got ${describeValue(value)}`);
  refuseUnknownKeys(path, value, SPEC_KEYS);
  const out: {
    -readonly [K in keyof CollectorSpec]: CollectorSpec[K];
  } = {
    id: text(`${path}.id`, value.id, COLLECTOR_ID),
    kind: text(`${path}.kind`, value.kind),
    command: text(`${path}.command`, value.command),
  };
  if (value.args !== undefined) {
    if (!Array.isArray(value.args) || value.args.some((a) => typeof a !== 'string')) {
      throw new TypeError(
        `${path}.args must be an array of strings, got ${describeValue(value.args)}`,
      );
    }
    out.args = value.args.filter((a): a is string => typeof a === 'string');
  }
  if (value.env !== undefined) {
    const env = value.env;
    if (!isRecord(env) || Object.values(env).some((v) => typeof v !== 'string')) {
      throw new TypeError(`${path}.env must be an object of strings, got ${describeValue(env)}`);
    }
    const copy: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (typeof v === 'string') copy[k] = v;
    out.env = copy;
  }
  if (value.cwd !== undefined) out.cwd = text(`${path}.cwd`, value.cwd);
  if (value.maxRssBytes !== undefined) {
    out.maxRssBytes = integer(`${path}.maxRssBytes`, value.maxRssBytes, 0, 1024 * 1024, 2 ** 50);
  }
  const cpu = fraction(`${path}.maxCpu`, value.maxCpu);
  if (cpu !== undefined) out.maxCpu = cpu;
  const nice = niceness(`${path}.niceness`, value.niceness);
  if (nice !== undefined) out.niceness = nice;
  return out;
}

function niceness(name: string, value: unknown): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer or null, got ${describeValue(value)}`);
  }
  if (value < -20 || value > 19) {
    throw new RangeError(`${name} must be in -20..19, got ${describeValue(value)}`);
  }
  return value;
}

/** Validates the options once: TypeError for a wrong type or unknown key, RangeError out of range. */
export function resolveOptions(input: CoordinatorOptions): ResolvedOptions {
  if (!isRecord(input))
    throw new TypeError(`options must be an object, got ${describeValue(input)}`);
  refuseUnknownKeys('options', input, KNOWN);
  const o: Record<string, unknown> = input;
  if (!Array.isArray(o.collectors)) {
    throw new TypeError(
      `options.collectors must be an array of collector specs, got ${describeValue(o.collectors)}`,
    );
  }
  const collectors = o.collectors.map((s, i) => spec(`options.collectors[${i}]`, s));
  const ids = new Set<string>();
  for (const [i, s] of collectors.entries()) {
    if (ids.has(s.id))
      throw new RangeError(
        `options.collectors[${i}].id must be unique, got ${describeValue(s.id)} twice`,
      );
    ids.add(s.id);
  }
  const clock = o.clock ?? systemClock;
  if (!isClock(clock)) {
    throw new TypeError(
      `options.clock must have now(), setTimeout() and clearTimeout(), got ${describeValue(clock)}`,
    );
  }
  const giveUpCooldownMs = integer(
    'options.giveUpCooldownMs',
    o.giveUpCooldownMs,
    DEFAULTS.giveUpCooldownMs,
    0,
    MAX_DELAY_MS,
  );
  const controlKind =
    o.controlKind === undefined ? DEFAULTS.controlKind : text('options.controlKind', o.controlKind);
  if (collectors.some((s) => s.kind === controlKind)) {
    throw new RangeError(
      `options.collectors must not use the control kind ${describeValue(controlKind)}`,
    );
  }
  return {
    collectors,
    endpoint: o.endpoint === undefined ? undefined : text('options.endpoint', o.endpoint),
    heartbeatIntervalMs: integer(
      'options.heartbeatIntervalMs',
      o.heartbeatIntervalMs,
      DEFAULTS.heartbeatIntervalMs,
      100,
      3_600_000,
    ),
    staleAfterIntervals: integer(
      'options.staleAfterIntervals',
      o.staleAfterIntervals,
      DEFAULTS.staleAfterIntervals,
      1,
      1000,
    ),
    startTimeoutMs: integer(
      'options.startTimeoutMs',
      o.startTimeoutMs,
      DEFAULTS.startTimeoutMs,
      1,
      3_600_000,
    ),
    taskTimeoutMs: integer(
      'options.taskTimeoutMs',
      o.taskTimeoutMs,
      DEFAULTS.taskTimeoutMs,
      1,
      MAX_DELAY_MS,
    ),
    stopGraceMs: integer('options.stopGraceMs', o.stopGraceMs, DEFAULTS.stopGraceMs, 0, 600_000),
    reconnectGraceMs: integer(
      'options.reconnectGraceMs',
      o.reconnectGraceMs,
      DEFAULTS.reconnectGraceMs,
      0,
      600_000,
    ),
    giveUpCooldownMs,
    giveUpMaxCooldownMs: integer(
      'options.giveUpMaxCooldownMs',
      o.giveUpMaxCooldownMs,
      Math.max(DEFAULTS.giveUpMaxCooldownMs, giveUpCooldownMs),
      giveUpCooldownMs,
      MAX_DELAY_MS,
    ),
    loopLagToleranceMs: integer(
      'options.loopLagToleranceMs',
      o.loopLagToleranceMs,
      DEFAULTS.loopLagToleranceMs,
      1,
      MAX_DELAY_MS,
    ),
    watchdogHeartbeats: integer(
      'options.watchdogHeartbeats',
      o.watchdogHeartbeats,
      DEFAULTS.watchdogHeartbeats,
      1,
      1000,
    ),
    resourceSampler: fn('options.resourceSampler', input.resourceSampler),
    niceness: niceness('options.niceness', o.niceness),
    controlKind,
    transport: nested('options.transport', input.transport, TRANSPORT_KEYS),
    aggregation: nested('options.aggregation', input.aggregation, AGGREGATION_KEYS),
    balancing: nested('options.balancing', input.balancing, BALANCING_KEYS),
    failover: nested('options.failover', input.failover, FAILOVER_KEYS),
    clock,
    spawn: fn('options.spawn', input.spawn),
    onCallbackError: fn('options.onCallbackError', input.onCallbackError),
    journal: resolveJournalOptions(input.journal),
  };
}
