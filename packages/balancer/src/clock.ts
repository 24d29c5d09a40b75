/**
 * The house clock (the same contract in every `@daemoneye/*` package). The balancer only ever calls
 * `now()`: it sets no timers, so `setTimeout`/`clearTimeout` are part of the shape for one clock
 * to fit every library, and a clock with `now()` alone is accepted at run time.
 */
export interface Clock {
  /** Monotonic milliseconds; origin `performance.now()` (process start), never Unix time. */
  now(): number;
  /** Calls `callback` once after `delayMs` (0..2^31-1); returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, delayMs: number): unknown;
  /** Cancels a timer; unknown handles are ignored. */
  clearTimeout(handle: unknown): void;
}

function isNodeTimeout(handle: unknown): handle is NodeJS.Timeout {
  return (
    typeof handle === 'object' &&
    handle !== null &&
    'unref' in handle &&
    typeof handle.unref === 'function'
  );
}

/** `performance.now()`, real timers, every timer `unref()`ed (the balancer itself sets none). */
export const systemClock: Clock = Object.freeze({
  now: () => globalThis.performance.now(),
  setTimeout(callback: () => void, delayMs: number): unknown {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return handle;
  },
  clearTimeout(handle: unknown): void {
    if (isNodeTimeout(handle)) clearTimeout(handle);
  },
});
