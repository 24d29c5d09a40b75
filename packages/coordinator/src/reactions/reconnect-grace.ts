import type { Clock } from '../clock.js';

/**
 * Connection lost while the process lives: the collector gets `graceMs` to reconnect; after that
 * `expire(id)` runs (the coordinator kills the process, the Supervisor restarts it).
 */
export class ReconnectGrace {
  readonly #clock: Clock;
  readonly #graceMs: number;
  readonly #timers = new Map<string, unknown>();

  constructor(clock: Clock, graceMs: number) {
    this.#clock = clock;
    this.#graceMs = graceMs;
  }

  /** Starts the grace of `id` (restarts it if one runs). */
  begin(id: string, expire: (id: string) => void): void {
    this.end(id);
    this.#timers.set(
      id,
      this.#clock.setTimeout(() => {
        this.#timers.delete(id);
        expire(id);
      }, this.#graceMs),
    );
  }

  /** The collector is back, or its process is gone: no kill. */
  end(id: string): void {
    const handle = this.#timers.get(id);
    if (handle === undefined) return;
    this.#clock.clearTimeout(handle);
    this.#timers.delete(id);
  }

  has(id: string): boolean {
    return this.#timers.has(id);
  }

  close(): void {
    for (const id of [...this.#timers.keys()]) this.end(id);
  }
}
