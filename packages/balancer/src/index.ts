export { BalancerError, type BalancerErrorCode, isBalancerError } from './errors.js';
export type {
  BalancerEvent,
  EjectedEvent,
  EjectionEndedEvent,
  EjectionSkippedEvent,
} from './events.js';
export {
  type BalancerSnapshot,
  type BalancerStats,
  type CollectorMetrics,
  type CollectorSnapshot,
  createLoadBalancer,
  type ExcludeList,
  LoadBalancer,
  type MetricsState,
  type RegisterOptions,
  type ScoreExplanation,
  type SelectRequest,
} from './load-balancer.js';
export {
  BALANCER_DEFAULTS,
  type Clock,
  type LoadBalancerOptions,
  type ScoreWeights,
  STRATEGIES,
  type StrategyName,
} from './options.js';
export type { ScoreTerms } from './score.js';
