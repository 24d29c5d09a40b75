/** Injected time source; the same contract in every `@daemoneye/*` package. */
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

/**
 * The default clock: `now()` is `performance.now()`; timers are real `setTimeout`s, every one
 * `unref()`ed so it never keeps the process alive. It reads the globals at call time, so test fake
 * timers that patch `performance` and `setTimeout` drive it too.
 */
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
