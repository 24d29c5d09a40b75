import {
  FailoverManager,
  HealthTracker,
  type PendingTask,
  PendingTaskRegistry,
  Supervisor,
  type SupervisorOptions,
  type TaskRouter,
} from '../../src/index.js';
import type { Harness } from './harness.js';

/** Round-robin over connected, alive collectors; sends the task over the collector's socket. */
export class SocketRouter implements TaskRouter {
  readonly sent = new Map<string, string[]>();
  #next = 0;
  constructor(
    private readonly harness: Harness,
    private readonly health: HealthTracker,
    private readonly ids: readonly string[],
  ) {}

  route(task: PendingTask, exclude: ReadonlySet<string>): string | undefined {
    for (let i = 0; i < this.ids.length; i++) {
      const id = this.ids[(this.#next + i) % this.ids.length];
      if (id === undefined || exclude.has(id) || !this.health.isAlive(id)) continue;
      if (!this.harness.send(id, task.taskId)) continue;
      this.#next = (this.#next + i + 1) % this.ids.length;
      const list = this.sent.get(id) ?? [];
      list.push(task.taskId);
      this.sent.set(id, list);
      return id;
    }
    return undefined;
  }
}

/** The wiring an agent does, against a test harness instead of the IPC broker. */
export function createAgent(harness: Harness, ids: readonly string[], options: SupervisorOptions) {
  const health = new HealthTracker({ heartbeatIntervalMs: 100 });
  const registry = new PendingTaskRegistry();
  const router = new SocketRouter(harness, health, ids);
  const manager = new FailoverManager({ registry, router, health, placementTimeoutMs: 5000 });
  const supervisor = new Supervisor({ stopGraceMs: 500, readyTimeoutMs: 5000, ...options });

  supervisor.on('exit', (e) => health.processExited(e.id, e.code, e.signal));
  health.on('failed', (f) => {
    // A hung collector (no heartbeats) is still running: kill it, the supervisor restarts it.
    if ((f.reason === 'stale' || f.reason === 'phi') && supervisor.has(f.id)) supervisor.kill(f.id);
  });
  harness.on('hello', ({ id, pid }) => {
    if (supervisor.has(id)) supervisor.markReady(id, pid);
    health.register(id);
  });
  harness.on('heartbeat', (id) => health.heartbeat(id));
  harness.on('disconnect', (id) => health.connectionLost(id));
  harness.on('done', ({ id, taskId }) => registry.complete(taskId, id));

  const close = async () => {
    await supervisor.close();
    manager.close();
    health.close();
  };
  return { health, registry, router, manager, supervisor, close };
}
