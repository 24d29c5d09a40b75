import type { ResultAggregator } from '@daemoneye/aggregator';
import type { LoadBalancer } from '@daemoneye/balancer';
import type { HealthTracker, PendingTaskRegistry, Supervisor } from '@daemoneye/failover';
import type { DetectionResult } from '@daemoneye/proto';
import { REFUSAL_REASONS, type RefusalReason } from './admission.js';
import type { CollectorSpec } from './options.js';
import { reportedHealth } from './reactions/self-health.js';
import type {
  CollectorState,
  CollectorStatus,
  CoordinatorState,
  CoordinatorStatus,
  KillReason,
} from './types.js';

const KILL_REASONS: readonly KillReason[] = [
  'stale',
  'phi',
  'connection-lost',
  'over-memory',
  'over-cpu',
];
/** Distinct transport codes counted; more distinct codes than this fold into `other`. */
const MAX_CODES = 64;

/** The coordinator's own counters; they only grow. */
export class Counters {
  rejectedResults = 0;
  givenUp = 0;
  readonly refusals: Record<RefusalReason, number> = Object.fromEntries(
    REFUSAL_REASONS.map((r) => [r, 0]),
  ) as Record<RefusalReason, number>;
  readonly kills: Record<KillReason, number> = Object.fromEntries(
    KILL_REASONS.map((r) => [r, 0]),
  ) as Record<KillReason, number>;
  readonly transportErrors = new Map<string, number>();

  refused(reason: RefusalReason): void {
    this.refusals[reason]++;
  }

  killed(reason: KillReason): void {
    this.kills[reason]++;
  }

  transport(code: string): void {
    const key =
      this.transportErrors.has(code) || this.transportErrors.size < MAX_CODES ? code : 'other';
    this.transportErrors.set(key, (this.transportErrors.get(key) ?? 0) + 1);
  }
}

/** Everything {@link buildStatus} reads. */
export interface StatusSources {
  readonly state: CoordinatorState;
  readonly endpoint: string;
  readonly now: number;
  readonly specs: readonly CollectorSpec[];
  readonly supervisor: Supervisor;
  readonly health: HealthTracker;
  readonly balancer: LoadBalancer;
  readonly registry: PendingTaskRegistry<unknown>;
  readonly aggregator: ResultAggregator<DetectionResult>;
  readonly counters: Counters;
  readonly connected: (id: string) => boolean;
  readonly inFlight: (id: string) => number;
  readonly results: (id: string) => number;
  readonly lastKill: (id: string) => KillReason | undefined;
  readonly paused: (id: string) => boolean;
  readonly inbound: CoordinatorStatus['inbound'];
}

function stateOf(s: StatusSources, id: string): CollectorState {
  const proc = s.supervisor.info(id);
  if (proc === undefined) return 'stopped';
  switch (proc.state) {
    case 'running':
      if (!s.connected(id)) return 'disconnected';
      if (s.paused(id)) return 'paused';
      return s.health.state(id) ?? 'starting';
    default:
      return proc.state;
  }
}

/** The snapshot of `status()`. */
export function buildStatus(s: StatusSources): CoordinatorStatus {
  const byId = new Map(s.balancer.snapshot().collectors.map((c) => [c.id, c]));
  const collectors: CollectorStatus[] = s.specs.map((spec) => {
    const proc = s.supervisor.info(spec.id);
    const health = s.health.get(spec.id);
    const balance = byId.get(spec.id);
    const self = reportedHealth(s.health, spec.id);
    const retryAt = proc?.retryAt;
    return {
      id: spec.id,
      kind: spec.kind,
      pid: proc?.pid ?? null,
      state: stateOf(s, spec.id),
      health: self.health,
      healthMessage: self.message,
      inFlight: s.inFlight(spec.id),
      activeTasks: balance?.activeTasks ?? null,
      queueDepth: balance?.queueDepth ?? null,
      score: balance ? Math.round(balance.score * 10) / 10 : null,
      restarts: proc?.restarts ?? 0,
      results: s.results(spec.id),
      lastHeartbeatAgoMs:
        health && health.heartbeats > 0
          ? Math.max(0, Math.round(s.now - health.lastHeartbeatAt))
          : null,
      retryInMs:
        retryAt === undefined || retryAt === null ? null : Math.max(0, Math.round(retryAt - s.now)),
      lastKill: s.lastKill(spec.id) ?? null,
    };
  });
  const registry = s.registry.stats();
  const aggregation = s.aggregator.stats();
  const completed = Object.values(aggregation.completed).reduce((a, b) => a + b, 0);
  const c = s.counters;
  const healthStats = s.health.stats();
  return {
    state: s.state,
    endpoint: s.endpoint,
    collectors,
    pendingSets: aggregation.pendingSets,
    tasks: {
      accepted: registry.accepted,
      completed: registry.completed,
      failed: registry.failed,
      inFlight: registry.pending,
    },
    aggregation: {
      begun: aggregation.begun,
      completed,
      partial: completed - aggregation.completed['all-received'],
      late: aggregation.outcomes.late,
      duplicates: aggregation.duplicatesDropped,
    },
    rejectedResults: c.rejectedResults,
    refusedCollectors: Object.values(c.refusals).reduce((a, b) => a + b, 0),
    refusals: { ...c.refusals },
    transportErrors: Object.fromEntries(c.transportErrors),
    kills: { ...c.kills },
    lagForgiven: healthStats.heldVerdicts,
    loopStalls: healthStats.stalls,
    maxLoopLagMs: Math.round(healthStats.maxLagMs),
    givenUp: c.givenUp,
    inbound: { ...s.inbound },
  };
}
