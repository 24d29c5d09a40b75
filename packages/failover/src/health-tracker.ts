import { EventEmitter } from 'node:events';
import { type CallbackErrorHandler, guard } from './callbacks.js';
import type { Clock } from './clock.js';
import { createEntry, type Entry, entryHealth } from './health-entry.js';
import { resolveHealthOptions } from './health-options.js';
import type {
  CollectorFailure,
  CollectorHealth,
  FailureReason,
  HealthChangeReason,
  HealthState,
  HealthTrackerEvents,
  HealthTrackerOptions,
  HealthTrackerStats,
  HeartbeatReport,
  LoopStall,
  ReportedHealth,
  ReportedHealthChange,
} from './health-types.js';
import { idArgument } from './options.js';
import type { ResolvedPhiOptions } from './phi.js';

export type * from './health-types.js';

const REPORTED: readonly ReportedHealth[] = ['healthy', 'degraded'];

/**
 * Tracks collector liveness from heartbeats: `healthy -> suspect -> failed` by staleness (and
 * optionally phi accrual); connection loss and process exit fail a collector at once. Each
 * incarnation fails exactly once, however many ways the failure is reported. A stall of the
 * agent's own event loop never counts against a collector (see `stallThresholdMs`).
 */
export class HealthTracker extends EventEmitter<HealthTrackerEvents> {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #staleAfterMs: number;
  readonly #suspectAfterMs: number;
  readonly #stallThresholdMs: number;
  readonly #maxMessageLength: number;
  readonly #phi: ResolvedPhiOptions | undefined;
  readonly #onCallbackError: CallbackErrorHandler | undefined;
  readonly #entries = new Map<string, Entry>();
  #holdUntil = Number.NEGATIVE_INFINITY;
  #lastStallEnd = Number.NEGATIVE_INFINITY;
  #failures = 0;
  #duplicateFailureReports = 0;
  #ignoredHeartbeats = 0;
  #stalls = 0;
  #maxLagMs = 0;
  #heldVerdicts = 0;
  #degraded = 0;
  #truncatedMessages = 0;
  #closed = false;

  constructor(options?: HealthTrackerOptions) {
    super();
    const o = resolveHealthOptions(options);
    this.#intervalMs = o.intervalMs;
    this.#staleAfterMs = o.staleAfterMs;
    this.#suspectAfterMs = o.suspectAfterMs;
    this.#stallThresholdMs = o.stallThresholdMs;
    this.#maxMessageLength = o.maxMessageLength;
    this.#phi = o.phi;
    this.#clock = o.clock;
    this.#onCallbackError = o.onCallbackError;
  }

  /** The configured heartbeat interval in ms. */
  get heartbeatIntervalMs(): number {
    return this.#intervalMs;
  }

  /**
   * Starts (or restarts, after a failure or a new Hello) tracking `id` as `healthy`, counting the
   * registration as its first heartbeat. Resets its phi history and its reported health.
   */
  register(id: string): void {
    idArgument('id', id);
    if (this.#closed) return;
    const now = this.#clock.now();
    const previous = this.#entries.get(id);
    if (previous !== undefined) {
      this.#clearTimer(previous);
      if (previous.reportedState === 'degraded') this.#degraded--;
    }
    const entry = createEntry(id, now, this.#phi);
    this.#entries.set(id, entry);
    this.#schedule(entry);
    if (previous?.state !== 'healthy') {
      const from = previous?.state;
      this.#emit('collector-state-change', () =>
        this.emit('collector-state-change', {
          id,
          from,
          to: 'healthy',
          reason: 'registered',
          at: now,
        }),
      );
    }
  }

  /**
   * Records a heartbeat, with the collector's self-reported health if it sent one. Returns false,
   * and counts it, when `id` is unknown or failed: a failed incarnation only comes back through
   * {@link register}. A `degraded` report never fails a collector.
   */
  heartbeat(id: string, report?: HeartbeatReport): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.state === 'failed') {
      this.#ignoredHeartbeats++;
      return false;
    }
    const now = report?.at ?? this.#clock.now();
    if (typeof now !== 'number' || Number.isNaN(now)) {
      throw new TypeError(`report.at must be a number, got ${typeof now}`);
    }
    if (report !== undefined) this.#applyReport(entry, report, now);
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
    if (entry.reportedState === 'degraded') this.#degraded--;
    this.#entries.delete(id);
    return true;
  }

  /** Current state of `id`, or undefined if it is not tracked. */
  state(id: string): HealthState | undefined {
    return this.#entries.get(id)?.state;
  }

  /** True when `id` is tracked and not failed (healthy or suspect; degraded ones included). */
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
    return entryHealth(entry, this.#clock.now());
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
      stalls: this.#stalls,
      maxLagMs: this.#maxLagMs,
      heldVerdicts: this.#heldVerdicts,
      degraded: this.#degraded,
      truncatedMessages: this.#truncatedMessages,
    };
  }

  /** Cancels every timer and forgets every collector; later calls are ignored. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) this.#clearTimer(entry);
    this.#entries.clear();
    this.#degraded = 0;
  }

  #emit(event: string, fn: () => void): void {
    guard(this.#onCallbackError, `a HealthTracker '${event}' listener`, fn);
  }

  #applyReport(entry: Entry, report: HeartbeatReport, at: number): void {
    const previous = entry.reportedState;
    if (report.state !== undefined) {
      if (!REPORTED.includes(report.state)) {
        throw new TypeError(
          `report.state must be "healthy" or "degraded", got ${JSON.stringify(report.state)}`,
        );
      }
      entry.reportedState = report.state;
    }
    if (report.message !== undefined) {
      if (typeof report.message !== 'string') {
        throw new TypeError(`report.message must be a string, got ${typeof report.message}`);
      }
      let message = report.message;
      if (message.length > this.#maxMessageLength) {
        message = message.slice(0, this.#maxMessageLength);
        this.#truncatedMessages++;
      }
      entry.reportedMessage = message.length === 0 ? undefined : message;
    }
    if (previous === entry.reportedState) return;
    this.#degraded += entry.reportedState === 'degraded' ? 1 : -1;
    const change: ReportedHealthChange = {
      id: entry.id,
      from: previous,
      to: entry.reportedState,
      message: entry.reportedMessage,
      at,
    };
    this.#emit('reported-health-change', () => this.emit('reported-health-change', change));
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
    this.#transition(entry, 'failed', reason, now);
    this.#emit('failed', () => this.emit('failed', failure));
    return true;
  }

  #transition(entry: Entry, to: HealthState, reason: HealthChangeReason, at: number): void {
    const from = entry.state;
    entry.state = to;
    this.#emit('collector-state-change', () =>
      this.emit('collector-state-change', { id: entry.id, from, to, reason, at }),
    );
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
    this.#arm(entry, next);
  }

  #arm(entry: Entry, at: number): void {
    const now = this.#clock.now();
    const delay = Math.min(2_147_483_647, Math.max(1, Math.ceil(at - now)));
    entry.timerAt = at;
    entry.timerDue = now + delay;
    entry.timer = this.#clock.setTimeout(() => this.#onTimer(entry), delay);
  }

  #onTimer(entry: Entry): void {
    const due = entry.timerDue;
    entry.timer = undefined;
    entry.timerAt = Number.POSITIVE_INFINITY;
    entry.timerDue = Number.POSITIVE_INFINITY;
    if (this.#entries.get(entry.id) !== entry || entry.state === 'failed') return;
    const now = this.#clock.now();
    const lagMs = now - due;
    if (lagMs > this.#stallThresholdMs) this.#stalled(now, lagMs);
    const { suspectAt, failAt, byPhi } = this.#deadlines(entry);
    const verdictDue = now >= failAt || (entry.state === 'healthy' && now >= suspectAt);
    if (verdictDue && now < this.#holdUntil) {
      // Heartbeats may sit unread in the socket behind the stall: look again after the hold.
      this.#heldVerdicts++;
      this.#arm(entry, this.#holdUntil);
      return;
    }
    if (now >= failAt) {
      this.#fail(entry.id, byPhi ? 'phi' : 'stale');
      return;
    }
    if (entry.state === 'healthy' && now >= suspectAt) {
      this.#transition(entry, 'suspect', 'overdue', now);
    }
    this.#schedule(entry);
  }

  #stalled(now: number, lagMs: number): void {
    this.#holdUntil = Math.max(this.#holdUntil, now + this.#intervalMs + this.#stallThresholdMs);
    if (lagMs > this.#maxLagMs) this.#maxLagMs = lagMs;
    // Several timers late by the same stall report it once.
    if (now - lagMs < this.#lastStallEnd) {
      this.#lastStallEnd = now;
      return;
    }
    this.#lastStallEnd = now;
    this.#stalls++;
    // The interval spanning the stall says nothing about the collector's own timing.
    for (const entry of this.#entries.values()) entry.detector?.skipNextInterval();
    const stall: LoopStall = { lagMs, at: now, holdUntil: this.#holdUntil };
    this.#emit('stall', () => this.emit('stall', stall));
  }

  #clearTimer(entry: Entry): void {
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.timerAt = Number.POSITIVE_INFINITY;
    entry.timerDue = Number.POSITIVE_INFINITY;
  }
}
