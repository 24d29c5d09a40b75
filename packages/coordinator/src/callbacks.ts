import type { EventEmitter } from 'node:events';
import { CoordinatorError } from './errors.js';
import type { CoordinatorEvents } from './types.js';

/**
 * A user callback threw: wrapped in `ERR_COORDINATOR_CALLBACK_FAILED` and handed to `report`
 * (`onCallbackError`), or re-thrown on a microtask when there is none or it throws too.
 */
export function reportCallbackError(
  report: ((error: CoordinatorError) => void) | undefined,
  where: string,
  cause: unknown,
): void {
  const error = new CoordinatorError(
    'ERR_COORDINATOR_CALLBACK_FAILED',
    `${where} threw: ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );
  if (report !== undefined) {
    try {
      report(error);
      return;
    } catch {
      // Falls through to the uncaught path.
    }
  }
  queueMicrotask(() => {
    throw error;
  });
}

/** Emits to every listener; one that throws goes to `onError`, the others still run. */
export function emitGuarded<K extends keyof CoordinatorEvents>(
  emitter: EventEmitter<CoordinatorEvents>,
  event: K,
  args: CoordinatorEvents[K],
  onError: (where: string, cause: unknown) => void,
): void {
  for (const listener of emitter.rawListeners(event)) {
    try {
      Reflect.apply(listener, emitter, args);
    } catch (error) {
      onError(`${String(event)} listener`, error);
    }
  }
}
