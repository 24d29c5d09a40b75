import { FakeClock, mulberry32 } from '@daemoneye/test-utils';
import { LoadBalancer, type LoadBalancerOptions } from '../src/index.js';

/** A balancer with a fake clock and a seeded random source; slow start off unless given. */
export function harness(options: LoadBalancerOptions = {}, seed = 1) {
  const clock = new FakeClock(1_000_000);
  const random = mulberry32(seed);
  const balancer = new LoadBalancer({ slowStartMs: 0, clock, random, ...options });
  return { balancer, clock, random };
}

/** Counts of each id in a list of selections. */
export function tally(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

interface Running {
  readonly id: string;
  readonly startedAt: number;
  readonly endsAt: number;
}

/**
 * Simulates dispatch: one task every `arrivalMs`, each running `durationMs(id)` on the collector
 * it was given; `taskStarted`/`taskFinished` as tasks start and end, and a heartbeat from every
 * collector (its true active count) every `heartbeatMs`. Returns how many tasks each one got.
 */
export function simulate(
  balancer: LoadBalancer,
  clock: FakeClock,
  ids: readonly string[],
  params: {
    readonly tasks: number;
    readonly arrivalMs: number;
    readonly durationMs: (id: string) => number;
    readonly heartbeatMs: number;
  },
): Map<string, number> {
  const running: Running[] = [];
  const counts = new Map<string, number>(ids.map((id) => [id, 0]));
  let nextHeartbeat = clock.now();
  for (let n = 0; n < params.tasks; n++) {
    const now = clock.now();
    for (let i = running.length - 1; i >= 0; i--) {
      const task = running[i];
      if (task !== undefined && task.endsAt <= now) {
        running.splice(i, 1);
        balancer.taskFinished(task.id, task.endsAt - task.startedAt, true);
      }
    }
    if (now >= nextHeartbeat) {
      for (const id of ids) {
        const active = running.filter((t) => t.id === id).length;
        balancer.updateMetrics(id, { activeTasks: active, queueDepth: 0, cpu: 0.1 });
      }
      nextHeartbeat = now + params.heartbeatMs;
    }
    const id = balancer.select();
    balancer.taskStarted(id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
    running.push({ id, startedAt: now, endsAt: now + params.durationMs(id) });
    clock.advance(params.arrivalMs);
  }
  return counts;
}
