import type { Pool } from './pools.js';

/** Marks a metric that is missing or was junk. Sanitised values are always >= 0. */
export const UNKNOWN = -1;

/** Largest task or queue count taken from a heartbeat; anything above counts as this. */
export const MAX_COUNT = 1e9;

/** Where a collector sits in one pool, so its index leaf can be updated in place. */
export interface Membership {
  readonly pool: Pool;
  readonly position: number;
}

/** Mutable per-collector state. Internal: the public view is `CollectorSnapshot`. */
export class CollectorRecord {
  readonly id: string;
  taskKinds: readonly string[];
  weight: number;

  hasReport = false;
  reportedAt = 0;
  reportedActive = UNKNOWN;
  reportedQueue = UNKNOWN;
  reportedCpu = UNKNOWN;
  memoryBytes = UNKNOWN;
  /** Self-reported health of the last heartbeat; `degraded` scales the score down. */
  degraded = false;
  /** Local accounting since the last heartbeat, applied on top of its `activeTasks`. */
  startedSinceReport = 0;
  finishedSinceReport = 0;
  inFlight = 0;

  ewmaDurationMs = UNKNOWN;
  succeeded = 0;
  failed = 0;
  consecutiveFailures = 0;

  ejected = false;
  ejectedUntil = 0;
  ejectionCount = 0;
  lastEjectionEnd = 0;

  /** Origin of the slow-start ramp. */
  startedAt: number;
  selections = 0;

  /** Pools it belongs to (set when the pools are rebuilt). */
  memberships: readonly Membership[] = [];
  /** Its report is in the fleet's running sums (see `Fleet`). */
  counted = false;
  /** Queued for an index-leaf update at the next selection. */
  indexDirty = false;

  constructor(id: string, taskKinds: readonly string[], weight: number, now: number) {
    this.id = id;
    this.taskKinds = taskKinds;
    this.weight = weight;
    this.startedAt = now;
  }

  /** Success rate since (re)start, or UNKNOWN without finished tasks. */
  successRate(): number {
    const total = this.succeeded + this.failed;
    return total > 0 ? this.succeeded / total : UNKNOWN;
  }

  /** Forgets everything learned about the previous process; keeps the ejection history. */
  resetForRestart(now: number): void {
    this.hasReport = false;
    this.reportedAt = 0;
    this.reportedActive = UNKNOWN;
    this.reportedQueue = UNKNOWN;
    this.reportedCpu = UNKNOWN;
    this.memoryBytes = UNKNOWN;
    this.degraded = false;
    this.startedSinceReport = 0;
    this.finishedSinceReport = 0;
    this.inFlight = 0;
    this.ewmaDurationMs = UNKNOWN;
    this.succeeded = 0;
    this.failed = 0;
    this.consecutiveFailures = 0;
    this.startedAt = now;
  }
}

/** A count from a heartbeat: finite and >= 0, else UNKNOWN; capped at MAX_COUNT. */
export function sanitizeCount(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0) || value === Number.POSITIVE_INFINITY) {
    return UNKNOWN;
  }
  return value > MAX_COUNT ? MAX_COUNT : value;
}

/** CPU share in [0, 1]: values above 1 count as 1, junk as UNKNOWN. */
export function sanitizeCpu(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0) || value === Number.POSITIVE_INFINITY) {
    return UNKNOWN;
  }
  return value > 1 ? 1 : value;
}

/** Memory in bytes from a number or a bigint (protobuf uint64), else UNKNOWN. */
export function sanitizeBytes(value: unknown): number {
  if (typeof value === 'bigint') return value >= 0n ? Number(value) : UNKNOWN;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) return UNKNOWN;
  return value;
}
