import type { Heartbeat } from '@daemoneye/proto';
import type { HeartbeatMetrics } from './client-options.js';
import type { Clock } from './clock.js';

/** A finite, non-negative integer, or 0. */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? Math.min(Math.trunc(value), 0xffff_ffff)
    : 0;
}

/** The Heartbeat for some (possibly junk) metrics: counts clamped, cpu in 0..1, NaN as 0. */
export function heartbeatOf(metrics: HeartbeatMetrics): Heartbeat {
  const cpu = Number.isFinite(metrics.cpu) ? Math.min(1, Math.max(0, metrics.cpu)) : 0;
  const memory =
    typeof metrics.memoryBytes === 'number' &&
    Number.isFinite(metrics.memoryBytes) &&
    metrics.memoryBytes > 0
      ? Math.trunc(metrics.memoryBytes)
      : 0;
  return {
    activeTasks: count(metrics.activeTasks),
    queueDepth: count(metrics.queueDepth),
    cpu,
    memoryBytes: BigInt(memory),
  };
}

/** Sends a heartbeat now and then every interval, on the clock, until stopped. */
export class HeartbeatLoop {
  #timer: unknown;

  constructor(
    private readonly clock: Clock,
    private readonly beat: () => void,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    const tick = (): void => {
      this.beat();
      this.#timer = this.clock.setTimeout(tick, intervalMs);
    };
    tick();
  }

  stop(): void {
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
