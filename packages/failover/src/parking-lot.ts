import type { Clock } from './clock.js';
import type { PendingTask } from './pending-task-registry.js';

/** A task waiting for a collector, and since when. */
export interface ParkedTask<P> {
  readonly task: PendingTask<P>;
  readonly parkedAt: number;
}

/** What the lot asks of its owner when its timers fire. */
export interface ParkingLotHooks<P> {
  /** Time to try placing the parked tasks again. */
  retry(): void;
  /** `task` waited `placementTimeoutMs`: it has left the lot and must end. */
  expired(task: PendingTask<P>): void;
}

/**
 * Tasks waiting for a collector, in parking order, with two timers through the clock: a periodic
 * retry and the expiry of the oldest task. The timeout is uniform, so expired tasks are a prefix.
 * Internal to the failover manager.
 */
export class ParkingLot<P> {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #retryIntervalMs: number;
  readonly #hooks: ParkingLotHooks<P>;
  readonly #parked = new Map<string, ParkedTask<P>>();
  #retryTimer: unknown;
  #expiryTimer: unknown;
  #closed = false;

  constructor(clock: Clock, timeoutMs: number, retryIntervalMs: number, hooks: ParkingLotHooks<P>) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#retryIntervalMs = retryIntervalMs;
    this.#hooks = hooks;
  }

  get size(): number {
    return this.#parked.size;
  }

  has(taskId: string): boolean {
    return this.#parked.has(taskId);
  }

  get(taskId: string): ParkedTask<P> | undefined {
    return this.#parked.get(taskId);
  }

  /** Parks a task (replacing an earlier entry for the same id) and arms the timers. */
  park(task: PendingTask<P>, now: number): void {
    this.#parked.delete(task.taskId);
    this.#parked.set(task.taskId, { task, parkedAt: now });
    this.#arm(now);
  }

  /** Takes a task out of the lot; the timers stop when it is empty. */
  remove(taskId: string): boolean {
    const removed = this.#parked.delete(taskId);
    if (this.#parked.size === 0) this.#clearTimers();
    return removed;
  }

  /** Parked tasks, oldest first (a snapshot: the caller may remove while iterating). */
  snapshot(): ParkedTask<P>[] {
    return [...this.#parked.values()];
  }

  /** Stops the timers and empties the lot; returns what was parked. */
  close(): ParkedTask<P>[] {
    this.#closed = true;
    this.#clearTimers();
    const parked = [...this.#parked.values()];
    this.#parked.clear();
    return parked;
  }

  #arm(now: number): void {
    if (this.#closed || this.#parked.size === 0) return;
    if (this.#retryTimer === undefined) {
      this.#retryTimer = this.#clock.setTimeout(() => {
        this.#retryTimer = undefined;
        this.#hooks.retry();
        this.#arm(this.#clock.now());
      }, this.#retryIntervalMs);
    }
    if (this.#expiryTimer === undefined) {
      const first = this.#parked.values().next();
      if (first.done === true) return;
      const delay = Math.max(1, Math.ceil(first.value.parkedAt + this.#timeoutMs - now));
      this.#expiryTimer = this.#clock.setTimeout(
        () => {
          this.#expiryTimer = undefined;
          this.#expire();
        },
        Math.min(2_147_483_647, delay),
      );
    }
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const [taskId, parked] of this.#parked) {
      if (parked.parkedAt + this.#timeoutMs > now) break;
      this.#parked.delete(taskId);
      this.#hooks.expired(parked.task);
    }
    if (this.#parked.size === 0) this.#clearTimers();
    else this.#arm(now);
  }

  #clearTimers(): void {
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    if (this.#expiryTimer !== undefined) this.#clock.clearTimeout(this.#expiryTimer);
    this.#retryTimer = undefined;
    this.#expiryTimer = undefined;
  }
}
