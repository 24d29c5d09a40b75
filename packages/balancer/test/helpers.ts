import { LoadBalancer, type LoadBalancerOptions } from '../src/index.js';

/** Deterministic PRNG (mulberry32): uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock that only moves when told to. */
export class FakeClock {
  #t: number;
  constructor(start = 1_000_000) {
    this.#t = start;
  }
  now(): number {
    return this.#t;
  }
  advance(ms: number): void {
    this.#t += ms;
  }
}

/** A balancer with a fake clock and a seeded random source; slow start off unless given. */
export function harness(options: LoadBalancerOptions = {}, seed = 1) {
  const clock = new FakeClock();
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
