import type { EventEmitter } from 'node:events';
import { type HealthTracker, ResourceWatchdog, Supervisor } from '@daemoneye/failover';
import type { CollectorSpec, ResolvedOptions } from './options.js';
import { lineSplitter } from './reactions/line-splitter.js';
import { ReconnectGrace } from './reactions/reconnect-grace.js';
import type { Counters } from './status.js';
import type { CoordinatorEvents, CoordinatorState, KillReason } from './types.js';

/** Environment a collector process gets: the contract for collectors in any language. */
export const ENV_ENDPOINT = 'DAEMONEYE_ENDPOINT';
export const ENV_COLLECTOR_ID = 'DAEMONEYE_COLLECTOR_ID';
export const ENV_TOKEN_FILE = 'DAEMONEYE_TOKEN_FILE';

const MAX_STDERR_LINE = 4096;

/** What the process side reads of the coordinator. */
export interface ProcessHost {
  readonly specs: ReadonlyMap<string, CollectorSpec>;
  readonly counters: Counters;
  readonly health: HealthTracker;
  endpoint(): string;
  tokenFile(): string;
  connected(id: string): boolean;
  closed(): boolean;
  emit<K extends keyof CoordinatorEvents>(event: K, ...args: CoordinatorEvents[K]): void;
  callbackError(where: string, cause: unknown): void;
}

/**
 * The collector processes: the Supervisor (spawn, restarts with backoff, the give-up cool-down,
 * niceness), failover's ResourceWatchdog on the OS's view of each pid, the reconnect grace and
 * the kills, with their events.
 */
export class Processes {
  readonly supervisor: Supervisor;
  readonly #owner: ProcessHost;
  readonly #watchdog: ResourceWatchdog;
  readonly #grace: ReconnectGrace;
  readonly #graceMs: number;
  readonly #kills = new Map<string, KillReason>();

  constructor(owner: ProcessHost, o: ResolvedOptions) {
    this.#owner = owner;
    const f = o.failover;
    const clock = o.clock;
    this.supervisor = new Supervisor({
      stdio: ['ignore', 'ignore', 'pipe'],
      stopGraceMs: o.stopGraceMs,
      readyTimeoutMs: o.startTimeoutMs,
      ...(f.maxRestarts === undefined ? {} : { maxRestarts: f.maxRestarts }),
      ...(f.restartWindowMs === undefined ? {} : { restartWindowMs: f.restartWindowMs }),
      ...(f.backoff === undefined ? {} : { backoff: f.backoff }),
      ...(o.spawn === undefined ? {} : { spawn: o.spawn }),
      ...(o.niceness === undefined ? {} : { niceness: o.niceness }),
      giveUpCoolDownMs: o.giveUpCooldownMs,
      maxGiveUpCoolDownMs: o.giveUpMaxCooldownMs,
      clock,
      onCallbackError: (error) => owner.callbackError('supervisor', error),
    });
    this.#graceMs = o.reconnectGraceMs;
    this.#grace = new ReconnectGrace(clock, o.reconnectGraceMs);
    this.#watchdog = new ResourceWatchdog({
      intervalMs: o.heartbeatIntervalMs,
      consecutiveSamples: o.watchdogHeartbeats,
      ...(o.resourceSampler === undefined ? {} : { sampler: o.resourceSampler }),
      clock,
      onCallbackError: (error) => owner.callbackError('resource watchdog', error),
    });
    this.#wire();
  }

  /** Starts supervising `spec` with the collector contract in its environment. */
  spawn(spec: CollectorSpec): void {
    this.supervisor.start({
      id: spec.id,
      command: spec.command,
      ...(spec.args === undefined ? {} : { args: spec.args }),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
      ...(spec.niceness === undefined ? {} : { niceness: spec.niceness }),
      env: {
        ...spec.env,
        [ENV_ENDPOINT]: this.#owner.endpoint(),
        [ENV_COLLECTOR_ID]: spec.id,
        [ENV_TOKEN_FILE]: this.#owner.tokenFile(),
      },
    });
  }

  /** Kills the process of `id` (the Supervisor restarts it), counted and emitted. */
  kill(id: string, reason: KillReason, detail: string): void {
    const pid = this.supervisor.info(id)?.pid;
    if (!this.supervisor.kill(id, reason)) return;
    this.#kills.set(id, reason);
    this.#owner.counters.killed(reason);
    this.#owner.emit('collector-killed', { id, pid, reason, detail });
  }

  lastKill(id: string): KillReason | undefined {
    return this.#kills.get(id);
  }

  /** Admitted (again): no kill for a lost connection. */
  connected(id: string): void {
    this.#grace.end(id);
  }

  /** Connection lost while the process lives: killed after the reconnect grace unless it is back. */
  connectionLost(id: string): void {
    const proc = this.supervisor.info(id);
    if (proc?.state !== 'running' || proc.pid === undefined) return;
    const pid = proc.pid;
    this.#grace.begin(id, () => {
      if (this.#owner.connected(id) || this.supervisor.info(id)?.pid !== pid) return;
      this.kill(id, 'connection-lost', `no reconnect within ${this.#graceMs} ms`);
    });
  }

  /** SIGKILLs every collector process now, whatever its state. */
  forceKill(): void {
    for (const info of this.supervisor.list()) {
      if (info.pid === undefined) continue;
      try {
        process.kill(info.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  async close(): Promise<void> {
    this.#grace.close();
    this.#watchdog.close();
    await this.supervisor.close();
  }

  #wire(): void {
    const owner = this.#owner;
    this.#watchdog.on('over-limit', (e) => {
      if (owner.closed() || this.supervisor.info(e.id)?.pid !== e.pid) return;
      const unit = e.reason === 'over-memory' ? ' bytes rss' : ' of a core';
      this.kill(
        e.id,
        e.reason,
        `${e.observed}${unit} over ${e.limit} for ${e.samples} samples (the OS's view of pid ${e.pid})`,
      );
    });
    const sup = this.supervisor;
    sup.on('spawn', (e) => {
      this.#watchResources(e.id, e.pid);
      owner.emit('collector-spawned', { id: e.id, pid: e.pid, restarts: e.restarts });
      this.#pipeStderr(e.id, e.stderr);
    });
    sup.on('exit', (e) => {
      this.#grace.end(e.id);
      this.#watchdog.unwatch(e.id);
      if (e.expected || owner.closed()) return;
      owner.emit('collector-exited', { id: e.id, pid: e.pid, code: e.code, signal: e.signal });
      owner.health.processExited(e.id, e.code, e.signal);
    });
    sup.on('restart-scheduled', (e) => owner.emit('restart-scheduled', e));
    sup.on('start-timeout', (e) =>
      owner.emit('collector-start-timeout', { id: e.id, message: e.error.message }),
    );
    sup.on('spawn-error', (e) =>
      owner.emit('collector-spawn-error', { id: e.id, message: e.error.message }),
    );
    // Restart intensity reached: the Supervisor retries after its doubling cool-down.
    sup.on('gave-up', (e) => {
      if (owner.closed()) return;
      owner.counters.givenUp++;
      owner.emit('collector-given-up', {
        id: e.id,
        restarts: e.restarts,
        windowMs: e.windowMs,
        retryInMs: e.retryInMs,
      });
    });
    sup.on('give-up-retry', (e) => {
      if (!owner.closed()) owner.emit('collector-retry', { id: e.id, attempt: e.giveUps });
    });
  }

  /** The OS's view of the pid the Supervisor started, for a collector with limits. */
  #watchResources(id: string, pid: number): void {
    const spec = this.#owner.specs.get(id);
    if (spec === undefined || (spec.maxRssBytes === undefined && spec.maxCpu === undefined)) return;
    this.#watchdog.watch(id, pid, {
      ...(spec.maxRssBytes === undefined ? {} : { maxRssBytes: spec.maxRssBytes }),
      ...(spec.maxCpu === undefined ? {} : { maxCpu: spec.maxCpu }),
    });
  }

  #pipeStderr(id: string, stream: NodeJS.ReadableStream | null): void {
    if (stream === null) return;
    const split = lineSplitter(MAX_STDERR_LINE);
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of split(chunk)) this.#owner.emit('collector-stderr', { id, line });
    });
    stream.on('error', () => undefined);
  }
}

/** Resolves true when `id` is admitted, false at its first start timeout, give-up or close. */
export function waitStarted(
  events: EventEmitter<CoordinatorEvents>,
  id: string,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = (): void => done(false);
    const done = (value: boolean): void => {
      signal?.removeEventListener('abort', onAbort);
      events.off('collector-ready', onReady);
      events.off('collector-start-timeout', onFail);
      events.off('collector-given-up', onFail);
      events.off('state-change', onClose);
      resolve(value);
    };
    const onReady = (e: { id: string }): void => {
      if (e.id === id) done(true);
    };
    const onFail = (e: { id: string }): void => {
      if (e.id === id) done(false);
    };
    const onClose = (e: { to: CoordinatorState }): void => {
      if (e.to === 'closing' || e.to === 'closed') done(false);
    };
    events.on('collector-ready', onReady);
    events.on('collector-start-timeout', onFail);
    events.on('collector-given-up', onFail);
    events.on('state-change', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
  });
}
