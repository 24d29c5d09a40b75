import type { Clock } from '../src/index.js';

interface FakeTimer {
  readonly at: number;
  readonly callback: () => void;
}

/** A manual clock for tests: time moves only through `advance`, timers fire in deadline order. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();
  /** Every delay passed to `setTimeout`, in call order. */
  readonly delays: number[] = [];
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
    this.#timers.set(id, { at: this.#now + delayMs, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number' && this.#timers.delete(handle)) this.cleared++;
  }

  /** Number of armed timers. */
  get timerCount(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers at their own due time, earliest first. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let nextId: number | undefined;
      let next: FakeTimer | undefined;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= target && (next === undefined || timer.at < next.at)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === undefined || nextId === undefined) break;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = target;
  }

  /** Moves time to an absolute value (never backwards). */
  advanceTo(time: number): void {
    this.advance(Math.max(0, time - this.#now));
  }
}
