import { EventEmitter } from 'node:events';
import { LoadBalancer } from '@daemoneye/balancer';
import type { FailureReason, HealthTracker, Supervisor } from '@daemoneye/failover';
import type {
  Broker,
  CollectorInfo,
  HelloInfo,
  Admission as TransportAdmission,
} from '@daemoneye/ipc-transport';
import { handshakeVerdict } from './admission.js';
import { InboundBackpressure } from './backpressure.js';
import { emitGuarded, reportCallbackError } from './callbacks.js';
import { createBrokerFor, createHealthFor } from './compose.js';
import { CoordinatorError } from './errors.js';
import { Flows } from './flows.js';
import type { FlowHost } from './host.js';
import { JournalHooks } from './journal/hooks.js';
import {
  type CollectorSpec,
  type CoordinatorOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import {
  ENV_COLLECTOR_ID,
  ENV_ENDPOINT,
  ENV_TOKEN_FILE,
  Processes,
  waitStarted,
} from './processes.js';
import { applyHeartbeat } from './reactions/self-health.js';
import { buildStatus, Counters } from './status.js';
import { type ControlRequest, Topics } from './topics.js';
import type {
  AggregatedResult,
  CoordinatorEvents,
  CoordinatorMessage,
  CoordinatorState,
  CoordinatorStatus,
  DispatchRequest,
  FanOutRequest,
} from './types.js';

export { type ControlRequest, ENV_COLLECTOR_ID, ENV_ENDPOINT, ENV_TOKEN_FILE };

/** What `start()` resolves with. */
export interface StartReport {
  /** Collectors that said Hello and were admitted. */
  readonly ready: readonly string[];
  /** Collectors that did not (start timeout, spawn error, given up). */
  readonly missing: readonly string[];
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
  readonly #procs: Processes;
  readonly #supervisor: Supervisor;
  readonly #flows: Flows;
  readonly #inbound: InboundBackpressure;
  readonly #journal: JournalHooks | undefined;
  readonly #counters = new Counters();
  readonly #specs = new Map<string, CollectorSpec>();
  /** Collector id -> broker session admitted for it. */
  readonly #sessions = new Map<string, string>();
  readonly #everReady = new Set<string>();
  readonly #failures = new Map<string, FailureReason>();
  readonly #resultsBy = new Map<string, number>();
  readonly #topics: Topics;
  #state: CoordinatorState = 'idle';
  #closing: Promise<void> | undefined;
  #starting: Promise<StartReport> | undefined;

  constructor(options: CoordinatorOptions) {
    super();
    const o = resolveOptions(options);
    this.#o = o;
    const onError = (where: string, cause: unknown): void => this.#callbackError(where, cause);
    const emit = <K extends keyof CoordinatorEvents>(event: K, ...args: CoordinatorEvents[K]) =>
      this.#emit(event, ...args);
    // Admission in the handshake: a refused client gets a Reject with a code, never a Welcome.
    this.#broker = createBrokerFor(o, (hello) => this.#admitHello(hello));
    this.#topics = new Topics(this.#broker, onError);
    this.#balancer = new LoadBalancer({ ...o.balancing, clock: o.clock });
    this.#health = createHealthFor(o, onError, emit);
    this.#flows = new Flows(this.#flowHost(), o);
    this.#journal = JournalHooks.create(
      o,
      {
        publish: (result) => this.#publishRecovered(result),
        connected: (id) => this.#sessions.has(id),
        fanOut: (request) => this.fanOut(request),
        dispatch: (request) => this.dispatch(request),
      },
      (error) => this.#emit('journal-error', error),
    );
    this.#inbound = new InboundBackpressure({
      broker: this.#broker,
      aggregator: this.#flows.aggregator,
      health: this.#health,
      connected: (id) => this.#sessions.has(id),
      paused: (e) => emit('inbound-paused', e),
      resumed: (e) => emit('inbound-resumed', e),
    });
    this.#procs = new Processes(
      {
        specs: this.#specs,
        counters: this.#counters,
        health: this.#health,
        endpoint: () => this.endpoint,
        tokenFile: () => this.tokenFile,
        connected: (id) => this.#sessions.has(id),
        closed: () => this.#closing !== undefined,
        emit,
        callbackError: onError,
      },
      o,
    );
    this.#supervisor = this.#procs.supervisor;
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
    this.#journal?.open();
    const waits = [...this.#specs.values()].map((spec) => {
      const wait = waitStarted(this, spec.id, signal);
      this.#procs.spawn(spec);
      return wait;
    });
    const outcomes = await Promise.all(waits);
    this.#journal?.started();
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
      const run = (r: FanOutRequest) => this.#flows.fanOut(r, checked.timeoutMs);
      const ids = this.#specs.keys();
      const journaled = this.#journal?.run(checked, 'fan-out', run, ids, this.#flows.registry);
      return journaled ?? run(checked.request);
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
      const run = (r: DispatchRequest) => this.#flows.dispatch(r, checked.timeoutMs);
      const journaled = this.#journal?.run(checked, 'dispatch', run, [], this.#flows.registry);
      return journaled ?? run(checked.request);
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
    return this.#topics.subscribe(pattern, handler);
  }

  /**
   * Answers control clients (Hello kind `controlKind`, authenticated by the token) on `topic`:
   * `handler`'s bytes go back to the client on `<topic>.reply`. Returns the function that removes it.
   */
  handleControl(topic: string, handler: (request: ControlRequest) => Uint8Array): () => void {
    return this.#topics.handleControl(topic, handler);
  }

  /** The snapshot `status --json` prints. */
  status(): CoordinatorStatus {
    const status = buildStatus({
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
      lastKill: (id) => this.#procs.lastKill(id),
      paused: (id) => this.#inbound.isPaused(id),
      inbound: this.#inbound.stats(),
    });
    return this.#journal === undefined ? status : { ...status, journal: this.#journal.status() };
  }

  /** SIGKILLs every collector process now (a second signal in the app), whatever its state. */
  forceKill(): void {
    this.#procs.forceKill();
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
    this.#flows.close(this.#specs.keys());
    await this.#procs.close();
    this.#health.close();
    await this.#broker.close();
    this.#journal?.close();
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
    // Before the flows' listener: a batch is journaled before it can complete its set.
    this.#journal?.wire(broker, this.#flows.registry, (id) => this.#sessions.has(id));
    broker.on('task-result', (id, result) => this.#flows.onTaskResult(id, result));
    const transportError = (
      type: 'protocol-error' | 'connection-refused',
      error: { code: string; message: string },
      collectorId: string | undefined,
    ): void => {
      this.#counters.transport(error.code);
      this.#emit('transport-error', {
        type,
        code: error.code,
        collectorId,
        message: error.message,
      });
    };
    broker.on('protocol-error', (error, id) => transportError('protocol-error', error, id));
    broker.on('connection-refused', (error) => {
      // Admission refusals are counted and emitted as `collector-refused` by #admitHello.
      if (error.code !== 'ERR_ADMISSION_REFUSED')
        transportError('connection-refused', error, undefined);
    });
    broker.subscribe('events.#', (m) => this.#topics.onEvent(m, this.#sessions.has(m.sender)));
    // A collector whose share of a set is full is no longer read (real backpressure).
    this.#flows.aggregator.on('share-full', (e) =>
      this.#inbound.onShareFull(e.collectorId, e.correlationId, e.reason),
    );

    this.#health.on('failed', (failure) => this.#onHealthFailed(failure.id, failure.reason));
    this.#flows.failover.on('failover', (report) => this.#emit('failover', report));
  }

  // ---- admission and connections ---------------------------------------------------------------

  /** The broker's `authorize` hook: refusals are counted and emitted here, in the handshake. */
  #admitHello(hello: HelloInfo): TransportAdmission {
    const spec = this.#specs.get(hello.collectorId);
    const expected =
      spec === undefined
        ? undefined
        : { kind: spec.kind, pid: this.#supervisor.info(spec.id)?.pid };
    const { admission, refusal } = handshakeVerdict(hello, expected, this.#o.controlKind);
    if (refusal !== undefined) {
      this.#counters.refused(refusal.reason);
      this.#emit('collector-refused', refusal);
    }
    return admission;
  }

  #onConnected(info: CollectorInfo): void {
    const id = info.collectorId;
    // Admitted by #admitHello in the handshake.
    if (info.kind === this.#o.controlKind) {
      this.#topics.controls.set(id, info.sessionId);
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
    this.#procs.connected(id);
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
    if (this.#topics.controls.get(id) === info.sessionId) {
      this.#topics.controls.delete(id);
      return;
    }
    // Only the session we admitted counts: a refused impostor's exit says nothing of ours.
    if (this.#sessions.get(id) !== info.sessionId) return;
    this.#sessions.delete(id);
    this.#inbound.forget(id);
    if (this.#closing !== undefined) return;
    this.#emit('collector-disconnected', { id, reason });
    this.#health.connectionLost(id);
    this.#procs.connectionLost(id);
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
    if (reason === 'stale' || reason === 'phi')
      this.#procs.kill(id, reason, 'no heartbeat in time');
    this.#broker.disconnect(id, `declared failed: ${reason}`);
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
      emit: (event, ...args) => {
        // With a journal, a set's result is journaled (and a resumed one merged) on its way out.
        const result = this.#journal?.resultOf(event, args[0]);
        if (result !== undefined) this.#emit('result', result);
        else this.#emit(event, ...args);
      },
      deliver: (topic, message) =>
        this.#topics.deliver(topic, this.#journal?.delivering(message) ?? message),
      setEnded: () => this.#inbound.afterSet(),
      callbackError: (where, cause) => this.#callbackError(where, cause),
    };
  }

  /** A result recovered from the journal: emitted and delivered again, marked written. */
  #publishRecovered(result: AggregatedResult): void {
    this.#emit('result', result);
    const topic = `results.${result.kind}`;
    this.#topics.deliver(topic, { type: 'result', topic, result });
    this.#journal?.redelivered(result.correlationId);
  }

  // ---- callbacks -------------------------------------------------------------------------------

  #emit<K extends keyof CoordinatorEvents>(event: K, ...args: CoordinatorEvents[K]): void {
    emitGuarded(this, event, args, (where, cause) => this.#callbackError(where, cause));
  }

  #callbackError(where: string, cause: unknown): void {
    reportCallbackError(this.#o.onCallbackError, where, cause);
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
