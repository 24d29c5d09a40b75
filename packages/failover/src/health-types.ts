import type { CallbackErrorHandler } from './callbacks.js';
import type { Clock } from './clock.js';
import type { PhiOptions } from './phi.js';

// The HealthTracker's public types: states, reports, events, snapshots, counters, options.

/** Liveness of one collector incarnation. `failed` is final until {@link HealthTracker.register}. */
export type HealthState = 'healthy' | 'suspect' | 'failed';

/** What a collector says about itself in its heartbeats; never a reason to fail it. */
export type ReportedHealth = 'healthy' | 'degraded';

/** Why a collector was declared failed. */
export type FailureReason = 'stale' | 'phi' | 'connection-lost' | 'process-exited' | 'reported';

/** Why a state changed: a failure reason, or one of the non-failure transitions. */
export type HealthChangeReason = FailureReason | 'registered' | 'heartbeat' | 'overdue';

/** Payload of the `collector-state-change` event. `from` is undefined for a first registration. */
export interface HealthStateChange {
  readonly id: string;
  readonly from: HealthState | undefined;
  readonly to: HealthState;
  readonly reason: HealthChangeReason;
  readonly at: number;
}

/** Payload of the `failed` event, emitted once per collector incarnation. */
export interface CollectorFailure {
  readonly id: string;
  readonly reason: FailureReason;
  readonly at: number;
  readonly lastHeartbeatAt: number;
  /** Exit code when `reason` is `process-exited`. */
  readonly exitCode?: number | null;
  /** Exit signal when `reason` is `process-exited`. */
  readonly signal?: string | null;
}

/** Payload of `stall`: the tracker's own timer fired late, so the agent's event loop was blocked. */
export interface LoopStall {
  /** How late the timer fired, in ms (a lower bound of the stall). */
  readonly lagMs: number;
  readonly at: number;
  /** No staleness verdict is given before this clock time. */
  readonly holdUntil: number;
}

/** Payload of `reported-health-change`. */
export interface ReportedHealthChange {
  readonly id: string;
  readonly from: ReportedHealth;
  readonly to: ReportedHealth;
  readonly message: string | undefined;
  readonly at: number;
}

/** Typed events of {@link HealthTracker}. */
export type HealthTrackerEvents = {
  'collector-state-change': [change: HealthStateChange];
  failed: [failure: CollectorFailure];
  stall: [stall: LoopStall];
  'reported-health-change': [change: ReportedHealthChange];
};

/** What a heartbeat carries besides its arrival. Absent fields keep their previous value. */
export interface HeartbeatReport {
  /** Arrival time in clock ms. Default: now. */
  readonly at?: number | undefined;
  /** The collector's own view of its health. */
  readonly state?: ReportedHealth | undefined;
  /** A short human-readable reason (truncated to `maxMessageLength`); `''` clears it. */
  readonly message?: string | undefined;
}

/** Snapshot of one tracked collector. */
export interface CollectorHealth {
  readonly id: string;
  readonly state: HealthState;
  readonly registeredAt: number;
  readonly lastHeartbeatAt: number;
  readonly heartbeats: number;
  readonly phi: number;
  readonly failedAt: number | undefined;
  readonly failureReason: FailureReason | undefined;
  /** Self-reported health from the latest heartbeat that carried one (`healthy` until then). */
  readonly reportedState: ReportedHealth;
  readonly reportedMessage: string | undefined;
}

/** Counters of {@link HealthTracker}. */
export interface HealthTrackerStats {
  readonly tracked: number;
  readonly failures: number;
  /** Failure reports for an already failed collector (e.g. exit after socket close). */
  readonly duplicateFailureReports: number;
  /** Heartbeats for unknown or failed collectors, dropped. */
  readonly ignoredHeartbeats: number;
  /** Stalls of the agent's own event loop seen through late timers. */
  readonly stalls: number;
  /** Longest lag seen, in ms. */
  readonly maxLagMs: number;
  /** Verdicts (suspect or stale) postponed because the loop had just stalled. */
  readonly heldVerdicts: number;
  /** Collectors that currently report `degraded`. */
  readonly degraded: number;
  /** Reported messages cut to `maxMessageLength`. */
  readonly truncatedMessages: number;
}

/** Options of {@link HealthTracker}. */
export interface HealthTrackerOptions {
  /** Expected heartbeat interval in ms. Default 10 000; integer [1, 2^31-1]. */
  heartbeatIntervalMs?: number | undefined;
  /** Failed (`stale`) after this many intervals without a heartbeat. Default 3; [1, 1000]. */
  staleAfterIntervals?: number | undefined;
  /** Suspect after this many intervals without a heartbeat. Default 1.5; (0, staleAfterIntervals]. */
  suspectAfterIntervals?: number | undefined;
  /** Phi-accrual detection on top of staleness: `true` for defaults, or options. Default `false`. */
  phi?: boolean | PhiOptions | undefined;
  /**
   * A check timer that fires more than this late means the agent's own loop stalled: no verdict is
   * given until `heartbeatIntervalMs + stallThresholdMs` after it, so heartbeats queued in the
   * sockets meanwhile are read first. Default `min(1000, ceil(heartbeatIntervalMs / 2))`;
   * integer [1, 2^31-1].
   */
  stallThresholdMs?: number | undefined;
  /** Longest reported message kept, in UTF-16 units. Default 256; integer [0, 65 536]. */
  maxMessageLength?: number | undefined;
  /** Time source. Default `systemClock`. */
  clock?: Clock | undefined;
  /** Receives `ERR_FAILOVER_CALLBACK_FAILED` when a listener throws. Default: re-thrown on a microtask. */
  onCallbackError?: CallbackErrorHandler | undefined;
}
