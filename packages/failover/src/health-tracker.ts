import { EventEmitter } from 'node:events';
import { type Clock, realClock } from './clock.js';
import {
  PhiAccrualDetector,
  type PhiOptions,
  type ResolvedPhiOptions,
  resolvePhiOptions,
} from './phi.js';
import { checkClock, checkId, checkNumber, checkObject } from './validate.js';

/** Health of one collector incarnation. `failed` is final until {@link HealthTracker.register}. */
export type HealthState = 'healthy' | 'suspect' | 'failed';

/** Why a collector was declared failed. */
export type FailureReason = 'stale' | 'phi' | 'connection-lost' | 'process-exited' | 'reported';

/** Why a state changed: a failure reason, or one of the non-failure transitions. */
export type HealthChangeReason = FailureReason | 'registered' | 'heartbeat' | 'overdue';

/** Payload of the `state-change` event. `from` is undefined for a first registration. */
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

/** Typed events of {@link HealthTracker}. */
export type HealthTrackerEvents = {
  'state-change': [change: HealthStateChange];
  failed: [failure: CollectorFailure];
};

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
}

/** Counters of {@link HealthTracker}. */
export interface HealthTrackerStats {
  readonly tracked: number;
  readonly failures: number;
  /** Failure reports for an already failed collector (e.g. exit after socket close). */
  readonly duplicateFailureReports: number;
  /** Heartbeats for unknown or failed collectors, dropped. */
  readonly ignoredHeartbeats: number;
}

/** Options of {@link HealthTracker}. */
export interface HealthTrackerOptions {
  /** Expected heartbeat interval in ms. Default 10 000; range [1, 3 600 000]. */
  heartbeatIntervalMs?: number;
  /** Failed (`stale`) after this many intervals without a heartbeat. Default 3; range [1, 1000]. */
  staleAfterIntervals?: number;
  /** Suspect after this many intervals without a heartbeat. Default 1.5; range (0, staleAfterIntervals]. */
  suspectAfterIntervals?: number;
  /** Phi-accrual detection on top of staleness: `true` for defaults, or options. Default `false`. */
  phi?: boolean | PhiOptions;
  /** Time source. Default: real time, `unref()`ed timers. */
  clock?: Clock;
}

const DEFAULTS = {
  heartbeatIntervalMs: 10_000,
  staleAfterIntervals: 3,
  suspectAfterIntervals: 1.5,
  phi: false,
} as const;

interface Entry {
  readonly id: string;
  state: HealthState;
  registeredAt: number;
  lastHeartbeatAt: number;
  heartbeats: number;
  failedAt: number | undefined;
  failureReason: FailureReason | undefined;
  detector: PhiAccrualDetector | undefined;
  timer: unknown;
  timerAt: number;
}

/**
 * Tracks collector liveness from heartbeats: `healthy -> suspect -> failed` by staleness (and
 * optionally phi accrual); connection loss and process exit fail a collector at once. Each
 * incarnation fails exactly once, however many ways the failure is reported.
 */
export class HealthTracker extends EventEmitter<HealthTrackerEvents> {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #staleAfterMs: number;
  readonly #suspectAfterMs: number;
  readonly #phi: ResolvedPhiOptions | undefined;
  readonly #entries = new Map<string, Entry>();
  #failures = 0;
  #duplicateFailureReports = 0;
  #ignoredHeartbeats = 0;
  #closed = false;

  constructor(options: HealthTrackerOptions = {}) {
    super();
    checkObject('options', options);
    const o = { ...DEFAULTS, ...options };
    this.#intervalMs = checkNumber('heartbeatIntervalMs', o.heartbeatIntervalMs, 1, 3_600_000);
    const stale = checkNumber('staleAfterIntervals', o.staleAfterIntervals, 1, 1000);
    const suspect = checkNumber('suspectAfterIntervals', o.suspectAfterIntervals, 0, stale);
    if (suspect === 0) {
      throw new RangeError(`suspectAfterIntervals must be a number in (0, ${stale}], got 0`);
    }
    this.#staleAfterMs = stale * this.#intervalMs;
    this.#suspectAfterMs = suspect * this.#intervalMs;
    if (o.phi === true) this.#phi = resolvePhiOptions({}, 'phi');
    else if (o.phi === false) this.#phi = undefined;
    else {
      checkObject('phi', o.phi);
      this.#phi = resolvePhiOptions(o.phi, 'phi');
    }
    this.#clock = o.clock === undefined ? realClock(true) : checkClock('clock', o.clock);
  }

  /** The configured heartbeat interval in ms. */
  get heartbeatIntervalMs(): number {
    return this.#intervalMs;
  }

  /**
   * Starts (or restarts, after a failure or a new Hello) tracking `id` as `healthy`, counting the
   * registration as its first heartbeat. Resets its phi history.
   */
  register(id: string): void {
    checkId('id', id);
    if (this.#closed) return;
    const now = this.#clock.now();
    const previous = this.#entries.get(id);
    if (previous !== undefined) this.#clearTimer(previous);
    const entry: Entry = {
      id,
      state: 'healthy',
      registeredAt: now,
      lastHeartbeatAt: now,
      heartbeats: 0,
      failedAt: undefined,
      failureReason: undefined,
      detector: this.#phi === undefined ? undefined : new PhiAccrualDetector(this.#phi),
      timer: undefined,
      timerAt: Number.POSITIVE_INFINITY,
    };
    entry.detector?.heartbeat(now);
    this.#entries.set(id, entry);
    this.#schedule(entry);
    if (previous?.state !== 'healthy') {
      this.emit('state-change', {
        id,
        from: previous?.state,
        to: 'healthy',
        reason: 'registered',
        at: now,
      });
    }
  }

  /**
   * Records a heartbeat (at `at` ms, default now). Returns false, and counts it, when `id` is
   * unknown or failed: a failed incarnation only comes back through {@link register}.
   */
  heartbeat(id: string, at?: number): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.state === 'failed') {
      this.#ignoredHeartbeats++;
      return false;
    }
    const now = at ?? this.#clock.now();
    if (now > entry.lastHeartbeatAt) entry.lastHeartbeatAt = now;
    entry.heartbeats++;
    entry.detector?.heartbeat(now);
    if (entry.state === 'suspect') this.#transition(entry, 'healthy', 'heartbeat', now);
    this.#schedule(entry);
    return true;
  }

  /** The collector's connection closed: fails it at once. True if this call failed it. */
  connectionLost(id: string): boolean {
    return this.#fail(id, 'connection-lost');
  }

  /** The collector's process exited: fails it at once. True if this call failed it. */
  processExited(id: string, exitCode: number | null = null, signal: string | null = null): boolean {
    return this.#fail(id, 'process-exited', exitCode, signal);
  }

  /** Fails a collector for any other reason (e.g. the app saw a fatal error). */
  markFailed(id: string, reason: FailureReason = 'reported'): boolean {
    return this.#fail(id, reason);
  }

  /** Stops tracking `id` without failing it (planned stop). True if it was tracked. */
  remove(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#clearTimer(entry);
    this.#entries.delete(id);
    return true;
  }

  /** Current state of `id`, or undefined if it is not tracked. */
  state(id: string): HealthState | undefined {
    return this.#entries.get(id)?.state;
  }

  /** True when `id` is tracked and not failed (healthy or suspect). */
  isAlive(id: string): boolean {
    const state = this.#entries.get(id)?.state;
    return state === 'healthy' || state === 'suspect';
  }

  /** Current phi of `id` (0 while warming up, when phi is off, or when unknown). */
  phi(id: string): number {
    const entry = this.#entries.get(id);
    if (entry?.detector === undefined) return 0;
    return entry.detector.phi(this.#clock.now());
  }

  /** Snapshot of one collector, or undefined if it is not tracked. */
  get(id: string): CollectorHealth | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    return {
      id,
      state: entry.state,
      registeredAt: entry.registeredAt,
      lastHeartbeatAt: entry.lastHeartbeatAt,
      heartbeats: entry.heartbeats,
      phi: entry.detector === undefined ? 0 : entry.detector.phi(this.#clock.now()),
      failedAt: entry.failedAt,
      failureReason: entry.failureReason,
    };
  }

  /** Snapshots of every tracked collector. */
  list(): CollectorHealth[] {
    const result: CollectorHealth[] = [];
    for (const id of this.#entries.keys()) {
      const health = this.get(id);
      if (health !== undefined) result.push(health);
    }
    return result;
  }

  /** Counters. */
  stats(): HealthTrackerStats {
    return {
      tracked: this.#entries.size,
      failures: this.#failures,
      duplicateFailureReports: this.#duplicateFailureReports,
      ignoredHeartbeats: this.#ignoredHeartbeats,
    };
  }

  /** Cancels every timer and forgets every collector; later calls are ignored. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) this.#clearTimer(entry);
    this.#entries.clear();
  }

  #fail(
    id: string,
    reason: FailureReason,
    exitCode?: number | null,
    signal?: string | null,
  ): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    if (entry.state === 'failed') {
      this.#duplicateFailureReports++;
      return false;
    }
    const now = this.#clock.now();
    this.#clearTimer(entry);
    entry.failedAt = now;
    entry.failureReason = reason;
    this.#failures++;
    const failure: CollectorFailure =
      reason === 'process-exited'
        ? {
            id,
            reason,
            at: now,
            lastHeartbeatAt: entry.lastHeartbeatAt,
            exitCode: exitCode ?? null,
            signal: signal ?? null,
          }
        : { id, reason, at: now, lastHeartbeatAt: entry.lastHeartbeatAt };
    try {
      this.#transition(entry, 'failed', reason, now);
    } finally {
      // A throwing state-change listener must not cost the collector its one failover.
      this.emit('failed', failure);
    }
    return true;
  }

  #transition(entry: Entry, to: HealthState, reason: HealthChangeReason, at: number): void {
    const from = entry.state;
    entry.state = to;
    this.emit('state-change', { id: entry.id, from, to, reason, at });
  }

  #deadlines(entry: Entry): { suspectAt: number; failAt: number; byPhi: boolean } {
    const staleAt = entry.lastHeartbeatAt + this.#staleAfterMs;
    const phiAt = entry.detector?.failAt();
    const byPhi = phiAt !== undefined && phiAt < staleAt;
    return {
      suspectAt: entry.lastHeartbeatAt + this.#suspectAfterMs,
      failAt: byPhi ? phiAt : staleAt,
      byPhi,
    };
  }

  // One lazy timer per collector: heartbeats only move deadlines later (or, with phi, maybe
  // earlier), so a pending timer is kept and re-evaluated when it fires unless it is too late.
  #schedule(entry: Entry): void {
    if (entry.state === 'failed' || this.#closed) return;
    const { suspectAt, failAt } = this.#deadlines(entry);
    const next = entry.state === 'healthy' && suspectAt < failAt ? suspectAt : failAt;
    if (entry.timer !== undefined) {
      if (entry.timerAt <= next) return;
      this.#clearTimer(entry);
    }
    const delay = Math.max(1, Math.ceil(next - this.#clock.now()));
    entry.timerAt = next;
    entry.timer = this.#clock.setTimeout(() => this.#onTimer(entry), delay);
  }

  #onTimer(entry: Entry): void {
    entry.timer = undefined;
    entry.timerAt = Number.POSITIVE_INFINITY;
    if (this.#entries.get(entry.id) !== entry || entry.state === 'failed') return;
    const now = this.#clock.now();
    const { suspectAt, failAt, byPhi } = this.#deadlines(entry);
    if (now >= failAt) {
      this.#fail(entry.id, byPhi ? 'phi' : 'stale');
      return;
    }
    if (entry.state === 'healthy' && now >= suspectAt) {
      this.#transition(entry, 'suspect', 'overdue', now);
    }
    this.#schedule(entry);
  }

  #clearTimer(entry: Entry): void {
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.timerAt = Number.POSITIVE_INFINITY;
  }
}
