import { CoordinatorError } from './errors.js';
import { MAX_DELAY_MS } from './options.js';
import type { DispatchRequest, FanOutRequest } from './types.js';

const KIND = /^[a-z0-9_-]{1,64}$/;
const CORRELATION_ID = /^[A-Za-z0-9_.:/-]{1,128}$/;

/** What a request is checked against. */
export interface RequestContext {
  readonly closed: boolean;
  readonly specs: ReadonlyMap<string, unknown>;
  readonly taskTimeoutMs: number;
  used(correlationId: string): boolean;
}

/**
 * Checks a `fanOut` / `dispatch` request: `ERR_COORDINATOR_CLOSED` after `close()`,
 * `ERR_COORDINATOR_INVALID_REQUEST` for bad input, `ERR_COORDINATOR_UNKNOWN_COLLECTOR` for a
 * target that is not a collector. Returns the request and its timeout.
 */
export function checkRequest<R extends FanOutRequest | DispatchRequest>(
  request: R,
  fanOut: boolean,
  ctx: RequestContext,
): { request: R; timeoutMs: number } {
  if (ctx.closed) throw new CoordinatorError('ERR_COORDINATOR_CLOSED', 'coordinator is closed');
  const bad = (message: string): CoordinatorError =>
    new CoordinatorError('ERR_COORDINATOR_INVALID_REQUEST', message);
  if (typeof request !== 'object' || request === null) throw bad('request must be an object');
  if (typeof request.kind !== 'string' || !KIND.test(request.kind)) {
    throw bad(
      `request.kind must be 1..64 characters of [a-z0-9_-], got ${JSON.stringify(request.kind)}`,
    );
  }
  if (request.payload !== undefined && !(request.payload instanceof Uint8Array))
    throw bad('request.payload must be a Uint8Array');
  const timeoutMs = request.timeoutMs ?? ctx.taskTimeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_DELAY_MS) {
    throw bad(
      `request.timeoutMs must be an integer in 1..${MAX_DELAY_MS}, got ${String(timeoutMs)}`,
    );
  }
  if (request.signal !== undefined && !(request.signal instanceof AbortSignal))
    throw bad('request.signal must be an AbortSignal');
  const cid = request.correlationId;
  if (cid !== undefined && (typeof cid !== 'string' || !CORRELATION_ID.test(cid))) {
    throw bad('request.correlationId must be 1..128 characters of [A-Za-z0-9_.:/-]');
  }
  if (fanOut && 'targets' in request && request.targets !== undefined) {
    if (!Array.isArray(request.targets))
      throw bad('request.targets must be an array of collector ids');
    for (const id of request.targets) {
      if (!ctx.specs.has(id)) {
        throw new CoordinatorError(
          'ERR_COORDINATOR_UNKNOWN_COLLECTOR',
          `request.targets names ${JSON.stringify(id)}, which is not a collector of this coordinator`,
        );
      }
    }
    if (new Set(request.targets).size !== request.targets.length)
      throw bad('request.targets lists a collector twice');
  }
  if (cid !== undefined && ctx.used(cid)) {
    throw bad(`request.correlationId ${JSON.stringify(cid)} was already used`);
  }
  return { request, timeoutMs };
}

/** The last `capacity` correlation ids used, oldest forgotten first. */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Remembers `id` (forgetting the oldest beyond the capacity) and returns it. */
  take(id: string): string {
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next();
      if (oldest.done !== true) this.#ids.delete(oldest.value);
    }
    return id;
  }
}
