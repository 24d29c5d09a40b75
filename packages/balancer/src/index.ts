export { type Clock, systemClock } from './clock.js';
export {
  BALANCER_ERROR_CODES,
  BalancerError,
  type BalancerErrorCode,
  isBalancerError,
} from './errors.js';
export type {
  BalancerEvent,
  EjectedEvent,
  EjectionEndedEvent,
  EjectionSkippedEvent,
} from './events.js';
export { createLoadBalancer, LoadBalancer } from './load-balancer.js';
export {
  BALANCER_DEFAULTS,
  type LoadBalancerOptions,
  type ScoreWeights,
  STRATEGIES,
  type StrategyName,
} from './options.js';
export type { ScoreTerms } from './score.js';
export type {
  BalancerSnapshot,
  BalancerStats,
  CollectorHealth,
  CollectorMetrics,
  CollectorSnapshot,
  ExcludeList,
  MetricsState,
  RegisterOptions,
  ScoreExplanation,
  SelectRequest,
} from './types.js';
