import type { TaskAssignment } from '@daemoneye/proto';
import { type ResolvedBackoffOptions, resolveBackoffOptions } from './backoff.js';
import { endpointOption } from './broker-options.js';
import { type Clock, systemClock } from './clock.js';
import type { Endpoint } from './endpoint.js';
import type { CallbackErrorHandler } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frame.js';
import { MAX_HELLO_LIST } from './handshake.js';
import {
  boolOption,
  clockOption,
  countOrInfinity,
  delayOption,
  functionOption,
  intOption,
  isCallbackErrorHandler,
  MAX_DELAY_MS,
  MAX_FRAME_BYTES,
  MIN_FRAME_BYTES,
  optionsRecord,
  rejectUnknownKeys,
  stringListOption,
  stringOption,
} from './options.js';
import { TOKEN_BYTES } from './token-file.js';

/** Load figures a collector reports in each Heartbeat. */
export interface HeartbeatMetrics {
  activeTasks: number;
  queueDepth: number;
  /** 0..1 */
  cpu: number;
  memoryBytes: number;
}

/** Options of {@link CollectorClient}; `undefined` means the default. */
export interface CollectorClientOptions {
  /** Unique id of this collector, e.g. `procmond-1` (1..4096 of `[A-Za-z0-9_.:-]`). Required. */
  collectorId: string;
  /** Collector kind, e.g. `procmond` (1..4096 characters). Required. */
  kind: string;
  /** Socket path / pipe name or resolved endpoint. Default: the platform default. */
  endpoint?: Endpoint | string | undefined;
  /** The 32-byte auth token. Default: read from the endpoint's token file at every connect. */
  token?: Uint8Array | undefined;
  /** Send no token (for a broker with `auth: false`). Default false. */
  noAuth?: boolean | undefined;
  /** Reported process id. Default `process.pid`. */
  pid?: number | undefined;
  /** Task kinds this collector accepts (at most 64). Default `[]`. */
  taskKinds?: string[] | undefined;
  /** Free-form capabilities (at most 64). Default `[]`. */
  capabilities?: string[] | undefined;
  /** Called at each heartbeat for the current load. Default: zeros. */
  metrics?: (() => HeartbeatMetrics) | undefined;
  /** Called for each task assignment (also emitted as `task`). */
  onTask?: ((task: TaskAssignment) => void) | undefined;
  /** Reconnect after a lost session. Default true. */
  reconnect?: boolean | undefined;
  /** First reconnect delay, ms (1..2^31-1). Default 100. */
  initialReconnectDelayMs?: number | undefined;
  /** Largest reconnect delay, ms (initialReconnectDelayMs..2^31-1). Default 5000. */
  maxReconnectDelayMs?: number | undefined;
  /** Reconnect attempts before giving up (state `closed`, event `gave-up`); Infinity allowed. Default Infinity. */
  maxReconnectAttempts?: number | undefined;
  /** Time to get Welcome or Reject after connecting, ms (1..2^31-1). Default 5000. */
  connectTimeoutMs?: number | undefined;
  /** Largest frame in either direction (1024..2^32-1). Default 1 MiB. */
  maxFrameBytes?: number | undefined;
  /** Outbound bytes queued before `ERR_BACKPRESSURE` (1024..2^40). Default 8 MiB. */
  maxQueueBytes?: number | undefined;
  /** Outbound frames queued before `ERR_BACKPRESSURE` (1..100 000 000). Default 10 000. */
  maxQueueFrames?: number | undefined;
  /** Tasks buffered for `tasks()` before new ones are refused (1..1 000 000). Default 1000. */
  maxBufferedTasks?: number | undefined;
  /** How long `close()` waits for the broker to read the Goodbye, ms. Default 200. */
  closeGraceMs?: number | undefined;
  /** Receives every throw of a user callback (listener, handler, `onTask`, `metrics`). Default: re-thrown on a microtask. */
  onCallbackError?: CallbackErrorHandler | undefined;
  /** Time source for every timer. Default `systemClock` (a scheduled reconnect still keeps the process alive). */
  clock?: Clock | undefined;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: (() => number) | undefined;
}

/** Client options after defaults and validation. */
export interface ResolvedClientOptions {
  readonly collectorId: string;
  readonly kind: string;
  readonly endpoint: Endpoint;
  readonly token: Uint8Array | undefined;
  readonly noAuth: boolean;
  readonly pid: number;
  readonly taskKinds: readonly string[];
  readonly capabilities: readonly string[];
  readonly metrics: (() => HeartbeatMetrics) | undefined;
  readonly onTask: ((task: TaskAssignment) => void) | undefined;
  readonly reconnect: boolean;
  readonly backoff: ResolvedBackoffOptions;
  readonly maxReconnectAttempts: number;
  readonly connectTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly maxQueueBytes: number;
  readonly maxQueueFrames: number;
  readonly maxBufferedTasks: number;
  readonly closeGraceMs: number;
  readonly onCallbackError: CallbackErrorHandler | undefined;
  readonly clock: Clock;
  readonly random: () => number;
}

/** Every default of {@link CollectorClientOptions}, in one place. */
export const CLIENT_DEFAULTS = Object.freeze({
  noAuth: false,
  reconnect: true,
  initialReconnectDelayMs: 100,
  maxReconnectDelayMs: 5000,
  maxReconnectAttempts: Number.POSITIVE_INFINITY,
  connectTimeoutMs: 5000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxQueueBytes: 8 * 1024 * 1024,
  maxQueueFrames: 10_000,
  maxBufferedTasks: 1000,
  closeGraceMs: 200,
});

const KEYS = [
  'collectorId',
  'kind',
  'endpoint',
  'token',
  'noAuth',
  'pid',
  'taskKinds',
  'capabilities',
  'metrics',
  'onTask',
  'reconnect',
  'initialReconnectDelayMs',
  'maxReconnectDelayMs',
  'maxReconnectAttempts',
  'connectTimeoutMs',
  'maxFrameBytes',
  'maxQueueBytes',
  'maxQueueFrames',
  'maxBufferedTasks',
  'closeGraceMs',
  'onCallbackError',
  'clock',
  'random',
];

const ID = /^[A-Za-z0-9_.:-]+$/;

function required(o: Record<string, unknown>, name: string, pattern?: RegExp): string {
  const value = stringOption(o, name, 4096, pattern);
  if (value === undefined) {
    throw new TypeError(`options.${name} must be a non-empty string (required), got undefined`);
  }
  return value;
}

function tokenOption(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(
      `options.token must be a Uint8Array of ${TOKEN_BYTES} bytes, got ${typeof value}`,
    );
  }
  if (value.length !== TOKEN_BYTES) {
    throw new RangeError(
      `options.token must be a Uint8Array of ${TOKEN_BYTES} bytes, got ${value.length} bytes`,
    );
  }
  return value;
}

function isMetrics(value: unknown): value is () => HeartbeatMetrics {
  return typeof value === 'function';
}

function isOnTask(value: unknown): value is (task: TaskAssignment) => void {
  return typeof value === 'function';
}

function isRandom(value: unknown): value is () => number {
  return typeof value === 'function';
}

/** Validates client options once, at construction. */
export function resolveClientOptions(input: CollectorClientOptions): ResolvedClientOptions {
  const o = optionsRecord(input);
  rejectUnknownKeys(o, KEYS);
  const d = CLIENT_DEFAULTS;
  const initialDelayMs = delayOption(o, 'initialReconnectDelayMs', d.initialReconnectDelayMs, 1);
  const maxDelayMs = intOption(
    o,
    'maxReconnectDelayMs',
    Math.max(initialDelayMs, d.maxReconnectDelayMs),
    initialDelayMs,
    MAX_DELAY_MS,
  );
  return {
    collectorId: required(o, 'collectorId', ID),
    kind: required(o, 'kind'),
    endpoint: endpointOption(o.endpoint),
    token: tokenOption(o.token),
    noAuth: boolOption(o, 'noAuth', d.noAuth),
    pid: intOption(o, 'pid', process.pid, 0, 0xffff_ffff),
    taskKinds: stringListOption(o, 'taskKinds', MAX_HELLO_LIST, 4096),
    capabilities: stringListOption(o, 'capabilities', MAX_HELLO_LIST, 4096),
    metrics: functionOption(o, 'metrics', isMetrics),
    onTask: functionOption(o, 'onTask', isOnTask),
    reconnect: boolOption(o, 'reconnect', d.reconnect),
    // Upper-half jitter as before would be [base/2, base]; the shared shape spreads ±50 % instead.
    backoff: resolveBackoffOptions({ initialDelayMs, maxDelayMs, multiplier: 2, jitter: 0.5 }),
    maxReconnectAttempts: countOrInfinity(o, 'maxReconnectAttempts', d.maxReconnectAttempts),
    connectTimeoutMs: delayOption(o, 'connectTimeoutMs', d.connectTimeoutMs, 1),
    maxFrameBytes: intOption(o, 'maxFrameBytes', d.maxFrameBytes, MIN_FRAME_BYTES, MAX_FRAME_BYTES),
    maxQueueBytes: intOption(o, 'maxQueueBytes', d.maxQueueBytes, 1024, 2 ** 40),
    maxQueueFrames: intOption(o, 'maxQueueFrames', d.maxQueueFrames, 1, 100_000_000),
    maxBufferedTasks: intOption(o, 'maxBufferedTasks', d.maxBufferedTasks, 1, 1_000_000),
    closeGraceMs: delayOption(o, 'closeGraceMs', d.closeGraceMs),
    onCallbackError: functionOption(o, 'onCallbackError', isCallbackErrorHandler),
    clock: clockOption(o, systemClock),
    random: functionOption(o, 'random', isRandom) ?? Math.random,
  };
}
