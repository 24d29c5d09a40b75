import type { Clock } from '../clock.js';

/**
 * Seam for the loop-lag reaction. Measures the agent's own event-loop lag with one clock timer
 * and answers "was a stale verdict the agent's fault?". When `@daemoneye/failover`'s HealthTracker
 * becomes loop-lag aware, the coordinator can hand it this monitor (or drop it) here.
 */
export class LoopLagMonitor {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #toleranceMs: number;
  #timer: unknown;
  #expectedAt = 0;
  /** Clock time of the last tick that came later than the tolerance, and its lag. */
  #lastStallAt = Number.NEGATIVE_INFINITY;
  #lastStallMs = 0;
  #maxLagMs = 0;
  #stopped = true;

  constructor(clock: Clock, intervalMs: number, toleranceMs: number) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#toleranceMs = toleranceMs;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Largest lag seen so far, ms. */
  get maxLagMs(): number {
    return this.#maxLagMs;
  }

  /**
   * The lag that explains a missed deadline within the last `windowMs`: the tick overdue right now,
   * or the last stall seen inside the window; 0 when the loop kept time.
   */
  stallWithin(windowMs: number): number {
    this.#observe();
    const now = this.#clock.now();
    if (now - this.#lastStallAt <= windowMs) return this.#lastStallMs;
    return 0;
  }

  #arm(): void {
    if (this.#stopped) return;
    this.#expectedAt = this.#clock.now() + this.#intervalMs;
    this.#timer = this.#clock.setTimeout(() => {
      this.#observe();
      this.#arm();
    }, this.#intervalMs);
  }

  // Called from the timer and on demand: a tick overdue right now is a stall as well.
  #observe(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const lag = now - this.#expectedAt;
    if (lag > this.#maxLagMs) this.#maxLagMs = lag;
    if (lag >= this.#toleranceMs) {
      this.#lastStallAt = now;
      this.#lastStallMs = lag;
    }
  }
}
