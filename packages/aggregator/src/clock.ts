/** Injected time source; the same structural shape is used by every `@daemoneye/*` package. */
export interface Clock {
  /** Milliseconds; only differences matter, so a monotonic origin is fine. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
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
 * Default clock: `now()` is `performance.now()` (monotonic, milliseconds since process start,
 * not Unix time); timers are real `setTimeout`s that are `unref()`ed so they never keep the
 * process alive. It reads the globals at call time, so test fake timers that patch
 * `performance` and `setTimeout` drive it too.
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
