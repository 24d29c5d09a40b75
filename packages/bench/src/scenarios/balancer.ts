import { createLoadBalancer, STRATEGIES, type StrategyName } from '@daemoneye/balancer';
import { distributionRow, type Row, type Target } from '../result.js';
import { randomInt, seededRandom } from '../rng.js';
import { iterations, type Scenario } from '../scenario.js';
import { nsToUs, Samples } from '../stats.js';

const SIZES = [8, 64, 1024] as const;

/** Targets of issue 4 (64: 2 us, 1024: 20 us) and the spec's 1 ms for the rest. */
function targetFor(size: number): Target {
  if (size === 64) return { kind: 'max', value: 2, on: 'p99' };
  if (size === 1024) return { kind: 'max', value: 20, on: 'p99' };
  return { kind: 'max', value: 1000, on: 'p99' };
}

/** Times `select()` alone; in-flight accounting and heartbeats happen between calls, untimed. */
export function measureSelect(
  strategy: StrategyName,
  size: number,
  warmup: number,
  measured: number,
  seed: number,
): Samples {
  const random = seededRandom(seed);
  const balancer = createLoadBalancer({ strategy, random: seededRandom(seed + 1), slowStartMs: 0 });
  const ids = Array.from({ length: size }, (_, i) => `c${i}`);
  for (const id of ids) {
    balancer.register(id);
    balancer.updateMetrics(id, {
      activeTasks: randomInt(random, 20),
      queueDepth: randomInt(random, 50),
      cpu: random(),
      memoryBytes: 50_000_000,
    });
  }
  const inFlight: string[] = [];
  const samples = new Samples(measured);
  for (let i = 0; i < warmup + measured; i++) {
    const start = process.hrtime.bigint();
    const id = balancer.select();
    const end = process.hrtime.bigint();
    if (i >= warmup) samples.push(nsToUs(end - start));
    balancer.taskStarted(id);
    inFlight.push(id);
    if (inFlight.length > 2 * size) {
      const done = inFlight.shift();
      if (done !== undefined) balancer.taskFinished(done, 5 + random() * 20, random() > 0.02);
    }
    if (i % 256 === 0) {
      const id2 = ids[randomInt(random, size)] ?? 'c0';
      balancer.updateMetrics(id2, {
        activeTasks: randomInt(random, 20),
        queueDepth: randomInt(random, 50),
        cpu: random(),
      });
    }
  }
  return samples;
}

/** The cost of the two hrtime reads around each call, to read small figures against. */
function timerOverheadUs(): number {
  const samples = new Samples(10_000);
  for (let i = 0; i < 10_000; i++) {
    const start = process.hrtime.bigint();
    const end = process.hrtime.bigint();
    samples.push(nsToUs(end - start));
  }
  return samples.summary().p50;
}

/** Balancer decision time per strategy at 8 / 64 / 1024 candidates. */
export const balancerScenario: Scenario = {
  name: 'balancer',
  description:
    'LoadBalancer.select() time per strategy at 8 / 64 / 1024 registered collectors with seeded random heartbeat metrics, in-flight accounting (taskStarted/taskFinished) between calls. Each call timed on its own with process.hrtime.bigint(); the timer overhead is included (see note).',
  async run(context) {
    const { warmup, measured } = iterations(context.quick, [5000, 100_000], [500, 5000]);
    const rows: Row[] = [];
    let seed = 7;
    for (const size of SIZES) {
      for (const strategy of STRATEGIES) {
        context.progress(`balancer: ${strategy} x ${size}`);
        const summary = measureSelect(strategy, size, warmup, measured, seed++).summary();
        rows.push(
          distributionRow(`${strategy} @ ${size}`, 'us', summary, { target: targetFor(size) }),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return {
      rows,
      notes: [
        `Timer overhead (two hrtime.bigint() reads) p50 = ${timerOverheadUs().toFixed(3)} us, included in every figure.`,
        "Targets: issue 4 (p99 <= 2 us at 64, <= 20 us at 1024); at 8 the spec's < 1 ms.",
      ],
    };
  },
};
