import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type AggregatedResult as RawResult, ResultAggregator } from '@daemoneye/aggregator';
import { LoadBalancer } from '@daemoneye/balancer';
import {
  FailoverManager,
  type FailureReason,
  HealthTracker,
  type PendingTask,
  PendingTaskRegistry,
  Supervisor,
} from '@daemoneye/failover';
import {
  Broker,
  type CollectorInfo,
  isTransportError,
  normalizePattern,
  type TopicMessage,
  TopicTrie,
} from '@daemoneye/ipc-transport';
import type { DetectionResult, TaskResult } from '@daemoneye/proto';
import { admit } from './admission.js';
import { CoordinatorError } from './errors.js';
import {
  type CollectorSpec,
  type CoordinatorOptions,
  MAX_DELAY_MS,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { GiveUpRetry } from './reactions/give-up-retry.js';
import { LoopLagMonitor } from './reactions/loop-lag.js';
import { ReconnectGrace } from './reactions/reconnect-grace.js';
import { osResourceSampler } from './reactions/resource-sampler.js';
import { ResourceWatchdog } from './reactions/resource-watchdog.js';
import { type SelfHealth, selfHealth } from './reactions/self-health.js';
import { emptyResult, openRecord, placeholderOf, type SetRecord, toResult } from './sets.js';
import { buildStatus, Counters } from './status.js';
import type {
  AggregatedResult,
  CoordinatorEvents,
  CoordinatorMessage,
  CoordinatorState,
  CoordinatorStatus,
  DispatchRequest,
  FanOutRequest,
  KillReason,
} from './types.js';

/** Environment a collector process gets: the contract for collectors in any language. */
export const ENV_ENDPOINT = 'DAEMONEYE_ENDPOINT';
export const ENV_COLLECTOR_ID = 'DAEMONEYE_COLLECTOR_ID';
export const ENV_TOKEN_FILE = 'DAEMONEYE_TOKEN_FILE';

/** What a task carries through the registry and failover. */
interface TaskPayload {
  readonly kind: string;
  readonly body: Uint8Array;
  readonly deadlineUnixMs: bigint;
}

/** What `start()` resolves with. */
export interface StartReport {
  /** Collectors that said Hello and were admitted. */
  readonly ready: readonly string[];
  /** Collectors that did not (start timeout, spawn error, given up). */
  readonly missing: readonly string[];
}

/** A control request (from a client of `controlKind`) and the way to answer it. */
export interface ControlRequest {
  readonly topic: string;
  readonly clientId: string;
  readonly payload: Uint8Array;
}

const KIND = /^[a-z0-9_-]{1,64}$/;
const MAX_STDERR_LINE = 4096;
const EMPTY = new Uint8Array();

interface Subscriber {
  readonly handler: (message: CoordinatorMessage) => void;
}

/**
 * The DaemonEye coordination flows as one object: admission, fan-out, balanced dispatch with
 * failover, events by topic, failure reactions, restarts and status. Never logs, exits or installs
 * signal handlers; everything is a return value, a typed event or a typed error.
 */
export class Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly #o: ResolvedOptions;
  readonly #broker: Broker;
  readonly #aggregator: ResultAggregator<DetectionResult>;
  readonly #balancer: LoadBalancer;
  readonly #health: HealthTracker;
  readonly #registry: PendingTaskRegistry<TaskPayload>;
  readonly #failover: FailoverManager<TaskPayload>;
  readonly #supervisor: Supervisor;
  readonly #grace: ReconnectGrace;
  readonly #giveUp: GiveUpRetry;
  readonly #lag: LoopLagMonitor;
  readonly #watchdog: ResourceWatchdog;
  readonly #counters = new Counters();
  readonly #specs = new Map<string, CollectorSpec>();
  /** Collector id -> broker session admitted for it. */
  readonly #sessions = new Map<string, string>();
  readonly #controls = new Map<string, string>();
  readonly #everReady = new Set<string>();
  readonly #sets = new Map<string, SetRecord>();
  readonly #taskStartedAt = new Map<string, number>();
  /** Dispatched tasks parked before any placement: task id -> their set's placeholder. */
  readonly #unplaced = new Map<string, string>();
  readonly #failures = new Map<string, FailureReason>();
  readonly #kills = new Map<string, KillReason>();
  readonly #self = new Map<string, { health: SelfHealth; message: string }>();
  readonly #resultsBy = new Map<string, number>();
  readonly #subscribers = new TopicTrie<Subscriber>();
  #state: CoordinatorState = 'idle';
  #closing: Promise<void> | undefined;
  #starting: Promise<StartReport> | undefined;

  constructor(options: CoordinatorOptions) {
    super();
    const o = resolveOptions(options);
    this.#o = o;
    const clock = o.clock;
    const f = o.failover;
    this.#broker = new Broker({
      ...definedOnly(o.transport),
      ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      clock,
    });
    this.#aggregator = new ResultAggregator<DetectionResult>({
      ...definedOnly(o.aggregation),
      clock,
      timeoutMs: o.taskTimeoutMs,
      onComplete: (raw) => this.#onAggregated(raw),
      onCallbackError: (error) => this.#callbackError('aggregator', error),
    });
    this.#balancer = new LoadBalancer({ ...o.balancing, clock });
    this.#health = new HealthTracker({
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      staleAfterIntervals: o.staleAfterIntervals,
      suspectAfterIntervals: Math.min(1.5, o.staleAfterIntervals),
      ...(f.phi === undefined ? {} : { phi: f.phi }),
      clock,
    });
    this.#registry = new PendingTaskRegistry<TaskPayload>({
      clock,
      ...(f.maxPendingTasks === undefined ? {} : { maxPendingTasks: f.maxPendingTasks }),
    });
    // Before the FailoverManager's own listener: a set that a failure completes sees the reason.
    this.#registry.on('task-failed', (task, reason) => this.#onTaskFailed(task, reason));
    this.#registry.on('task-completed', (task) => this.#taskStartedAt.delete(task.taskId));
    this.#failover = new FailoverManager<TaskPayload>({
      registry: this.#registry,
      router: { route: (task, exclude) => this.#route(task, exclude) },
      subscriptions: { removeSubscriptions: (id) => void this.#broker.removeSubscriptions(id) },
      aggregator: {
        collectorFailed: (id) => void this.#aggregator.collectorFailed(id),
        reassign: (correlationId, from, to) => this.#reassign(correlationId, from, to),
      },
      ...(f.maxRetries === undefined ? {} : { maxRetries: f.maxRetries }),
      placementTimeoutMs: f.placementTimeoutMs ?? 10_000,
      ...(f.parkRetryIntervalMs === undefined
        ? {}
        : { parkRetryIntervalMs: f.parkRetryIntervalMs }),
      clock,
    });
    this.#supervisor = new Supervisor({
      stdio: ['ignore', 'ignore', 'pipe'],
      stopGraceMs: o.stopGraceMs,
      readyTimeoutMs: o.startTimeoutMs,
      ...(f.maxRestarts === undefined ? {} : { maxRestarts: f.maxRestarts }),
      ...(f.restartWindowMs === undefined ? {} : { restartWindowMs: f.restartWindowMs }),
      ...(f.backoff === undefined ? {} : { backoff: f.backoff }),
      ...(o.spawn === undefined ? {} : { spawn: o.spawn }),
      clock,
    });
    this.#grace = new ReconnectGrace(clock, o.reconnectGraceMs);
    this.#giveUp = new GiveUpRetry(clock, o.giveUpCooldownMs, o.giveUpMaxCooldownMs);
    this.#lag = new LoopLagMonitor(
      clock,
      Math.max(50, Math.min(500, Math.floor(o.heartbeatIntervalMs / 2))),
      o.loopLagToleranceMs,
    );
    this.#watchdog = new ResourceWatchdog(
      o.resourceSampler ?? osResourceSampler(),
      o.watchdogHeartbeats,
    );
    for (const spec of o.collectors) this.#specs.set(spec.id, spec);
    this.#wire();
  }

  /** Lifecycle: `idle -> starting -> running -> closing -> closed`. */
  get state(): CoordinatorState {
    return this.#state;
  }

  /** The socket path or pipe name collectors connect to. */
  get endpoint(): string {
    return this.#broker.endpoint.path;
  }

  /** The token file collectors read (`DAEMONEYE_TOKEN_FILE`). */
  get tokenFile(): string {
    return this.#broker.endpoint.tokenPath;
  }

  /**
   * Listens, spawns every collector and resolves when each said Hello or its start timeout passed
   * (or it was given up on, or `signal` aborted: the wait ends, the collectors keep starting). Rejects with the broker's error (e.g. `ERR_ENDPOINT_IN_USE`) when it
   * cannot listen, `ERR_COORDINATOR_CLOSED` after `close()`. Every call returns the same promise.
   */
  start(options: { signal?: AbortSignal } = {}): Promise<StartReport> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new CoordinatorError('ERR_COORDINATOR_CLOSED', 'coordinator is closed'),
      );
    }
    this.#starting ??= this.#start(options.signal);
    return this.#starting;
  }

  async #start(signal: AbortSignal | undefined): Promise<StartReport> {
    this.#setState('starting', 'start');
    try {
      await this.#broker.listen();
    } catch (error) {
      if (this.#state === 'starting') this.#setState('closed', 'listen failed');
      throw error;
    }
    if (this.#closing !== undefined)
      throw new CoordinatorError('ERR_COORDINATOR_CLOSED', 'closed while starting');
    this.#emit('listening', { endpoint: this.endpoint });
    this.#lag.start();
    const waits = [...this.#specs.values()].map((spec) => {
      const wait = this.#waitStarted(spec.id, signal);
      this.#spawn(spec);
      return wait;
    });
    const outcomes = await Promise.all(waits);
    if (this.#state === 'starting') this.#setState('running', 'collectors started');
    const ready = [...this.#specs.keys()].filter((_, i) => outcomes[i] === true);
    const missing = [...this.#specs.keys()].filter((_, i) => outcomes[i] !== true);
    return { ready, missing };
  }

  /**
   * Sends one task per target (default: every connected, healthy collector that takes `kind`) in
   * one correlation set. Resolves for every outcome; rejects only on bad input or after `close()`.
   */
  fanOut(request: FanOutRequest): Promise<AggregatedResult> {
    try {
      const checked = this.#check(request, true);
      return this.#fanOut(checked.request, checked.timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * One balanced task with failover, the retry budget and parking; its set follows the task.
   * Resolves for every outcome; rejects only on bad input or after `close()`.
   */
  dispatch(request: DispatchRequest): Promise<AggregatedResult> {
    try {
      const checked = this.#check(request, false);
      return this.#dispatch(checked.request, checked.timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Subscribes an in-process handler to collectors' `events.#` Publishes and to every aggregated
   * result (published on `results.<kind>`) by pattern (`+` one level, `#` the rest). Returns the
   * unsubscribe function. Throws `ERR_COORDINATOR_INVALID_REQUEST` for a bad pattern.
   */
  subscribe(pattern: string, handler: (message: CoordinatorMessage) => void): () => void {
    if (typeof handler !== 'function') {
      throw new CoordinatorError('ERR_COORDINATOR_INVALID_REQUEST', 'handler must be a function');
    }
    let canonical: string;
    try {
      canonical = normalizePattern(pattern);
    } catch (cause) {
      throw new CoordinatorError(
        'ERR_COORDINATOR_INVALID_REQUEST',
        `invalid pattern ${JSON.stringify(pattern)}`,
        { cause },
      );
    }
    const subscriber: Subscriber = { handler };
    this.#subscribers.add(canonical, subscriber);
    return () => void this.#subscribers.remove(canonical, subscriber);
  }

  /**
   * Answers control clients (Hello kind `controlKind`, authenticated by the token) on `topic`:
   * `handler`'s bytes go back to the client on `<topic>.reply`. Returns the function that removes it.
   */
  handleControl(topic: string, handler: (request: ControlRequest) => Uint8Array): () => void {
    return this.#broker.subscribe(topic, (message) => this.#onControl(message, handler));
  }

  /** The snapshot `status --json` prints. */
  status(): CoordinatorStatus {
    return buildStatus({
      state: this.#state,
      endpoint: this.endpoint,
      now: this.#o.clock.now(),
      specs: [...this.#specs.values()],
      supervisor: this.#supervisor,
      health: this.#health,
      balancer: this.#balancer,
      registry: this.#registry,
      aggregator: this.#aggregator,
      counters: this.#counters,
      connected: (id) => this.#sessions.has(id),
      inFlight: (id) => this.#registry.countFor(id),
      self: (id) => this.#self.get(id),
      results: (id) => this.#resultsBy.get(id) ?? 0,
      retryAt: (id) => this.#giveUp.retryAt(id),
      lastKill: (id) => this.#kills.get(id),
      maxLoopLagMs: this.#lag.maxLagMs,
    });
  }

  /** SIGKILLs every collector process now (a second signal in the app), whatever its state. */
  forceKill(): void {
    for (const info of this.#supervisor.list()) {
      if (info.pid === undefined) continue;
      try {
        process.kill(info.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /**
   * Graceful stop: pending sets end `shutdown`, every accepted task ends, the collectors are
   * stopped (SIGTERM, SIGKILL after `stopGraceMs`), the endpoint files removed. Same promise every call.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const from = this.#state;
    if (from !== 'closed') this.#setState('closing', 'close');
    this.#lag.stop();
    this.#grace.close();
    this.#giveUp.close();
    this.#aggregator.close();
    this.#failover.close();
    for (const spec of this.#specs.values()) {
      for (const taskId of this.#registry.taskIdsOf(spec.id))
        this.#registry.fail(taskId, 'coordinator-closed');
    }
    for (const taskId of [...this.#unplaced.keys()])
      this.#registry.fail(taskId, 'coordinator-closed');
    await this.#supervisor.close();
    this.#health.close();
    await this.#broker.close();
    if (this.#state !== 'closed') this.#setState('closed', 'closed');
  }

  // ---- wiring ---------------------------------------------------------------------------------

  #wire(): void {
    const broker = this.#broker;
    broker.on('collector-connected', (info) => this.#onConnected(info));
    broker.on('collector-disconnected', (info, reason) => this.#onDisconnected(info, reason));
    broker.on('heartbeat', (id, beat) => {
      if (!this.#sessions.has(id)) return;
      this.#health.heartbeat(id);
      const self = selfHealth(beat);
      this.#self.set(id, self);
      this.#balancer.updateMetrics(id, {
        activeTasks: beat.activeTasks,
        queueDepth: beat.queueDepth,
        cpu: beat.cpu,
        memoryBytes: beat.memoryBytes,
      });
      this.#watch(id, Number(beat.memoryBytes), beat.cpu);
    });
    broker.on('task-result', (id, result) => this.#onTaskResult(id, result));
    broker.on('protocol-error', (error, id) => {
      this.#counters.transport(error.code);
      this.#emit('transport-error', {
        type: 'protocol-error',
        code: error.code,
        collectorId: id,
        message: error.message,
      });
    });
    broker.on('connection-refused', (error) => {
      this.#counters.transport(error.code);
      this.#emit('transport-error', {
        type: 'connection-refused',
        code: error.code,
        collectorId: undefined,
        message: error.message,
      });
    });
    broker.subscribe('events.#', (message) => this.#onEvent(message));

    this.#health.on('failed', (failure) => this.#onHealthFailed(failure.id, failure.reason));
    this.#failover.on('failover', (report) => this.#emit('failover', report));
    this.#failover.on('task-placed', (task, from, to) => {
      const placeholder = this.#unplaced.get(task.taskId);
      if (from !== undefined || placeholder === undefined) return;
      this.#unplaced.delete(task.taskId);
      this.#sets.get(task.correlationId)?.placeholders.set(placeholder, to);
      this.#aggregator.reassign(task.correlationId, placeholder, to);
    });
    this.#failover.on('task-parked', (task, from) => {
      const record = this.#sets.get(task.correlationId);
      if (record !== undefined && from !== undefined)
        record.placeholders.set(placeholderOf(task.taskId), from);
    });

    const sup = this.#supervisor;
    sup.on('spawn', (e) => {
      this.#watchdog.forget(e.id);
      this.#emit('collector-spawned', { id: e.id, pid: e.pid, restarts: e.restarts });
      this.#pipeStderr(e.id, e.stderr);
    });
    sup.on('exit', (e) => {
      this.#grace.end(e.id);
      if (e.expected || this.#closing !== undefined) return;
      this.#emit('collector-exited', { id: e.id, pid: e.pid, code: e.code, signal: e.signal });
      this.#health.processExited(e.id, e.code, e.signal);
    });
    sup.on('restart-scheduled', (e) => this.#emit('restart-scheduled', e));
    sup.on('start-timeout', (e) =>
      this.#emit('collector-start-timeout', { id: e.id, message: e.error.message }),
    );
    sup.on('spawn-error', (e) =>
      this.#emit('collector-spawn-error', { id: e.id, message: e.error.message }),
    );
    sup.on('gave-up', (e) => this.#onGaveUp(e.id, e.restarts, e.windowMs));
  }

  #spawn(spec: CollectorSpec): void {
    this.#supervisor.start({
      id: spec.id,
      command: spec.command,
      ...(spec.args === undefined ? {} : { args: spec.args }),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
      env: {
        ...spec.env,
        [ENV_ENDPOINT]: this.endpoint,
        [ENV_COLLECTOR_ID]: spec.id,
        [ENV_TOKEN_FILE]: this.tokenFile,
      },
    });
  }

  /** Resolves true when `id` is admitted, false at its first start timeout, give-up or close. */
  #waitStarted(id: string, signal: AbortSignal | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      const onAbort = (): void => done(false);
      const done = (value: boolean): void => {
        signal?.removeEventListener('abort', onAbort);
        this.off('collector-ready', onReady);
        this.off('collector-start-timeout', onFail);
        this.off('collector-given-up', onFail);
        this.off('state-change', onClose);
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
      this.on('collector-ready', onReady);
      this.on('collector-start-timeout', onFail);
      this.on('collector-given-up', onFail);
      this.on('state-change', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
    });
  }

  #pipeStderr(id: string, stream: NodeJS.ReadableStream | null): void {
    if (stream === null) return;
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline).trimEnd();
        pending = pending.slice(newline + 1);
        if (line !== '')
          this.#emit('collector-stderr', { id, line: line.slice(0, MAX_STDERR_LINE) });
        newline = pending.indexOf('\n');
      }
      // A collector that never ends a line cannot make us buffer without bound.
      if (pending.length > MAX_STDERR_LINE) {
        this.#emit('collector-stderr', { id, line: pending.slice(0, MAX_STDERR_LINE) });
        pending = '';
      }
    });
    stream.on('error', () => undefined);
  }

  // ---- admission and connections ---------------------------------------------------------------

  #onConnected(info: CollectorInfo): void {
    const id = info.collectorId;
    const spec = this.#specs.get(id);
    const verdict = admit(
      info,
      spec === undefined ? undefined : { kind: spec.kind, pid: this.#supervisor.info(id)?.pid },
      this.#o.controlKind,
    );
    if ('reject' in verdict) {
      // Seam: with an `authorize(hello)` hook in the broker this verdict becomes a Reject in the
      // handshake; today the client was welcomed, so it is disconnected at once.
      this.#counters.refused(verdict.reject);
      this.#emit('collector-refused', {
        collectorId: id,
        kind: info.kind,
        pid: info.pid,
        reason: verdict.reject,
        message: verdict.message,
      });
      this.#broker.disconnect(id, `refused: ${verdict.reject}`);
      return;
    }
    if (verdict.accept === 'control') {
      this.#controls.set(id, info.sessionId);
      return;
    }
    try {
      this.#balancer.register(id, { taskKinds: info.taskKinds });
    } catch (error) {
      this.#counters.refused('invalid-task-kinds');
      const message = `${id} declared unusable task kinds (${error instanceof Error ? error.message : String(error)})`;
      this.#emit('collector-refused', {
        collectorId: id,
        kind: info.kind,
        pid: info.pid,
        reason: 'invalid-task-kinds',
        message,
      });
      this.#broker.disconnect(id, 'refused: invalid-task-kinds');
      return;
    }
    this.#sessions.set(id, info.sessionId);
    this.#grace.end(id);
    this.#supervisor.markReady(id, info.pid);
    const restarted = this.#everReady.has(id);
    // A collector seen before is a restart: slow start ramps its share back up.
    if (restarted) this.#balancer.restarted(id);
    this.#everReady.add(id);
    this.#failures.delete(id);
    this.#health.register(id);
    this.#failover.collectorAvailable(id);
    this.#emit('collector-ready', { id, pid: info.pid, restarted });
  }

  #onDisconnected(info: CollectorInfo, reason: string): void {
    const id = info.collectorId;
    if (this.#controls.get(id) === info.sessionId) {
      this.#controls.delete(id);
      return;
    }
    // Only the session we admitted counts: a refused impostor's exit says nothing of ours.
    if (this.#sessions.get(id) !== info.sessionId) return;
    this.#sessions.delete(id);
    if (this.#closing !== undefined) return;
    this.#emit('collector-disconnected', { id, reason });
    this.#health.connectionLost(id);
    const proc = this.#supervisor.info(id);
    if (proc?.state === 'running' && proc.pid !== undefined) {
      const pid = proc.pid;
      this.#grace.begin(id, () => {
        if (this.#sessions.has(id) || this.#supervisor.info(id)?.pid !== pid) return;
        this.#kill(id, 'connection-lost', `no reconnect within ${this.#o.reconnectGraceMs} ms`);
      });
    }
  }

  #onHealthFailed(id: string, reason: FailureReason): void {
    if (this.#closing !== undefined) return;
    if (reason === 'stale' || reason === 'phi') {
      // Seam (loop lag): the agent's own stall, not the collector's silence. When the
      // HealthTracker measures loop lag itself, this check moves into it.
      const window = this.#o.staleAfterIntervals * this.#o.heartbeatIntervalMs;
      const lagMs = this.#lag.stallWithin(window);
      if (lagMs > 0 && this.#sessions.has(id)) {
        this.#counters.lagForgiven++;
        this.#health.register(id);
        this.#emit('lag-forgiven', { id, lagMs: Math.round(lagMs) });
        return;
      }
    }
    this.#failures.set(id, reason);
    this.#emit('collector-failed', { id, reason });
    this.#balancer.remove(id);
    this.#failover.handleFailure(id, reason);
    // A hung collector (no heartbeats, socket still open) is killed so the Supervisor restarts it.
    if (reason === 'stale' || reason === 'phi') this.#kill(id, reason, 'no heartbeat in time');
    this.#broker.disconnect(id, `declared failed: ${reason}`);
  }

  #kill(id: string, reason: KillReason, detail: string): void {
    const pid = this.#supervisor.info(id)?.pid;
    if (!this.#supervisor.kill(id)) return;
    this.#kills.set(id, reason);
    this.#counters.killed(reason);
    this.#emit('collector-killed', { id, pid, reason, detail });
  }

  #onGaveUp(id: string, restarts: number, windowMs: number): void {
    if (this.#closing !== undefined) return;
    this.#counters.givenUp++;
    const spec = this.#specs.get(id);
    const retryInMs = this.#giveUp.schedule(id, () => {
      if (this.#closing !== undefined || spec === undefined) return;
      this.#emit('collector-retry', { id, attempt: this.#giveUp.attempts(id) });
      try {
        this.#spawn(spec);
      } catch {
        // Closed meanwhile.
      }
    });
    this.#emit('collector-given-up', { id, restarts, windowMs, retryInMs });
  }

  #watch(id: string, memoryBytes: number, cpu: number): void {
    const spec = this.#specs.get(id);
    const pid = this.#supervisor.info(id)?.pid;
    if (spec === undefined || pid === undefined) return;
    if (spec.maxRssBytes === undefined && spec.maxCpu === undefined) return;
    void this.#watchdog.check(id, pid, spec, { memoryBytes, cpu }).then((verdict) => {
      if (verdict === undefined || this.#closing !== undefined) return;
      if (this.#supervisor.info(id)?.pid !== pid) return;
      const detail = `rss ${verdict.sample.rssBytes} bytes, cpu ${verdict.sample.cpu?.toFixed(2) ?? '?'}`;
      this.#kill(id, verdict.reason, detail);
    });
  }

  #onControl(message: TopicMessage, handler: (request: ControlRequest) => Uint8Array): void {
    const clientId = message.sender;
    if (!this.#controls.has(clientId)) return;
    let answer: Uint8Array;
    try {
      answer = handler({ topic: message.topic, clientId, payload: message.payload });
    } catch (error) {
      this.#callbackError('control handler', error);
      return;
    }
    try {
      this.#broker.sendTo(clientId, {
        $case: 'publish',
        value: { topic: `${message.topic}.reply`, payload: answer, sender: '' },
      });
    } catch {
      // The client went away or its queue is full: it times out on its side.
    }
  }

  #onEvent(message: TopicMessage): void {
    if (!this.#sessions.has(message.sender)) return;
    this.#deliver(message.topic, {
      type: 'event',
      topic: message.topic,
      collectorId: message.sender,
      payload: message.payload,
    });
  }

  #deliver(topic: string, message: CoordinatorMessage): void {
    for (const subscriber of this.#subscribers.match(topic)) {
      try {
        subscriber.handler(message);
      } catch (error) {
        this.#callbackError(`subscriber of ${topic}`, error);
      }
    }
  }

  // ---- requests --------------------------------------------------------------------------------

  #check<R extends FanOutRequest | DispatchRequest>(
    request: R,
    fanOut: boolean,
  ): { request: R; timeoutMs: number } {
    if (this.#closing !== undefined)
      throw new CoordinatorError('ERR_COORDINATOR_CLOSED', 'coordinator is closed');
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
    const timeoutMs = request.timeoutMs ?? this.#o.taskTimeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_DELAY_MS) {
      throw bad(
        `request.timeoutMs must be an integer in 1..${MAX_DELAY_MS}, got ${String(timeoutMs)}`,
      );
    }
    if (request.signal !== undefined && !(request.signal instanceof AbortSignal))
      throw bad('request.signal must be an AbortSignal');
    const cid = request.correlationId;
    if (cid !== undefined && (typeof cid !== 'string' || !/^[A-Za-z0-9_.:/-]{1,128}$/.test(cid))) {
      throw bad('request.correlationId must be 1..128 characters of [A-Za-z0-9_.:/-]');
    }
    if (fanOut && 'targets' in request && request.targets !== undefined) {
      if (!Array.isArray(request.targets))
        throw bad('request.targets must be an array of collector ids');
      for (const id of request.targets) {
        if (!this.#specs.has(id)) {
          throw new CoordinatorError(
            'ERR_COORDINATOR_UNKNOWN_COLLECTOR',
            `request.targets names ${JSON.stringify(id)}, which is not a collector of this coordinator`,
          );
        }
      }
      if (new Set(request.targets).size !== request.targets.length)
        throw bad('request.targets lists a collector twice');
    }
    return { request, timeoutMs };
  }

  #record(
    kind: string,
    mode: 'fan-out' | 'dispatch',
    correlationId: string | undefined,
  ): SetRecord {
    return openRecord({
      correlationId: correlationId ?? `${kind}-${randomUUID()}`,
      kind,
      mode,
      startedAt: this.#o.clock.now(),
      startedAtUnixMs: Date.now(),
    });
  }

  #now(): { clock: number; unixMs: number } {
    return { clock: this.#o.clock.now(), unixMs: Date.now() };
  }

  /** Connected, healthy collectors that take `kind`. */
  #eligible(kind: string): string[] {
    const out: string[] = [];
    for (const id of this.#specs.keys()) {
      if (!this.#sessions.has(id) || !this.#health.isAlive(id)) continue;
      if (this.#broker.collector(id)?.taskKinds.includes(kind)) out.push(id);
    }
    return out;
  }

  #begin(
    record: SetRecord,
    expected: string[],
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): boolean {
    if (this.#sets.has(record.correlationId)) return false;
    try {
      this.#aggregator.begin(record.correlationId, expected, { timeoutMs });
    } catch {
      return false;
    }
    this.#sets.set(record.correlationId, record);
    if (signal !== undefined) {
      const onAbort = (): void => void this.#aggregator.cancel(record.correlationId);
      signal.addEventListener('abort', onAbort, { once: true });
      record.cleanup = () => signal.removeEventListener('abort', onAbort);
    }
    return true;
  }

  #fanOut(request: FanOutRequest, timeoutMs: number): Promise<AggregatedResult> {
    const record = this.#record(request.kind, 'fan-out', request.correlationId);
    if (request.signal?.aborted)
      return Promise.resolve(emptyResult(record, 'cancelled', this.#now()));
    const targets = request.targets ?? this.#eligible(request.kind);
    const deadlineUnixMs = BigInt(Date.now() + timeoutMs);
    const payload: TaskPayload = {
      kind: request.kind,
      body: request.payload ?? EMPTY,
      deadlineUnixMs,
    };
    const sent: string[] = [];
    for (const id of targets) {
      if (!this.#sessions.has(id) || !this.#health.isAlive(id)) {
        record.notSent.set(id, 'not-connected');
        continue;
      }
      const taskId = `${record.correlationId}/${id}`;
      try {
        this.#registry.assign(
          {
            taskId,
            correlationId: record.correlationId,
            pinned: true,
            payload,
            deadline: this.#o.clock.now() + timeoutMs,
          },
          id,
        );
      } catch {
        record.notSent.set(id, 'overloaded');
        continue;
      }
      try {
        this.#broker.assignTask(id, {
          taskId,
          correlationId: record.correlationId,
          taskKind: request.kind,
          payload: payload.body,
          deadlineUnixMs,
        });
        record.taskIds.push(taskId);
        sent.push(id);
      } catch (error) {
        record.notSent.set(
          id,
          `send-failed: ${isTransportError(error) ? error.code : String(error)}`,
        );
        this.#registry.fail(taskId, 'send-failed');
      }
    }
    if (sent.length === 0) {
      return Promise.resolve(
        this.#finishEarly(
          record,
          targets.length === 0 || record.notSent.size > 0 ? 'no-collector' : 'overloaded',
        ),
      );
    }
    // Results arrive on later ticks, so beginning after the sends loses nothing.
    if (!this.#begin(record, sent, timeoutMs, request.signal)) {
      for (const taskId of record.taskIds) this.#registry.fail(taskId, 'overloaded');
      return Promise.resolve(this.#finishEarly(record, 'overloaded'));
    }
    return record.promise;
  }

  #dispatch(request: DispatchRequest, timeoutMs: number): Promise<AggregatedResult> {
    const record = this.#record(request.kind, 'dispatch', request.correlationId);
    if (request.signal?.aborted)
      return Promise.resolve(emptyResult(record, 'cancelled', this.#now()));
    const taskId = `${record.correlationId}/task`;
    const placeholder = placeholderOf(taskId);
    // The set first expects the placeholder; the placement (now or after parking) takes its slot.
    if (!this.#begin(record, [placeholder], timeoutMs, request.signal)) {
      return Promise.resolve(this.#finishEarly(record, 'overloaded'));
    }
    record.taskIds.push(taskId);
    record.placeholders.set(placeholder, undefined);
    this.#unplaced.set(taskId, placeholder);
    const payload: TaskPayload = {
      kind: request.kind,
      body: request.payload ?? EMPTY,
      deadlineUnixMs: BigInt(Date.now() + timeoutMs),
    };
    try {
      this.#failover.dispatch({
        taskId,
        correlationId: record.correlationId,
        payload,
        deadline: this.#o.clock.now() + timeoutMs,
      });
    } catch {
      this.#unplaced.delete(taskId);
      record.taskReasons.set(placeholder, 'overloaded');
      this.#aggregator.collectorFailed(placeholder);
    }
    return record.promise;
  }

  #finishEarly(record: SetRecord, reason: 'no-collector' | 'overloaded'): AggregatedResult {
    const result = emptyResult(record, reason, this.#now());
    this.#publishResult(result);
    return result;
  }

  /** Places a balanced task: the balancer picks, the broker sends. Used by failover too. */
  #route(task: PendingTask<TaskPayload>, exclude: ReadonlySet<string>): string | undefined {
    const payload = task.payload;
    if (payload === undefined) return undefined;
    const excluded = new Set(exclude);
    for (;;) {
      const id = this.#balancer.trySelect({ taskKind: payload.kind, exclude: excluded });
      if (id === undefined) return undefined;
      if (this.#health.isAlive(id) && this.#sessions.has(id)) {
        try {
          this.#broker.assignTask(id, {
            taskId: task.taskId,
            correlationId: task.correlationId,
            taskKind: payload.kind,
            payload: payload.body,
            deadlineUnixMs: payload.deadlineUnixMs,
          });
        } catch {
          excluded.add(id);
          continue;
        }
        this.#balancer.taskStarted(id);
        this.#taskStartedAt.set(task.taskId, this.#o.clock.now());
        return id;
      }
      excluded.add(id);
    }
  }

  /** Failover moved a task's expectation; a move to a placeholder is remembered for the result. */
  #reassign(correlationId: string, from: string, to: string): void {
    this.#aggregator.reassign(correlationId, from, to);
    const record = this.#sets.get(correlationId);
    if (record === undefined) return;
    const last = record.placeholders.get(from);
    if (to.startsWith('parked:'))
      record.placeholders.set(to, from.startsWith('parked:') ? last : from);
  }

  #onTaskResult(id: string, result: TaskResult): void {
    if (!this.#sessions.has(id)) {
      this.#counters.rejectedResults++;
      this.#emit('result-refused', {
        collectorId: id,
        correlationId: result.correlationId,
        reason: 'not-admitted',
      });
      return;
    }
    if (result.results.length > 0)
      this.#resultsBy.set(id, (this.#resultsBy.get(id) ?? 0) + result.results.length);
    // The task's outcome first: completing the set below may fail the tasks still pending in it.
    if (result.final) this.#finishTask(id, result);
    const outcome = this.#aggregator.addResult(id, result.correlationId, result.results, {
      final: result.final,
    });
    if (outcome === 'unexpected-collector' || outcome === 'unknown-correlation') {
      this.#counters.rejectedResults++;
      this.#emit('result-refused', {
        collectorId: id,
        correlationId: result.correlationId,
        reason: outcome,
      });
    }
  }

  #finishTask(id: string, result: TaskResult): void {
    const task = this.#registry.get(result.taskId);
    if (task === undefined || task.collectorId !== id) {
      this.#registry.complete(result.taskId, id); // counted as stale or unknown, and ignored
      return;
    }
    const started = this.#taskStartedAt.get(result.taskId);
    this.#taskStartedAt.delete(result.taskId);
    const success = result.error === '';
    if (!task.pinned)
      this.#balancer.taskFinished(
        id,
        started === undefined ? 0 : this.#o.clock.now() - started,
        success,
      );
    if (success) this.#registry.complete(result.taskId, id);
    else this.#registry.fail(result.taskId, `collector-error: ${result.error.slice(0, 256)}`);
  }

  #onTaskFailed(task: PendingTask<TaskPayload>, reason: string): void {
    const started = this.#taskStartedAt.get(task.taskId);
    this.#taskStartedAt.delete(task.taskId);
    const holder = task.collectorId ?? task.lastCollectorId;
    // A balanced task that ends without its answer still leaves the collector's in-flight count.
    if (!task.pinned && started !== undefined && holder !== undefined) {
      this.#balancer.taskFinished(holder, this.#o.clock.now() - started, false);
    }
    const record = this.#sets.get(task.correlationId);
    const placeholder = this.#unplaced.get(task.taskId);
    if (record !== undefined) {
      const failure = holder === undefined ? undefined : this.#failures.get(holder);
      const why =
        reason === 'collector-failed' && failure !== undefined
          ? `collector-failed: ${failure}`
          : reason;
      record.failedTasks.push({ taskId: task.taskId, collectorId: holder, reason: why });
      // A set's own end (`set-timeout`...) says nothing new about why a collector is missing.
      if (!reason.startsWith('set-')) {
        if (holder !== undefined) record.taskReasons.set(holder, why);
        if (task.collectorId === undefined) record.taskReasons.set(placeholderOf(task.taskId), why);
      }
    }
    this.#emit('task-failed', {
      taskId: task.taskId,
      correlationId: task.correlationId,
      collectorId: holder,
      reason,
    });
    if (placeholder !== undefined) {
      // Never placed: its set stops waiting for the placeholder.
      this.#unplaced.delete(task.taskId);
      this.#aggregator.collectorFailed(placeholder);
    }
  }

  #onAggregated(raw: RawResult<DetectionResult>): void {
    const record = this.#sets.get(raw.correlationId);
    if (record === undefined) return;
    this.#sets.delete(raw.correlationId);
    record.cleanup?.();
    // Tasks of a set that ended without their answer are over too: fail them with the set's reason.
    for (const taskId of record.taskIds) {
      if (this.#registry.has(taskId)) this.#registry.fail(taskId, `set-${raw.reason}`);
    }
    const result = toResult(raw, record, (id) => this.#failures.get(id), this.#now());
    this.#publishResult(result);
    record.resolve(result);
  }

  #publishResult(result: AggregatedResult): void {
    this.#emit('result', result);
    const topic = `results.${result.kind}`;
    this.#deliver(topic, { type: 'result', topic, result });
  }

  // ---- callbacks -------------------------------------------------------------------------------

  #emit<K extends keyof CoordinatorEvents>(event: K, ...args: CoordinatorEvents[K]): void {
    for (const listener of this.rawListeners(event)) {
      try {
        Reflect.apply(listener, this, args);
      } catch (error) {
        this.#callbackError(`${String(event)} listener`, error);
      }
    }
  }

  #callbackError(where: string, cause: unknown): void {
    const error = new CoordinatorError(
      'ERR_COORDINATOR_CALLBACK_FAILED',
      `${where} threw: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    const report = this.#o.onCallbackError;
    if (report !== undefined) {
      try {
        report(error);
        return;
      } catch {
        // Falls through to the uncaught path.
      }
    }
    queueMicrotask(() => {
      throw error;
    });
  }

  #setState(to: CoordinatorState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#emit('state-change', { from, to, reason });
  }
}

/** Copies the fields that are not undefined (the libraries read `undefined` as a bad value). */
function definedOnly<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: { [K in keyof T]?: Exclude<T[K], undefined> } = {};
  for (const key of Object.keys(value)) {
    if (!isKey(value, key)) continue;
    const v = value[key];
    if (isDefined(v)) out[key] = v;
  }
  return out;
}

function isDefined<V>(v: V): v is Exclude<V, undefined> {
  return v !== undefined;
}

function isKey<T extends object>(value: T, key: PropertyKey): key is keyof T {
  return key in value;
}

/** Creates a {@link Coordinator}; call `start()` to listen and spawn the collectors. */
export function createCoordinator(options: CoordinatorOptions): Coordinator {
  return new Coordinator(options);
}
