import type {
  CollectorHealth,
  FailureReason,
  HealthState,
  ReportedHealth,
} from './health-types.js';
import { PhiAccrualDetector, type ResolvedPhiOptions } from './phi.js';

/** What the health tracker knows about one incarnation of a collector. */
export interface Entry {
  readonly id: string;
  state: HealthState;
  registeredAt: number;
  lastHeartbeatAt: number;
  heartbeats: number;
  failedAt: number | undefined;
  failureReason: FailureReason | undefined;
  reportedState: ReportedHealth;
  reportedMessage: string | undefined;
  detector: PhiAccrualDetector | undefined;
  timer: unknown;
  /** Deadline the armed timer checks. */
  timerAt: number;
  /** When the armed timer is due (to measure how late it fires). */
  timerDue: number;
}

/** A `healthy` entry registered at `now`, its phi detector (if any) fed the registration. */
export function createEntry(id: string, now: number, phi: ResolvedPhiOptions | undefined): Entry {
  const entry: Entry = {
    id,
    state: 'healthy',
    registeredAt: now,
    lastHeartbeatAt: now,
    heartbeats: 0,
    failedAt: undefined,
    failureReason: undefined,
    reportedState: 'healthy',
    reportedMessage: undefined,
    detector: phi === undefined ? undefined : new PhiAccrualDetector(phi),
    timer: undefined,
    timerAt: Number.POSITIVE_INFINITY,
    timerDue: Number.POSITIVE_INFINITY,
  };
  entry.detector?.heartbeat(now);
  return entry;
}

/** The public snapshot of an entry at `now`. */
export function entryHealth(entry: Entry, now: number): CollectorHealth {
  return {
    id: entry.id,
    state: entry.state,
    registeredAt: entry.registeredAt,
    lastHeartbeatAt: entry.lastHeartbeatAt,
    heartbeats: entry.heartbeats,
    phi: entry.detector === undefined ? 0 : entry.detector.phi(now),
    failedAt: entry.failedAt,
    failureReason: entry.failureReason,
    reportedState: entry.reportedState,
    reportedMessage: entry.reportedMessage,
  };
}
