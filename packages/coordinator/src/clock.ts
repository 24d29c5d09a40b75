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

/** `performance.now()`, real timers, every timer `unref()`ed. */
export const systemClock: Clock = {
  now: () => globalThis.performance.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    if (isNodeTimeout(handle)) clearTimeout(handle);
  },
};
