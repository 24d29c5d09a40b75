import { type CallbackErrorHandler, isCallbackErrorHandler } from './callbacks.js';
import { type Clock, systemClock } from './clock.js';
import type {
  AggregatorNotifier,
  FailoverManagerOptions,
  SubscriptionCleaner,
  TaskRouter,
} from './failover-types.js';
import type { HealthTracker } from './health-tracker.js';
import {
  clockOption,
  delayOption,
  functionOption,
  isFunction,
  numberOption,
  objectArgument,
  readOptions,
} from './options.js';
import type { PendingTaskRegistry } from './pending-task-registry.js';

const DEFAULTS = {
  maxRetries: 3,
  placementTimeoutMs: 10_000,
  parkRetryIntervalMs: 1_000,
} as const;

const OPTION_KEYS = [
  'registry',
  'router',
  'subscriptions',
  'aggregator',
  'health',
  'maxRetries',
  'placementTimeoutMs',
  'parkRetryIntervalMs',
  'clock',
  'onCallbackError',
];

/** The FailoverManager's options, checked, with their defaults filled in. */
export interface ResolvedManagerOptions<P> {
  registry: PendingTaskRegistry<P>;
  router: TaskRouter<P>;
  subscriptions: SubscriptionCleaner | undefined;
  aggregator: AggregatorNotifier | undefined;
  health: HealthTracker | undefined;
  maxRetries: number;
  placementTimeoutMs: number;
  parkRetryIntervalMs: number;
  clock: Clock;
  onCallbackError: CallbackErrorHandler | undefined;
}

/** Validates the FailoverManager's options (TypeError/RangeError naming the option) and fills defaults. */
export function readManagerOptions<P>(
  options: FailoverManagerOptions<P>,
): ResolvedManagerOptions<P> {
  const o = readOptions('options', objectArgument('options', options), OPTION_KEYS);
  objectArgument('options.registry', options.registry);
  objectArgument('options.router', options.router);
  if (!isFunction(options.router.route)) {
    throw new TypeError('options.router.route must be a function, got undefined');
  }
  if (options.subscriptions !== undefined) {
    objectArgument('options.subscriptions', options.subscriptions);
    if (!isFunction(options.subscriptions.removeSubscriptions)) {
      throw new TypeError('options.subscriptions.removeSubscriptions must be a function');
    }
  }
  if (options.aggregator !== undefined) {
    objectArgument('options.aggregator', options.aggregator);
    if (
      !isFunction(options.aggregator.collectorFailed) ||
      !isFunction(options.aggregator.reassign)
    ) {
      throw new TypeError('options.aggregator must have collectorFailed and reassign functions');
    }
  }
  if (options.health !== undefined) objectArgument('options.health', options.health);
  const d = DEFAULTS;
  const maxRetries = numberOption('options.maxRetries', o.maxRetries, d.maxRetries, {
    min: 0,
    max: 100,
    integer: true,
  });
  const placementTimeoutMs = delayOption(
    'options.placementTimeoutMs',
    o.placementTimeoutMs,
    d.placementTimeoutMs,
  );
  const parkRetryIntervalMs = delayOption(
    'options.parkRetryIntervalMs',
    o.parkRetryIntervalMs,
    d.parkRetryIntervalMs,
    1,
  );
  const clock = clockOption('options.clock', o.clock, systemClock);
  const onCallbackError = functionOption(
    'options.onCallbackError',
    o.onCallbackError,
    isCallbackErrorHandler,
  );
  return {
    registry: options.registry,
    router: options.router,
    subscriptions: options.subscriptions,
    aggregator: options.aggregator,
    health: options.health,
    maxRetries,
    placementTimeoutMs,
    parkRetryIntervalMs,
    clock,
    onCallbackError,
  };
}
