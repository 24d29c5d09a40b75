import { type Clock, systemClock } from './clock.js';
import { type Endpoint, resolveEndpoint } from './endpoint.js';
import type { CallbackErrorHandler } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frame.js';
import type { Authorize } from './handshake.js';
import {
  boolOption,
  clockOption,
  delayOption,
  functionOption,
  intOption,
  isCallbackErrorHandler,
  MAX_FRAME_BYTES,
  MIN_FRAME_BYTES,
  optionsRecord,
  rejectUnknownKeys,
} from './options.js';

/** Options of {@link Broker}. Every field is optional; `undefined` means the default. */
export interface BrokerOptions {
  /** Socket path / pipe name, or a resolved endpoint. Default: the platform default. */
  endpoint?: Endpoint | string | undefined;
  /** Require the token handshake. Default true. */
  auth?: boolean | undefined;
  /** Time a new connection has to send Hello, ms (1..2^31-1). Default 2000. */
  handshakeTimeoutMs?: number | undefined;
  /** Interval collectors are told to heartbeat at, ms (100..3 600 000). Default 10 000. */
  heartbeatIntervalMs?: number | undefined;
  /** Largest frame payload in either direction (1024..2^32-1). Default 1 MiB. */
  maxFrameBytes?: number | undefined;
  /** Largest first frame (the Hello), so silent clients hold little memory (1024..2^32-1). Default 128 KiB. */
  maxHandshakeBytes?: number | undefined;
  /** Open connections, handshaking or not (1..1 000 000). Default 256. */
  maxConnections?: number | undefined;
  /** Connections still in their handshake; a new one past it evicts the oldest (1..1 000 000). Default 64. */
  maxPendingHandshakes?: number | undefined;
  /** Outbound bytes queued per connection before `ERR_BACKPRESSURE` (1024..2^40). Default 8 MiB. */
  maxQueueBytes?: number | undefined;
  /** Outbound frames queued per connection before `ERR_BACKPRESSURE` (1..100 000 000). Default 10 000. */
  maxQueueFrames?: number | undefined;
  /** Subscriptions one connection may hold (1..1 000 000). Default 1024. */
  maxSubscriptionsPerConnection?: number | undefined;
  /** Topics whose subscriber set is cached, oldest evicted first (0..1 000 000; 0 = no cache). Default 4096. */
  maxTopicCacheEntries?: number | undefined;
  /** Longest accepted collector id, kind, task kind or capability (1..4096). Default 128. */
  maxCollectorIdLength?: number | undefined;
  /** How long a closing connection may take to read its Goodbye before it is destroyed, ms. Default 200. */
  closeGraceMs?: number | undefined;
  /** How often the socket and token files are checked (re-created when deleted), ms; 0 = never. Default 1000. */
  endpointCheckIntervalMs?: number | undefined;
  /** Admission hook, called after the built-in Hello checks pass; refuse with a code. Default: admit all. */
  authorize?: Authorize | undefined;
  /** Receives every throw of a user callback (listener, subscriber, `authorize`). Default: re-thrown on a microtask. */
  onCallbackError?: CallbackErrorHandler | undefined;
  /** Time source for every timer of the broker and its connections. Default `systemClock`. */
  clock?: Clock | undefined;
}

/** Broker options after defaults and validation. */
export interface ResolvedBrokerOptions {
  readonly endpoint: Endpoint;
  readonly auth: boolean;
  readonly handshakeTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxFrameBytes: number;
  readonly maxHandshakeBytes: number;
  readonly maxConnections: number;
  readonly maxPendingHandshakes: number;
  readonly maxQueueBytes: number;
  readonly maxQueueFrames: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly maxTopicCacheEntries: number;
  readonly maxCollectorIdLength: number;
  readonly closeGraceMs: number;
  readonly endpointCheckIntervalMs: number;
  readonly authorize: Authorize | undefined;
  readonly onCallbackError: CallbackErrorHandler | undefined;
  readonly clock: Clock;
}

/** Every default of {@link BrokerOptions}, in one place. */
export const BROKER_DEFAULTS = Object.freeze({
  auth: true,
  handshakeTimeoutMs: 2000,
  heartbeatIntervalMs: 10_000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxHandshakeBytes: 128 * 1024,
  maxConnections: 256,
  maxPendingHandshakes: 64,
  maxQueueBytes: 8 * 1024 * 1024,
  maxQueueFrames: 10_000,
  maxSubscriptionsPerConnection: 1024,
  maxTopicCacheEntries: 4096,
  maxCollectorIdLength: 128,
  closeGraceMs: 200,
  endpointCheckIntervalMs: 1000,
});

const KEYS = [
  'endpoint',
  'auth',
  'handshakeTimeoutMs',
  'heartbeatIntervalMs',
  'maxFrameBytes',
  'maxHandshakeBytes',
  'maxConnections',
  'maxPendingHandshakes',
  'maxQueueBytes',
  'maxQueueFrames',
  'maxSubscriptionsPerConnection',
  'maxTopicCacheEntries',
  'maxCollectorIdLength',
  'closeGraceMs',
  'endpointCheckIntervalMs',
  'authorize',
  'onCallbackError',
  'clock',
];

function isAuthorize(value: unknown): value is Authorize {
  return typeof value === 'function';
}

function isEndpoint(value: unknown): value is Endpoint {
  return (
    typeof value === 'object' &&
    value !== null &&
    'path' in value &&
    typeof value.path === 'string' &&
    'tokenPath' in value &&
    typeof value.tokenPath === 'string' &&
    'dir' in value &&
    typeof value.dir === 'string' &&
    'platform' in value &&
    typeof value.platform === 'string'
  );
}

/** The endpoint option shared by Broker and CollectorClient. */
export function endpointOption(value: unknown): Endpoint {
  if (value === undefined || typeof value === 'string') return resolveEndpoint(value);
  if (isEndpoint(value)) return value;
  throw new TypeError(
    `options.endpoint must be a path, a pipe name or an Endpoint, got ${typeof value}`,
  );
}

/** Validates broker options once, at construction. */
export function resolveBrokerOptions(input: BrokerOptions | undefined): ResolvedBrokerOptions {
  const o = optionsRecord(input);
  rejectUnknownKeys(o, KEYS);
  const d = BROKER_DEFAULTS;
  return {
    endpoint: endpointOption(o.endpoint),
    auth: boolOption(o, 'auth', d.auth),
    handshakeTimeoutMs: delayOption(o, 'handshakeTimeoutMs', d.handshakeTimeoutMs, 1),
    heartbeatIntervalMs: intOption(o, 'heartbeatIntervalMs', d.heartbeatIntervalMs, 100, 3_600_000),
    maxFrameBytes: intOption(o, 'maxFrameBytes', d.maxFrameBytes, MIN_FRAME_BYTES, MAX_FRAME_BYTES),
    maxHandshakeBytes: intOption(
      o,
      'maxHandshakeBytes',
      d.maxHandshakeBytes,
      MIN_FRAME_BYTES,
      MAX_FRAME_BYTES,
    ),
    maxConnections: intOption(o, 'maxConnections', d.maxConnections, 1, 1_000_000),
    maxPendingHandshakes: intOption(
      o,
      'maxPendingHandshakes',
      d.maxPendingHandshakes,
      1,
      1_000_000,
    ),
    maxQueueBytes: intOption(o, 'maxQueueBytes', d.maxQueueBytes, 1024, 2 ** 40),
    maxQueueFrames: intOption(o, 'maxQueueFrames', d.maxQueueFrames, 1, 100_000_000),
    maxSubscriptionsPerConnection: intOption(
      o,
      'maxSubscriptionsPerConnection',
      d.maxSubscriptionsPerConnection,
      1,
      1_000_000,
    ),
    maxTopicCacheEntries: intOption(
      o,
      'maxTopicCacheEntries',
      d.maxTopicCacheEntries,
      0,
      1_000_000,
    ),
    maxCollectorIdLength: intOption(o, 'maxCollectorIdLength', d.maxCollectorIdLength, 1, 4096),
    closeGraceMs: delayOption(o, 'closeGraceMs', d.closeGraceMs),
    endpointCheckIntervalMs: delayOption(o, 'endpointCheckIntervalMs', d.endpointCheckIntervalMs),
    authorize: functionOption(o, 'authorize', isAuthorize),
    onCallbackError: functionOption(o, 'onCallbackError', isCallbackErrorHandler),
    clock: clockOption(o, systemClock),
  };
}
