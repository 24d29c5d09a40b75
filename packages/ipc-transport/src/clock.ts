/** Time source and timers, injectable so tests can use fake time. */
export interface Clock {
  /** Milliseconds; only differences are used. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

function isTimer(handle: unknown): handle is NodeJS.Timeout {
  return typeof handle === 'object' && handle !== null && 'hasRef' in handle;
}

/** Real time; timers are unref()ed so they never keep a process alive on their own. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    if (isTimer(handle)) clearTimeout(handle);
  },
};

/** Real time with ordinary (ref'd) timers: a pending reconnect keeps its process alive. */
export const refClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout(handle) {
    if (isTimer(handle)) clearTimeout(handle);
  },
};
