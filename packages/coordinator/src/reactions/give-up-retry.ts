import type { Clock } from '../clock.js';

/**
 * Seam for the given-up retry. Today the coordinator does it: when the Supervisor gives up on a
 * collector (restart intensity reached), it waits a cool-down (doubling up to a cap, as systemd
 * does after StartLimitIntervalSec) and starts it again with fresh counters. When the Supervisor
 * gets its own `given-up` retry, replace `schedule` with a no-op and map its events instead.
 */
export class GiveUpRetry {
  readonly #clock: Clock;
  readonly #firstMs: number;
  readonly #maxMs: number;
  readonly #timers = new Map<string, { handle: unknown; at: number }>();
  readonly #attempts = new Map<string, number>();

  constructor(clock: Clock, firstMs: number, maxMs: number) {
    this.#clock = clock;
    this.#firstMs = firstMs;
    this.#maxMs = maxMs;
  }

  /** Schedules a retry of `id`; returns the cool-down in ms. */
  schedule(id: string, retry: () => void): number {
    this.cancel(id);
    const attempt = (this.#attempts.get(id) ?? 0) + 1;
    this.#attempts.set(id, attempt);
    const delay = Math.min(this.#maxMs, this.#firstMs * 2 ** Math.min(attempt - 1, 30));
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(id);
      retry();
    }, delay);
    this.#timers.set(id, { handle, at: this.#clock.now() + delay });
    return delay;
  }

  /** Clock time of the pending retry of `id`, if any. */
  retryAt(id: string): number | undefined {
    return this.#timers.get(id)?.at;
  }

  /** Times `id` was given up on (the cool-down doubles with each). */
  attempts(id: string): number {
    return this.#attempts.get(id) ?? 0;
  }

  /** A collector that stayed up long enough earns a fresh cool-down sequence. */
  reset(id: string): void {
    this.#attempts.delete(id);
  }

  cancel(id: string): void {
    const timer = this.#timers.get(id);
    if (timer !== undefined) this.#clock.clearTimeout(timer.handle);
    this.#timers.delete(id);
  }

  close(): void {
    for (const id of [...this.#timers.keys()]) this.cancel(id);
  }
}
