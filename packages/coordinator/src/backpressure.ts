import type { ResultAggregator, ShareFullReason } from '@daemoneye/aggregator';
import type { HealthTracker } from '@daemoneye/failover';
import type { Broker } from '@daemoneye/ipc-transport';
import type { DetectionResult } from '@daemoneye/proto';

/** What the inbound backpressure reads and tells. */
export interface BackpressureHost {
  readonly broker: Broker;
  readonly aggregator: ResultAggregator<DetectionResult>;
  readonly health: HealthTracker;
  connected(id: string): boolean;
  paused(event: { id: string; correlationId: string; reason: ShareFullReason }): void;
  resumed(event: { id: string; heldVerdict: boolean }): void;
}

/**
 * Real inbound backpressure: when a collector's share of a set is full (the aggregator's
 * `share-full`), its socket is no longer read (`broker.pauseInbound`) instead of decoding and
 * dropping; it is read again once no pending set has its share full (`fullShares(id) === 0`),
 * checked after every set completes. A paused collector's heartbeats sit unread in its socket, so
 * a stale verdict while it is paused is the coordinator's doing: it is held (counted) and the
 * collector is tracked afresh on resume.
 */
export class InboundBackpressure {
  readonly #owner: BackpressureHost;
  readonly #paused = new Set<string>();
  /** Paused collectors whose stale verdict was held: registered again on resume. */
  readonly #held = new Set<string>();
  #pauses = 0;
  #resumes = 0;
  #heldVerdicts = 0;

  constructor(owner: BackpressureHost) {
    this.#owner = owner;
  }

  /** The aggregator's `share-full`: stop reading `id`. */
  onShareFull(id: string, correlationId: string, reason: ShareFullReason): void {
    if (this.#paused.has(id) || !this.#owner.connected(id)) return;
    try {
      this.#owner.broker.pauseInbound(id);
    } catch {
      return; // Gone meanwhile.
    }
    this.#paused.add(id);
    this.#pauses++;
    this.#owner.paused({ id, correlationId, reason });
  }

  /** After a set completed: resume every paused collector no pending set is full for. */
  afterSet(): void {
    for (const id of [...this.#paused]) {
      if (this.#owner.aggregator.fullShares(id) === 0) this.#resume(id);
    }
  }

  /** A stale/phi verdict for `id`: held (true) when the coordinator itself stopped reading it. */
  holdVerdict(id: string): boolean {
    if (!this.#paused.has(id)) return false;
    this.#held.add(id);
    this.#heldVerdicts++;
    return true;
  }

  isPaused(id: string): boolean {
    return this.#paused.has(id);
  }

  /** The connection went: the broker forgets its pause, so do we. */
  forget(id: string): void {
    this.#paused.delete(id);
    this.#held.delete(id);
  }

  stats(): { paused: number; pauses: number; resumes: number; heldVerdicts: number } {
    return {
      paused: this.#paused.size,
      pauses: this.#pauses,
      resumes: this.#resumes,
      heldVerdicts: this.#heldVerdicts,
    };
  }

  #resume(id: string): void {
    this.#paused.delete(id);
    const heldVerdict = this.#held.delete(id);
    this.#resumes++;
    // Tracked afresh before the held frames (its queued heartbeats among them) are delivered.
    if (heldVerdict) this.#owner.health.register(id);
    try {
      this.#owner.broker.resumeInbound(id);
    } catch {
      // Gone meanwhile.
    }
    this.#owner.resumed({ id, heldVerdict });
  }
}
