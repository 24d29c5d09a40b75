import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type {
  Envelope,
  EnvelopeBody,
  Heartbeat,
  LazyEnvelope,
  TaskAssignment,
  TaskResultView,
} from '@daemoneye/proto';
import { AdmissionGate, type CollectorInfo, type Conn, type Session } from './admission.js';
import {
  type BrokerOptions,
  type ResolvedBrokerOptions,
  resolveBrokerOptions,
} from './broker-options.js';
import { addClosed, assembleStats, type BrokerStats } from './broker-stats.js';
import { FramedConnection } from './connection.js';
import { type DispatchContext, dispatch } from './dispatch.js';
import type { Endpoint } from './endpoint.js';
import { reportCallbackError, TransportError } from './errors.js';
import { callListeners } from './events.js';
import type { StateChange } from './lifecycle.js';
import { EndpointListener, type EndpointLoss, EndpointWatch } from './listener.js';
import { type PublishReport, Router, type TopicMessage } from './routing.js';
import { validateTopic } from './topics.js';

export type { CollectorInfo } from './admission.js';
export type { BrokerStats } from './broker-stats.js';

/** Typed events of a {@link Broker}. */
export interface BrokerEvents {
  'state-change': [change: StateChange<BrokerState>];
  listening: [endpoint: Endpoint];
  'collector-connected': [info: CollectorInfo];
  'collector-disconnected': [info: CollectorInfo, reason: string];
  /** A TaskResult: header decoded, each result a `DetectionResultView` on its own bytes. */
  'task-result': [collectorId: string, result: TaskResultView];
  heartbeat: [collectorId: string, heartbeat: Heartbeat];
  /** A bad frame or undecodable envelope; only that connection is affected. */
  'protocol-error': [error: TransportError, collectorId: string | undefined];
  /** A connection refused at or before the handshake; `rejectCode` is what the Reject carried. */
  'connection-refused': [error: TransportError, rejectCode: string];
  /** The socket or token file was deleted or replaced while listening. */
  'endpoint-lost': [loss: EndpointLoss];
  /** The listening server reported an error (e.g. EMFILE on accept); it keeps listening. */
  'server-error': [error: Error];
  closed: [];
}

/** Lifecycle of a broker. */
export type BrokerState = 'idle' | 'starting' | 'listening' | 'closing' | 'closed';

/**
 * The agent side of the transport: listens on a local endpoint (one broker per endpoint),
 * authenticates and admits collectors, routes topic messages and carries tasks and results.
 * Never prints, exits or touches signals.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly options: ResolvedBrokerOptions;
  #state: BrokerState = 'idle';
  readonly #listener: EndpointListener;
  readonly #gate: AdmissionGate;
  readonly #router: Router;
  readonly #conns = new Set<Conn>();
  readonly #sessions = new Map<string, Session>();
  #nextMessageId = 1n;
  #closing: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  readonly #watch: EndpointWatch;
  readonly #counters = {
    protocolErrors: 0,
    nacksSent: 0,
    backpressure: 0,
    callbackErrors: 0,
    serverErrors: 0,
    endpointLost: 0,
    endpointRecreated: 0,
    inboundPauses: 0,
  };
  readonly #protocolErrorsByCode: Record<string, number> = {};
  readonly #dispatchContext: DispatchContext;
  readonly #closed = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };

  constructor(options?: BrokerOptions) {
    super();
    this.options = resolveBrokerOptions(options);
    this.#listener = new EndpointListener(
      this.options.endpoint,
      this.options.auth,
      this.options.clock,
      (socket) => this.#onConnection(socket),
      (error) => {
        this.#counters.serverErrors++;
        this.#fire('server-error', error);
      },
    );
    this.#watch = new EndpointWatch(
      this.#listener,
      this.options.clock,
      this.options.endpointCheckIntervalMs,
      () => this.#state === 'listening',
      (loss) => {
        this.#counters.endpointLost++;
        if (loss.recreated) this.#counters.endpointRecreated++;
        this.#fire('endpoint-lost', loss);
      },
    );
    this.#router = new Router({
      maxSubscriptionsPerConnection: this.options.maxSubscriptionsPerConnection,
      maxTopicCacheEntries: this.options.maxTopicCacheEntries,
      send: (connection, message) => this.#sendOn(connection, message),
      onHandlerError: (error, topic) => this.#callbackFailed(`subscriber of ${topic}`, error),
    });
    this.#dispatchContext = {
      router: this.#router,
      taskResult: (id, result) => this.#fire('task-result', id, result),
      heartbeat: (id, beat) => this.#fire('heartbeat', id, beat),
      nacked: () => {
        this.#counters.nacksSent++;
      },
    };
    this.#gate = new AdmissionGate(this.options, {
      token: () => this.#listener.token,
      session: (id) => this.#sessions.get(id),
      replace: (existing) => {
        this.#router.removeAll(existing);
        this.#sessions.delete(existing.info.collectorId);
        this.#fire('collector-disconnected', existing.info, 'replaced by a new connection');
      },
      admitted: (session) => {
        this.#sessions.set(session.info.collectorId, session);
        this.#fire('collector-connected', session.info);
      },
      refused: (error, code) => this.#fire('connection-refused', error, code),
      callbackFailed: (what, cause) => this.#callbackFailed(what, cause),
    });
  }

  /** `idle`, `starting`, `listening`, `closing` or `closed`. */
  get state(): BrokerState {
    return this.#state;
  }

  /** The endpoint this broker listens on. */
  get endpoint(): Endpoint {
    return this.options.endpoint;
  }

  /**
   * Takes the endpoint's lock, replaces a stale socket, listens (0600) and writes the token file.
   * Rejects with `ERR_ENDPOINT_IN_USE` when another broker holds the endpoint (nothing of its is
   * touched). Aborting `signal`, now or later, closes the broker.
   */
  async listen(options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    const { signal } = options;
    if (this.#state !== 'idle') {
      throw new TransportError(
        'ERR_TRANSPORT_CLOSED',
        `broker cannot listen in state ${this.#state}`,
      );
    }
    const aborted = (): TransportError =>
      new TransportError('ERR_TRANSPORT_ABORTED', 'listen aborted', { cause: signal?.reason });
    if (signal?.aborted) {
      void this.close();
      throw aborted();
    }
    this.#setState('starting', 'listen()');
    signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.#started = this.#listener.start();
    try {
      await this.#started;
    } catch (error) {
      if (this.#is('starting')) {
        // A failed listen() leaves the broker closed (its setup already undone); close() resolves.
        this.#closing ??= Promise.resolve();
        this.#setState('closed', 'listen failed');
        this.#fire('closed');
      }
      throw error;
    }
    if (!this.#is('starting')) {
      // close() (or the signal) ran while we were starting: its teardown undoes what was set up.
      throw signal?.aborted
        ? aborted()
        : new TransportError('ERR_TRANSPORT_CLOSED', 'broker was closed while starting');
    }
    this.#setState('listening', 'listening');
    this.#watch.start();
    this.#fire('listening', this.options.endpoint);
  }

  /** Currently connected collectors. */
  collectors(): CollectorInfo[] {
    return [...this.#sessions.values()].map((session) => session.info);
  }

  /** The collector with this id, if connected. */
  collector(collectorId: string): CollectorInfo | undefined {
    return this.#sessions.get(collectorId)?.info;
  }

  /** Counters and gauges. */
  stats(): BrokerStats {
    return assembleStats({
      gate: this.#gate,
      router: this.#router,
      counters: this.#counters,
      closed: this.#closed,
      connections: [...this.#conns].map((conn) => conn.connection),
      protocolErrorsByCode: this.#protocolErrorsByCode,
      collectors: this.#sessions.size,
    });
  }

  #session(collectorId: string): Session {
    const session = this.#sessions.get(collectorId);
    if (session === undefined || session.connection.state !== 'open') {
      throw new TransportError(
        'ERR_TRANSPORT_UNKNOWN_COLLECTOR',
        `collector ${collectorId} is not connected`,
      );
    }
    return session;
  }

  /**
   * Sends one body to a connected collector. Throws `ERR_TRANSPORT_UNKNOWN_COLLECTOR`,
   * `ERR_BACKPRESSURE` (counted; the message is not queued) or `ERR_FRAME_TOO_LARGE`.
   */
  sendTo(collectorId: string, body: EnvelopeBody): void {
    const { connection } = this.#session(collectorId);
    this.#sendOn(connection, { messageId: this.#nextMessageId++, body });
  }

  /** Sends a TaskAssignment to one collector (see {@link sendTo} for errors). */
  assignTask(collectorId: string, task: TaskAssignment): void {
    this.sendTo(collectorId, { $case: 'taskAssignment', value: task });
  }

  /**
   * Stops reading a collector's socket: frames already read are held, nothing more is read, so
   * the kernel buffer fills and the collector's writes back up. Its heartbeats stop arriving too.
   * Throws `ERR_TRANSPORT_UNKNOWN_COLLECTOR`. Idempotent.
   */
  pauseInbound(collectorId: string): void {
    const { connection } = this.#session(collectorId);
    if (!connection.inboundPaused) this.#counters.inboundPauses++;
    connection.pauseInbound();
  }

  /** Delivers what was held (in order, from a microtask), then reads the socket again. Idempotent. */
  resumeInbound(collectorId: string): void {
    this.#session(collectorId).connection.resumeInbound();
  }

  /** Whether a collector's inbound is paused (false when it is not connected). */
  isInboundPaused(collectorId: string): boolean {
    return this.#sessions.get(collectorId)?.connection.inboundPaused ?? false;
  }

  /**
   * Publishes from the agent to every subscriber of `topic` (collectors and in-process).
   * Throws `ERR_INVALID_TOPIC`; per-collector failures (backpressure) are reported, not thrown.
   */
  publish(topic: string, payload: Uint8Array): PublishReport {
    validateTopic(topic);
    return this.#router.route(topic, payload, '', undefined, this.#nextMessageId++);
  }

  /** Subscribes an in-process handler; returns a function that removes it. Throws `ERR_INVALID_PATTERN`. */
  subscribe(pattern: string, handler: (message: TopicMessage) => void): () => void {
    return this.#router.local(pattern, handler);
  }

  /** Drops every subscription of a collector (failover's subscription cleaner). Returns how many. */
  removeSubscriptions(collectorId: string): number {
    const session = this.#sessions.get(collectorId);
    return session ? this.#router.removeAll(session) : 0;
  }

  /** Patterns a collector is subscribed to (canonical form). */
  subscriptionsOf(collectorId: string): string[] {
    const session = this.#sessions.get(collectorId);
    return session ? this.#router.patternsOf(session) : [];
  }

  /** Closes one collector's connection with a Goodbye. Returns false when it is not connected. */
  disconnect(collectorId: string, reason: string): boolean {
    const session = this.#sessions.get(collectorId);
    if (!session) return false;
    session.connection.close(reason);
    return true;
  }

  /**
   * Says Goodbye to everyone, waits for the connections to end (each at most `closeGraceMs`),
   * stops listening and removes the socket and token files if they are still its own.
   * Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const from = this.#state;
    this.#setState('closing', 'close()');
    this.#watch.stop();
    if (from === 'starting') await this.#started?.catch(() => undefined);
    for (const conn of [...this.#conns]) conn.connection.close('broker shutting down');
    await this.#listener.stop();
    this.#setState('closed', 'close()');
    this.#fire('closed');
  }

  /** State test that control-flow narrowing cannot fold across an await. */
  #is(state: BrokerState): boolean {
    return this.#state === state;
  }

  #setState(to: BrokerState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#fire('state-change', { from, to, reason });
  }

  /** Emits to user listeners; a throw goes to the callback policy after our own work is done. */
  #fire<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): void {
    try {
      callListeners(this.rawListeners(event), this, args);
    } catch (error) {
      this.#callbackFailed(`a '${event}' listener`, error);
    }
  }

  #callbackFailed(what: string, error: unknown): void {
    this.#counters.callbackErrors++;
    reportCallbackError(this.options.onCallbackError, what, error);
  }

  #onConnection(socket: Socket): void {
    const { options } = this;
    const connection = new FramedConnection(socket, options, options.clock, options.closeGraceMs);
    if (this.#state !== 'listening') {
      connection.destroy('broker closing');
      return;
    }
    const conn = this.#gate.accept(connection);
    if (conn === undefined) return;
    this.#conns.add(conn);
    connection.on('envelope', (message) => this.#onEnvelope(conn, message));
    connection.on('protocol-error', (error) => {
      this.#counters.protocolErrors++;
      this.#protocolErrorsByCode[error.code] = (this.#protocolErrorsByCode[error.code] ?? 0) + 1;
      this.#fire('protocol-error', error, conn.session?.info.collectorId);
    });
    connection.on('close', (reason) => this.#onClose(conn, reason));
  }

  #onClose(conn: Conn, reason: string): void {
    this.#gate.closed(conn);
    this.#conns.delete(conn);
    const { connection, session } = conn;
    addClosed(this.#closed, connection);
    if (!session) return;
    this.#router.removeAll(session);
    if (this.#sessions.get(session.info.collectorId) === session) {
      this.#sessions.delete(session.info.collectorId);
      this.#fire('collector-disconnected', session.info, reason);
    }
  }

  #onEnvelope(conn: Conn, message: LazyEnvelope): void {
    const session = conn.session;
    if (session) {
      dispatch(session, message, this.#dispatchContext);
    } else if (this.#gate.pending.has(conn)) {
      this.#gate.handshake(conn, message);
    }
  }

  #sendOn(connection: FramedConnection, message: Envelope): void {
    try {
      connection.send(message);
    } catch (error) {
      if (error instanceof TransportError && error.code === 'ERR_BACKPRESSURE') {
        this.#counters.backpressure++;
      }
      throw error;
    }
  }
}

/** Creates a {@link Broker}; call `listen()` to start it. */
export function createBroker(options?: BrokerOptions): Broker {
  return new Broker(options);
}
