import type { AggregatedItem, CompletionReason, ShareFullReason } from '@daemoneye/aggregator';
import type { FailoverReport, FailureReason } from '@daemoneye/failover';
import type { DetectionResultView } from '@daemoneye/proto';
import type { RefusalReason } from './admission.js';
import type { CoordinatorError } from './errors.js';
import type { JournalReport } from './journal/hooks.js';
import type { SelfHealth } from './reactions/self-health.js';

/**
 * Why a set ended: the aggregator's reasons, `no-collector` (nobody could take it), `overloaded` (a
 * limit), `agent-restart` (journal recovery closed a set the agent's crash left open).
 */
export type ResultReason = CompletionReason | 'no-collector' | 'overloaded' | 'agent-restart';

/**
 * The one outcome of a `fanOut` or `dispatch`: the aggregator's result with every collector name
 * real (a parked task's set names the collector it was last on, never a placeholder) and the
 * reason each missing collector is missing.
 */
export interface AggregatedResult {
  readonly correlationId: string;
  /** Task kind of the request. */
  readonly kind: string;
  readonly mode: 'fan-out' | 'dispatch';
  readonly complete: boolean;
  readonly reason: ResultReason;
  /**
   * Deduplicated results, first arrival first, with every collector that sent each. Each result is
   * a `DetectionResultView` (`@daemoneye/proto`): its encoded bytes with `fingerprint` decoded;
   * `kind`, `subject`, `attributes` and `collectedAtUnixMs` decode on first read, `decode()` gives
   * a plain `DetectionResult`, `detectionResultJson(view)` its JSON straight from the bytes.
   */
  readonly results: readonly AggregatedItem<DetectionResultView>[];
  /** Collectors asked (for a dispatch: the one holding the task at the end, or the last one it was on). */
  readonly expected: readonly string[];
  readonly responded: readonly string[];
  readonly missing: readonly string[];
  /** Why each collector of `missing` is missing, e.g. `timeout`, `process-exited`, `parked: placement-timeout`. */
  readonly missingReasons: Readonly<Record<string, string>>;
  /** Tasks of this set that ended `failed`, with the reason. */
  readonly failedTasks: readonly {
    taskId: string;
    collectorId: string | undefined;
    reason: string;
  }[];
  readonly duplicatesDropped: number;
  readonly overflowDropped: number;
  /** Items of `results` with `conflict: true`: collectors disagreed about their content (a tamper signal). */
  readonly conflicts: number;
  /** Collectors of `missing` whose share of this set filled up (their part ended `overflow`). */
  readonly overflowed: readonly string[];
  /** Clock ms at the request and at completion. */
  readonly startedAt: number;
  readonly completedAt: number;
  /** Unix ms (wall clock) at the request and at completion, for output. */
  readonly startedAtUnixMs: number;
  readonly completedAtUnixMs: number;
}

/** A request fanned out to many collectors: one task per target, one correlation set. */
export interface FanOutRequest {
  /** Task kind, 1..64 of `[a-z0-9_-]`; results are published on `results.<kind>`. */
  readonly kind: string;
  /** Collector ids. Default: every connected, healthy collector that takes `kind`. */
  readonly targets?: readonly string[] | undefined;
  readonly payload?: Uint8Array | undefined;
  /** Set timeout, ms. Default `taskTimeoutMs`. */
  readonly timeoutMs?: number | undefined;
  /** Cancels: the set ends with reason `cancelled`. */
  readonly signal?: AbortSignal | undefined;
  /** Correlation id, 1..128 of `[A-Za-z0-9_.:/-]`, never one of the last 10 000 used. Default: `<kind>-<uuid>`. */
  readonly correlationId?: string | undefined;
}

/** One balanced task: failover, retry budget and parking; its set follows the task. */
export type DispatchRequest = Omit<FanOutRequest, 'targets'>;

/** A message reaching an in-process subscriber. */
export type CoordinatorMessage =
  | {
      readonly type: 'event';
      readonly topic: string;
      /** The admitted collector that published it (stamped from its session). */
      readonly collectorId: string;
      readonly payload: Uint8Array;
    }
  | { readonly type: 'result'; readonly topic: string; readonly result: AggregatedResult };

/** Lifecycle of a coordinator. */
export type CoordinatorState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/** State of one collector in {@link CoordinatorStatus}. */
export type CollectorState =
  | 'starting'
  | 'healthy'
  /** Connected, but its socket is not read: its share of a pending set is full. */
  | 'paused'
  | 'suspect'
  | 'failed'
  | 'disconnected'
  | 'restarting'
  | 'given-up'
  | 'stopping'
  | 'stopped';

/** Why the coordinator killed a collector process (the Supervisor then restarts it). */
export type KillReason = 'stale' | 'phi' | 'connection-lost' | 'over-memory' | 'over-cpu';

/** One collector in {@link CoordinatorStatus}. */
export interface CollectorStatus {
  readonly id: string;
  readonly kind: string;
  readonly pid: number | null;
  readonly state: CollectorState;
  /** What the collector says of itself in its heartbeats. */
  readonly health: SelfHealth;
  readonly healthMessage: string;
  /** Tasks the coordinator has on it now. */
  readonly inFlight: number;
  /** From its last heartbeat (reported, may be old). */
  readonly activeTasks: number | null;
  readonly queueDepth: number | null;
  readonly score: number | null;
  readonly restarts: number;
  readonly results: number;
  readonly lastHeartbeatAgoMs: number | null;
  /** Clock ms until a given-up collector is started again, or null. */
  readonly retryInMs: number | null;
  readonly lastKill: KillReason | null;
}

/** The snapshot `status --json` prints. */
export interface CoordinatorStatus {
  readonly state: CoordinatorState;
  readonly endpoint: string;
  readonly collectors: readonly CollectorStatus[];
  readonly pendingSets: number;
  readonly tasks: { accepted: number; completed: number; failed: number; inFlight: number };
  readonly aggregation: {
    begun: number;
    completed: number;
    partial: number;
    late: number;
    duplicates: number;
  };
  /** Results refused: from clients that are not admitted collectors, or for sets they were not asked for. */
  readonly rejectedResults: number;
  /** Connections refused by admission, in total and per reason. */
  readonly refusedCollectors: number;
  readonly refusals: Readonly<Record<RefusalReason, number>>;
  /** Handshake refusals and protocol errors of the broker, per code. */
  readonly transportErrors: Readonly<Record<string, number>>;
  /** Kills by the coordinator, per reason. */
  readonly kills: Readonly<Record<KillReason, number>>;
  /** Stale verdicts forgiven because the agent's own loop stalled. */
  /** Stale/suspect verdicts the HealthTracker held because the agent's own loop stalled. */
  readonly lagForgiven: number;
  /** Stalls of the agent's own event loop seen (over `loopLagToleranceMs`). */
  readonly loopStalls: number;
  readonly maxLoopLagMs: number;
  readonly givenUp: number;
  /**
   * Inbound backpressure: collectors not read now (`paused`), `pauses` and `resumes` so far, and
   * stale verdicts held because the coordinator was not reading the collector (`heldVerdicts`).
   */
  readonly inbound: {
    readonly paused: number;
    readonly pauses: number;
    readonly resumes: number;
    readonly heldVerdicts: number;
  };
  /** With `options.journal`: its counters (`unjournaled`: records it could not write) and recovery. */
  readonly journal?: JournalReport;
}

/** Typed events of a coordinator. Listeners that throw go to `onCallbackError`. */
export type CoordinatorEvents = {
  'state-change': [change: { from: CoordinatorState; to: CoordinatorState; reason: string }];
  listening: [event: { endpoint: string }];
  'collector-spawned': [event: { id: string; pid: number; restarts: number }];
  'collector-ready': [event: { id: string; pid: number; restarted: boolean }];
  'collector-refused': [
    event: {
      collectorId: string;
      kind: string;
      pid: number;
      reason: RefusalReason;
      message: string;
    },
  ];
  'collector-disconnected': [event: { id: string; reason: string }];
  'collector-failed': [event: { id: string; reason: FailureReason }];
  'collector-exited': [
    event: { id: string; pid: number | undefined; code: number | null; signal: string | null },
  ];
  'collector-killed': [
    event: { id: string; pid: number | undefined; reason: KillReason; detail: string },
  ];
  'restart-scheduled': [event: { id: string; delayMs: number; attempt: number }];
  'collector-start-timeout': [event: { id: string; message: string }];
  'collector-spawn-error': [event: { id: string; message: string }];
  'collector-given-up': [
    event: { id: string; restarts: number; windowMs: number; retryInMs: number | undefined },
  ];
  'collector-retry': [event: { id: string; attempt: number }];
  /** Its self-reported health changed (heartbeat `state`): `degraded` means less work, never a restart. */
  'collector-health': [event: { id: string; from: SelfHealth; to: SelfHealth; message: string }];
  /** One line its stderr printed (at most 4 KiB, longer lines are cut). */
  'collector-stderr': [event: { id: string; line: string }];
  /** The agent's own event loop stalled; the HealthTracker holds every verdict for `holdMs`. */
  'loop-stall': [event: { lagMs: number; holdMs: number }];
  /** Its share of `correlationId` is full: its socket is no longer read. */
  'inbound-paused': [event: { id: string; correlationId: string; reason: ShareFullReason }];
  /** No pending set has its share full any more: read again (`heldVerdict`: tracked afresh). */
  'inbound-resumed': [event: { id: string; heldVerdict: boolean }];
  failover: [report: FailoverReport];
  'task-failed': [
    event: {
      taskId: string;
      correlationId: string;
      collectorId: string | undefined;
      reason: string;
    },
  ];
  /** Every set's outcome (also published on `results.<kind>`). */
  result: [result: AggregatedResult];
  /** The journal could not write (disk full, unwritable dir): it retries; `status().journal` says what was lost. */
  'journal-error': [error: CoordinatorError];
  'result-refused': [event: { collectorId: string; correlationId: string; reason: string }];
  /** The broker refused a handshake or saw a protocol error: counted per code, only that connection affected. */
  'transport-error': [
    event: {
      type: 'connection-refused' | 'protocol-error';
      code: string;
      collectorId: string | undefined;
      message: string;
    },
  ];
};
