/**
 * Logs a line at most once per key per interval; what it holds back is counted and said with the
 * next line of that key. The counters elsewhere stay exact; only the log is bounded.
 */
export class RateLimitedLog {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, { at: number; held: number }>();

  constructor(intervalMs = 10_000, now: () => number = () => performance.now()) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Calls `write` with the line (and how many were held back) unless `key` logged within the interval. */
  log(key: string, line: string, write: (line: string) => void): void {
    const now = this.#now();
    const entry = this.#keys.get(key);
    if (entry !== undefined && now - entry.at < this.#intervalMs) {
      entry.held++;
      return;
    }
    const held = entry?.held ?? 0;
    this.#keys.set(key, { at: now, held: 0 });
    // A bounded table: a flood of distinct keys cannot grow it without end.
    if (this.#keys.size > 1024) this.#keys.delete(this.#keys.keys().next().value ?? key);
    write(held > 0 ? `${line} (${held} more like it since the last one)` : line);
  }
}

/**
 * At most `limit` items per key per window; the rest are refused (and counted by the caller). Keeps
 * one collector's event flood from filling the sink's backlog and stopping the agent's output.
 */
export class WindowLimit {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, { since: number; count: number }>();

  constructor(limit: number, windowMs = 1000, now: () => number = () => performance.now()) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** True when one more item of `key` fits in its current window. */
  take(key: string): boolean {
    const now = this.#now();
    let entry = this.#keys.get(key);
    if (entry === undefined || now - entry.since >= this.#windowMs) {
      entry = { since: now, count: 0 };
      this.#keys.set(key, entry);
      if (this.#keys.size > 1024) this.#keys.delete(this.#keys.keys().next().value ?? key);
    }
    if (entry.count >= this.#limit) return false;
    entry.count++;
    return true;
  }
}
