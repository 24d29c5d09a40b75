import { EventEmitter } from 'node:events';
import { LoadBalancer } from '@daemoneye/balancer';
import {
  type FailureReason,
  HealthTracker,
  ResourceWatchdog,
  Supervisor,
} from '@daemoneye/failover';
import {
  Broker,
  type CollectorInfo,
  type HelloInfo,
  normalizePattern,
  type TopicMessage,
  TopicTrie,
  type Admission as TransportAdmission,
} from '@daemoneye/ipc-transport';
import { type Admission, admit, type Candidate, REFUSAL_CODES } from './admission.js';
import { InboundBackpressure } from './backpressure.js';
import { CoordinatorError } from './errors.js';
import { Flows } from './flows.js';
import { definedOnly, type FlowHost } from './host.js';
import {
  type CollectorSpec,
  type CoordinatorOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { lineSplitter } from './reactions/line-splitter.js';
import { ReconnectGrace } from './reactions/reconnect-grace.js';
import { applyHeartbeat } from './reactions/self-health.js';
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

const MAX_STDERR_LINE = 4096;

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
  readonly #balancer: LoadBalancer;
  readonly #health: HealthTracker;
  readonly #supervisor: Supervisor;
  readonly #flows: Flows;
  readonly #grace: ReconnectGrace;
  readonly #watchdog: ResourceWatchdog;
  readonly #inbound: InboundBackpressure;
  readonly #counters = new Counters();
  readonly #specs = new Map<string, CollectorSpec>();
  /** Collector id -> broker session admitted for it. */
  readonly #sessions = new Map<string, string>();
  readonly #controls = new Map<string, string>();
  readonly #everReady = new Set<string>();
  readonly #failures = new Map<string, FailureReason>();
  readonly #kills = new Map<string, KillReason>();
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
      // Admission in the handshake: a refused client gets a Reject with a code, never a Welcome.
      authorize: (hello) => this.#admitHello(hello),
      clock,
    });
    this.#balancer = new LoadBalancer({ ...o.balancing, clock });
    this.#health = new HealthTracker({
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      staleAfterIntervals: o.staleAfterIntervals,
      suspectAfterIntervals: Math.min(1.5, o.staleAfterIntervals),
      ...(f.phi === undefined ? {} : { phi: f.phi }),
      // The agent's own loop stalls hold the verdicts (no collector is blamed for them).
      stallThresholdMs: o.loopLagToleranceMs,
      clock,
      onCallbackError: (error) => this.#callbackError('health tracker', error),
    });
    this.#flows = new Flows(this.#flowHost(), o);
    this.#inbound = new InboundBackpressure({
      broker: this.#broker,
      aggregator: this.#flows.aggregator,
      health: this.#health,
      connected: (id) => this.#sessions.has(id),
      paused: (e) => this.#emit('inbound-paused', e),
      resumed: (e) => this.#emit('inbound-resumed', e),
    });
    this.#supervisor = new Supervisor({
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
      onCallbackError: (error) => this.#callbackError('supervisor', error),
    });
    this.#grace = new ReconnectGrace(clock, o.reconnectGraceMs);
    this.#watchdog = new ResourceWatchdog({
      intervalMs: o.heartbeatIntervalMs,
      consecutiveSamples: o.watchdogHeartbeats,
      ...(o.resourceSampler === undefined ? {} : { sampler: o.resourceSampler }),
      clock,
      onCallbackError: (error) => this.#callbackError('resource watchdog', error),
    });
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
      const checked = this.#flows.check(request, true);
      return this.#flows.fanOut(checked.request, checked.timeoutMs);
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
      const checked = this.#flows.check(request, false);
      return this.#flows.dispatch(checked.request, checked.timeoutMs);
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
      registry: this.#flows.registry,
      aggregator: this.#flows.aggregator,
      counters: this.#counters,
      connected: (id) => this.#sessions.has(id),
      inFlight: (id) => this.#flows.registry.countFor(id),
      results: (id) => this.#resultsBy.get(id) ?? 0,
      lastKill: (id) => this.#kills.get(id),
      paused: (id) => this.#inbound.isPaused(id),
      inbound: this.#inbound.stats(),
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
    this.#grace.close();
    this.#watchdog.close();
    this.#flows.close(this.#specs.keys());
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
      applyHeartbeat(id, beat, { health: this.#health, balancer: this.#balancer });
    });
    broker.on('task-result', (id, result) => this.#flows.onTaskResult(id, result));
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
      // Admission refusals are counted and emitted as `collector-refused` by #admitHello.
      if (error.code === 'ERR_ADMISSION_REFUSED') return;
      this.#counters.transport(error.code);
      this.#emit('transport-error', {
        type: 'connection-refused',
        code: error.code,
        collectorId: undefined,
        message: error.message,
      });
    });
    broker.subscribe('events.#', (message) => this.#onEvent(message));
    // A collector whose share of a set is full is no longer read (real backpressure).
    this.#flows.aggregator.on('share-full', (e) =>
      this.#inbound.onShareFull(e.collectorId, e.correlationId, e.reason),
    );

    this.#health.on('failed', (failure) => this.#onHealthFailed(failure.id, failure.reason));
    this.#health.on('reported-health-change', (e) =>
      this.#emit('collector-health', {
        id: e.id,
        from: e.from,
        to: e.to,
        message: e.message ?? '',
      }),
    );
    this.#health.on('stall', (stall) =>
      this.#emit('loop-stall', {
        lagMs: Math.round(stall.lagMs),
        holdMs: Math.max(0, Math.round(stall.holdUntil - stall.at)),
      }),
    );
    this.#watchdog.on('over-limit', (e) => {
      if (this.#closing !== undefined || this.#supervisor.info(e.id)?.pid !== e.pid) return;
      const unit = e.reason === 'over-memory' ? ' bytes rss' : ' of a core';
      this.#kill(
        e.id,
        e.reason,
        `${e.observed}${unit} over ${e.limit} for ${e.samples} samples (the OS's view of pid ${e.pid})`,
      );
    });
    this.#flows.failover.on('failover', (report) => this.#emit('failover', report));
    const sup = this.#supervisor;
    sup.on('spawn', (e) => {
      this.#watchResources(e.id, e.pid);
      this.#emit('collector-spawned', { id: e.id, pid: e.pid, restarts: e.restarts });
      this.#pipeStderr(e.id, e.stderr);
    });
    sup.on('exit', (e) => {
      this.#grace.end(e.id);
      this.#watchdog.unwatch(e.id);
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
    // Restart intensity reached: the Supervisor retries after its doubling cool-down.
    sup.on('gave-up', (e) => {
      if (this.#closing !== undefined) return;
      this.#counters.givenUp++;
      this.#emit('collector-given-up', {
        id: e.id,
        restarts: e.restarts,
        windowMs: e.windowMs,
        retryInMs: e.retryInMs,
      });
    });
    sup.on('give-up-retry', (e) => {
      if (this.#closing === undefined)
        this.#emit('collector-retry', { id: e.id, attempt: e.giveUps });
    });
  }

  #spawn(spec: CollectorSpec): void {
    this.#supervisor.start({
      id: spec.id,
      command: spec.command,
      ...(spec.args === undefined ? {} : { args: spec.args }),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
      ...(spec.niceness === undefined ? {} : { niceness: spec.niceness }),
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
    const split = lineSplitter(MAX_STDERR_LINE);
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of split(chunk)) this.#emit('collector-stderr', { id, line });
    });
    stream.on('error', () => undefined);
  }

  // ---- admission and connections ---------------------------------------------------------------

  /** The admission verdict for a Hello. */
  #authorize(hello: Candidate): Admission {
    const spec = this.#specs.get(hello.collectorId);
    const expected =
      spec === undefined
        ? undefined
        : { kind: spec.kind, pid: this.#supervisor.info(spec.id)?.pid };
    return admit(hello, expected, this.#o.controlKind);
  }

  /** The broker's `authorize` hook: refusals are counted and emitted here, in the handshake. */
  #admitHello(hello: HelloInfo): TransportAdmission {
    const verdict = this.#authorize(hello);
    if (!('reject' in verdict)) return { accept: true };
    this.#counters.refused(verdict.reject);
    this.#emit('collector-refused', {
      collectorId: hello.collectorId,
      kind: hello.kind,
      pid: hello.pid,
      reason: verdict.reject,
      message: verdict.message,
    });
    return { accept: false, code: REFUSAL_CODES[verdict.reject], message: verdict.message };
  }

  #onConnected(info: CollectorInfo): void {
    const id = info.collectorId;
    // Admitted by #admitHello in the handshake.
    if (info.kind === this.#o.controlKind) {
      this.#controls.set(id, info.sessionId);
      return;
    }
    try {
      this.#balancer.register(id, { taskKinds: info.taskKinds });
    } catch (error) {
      // admit() checked the task kinds; the balancer refusing them anyway is a fault of ours.
      this.#callbackError('balancer.register', error);
      this.#broker.disconnect(id, 'balancer refused the collector');
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
    this.#flows.failover.collectorAvailable(id);
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
    this.#inbound.forget(id);
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
    // The agent's own loop stalls were already held by the HealthTracker (stallThresholdMs).
    // A collector we stopped reading could not be heard: its verdict waits for the resume.
    if ((reason === 'stale' || reason === 'phi') && this.#inbound.holdVerdict(id)) return;
    this.#failures.set(id, reason);
    this.#emit('collector-failed', { id, reason });
    this.#balancer.remove(id);
    this.#flows.failover.handleFailure(id, reason);
    // A hung collector (no heartbeats, socket still open) is killed so the Supervisor restarts it.
    if (reason === 'stale' || reason === 'phi') this.#kill(id, reason, 'no heartbeat in time');
    this.#broker.disconnect(id, `declared failed: ${reason}`);
  }

  #kill(id: string, reason: KillReason, detail: string): void {
    const pid = this.#supervisor.info(id)?.pid;
    if (!this.#supervisor.kill(id, reason)) return;
    this.#kills.set(id, reason);
    this.#counters.killed(reason);
    this.#emit('collector-killed', { id, pid, reason, detail });
  }

  /** The OS's view of the pid the Supervisor started, for a collector with limits. */
  #watchResources(id: string, pid: number): void {
    const spec = this.#specs.get(id);
    if (spec === undefined || (spec.maxRssBytes === undefined && spec.maxCpu === undefined)) return;
    this.#watchdog.watch(id, pid, {
      ...(spec.maxRssBytes === undefined ? {} : { maxRssBytes: spec.maxRssBytes }),
      ...(spec.maxCpu === undefined ? {} : { maxCpu: spec.maxCpu }),
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

  #flowHost(): FlowHost {
    return {
      broker: this.#broker,
      balancer: this.#balancer,
      health: this.#health,
      specs: this.#specs,
      sessions: this.#sessions,
      failures: this.#failures,
      counters: this.#counters,
      resultsBy: this.#resultsBy,
      taskTimeoutMs: this.#o.taskTimeoutMs,
      closed: () => this.#closing !== undefined,
      emit: (event, ...args) => this.#emit(event, ...args),
      deliver: (topic, message) => this.#deliver(topic, message),
      setEnded: () => this.#inbound.afterSet(),
      callbackError: (where, cause) => this.#callbackError(where, cause),
    };
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

/** Creates a {@link Coordinator}; call `start()` to listen and spawn the collectors. */
export function createCoordinator(options: CoordinatorOptions): Coordinator {
  return new Coordinator(options);
}
