import { Heap } from 'mnemonist';
import type { Clock } from './clock.js';
import { MAX_TIMEOUT_MS } from './options.js';

/** A heap entry; `target` becomes null when its set completes, so the heap never pins it. */
export interface Deadline<T> {
  readonly at: number;
  target: T | null;
}

/** Keeps the heap from holding more than this many dead entries beyond twice the live ones. */
const HEAP_SLACK = 1024;

function compareDeadlines<T>(a: Deadline<T>, b: Deadline<T>): number {
  return a.at - b.at;
}

/**
 * Every pending set's deadline in one binary heap, served by one timer armed for the earliest.
 * Completed entries are skipped when they reach the top; the heap is compacted once it holds more
 * than twice the live entries plus 1024. Delays beyond 2^31-1 ms are split.
 */
export class Deadlines<T> {
  readonly #clock: Clock;
  readonly #expire: (target: T) => void;
  #heap = new Heap<Deadline<T>>(compareDeadlines);
  #handle: unknown;
  #armed = false;
  /**
   * The earliest deadline the armed timer serves (or its fire time when the delay was clamped).
   * Compared with deadlines rather than the rounded-up fire time, so that sets begun within the
   * same millisecond on a fractional clock do not re-arm the timer each time.
   */
  #armedFor = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(clock: Clock, expire: (target: T) => void) {
    this.#clock = clock;
    this.#expire = expire;
  }

  /** Adds a deadline; `live` is how many entries are still wanted (for compaction). */
  add(target: T, at: number, live: number): Deadline<T> {
    const entry: Deadline<T> = { at, target };
    if (this.#heap.size >= 2 * live + HEAP_SLACK) this.#compact();
    this.#heap.push(entry);
    if (!this.#armed || at < this.#armedFor) this.#arm();
    return entry;
  }

  /** Stops the timer for good and forgets every entry. */
  stop(): void {
    this.#stopped = true;
    this.#disarm();
    this.#heap.clear();
  }

  #arm(): void {
    let top = this.#heap.peek();
    while (top !== undefined && top.target === null) {
      this.#heap.pop();
      top = this.#heap.peek();
    }
    if (top === undefined || this.#stopped) {
      this.#disarm();
      return;
    }
    if (this.#armed && this.#armedFor <= top.at) return;
    this.#disarm();
    const now = this.#clock.now();
    const wanted = Math.max(0, Math.ceil(top.at - now));
    const delay = Math.min(wanted, MAX_TIMEOUT_MS);
    this.#armedFor = delay === wanted ? top.at : now + delay;
    this.#armed = true;
    this.#handle = this.#clock.setTimeout(this.#onTimer, delay);
  }

  #disarm(): void {
    if (!this.#armed) return;
    this.#clock.clearTimeout(this.#handle);
    this.#armed = false;
    this.#handle = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  readonly #onTimer = (): void => {
    this.#armed = false;
    this.#handle = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined) break;
      const target = top.target;
      if (target !== null && top.at > now) break;
      this.#heap.pop();
      if (target !== null) {
        top.target = null;
        this.#expire(target);
      }
    }
    this.#arm();
  };

  #compact(): void {
    const live: Deadline<T>[] = [];
    for (const entry of this.#heap.consume()) if (entry.target !== null) live.push(entry);
    this.#heap = Heap.from(live, compareDeadlines);
  }
}
