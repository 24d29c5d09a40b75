import type { ResourceSample, ResourceSampler } from './resource-sampler.js';

/** Why the watchdog restarts a collector. */
export type WatchdogReason = 'over-memory' | 'over-cpu';

/** What the watchdog knows of one collector's limits. */
export interface WatchdogLimits {
  readonly maxRssBytes?: number | undefined;
  readonly maxCpu?: number | undefined;
}

/** The collector's own word, from its heartbeat. */
export interface ReportedUsage {
  readonly memoryBytes: number;
  readonly cpu: number;
}

/**
 * Seam for the resource watchdog (osquery's idea): on every heartbeat of a collector with limits,
 * the OS's view of its pid is sampled (the collector's own word counts too, never only it); after
 * `heartbeats` samples in a row over a limit, `verdict` names the reason. When
 * `@daemoneye/failover` ships its `ResourceWatchdog`, construct it here instead.
 */
export class ResourceWatchdog {
  readonly #sampler: ResourceSampler;
  readonly #heartbeats: number;
  readonly #over = new Map<string, { memory: number; cpu: number; busy: boolean }>();

  constructor(sampler: ResourceSampler, heartbeats: number) {
    this.#sampler = sampler;
    this.#heartbeats = heartbeats;
  }

  /** Judges one heartbeat; resolves with a reason once a limit was exceeded `heartbeats` times in a row. */
  async check(
    id: string,
    pid: number,
    limits: WatchdogLimits,
    reported: ReportedUsage,
  ): Promise<{ reason: WatchdogReason; sample: ResourceSample } | undefined> {
    if (limits.maxRssBytes === undefined && limits.maxCpu === undefined) return undefined;
    let state = this.#over.get(id);
    if (state === undefined) {
      state = { memory: 0, cpu: 0, busy: false };
      this.#over.set(id, state);
    }
    // One sample at a time per collector: a flood of heartbeats cannot pile up reads.
    if (state.busy) return undefined;
    state.busy = true;
    let os: ResourceSample | undefined;
    try {
      os = await this.#sampler(pid);
    } catch {
      os = undefined;
    } finally {
      state.busy = false;
    }
    if (this.#over.get(id) !== state) return undefined;
    const rssBytes = Math.max(os?.rssBytes ?? 0, finite(reported.memoryBytes));
    const cpu = os?.cpu ?? finite(reported.cpu);
    const sample: ResourceSample = { rssBytes, cpu };
    state.memory =
      limits.maxRssBytes !== undefined && rssBytes > limits.maxRssBytes ? state.memory + 1 : 0;
    state.cpu = limits.maxCpu !== undefined && cpu > limits.maxCpu ? state.cpu + 1 : 0;
    if (state.memory >= this.#heartbeats) {
      this.#over.delete(id);
      return { reason: 'over-memory', sample };
    }
    if (state.cpu >= this.#heartbeats) {
      this.#over.delete(id);
      return { reason: 'over-cpu', sample };
    }
    return undefined;
  }

  /** Forgets a collector (restarted or gone): its streak starts again. */
  forget(id: string): void {
    this.#over.delete(id);
  }
}

function finite(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
