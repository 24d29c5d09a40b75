import type { PendingTask } from '@daemoneye/failover';
import type { FlowHost } from './host.js';

/** What a task carries through the registry and failover. */
export interface TaskPayload {
  readonly kind: string;
  readonly body: Uint8Array;
  readonly deadlineUnixMs: bigint;
}
/** Connected, healthy collectors that take `kind`. */
export function eligible(owner: FlowHost, kind: string): string[] {
  const out: string[] = [];
  for (const id of owner.specs.keys()) {
    if (!owner.sessions.has(id) || !owner.health.isAlive(id)) continue;
    if (owner.broker.collector(id)?.taskKinds.includes(kind)) out.push(id);
  }
  return out;
}

/**
 * Places a balanced task: the balancer picks among the live, connected collectors that take its
 * kind, the broker sends; a send that fails excludes that collector and picks again. Returns the
 * collector, or undefined when none can take it.
 */
export function placeTask(
  owner: FlowHost,
  task: PendingTask<TaskPayload>,
  exclude: ReadonlySet<string>,
): string | undefined {
  const payload = task.payload;
  if (payload === undefined) return undefined;
  const excluded = new Set(exclude);
  for (;;) {
    const id = owner.balancer.trySelect({ taskKind: payload.kind, exclude: excluded });
    if (id === undefined) return undefined;
    excluded.add(id);
    if (!owner.health.isAlive(id) || !owner.sessions.has(id)) continue;
    try {
      owner.broker.assignTask(id, {
        taskId: task.taskId,
        correlationId: task.correlationId,
        taskKind: payload.kind,
        payload: payload.body,
        deadlineUnixMs: payload.deadlineUnixMs,
      });
    } catch {
      continue;
    }
    owner.balancer.taskStarted(id);
    return id;
  }
}
