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
