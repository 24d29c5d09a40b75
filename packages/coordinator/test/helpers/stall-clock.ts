/**
 * A manual clock like test-utils' FakeClock, plus `stall(ms)`: time jumps without firing timers,
 * as when the event loop is blocked; the next `advance(0)` fires every overdue timer late, at once.
 */
export class StallClock {
  #now: number;
  #next = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 1000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.#timers.delete(handle);
  }

  stall(ms: number): void {
    this.#now += ms;
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let best: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (best === undefined || entry[1].at < best[1].at)) best = entry;
      }
      if (best === undefined) break;
      this.#timers.delete(best[0]);
      this.#now = Math.max(this.#now, best[1].at);
      best[1].callback();
    }
    this.#now = target;
  }
}
