import { EventEmitter } from 'node:events';
import { type CallbackErrorHandler, guard, isCallbackErrorHandler } from './callbacks.js';
import { type Clock, systemClock } from './clock.js';
import { FailoverError } from './errors.js';
import {
  clockOption,
  delayOption,
  functionOption,
  idArgument,
  isFunction,
  numberOption,
  objectArgument,
  readOptions,
} from './options.js';
import { platformSampler, type ResourceSample, type ResourceSampler } from './resource-sampler.js';

/** Limits of one collector; an absent limit is not checked. */
export interface ResourceLimits {
  /** Resident set size ceiling in bytes. Integer [1, 2^53-1]. */
  readonly maxRssBytes?: number | undefined;
  /** CPU ceiling as a fraction of one core between two samples (1 = one full core). (0, 1024]. */
  readonly maxCpu?: number | undefined;
}

/** Which limit a collector went over. */
export type ResourceVerdict = 'over-memory' | 'over-cpu';

/** Payload of `over-limit`: `consecutiveSamples` samples in a row were over `limit`. */
export interface ResourceLimitExceeded {
  readonly id: string;
  readonly pid: number;
  readonly reason: ResourceVerdict;
  /** The last observed value: bytes for `over-memory`, a fraction of a core for `over-cpu`. */
  readonly observed: number;
  readonly limit: number;
  readonly samples: number;
}

/** Snapshot of one watched collector. */
export interface ResourceUsage {
  readonly id: string;
  readonly pid: number;
  readonly limits: ResourceLimits;
  /** Latest resident set size in bytes; undefined before the first sample. */
  readonly rssBytes: number | undefined;
  /** CPU fraction of one core over the last sample period; undefined before two samples. */
  readonly cpu: number | undefined;
  /** Samples in a row over `maxRssBytes` / `maxCpu`. */
  readonly overMemorySamples: number;
  readonly overCpuSamples: number;
  readonly samples: number;
}

/** Typed events of {@link ResourceWatchdog}. */
export type ResourceWatchdogEvents = {
  'over-limit': [event: ResourceLimitExceeded];
  /** The sampler failed for this pid (`ERR_FAILOVER_SAMPLE_FAILED`, cause kept); it is retried. */
  'sample-error': [event: { id: string; pid: number; error: FailoverError }];
  /** The pid no longer exists; the collector is no longer watched. */
  'pid-gone': [event: { id: string; pid: number }];
};

/** Counters of {@link ResourceWatchdog}. */
export interface ResourceWatchdogStats {
  readonly watched: number;
  readonly samples: number;
  readonly sampleErrors: number;
  readonly overMemory: number;
  readonly overCpu: number;
  /** Timer ticks skipped because the previous round was still running. */
  readonly skippedRounds: number;
}

/** Options of {@link ResourceWatchdog}. */
export interface ResourceWatchdogOptions {
  /** Time between sampling rounds, in ms; 0: no timer, the app calls `sampleNow()`. Default 5 000. */
  intervalMs?: number | undefined;
  /** Samples in a row over a limit before `over-limit`. Default 3; integer [1, 1000]. */
  consecutiveSamples?: number | undefined;
  /** Reads a pid's usage. Default `platformSampler(process.platform)` (required where there is none). */
  sampler?: ResourceSampler | undefined;
  /** Time source. Default `systemClock`. */
  clock?: Clock | undefined;
  /** Receives `ERR_FAILOVER_CALLBACK_FAILED` when a listener throws. Default: re-thrown on a microtask. */
  onCallbackError?: CallbackErrorHandler | undefined;
}

const DEFAULTS = { intervalMs: 5_000, consecutiveSamples: 3 } as const;
const OPTION_KEYS = ['intervalMs', 'consecutiveSamples', 'sampler', 'clock', 'onCallbackError'];
const LIMIT_KEYS = ['maxRssBytes', 'maxCpu'];

interface Watch {
  readonly id: string;
  readonly pid: number;
  readonly limits: ResourceLimits;
  last: { sample: ResourceSample; at: number } | undefined;
  cpu: number | undefined;
  overMemory: number;
  overCpu: number;
  samples: number;
}

/**
 * Watches collectors' resource use as the OS sees it (like osquery's watchdog): a collector over
 * `maxRssBytes` or `maxCpu` for `consecutiveSamples` samples in a row is reported `over-limit`
 * with reason `over-memory` / `over-cpu`, then its count starts again. It never kills anything:
 * the app decides (e.g. `supervisor.kill(id, 'over-memory')`).
 */
export class ResourceWatchdog extends EventEmitter<ResourceWatchdogEvents> {
  readonly #intervalMs: number;
  readonly #consecutive: number;
  readonly #sampler: ResourceSampler;
  readonly #clock: Clock;
  readonly #onCallbackError: CallbackErrorHandler | undefined;
  readonly #watches = new Map<string, Watch>();
  #timer: unknown;
  #round: Promise<void> | undefined;
  #closed = false;
  #samples = 0;
  #sampleErrors = 0;
  #overMemory = 0;
  #overCpu = 0;
  #skippedRounds = 0;

  constructor(options?: ResourceWatchdogOptions) {
    super();
    const o = readOptions('options', options, OPTION_KEYS);
    this.#intervalMs = delayOption('options.intervalMs', o.intervalMs, DEFAULTS.intervalMs);
    this.#consecutive = numberOption(
      'options.consecutiveSamples',
      o.consecutiveSamples,
      DEFAULTS.consecutiveSamples,
      { min: 1, max: 1000, integer: true },
    );
    const sampler =
      functionOption('options.sampler', o.sampler, isFunction<ResourceSampler>) ??
      platformSampler(process.platform);
    if (sampler === undefined) {
      throw new TypeError(
        `options.sampler must be a function on ${process.platform} (no built-in sampler), got undefined`,
      );
    }
    this.#sampler = sampler;
    this.#clock = clockOption('options.clock', o.clock, systemClock);
    this.#onCallbackError = functionOption(
      'options.onCallbackError',
      o.onCallbackError,
      isCallbackErrorHandler,
    );
  }

  /** Watches `pid` as collector `id` with `limits`, replacing an earlier watch of `id`. */
  watch(id: string, pid: number, limits: ResourceLimits): void {
    idArgument('id', id);
    if (!Number.isInteger(pid) || pid <= 0) {
      throw new TypeError(`pid must be a positive integer, got ${String(pid)}`);
    }
    const l = readOptions('limits', objectArgument('limits', limits), LIMIT_KEYS);
    const maxRssBytes =
      l.maxRssBytes === undefined
        ? undefined
        : numberOption('limits.maxRssBytes', l.maxRssBytes, 0, {
            min: 1,
            max: Number.MAX_SAFE_INTEGER,
            integer: true,
          });
    const maxCpu =
      l.maxCpu === undefined
        ? undefined
        : numberOption('limits.maxCpu', l.maxCpu, 0, { min: 0, max: 1024, minExclusive: true });
    if (this.#closed) return;
    this.#watches.set(id, {
      id,
      pid,
      limits: { maxRssBytes, maxCpu },
      last: undefined,
      cpu: undefined,
      overMemory: 0,
      overCpu: 0,
      samples: 0,
    });
    this.#arm();
  }

  /** Stops watching `id`. True if it was watched. */
  unwatch(id: string): boolean {
    const removed = this.#watches.delete(id);
    if (this.#watches.size === 0) this.#disarm();
    return removed;
  }

  /** Snapshot of one watched collector, or undefined. */
  get(id: string): ResourceUsage | undefined {
    const w = this.#watches.get(id);
    if (w === undefined) return undefined;
    return {
      id: w.id,
      pid: w.pid,
      limits: w.limits,
      rssBytes: w.last?.sample.rssBytes,
      cpu: w.cpu,
      overMemorySamples: w.overMemory,
      overCpuSamples: w.overCpu,
      samples: w.samples,
    };
  }

  /** Snapshots of every watched collector. */
  list(): ResourceUsage[] {
    const result: ResourceUsage[] = [];
    for (const id of this.#watches.keys()) {
      const usage = this.get(id);
      if (usage !== undefined) result.push(usage);
    }
    return result;
  }

  /** Samples every watched pid now; resolves when the round is done (one round at a time). */
  sampleNow(): Promise<void> {
    this.#round ??= this.#sampleAll().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  /** Counters. */
  stats(): ResourceWatchdogStats {
    return {
      watched: this.#watches.size,
      samples: this.#samples,
      sampleErrors: this.#sampleErrors,
      overMemory: this.#overMemory,
      overCpu: this.#overCpu,
      skippedRounds: this.#skippedRounds,
    };
  }

  /** Stops the timer and forgets every watch; a round in flight reports nothing. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#disarm();
    this.#watches.clear();
  }

  #arm(): void {
    if (this.#closed || this.#intervalMs === 0 || this.#timer !== undefined) return;
    if (this.#watches.size === 0) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#round !== undefined) {
        this.#skippedRounds++;
        this.#arm();
        return;
      }
      void this.sampleNow().then(() => this.#arm());
    }, this.#intervalMs);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #sampleAll(): Promise<void> {
    const watches = [...this.#watches.values()];
    await Promise.all(watches.map((w) => this.#sampleOne(w)));
  }

  async #sampleOne(w: Watch): Promise<void> {
    let sample: ResourceSample | undefined;
    try {
      sample = await this.#sampler(w.pid);
    } catch (cause) {
      if (this.#watches.get(w.id) !== w) return;
      this.#sampleErrors++;
      const detail = cause instanceof Error ? cause.message : String(cause);
      const error = new FailoverError(
        'ERR_FAILOVER_SAMPLE_FAILED',
        `cannot sample collector ${w.id} (pid ${w.pid}): ${detail}`,
        { cause },
      );
      this.#emit('sample-error', () => this.emit('sample-error', { id: w.id, pid: w.pid, error }));
      return;
    }
    if (this.#watches.get(w.id) !== w) return;
    if (sample === undefined) {
      this.#watches.delete(w.id);
      if (this.#watches.size === 0) this.#disarm();
      this.#emit('pid-gone', () => this.emit('pid-gone', { id: w.id, pid: w.pid }));
      return;
    }
    const now = this.#clock.now();
    this.#samples++;
    w.samples++;
    if (w.last !== undefined && now > w.last.at) {
      w.cpu = Math.max(0, sample.cpuTimeMs - w.last.sample.cpuTimeMs) / (now - w.last.at);
    }
    w.last = { sample, at: now };
    const { maxRssBytes, maxCpu } = w.limits;
    if (maxRssBytes !== undefined) {
      w.overMemory = sample.rssBytes > maxRssBytes ? w.overMemory + 1 : 0;
      if (w.overMemory >= this.#consecutive) {
        w.overMemory = 0;
        this.#overMemory++;
        this.#report(w, 'over-memory', sample.rssBytes, maxRssBytes);
      }
    }
    if (maxCpu !== undefined && w.cpu !== undefined && this.#watches.get(w.id) === w) {
      w.overCpu = w.cpu > maxCpu ? w.overCpu + 1 : 0;
      if (w.overCpu >= this.#consecutive) {
        w.overCpu = 0;
        this.#overCpu++;
        this.#report(w, 'over-cpu', w.cpu, maxCpu);
      }
    }
  }

  #report(w: Watch, reason: ResourceVerdict, observed: number, limit: number): void {
    const event: ResourceLimitExceeded = {
      id: w.id,
      pid: w.pid,
      reason,
      observed,
      limit,
      samples: this.#consecutive,
    };
    this.#emit('over-limit', () => this.emit('over-limit', event));
  }

  #emit(event: string, fn: () => void): void {
    guard(this.#onCallbackError, `a ResourceWatchdog '${event}' listener`, fn);
  }
}
