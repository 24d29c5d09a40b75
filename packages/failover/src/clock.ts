/** Time source and timers, injected so tests can use fake time. Shared shape across packages. */
export interface Clock {
  /** Current time in milliseconds (any monotonic-enough origin). */
  now(): number;
  /** Calls `callback` once after `delayMs`; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, delayMs: number): unknown;
  /** Cancels a timer created by {@link Clock.setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: unknown): void;
}

function isTimeout(handle: unknown): handle is NodeJS.Timeout {
  return typeof handle === 'object' && handle !== null && 'unref' in handle;
}

/**
 * Real timers. `unref: true` for timers that only maintain state (they must not keep the
 * process alive); `false` for timers that do work the app waits for (restarts, kills).
 */
export function realClock(unref: boolean): Clock {
  return {
    now: () => performance.timeOrigin + performance.now(),
    setTimeout: (callback, delayMs) => {
      const handle = setTimeout(callback, delayMs);
      if (unref) handle.unref();
      return handle;
    },
    clearTimeout: (handle) => {
      if (isTimeout(handle)) clearTimeout(handle);
    },
  };
}
