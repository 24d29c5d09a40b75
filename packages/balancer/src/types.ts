import type { StrategyName } from './options.js';
import type { ScoreTerms } from './score.js';

/** Capabilities of a collector, given to {@link LoadBalancer.register}. */
export interface RegisterOptions {
  /** Task kinds it runs. Omitted or empty: it accepts every kind. */
  taskKinds?: readonly string[] | undefined;
  /** Static multiplier of its score (e.g. 2 for a collector with twice the capacity). Default 1. */
  weight?: number | undefined;
}

/** A collector's own view of itself, sent in its heartbeat. */
export type CollectorHealth = 'healthy' | 'degraded';

/** One heartbeat. Missing, non-finite or negative fields count as unknown. */
export interface CollectorMetrics {
  /** Tasks running in the collector. */
  activeTasks?: number | undefined;
  /** Tasks waiting in its queue. */
  queueDepth?: number | undefined;
  /** CPU share of the process, 0..1 (above 1 counts as 1). */
  cpu?: number | undefined;
  /** Resident memory in bytes (informational: shown in snapshots, not scored). */
  memoryBytes?: number | bigint | undefined;
  /**
   * Self-reported health. `'degraded'` multiplies the score by `degradedFactor` until a later
   * heartbeat says otherwise; it never ejects the collector. Omitted (or junk): `'healthy'`.
   */
  health?: CollectorHealth | undefined;
  /** When the metrics were taken, on the balancer's clock (ms). Default: `clock.now()`. */
  at?: number | undefined;
}

/** Ids to skip, e.g. the collector a task just failed on. */
export type ExcludeList = ReadonlySet<string> | readonly string[];

/** Arguments of {@link LoadBalancer.select}. */
export interface SelectRequest {
  /** Only collectors that declared this kind, or declared none, qualify. Omitted: every collector qualifies. */
  taskKind?: string | undefined;
  /** Collectors never returned by this call. */
  exclude?: ExcludeList | undefined;
}

/** Where the heartbeat inputs of a score came from. */
export type MetricsState = 'fresh' | 'stale' | 'none';

/** The weighted score of one collector and how it was computed, for status displays. */
export interface ScoreExplanation {
  readonly id: string;
  /** `weight x healthFactor x base`: what `weighted` and `p2c` compare. */
  readonly score: number;
  /** Sum of the terms. */
  readonly base: number;
  readonly terms: ScoreTerms;
  /** Inputs after substitution of unknown values by fleet means. */
  readonly inputs: {
    readonly activeTasks: number;
    readonly queueDepth: number;
    readonly cpu: number;
    readonly successRate: number;
    readonly durationFactor: number;
  };
  /** Which inputs were unknown and replaced by the mean of the collectors that know theirs. */
  readonly estimated: {
    readonly activeTasks: boolean;
    readonly queueDepth: boolean;
    readonly cpu: boolean;
    readonly successRate: boolean;
    readonly durationFactor: boolean;
  };
  readonly metrics: MetricsState;
  readonly weight: number;
  /** Self-reported health of the last heartbeat. */
  readonly health: CollectorHealth;
  /** 1 when healthy, `degradedFactor` when degraded. */
  readonly healthFactor: number;
  /** Probability that slow start lets it take part in a selection (1 after the window). */
  readonly slowStartFactor: number;
  /** `least-loaded` picks the highest `weight x healthFactor / (activeTasks + queueDepth + 1)`. */
  readonly leastLoadedScore: number;
  readonly ejected: boolean;
}

/** One collector in {@link BalancerSnapshot}. */
export interface CollectorSnapshot {
  readonly id: string;
  /** Declared task kinds; empty means every kind. */
  readonly taskKinds: readonly string[];
  readonly weight: number;
  /** Weighted score (see {@link ScoreExplanation.score}). */
  readonly score: number;
  /** Tasks started and not yet finished, as told by `taskStarted`/`taskFinished`. */
  readonly inFlight: number;
  readonly metrics: MetricsState;
  /** Clock time of the last heartbeat, or undefined. */
  readonly lastMetricsAt: number | undefined;
  /** Last reported values (undefined when unknown). */
  readonly activeTasks: number | undefined;
  readonly queueDepth: number | undefined;
  readonly cpu: number | undefined;
  readonly memoryBytes: number | undefined;
  /** Self-reported health of the last heartbeat (`'healthy'` before any). */
  readonly health: CollectorHealth;
  readonly ewmaDurationMs: number | undefined;
  readonly successRate: number | undefined;
  readonly tasksSucceeded: number;
  readonly tasksFailed: number;
  readonly consecutiveFailures: number;
  readonly ejected: boolean;
  /** Clock time at which the ejection ends, or undefined when not ejected. */
  readonly ejectedUntil: number | undefined;
  readonly ejectionCount: number;
  /** 1 once the slow-start window is over. */
  readonly slowStartFactor: number;
  /** How many times `select` returned it. */
  readonly selections: number;
}

/** Counters since construction. */
export interface BalancerStats {
  /** Registered collectors. */
  readonly collectors: number;
  /** Collectors ejected right now. */
  readonly ejected: number;
  /** Successful selections. */
  readonly selections: number;
  /** Selections that found no collector (`ERR_NO_COLLECTOR_AVAILABLE` or `undefined`). */
  readonly noCollectorAvailable: number;
  readonly ejections: number;
  /** Ejections refused because `maxEjectionPercent` was reached. */
  readonly ejectionsSkipped: number;
  /** Selections that ignored ejection because too much of their pool was ejected. */
  readonly panics: number;
  /** `onEvent` calls that threw (each one reported as `ERR_BALANCER_CALLBACK_FAILED`). */
  readonly callbackErrors: number;
}

/** Everything a status display needs. */
export interface BalancerSnapshot {
  /** Clock time of the snapshot. */
  readonly at: number;
  readonly strategy: StrategyName;
  readonly stats: BalancerStats;
  readonly collectors: readonly CollectorSnapshot[];
}
