interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A manual clock with the house `Clock` shape (`now`, `setTimeout`, `clearTimeout`): time moves only
 * through `advance`/`advanceTo`, timers fire at their own due time, earliest first, ties in the
 * order they were set. Structurally typed, so it fits every package's `Clock`.
 */
export class FakeClock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();
  /** Every delay passed to `setTimeout`, in call order. */
  readonly delays: number[] = [];
  /** How many armed timers `clearTimeout` removed. */
  cleared = 0;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.#nextId++;
    this.delays.push(delayMs);
    this.#timers.set(id, { id, at: this.#now + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number' && this.#timers.delete(handle)) this.cleared++;
  }

  /** Number of armed timers. */
  get timerCount(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in due order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const timer of this.#timers.values()) {
        if (
          timer.at <= target &&
          (next === undefined || timer.at < next.at || (timer.at === next.at && timer.id < next.id))
        ) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = target;
  }

  /**
   * Moves time forward by `ms` without firing anything, as when the event loop is blocked; the next
   * `advance` (even `advance(0)`) fires every overdue timer late, earliest first.
   */
  stall(ms: number): void {
    this.#now += Math.max(0, ms);
  }

  /** Moves time to an absolute value (never backwards). */
  advanceTo(time: number): void {
    this.advance(Math.max(0, time - this.#now));
  }
}
