/** Signals used to stop a child: `graceful` first (if any), `force` after the grace period. */
export interface TerminateSignals {
  /** Polite stop signal, or null where the platform has none (the child is force-killed at once). */
  readonly graceful: NodeJS.Signals | null;
  /** Signal that cannot be caught. */
  readonly force: NodeJS.Signals;
}

/**
 * Stop signals per platform. POSIX: SIGTERM, then SIGKILL after the grace period. Windows has no
 * signals: every `child.kill()` calls TerminateProcess, so there is no graceful step.
 */
export function terminateSignals(platform: NodeJS.Platform): TerminateSignals {
  if (platform === 'win32') return { graceful: null, force: 'SIGKILL' };
  return { graceful: 'SIGTERM', force: 'SIGKILL' };
}
