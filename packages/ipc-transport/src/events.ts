/**
 * Calls each listener in order, as `emit` does (pass `emitter.rawListeners(event)`, so `once`
 * listeners still remove themselves), but lets the caller catch a throw for the callback policy
 * instead of it unwinding through the library's own state changes.
 */
export function callListeners(
  listeners: readonly unknown[],
  thisArg: unknown,
  args: readonly unknown[],
): void {
  for (const listener of listeners) {
    if (typeof listener === 'function') Reflect.apply(listener, thisArg, args);
  }
}
