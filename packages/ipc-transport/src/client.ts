import { EventEmitter } from 'node:events';
import type { DetectionResult, EnvelopeBody, TaskAssignment, Welcome } from '@daemoneye/proto';
import { AckTracker, isRefusal } from './acks.js';
import { backoffDelay } from './backoff.js';
import {
  type ClientState,
  type ClientStats,
  type CollectorClientEvents,
  emptyClientStats,
  type ReceivedMessage,
} from './client-events.js';
import { startHandshake } from './client-handshake.js';
import { handleInbound, type InboundContext } from './client-inbound.js';
import {
  type CollectorClientOptions,
  type HeartbeatMetrics,
  type ResolvedClientOptions,
  resolveClientOptions,
} from './client-options.js';
import { SubscriptionSet } from './client-subscriptions.js';
import type { FramedConnection } from './connection.js';
import type { Endpoint } from './endpoint.js';
import { reportCallbackError, TransportError } from './errors.js';
import { callListeners } from './events.js';
import { HeartbeatLoop, heartbeatOf } from './heartbeat.js';
import { TaskQueue } from './task-queue.js';
import { readTokenFile } from './token-file.js';
import { normalizePattern, validateTopic } from './topics.js';

/** Shortest heartbeat interval the client accepts from a Welcome. */
const MIN_HEARTBEAT_INTERVAL_MS = 100;

export type {
  ClientState,
  ClientStats,
  CollectorClientEvents,
  ReceivedMessage,
} from './client-events.js';

/** Makes a real timer keep the process alive; other handles (fake clocks) are left alone. */
function keepAlive(handle: unknown): void {
  if (
    typeof handle === 'object' &&
    handle !== null &&
    'ref' in handle &&
    typeof handle.ref === 'function'
  ) {
    handle.ref();
  }
}

/**
 * The collector side: handshake, heartbeats, subscriptions, publishes, tasks in and results out,
 * reconnect with exponential backoff and jitter, and automatic re-subscription.
 */
export class CollectorClient extends EventEmitter<CollectorClientEvents> {
  readonly options: ResolvedClientOptions;
  #state: ClientState = 'idle';
  #welcome: Welcome | undefined;
  #connection: FramedConnection | undefined;
  /** The connection of an attempt that has not had its Welcome yet. */
  #handshaking: FramedConnection | undefined;
  #reconnectTimer: unknown;
  #attempt = 0;
  #nextMessageId = 1n;
  #closing: Promise<void> | undefined;
  readonly #subscriptions = new SubscriptionSet();
  readonly #acks = new AckTracker();
  readonly #tasks: TaskQueue;
  readonly #heartbeats: HeartbeatLoop;
  readonly #counters: ClientStats = emptyClientStats();
  readonly #inbound: InboundContext;

  constructor(options: CollectorClientOptions) {
    super();
    this.options = resolveClientOptions(options);
    this.#tasks = new TaskQueue(this.options.maxBufferedTasks);
    this.#heartbeats = new HeartbeatLoop(this.options.clock, () => this.#beat());
    this.#inbound = {
      counters: this.#counters,
      acks: this.#acks,
      subscriptions: this.#subscriptions,
      tasks: this.#tasks,
      onTask: this.options.onTask,
      refuse: (task, error) => this.sendResult(task, [], { final: true, error }),
      fire: (event, ...args) => this.#fire(event, ...args),
      guard: (what, callback) => this.#guard(what, callback),
    };
  }

  /** `idle`, `connecting`, `open`, `reconnecting`, `closing` or `closed`. */
  get state(): ClientState {
    return this.#state;
  }

  /** The last Welcome, while a session is open. */
  get welcome(): Welcome | undefined {
    return this.#welcome;
  }

  get endpoint(): Endpoint {
    return this.options.endpoint;
  }

  /** Counters. */
  stats(): ClientStats {
    return { ...this.#counters };
  }

  /**
   * Connects and completes the handshake. Rejects with a {@link TransportError} (a
   * {@link RejectedError} on Reject). Aborting `signal`, now or later, closes the client.
   */
  async connect(options: { signal?: AbortSignal | undefined } = {}): Promise<Welcome> {
    const { signal } = options;
    if (this.#state !== 'idle') {
      throw new TransportError('ERR_TRANSPORT_CLOSED', `cannot connect in state ${this.#state}`);
    }
    if (signal?.aborted) {
      void this.close('aborted');
      throw new TransportError('ERR_TRANSPORT_ABORTED', 'connect aborted', {
        cause: signal.reason,
      });
    }
    this.#setState('connecting', 'connect()');
    signal?.addEventListener('abort', () => void this.close('aborted'), { once: true });
    try {
      return await this.#open();
    } catch (error) {
      if (signal?.aborted) {
        throw new TransportError('ERR_TRANSPORT_ABORTED', 'connect aborted', {
          cause: signal.reason,
        });
      }
      if (this.#is('connecting')) this.#finishClose('connect failed');
      throw error;
    }
  }

  /** Subscribes to a pattern; resolves when the broker acknowledges. Re-subscribed after reconnects. */
  async subscribe(pattern: string, handler?: (message: ReceivedMessage) => void): Promise<void> {
    const canonical = normalizePattern(pattern);
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw new TransportError('ERR_TRANSPORT_CLOSED', 'cannot subscribe: client closed');
    }
    this.#subscriptions.add(canonical, handler);
    if (this.#state !== 'open') return;
    try {
      await this.#request({ $case: 'subscribe', value: { pattern: canonical } });
    } catch (error) {
      // Refused by the broker (not merely disconnected): forget it, or every reconnect re-sends it.
      if (isRefusal(error)) this.#subscriptions.release(canonical, handler);
      throw error;
    }
  }

  /** Removes a pattern (and its handler); resolves when the broker acknowledges. */
  async unsubscribe(pattern: string, handler?: (message: ReceivedMessage) => void): Promise<void> {
    const canonical = normalizePattern(pattern);
    if (this.#subscriptions.release(canonical, handler) && this.#state === 'open') {
      await this.#request({ $case: 'unsubscribe', value: { pattern: canonical } });
    }
  }

  /**
   * Publishes a message and returns its message id; a failed delivery comes back as a `nack`
   * event carrying that id. Throws `ERR_INVALID_TOPIC`, `ERR_TRANSPORT_NOT_CONNECTED` or `ERR_BACKPRESSURE`.
   */
  publish(topic: string, payload: Uint8Array): bigint {
    validateTopic(topic);
    const messageId = this.#nextMessageId++;
    this.#send({ $case: 'publish', value: { topic, payload, sender: '' } }, messageId);
    return messageId;
  }

  /** Sends results for a task; mark the last batch `final`. Throws like {@link publish}. */
  sendResult(
    task: Pick<TaskAssignment, 'taskId' | 'correlationId'>,
    results: DetectionResult[],
    options: { final: boolean; error?: string } = { final: true },
  ): void {
    this.#send({
      $case: 'taskResult',
      value: {
        taskId: task.taskId,
        correlationId: task.correlationId,
        results,
        final: options.final,
        error: options.error ?? '',
      },
    });
    this.#counters.resultsSent++;
  }

  /** Async iterator over task assignments (buffered up to `maxBufferedTasks`). Ends on close. */
  tasks(): AsyncIterableIterator<TaskAssignment> {
    return this.#tasks.iterator(() => this.#state === 'closed');
  }

  /**
   * Says Goodbye and closes (waiting at most `closeGraceMs` for the broker); no reconnect
   * follows. Idempotent: every call returns the same promise.
   */
  close(reason = 'collector closing'): Promise<void> {
    this.#closing ??= this.#close(reason);
    return this.#closing;
  }

  async #close(reason: string): Promise<void> {
    const { clock } = this.options;
    clock.clearTimeout(this.#reconnectTimer);
    this.#heartbeats.stop();
    // An attempt still in its handshake is dropped too, so nothing keeps the process alive.
    this.#handshaking?.destroy(reason);
    this.#handshaking = undefined;
    const connection = this.#connection;
    if (this.#state === 'closed') return;
    this.#setState('closing', reason);
    if (connection && connection.state !== 'closed') {
      const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
      connection.close(reason);
      await closed;
    }
    this.#finishClose(reason);
  }

  #finishClose(reason: string): void {
    this.options.clock.clearTimeout(this.#reconnectTimer);
    this.#heartbeats.stop();
    this.#closing ??= Promise.resolve();
    this.#setState('closed', reason);
    this.#welcome = undefined;
    this.#acks.rejectAll('ERR_TRANSPORT_CLOSED', 'client closed');
    this.#tasks.end();
    this.#fire('closed');
  }

  /** State test that control-flow narrowing cannot fold across an await. */
  #is(state: ClientState): boolean {
    return this.#state === state;
  }

  #setState(to: ClientState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#fire('state-change', { from, to, reason });
  }

  /** Emits to user listeners; a throw goes to the callback policy after our own work is done. */
  #fire<K extends keyof CollectorClientEvents>(event: K, ...args: CollectorClientEvents[K]): void {
    this.#guard(`a '${event}' listener`, () => callListeners(this.rawListeners(event), this, args));
  }

  /** Runs user code; a throw is counted and handed to the callback policy, never breaks the session. */
  #guard(what: string, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#counters.handlerErrors++;
      reportCallbackError(this.options.onCallbackError, what, error);
    }
  }

  async #open(): Promise<Welcome> {
    const { options } = this;
    const token = options.noAuth
      ? new Uint8Array()
      : (options.token ?? (await readTokenFile(options.endpoint.tokenPath)));
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw new TransportError('ERR_TRANSPORT_CLOSED', 'client closed');
    }
    const attempt = startHandshake(options, token, {
      closing: () => this.#state === 'closing' || this.#state === 'closed',
      onWelcome: (welcome, connection) => this.#onWelcome(welcome, connection),
      onEnvelope: (message) => handleInbound(message, this.#inbound),
      onLost: (reason) => {
        if (this.#connection === attempt.connection) this.#onLost(reason);
      },
    });
    this.#handshaking = attempt.connection;
    try {
      return await attempt.welcome;
    } finally {
      if (this.#handshaking === attempt.connection) this.#handshaking = undefined;
    }
  }

  #onWelcome(welcome: Welcome, connection: FramedConnection): void {
    this.#connection = connection;
    this.#handshaking = undefined;
    this.#welcome = welcome;
    this.#attempt = 0;
    this.#counters.connects++;
    this.#setState('open', 'welcome');
    // A broken Welcome must not turn the heartbeat into a busy loop.
    this.#heartbeats.start(Math.max(MIN_HEARTBEAT_INTERVAL_MS, welcome.heartbeatIntervalMs));
    this.#resubscribe();
    this.#fire('welcome', welcome);
  }

  #resubscribe(): void {
    for (const pattern of this.#subscriptions.patterns()) {
      this.#request({ $case: 'subscribe', value: { pattern } }).catch((error: unknown) => {
        // Refused by the broker (not a lost link): forget it so the next reconnect does not retry it.
        if (isRefusal(error)) this.#subscriptions.drop(pattern);
        this.#fire('resubscribe-failed', pattern, error);
      });
    }
  }

  #send(body: EnvelopeBody, messageId = 0n): void {
    const connection = this.#connection;
    if (this.#state !== 'open' || !connection) {
      throw new TransportError('ERR_TRANSPORT_NOT_CONNECTED', `collector client is ${this.#state}`);
    }
    try {
      connection.send({ messageId, body });
    } catch (error) {
      if (error instanceof TransportError && error.code === 'ERR_BACKPRESSURE') {
        this.#counters.backpressure++;
      }
      throw error;
    }
  }

  #request(body: EnvelopeBody): Promise<void> {
    const messageId = this.#nextMessageId++;
    return this.#acks.request(messageId, () => this.#send(body, messageId));
  }

  /** One heartbeat; a throwing or junk `metrics` callback sends zeros this time. */
  #beat(): void {
    if (this.#state !== 'open') return;
    let metrics: HeartbeatMetrics = { activeTasks: 0, queueDepth: 0, cpu: 0, memoryBytes: 0 };
    const callback = this.options.metrics;
    if (callback) {
      this.#guard('metrics', () => {
        metrics = callback();
      });
    }
    try {
      this.#send({ $case: 'heartbeat', value: heartbeatOf(metrics) });
      this.#counters.heartbeatsSent++;
    } catch {
      // A full queue skips one heartbeat; staleness detection on the agent covers a stuck link.
    }
  }

  #onLost(reason: string): void {
    this.#heartbeats.stop();
    this.#connection = undefined;
    this.#welcome = undefined;
    this.#acks.rejectAll('ERR_TRANSPORT_NOT_CONNECTED', `connection lost: ${reason}`);
    this.#fire('disconnected', reason);
    if (this.#state === 'closing' || this.#state === 'closed') return;
    if (!this.options.reconnect) {
      this.#finishClose(`connection lost: ${reason}`);
      return;
    }
    this.#scheduleReconnect(new TransportError('ERR_TRANSPORT_NOT_CONNECTED', reason));
  }

  #scheduleReconnect(lastError: unknown): void {
    const { options } = this;
    if (this.#attempt >= options.maxReconnectAttempts) {
      this.#finishClose('gave up reconnecting');
      this.#fire('gave-up', lastError);
      return;
    }
    this.#attempt++;
    this.#setState('reconnecting', 'connection lost');
    const delayMs = backoffDelay(this.#attempt, options.backoff, options.random);
    this.#fire('reconnect-scheduled', this.#attempt, delayMs);
    this.#reconnectTimer = options.clock.setTimeout(() => {
      if (this.#state !== 'reconnecting') return;
      this.#counters.reconnects++;
      this.#open().catch((error: unknown) => {
        if (this.#state !== 'reconnecting') return;
        this.#fire('reconnect-failed', error);
        this.#scheduleReconnect(error);
      });
    }, delayMs);
    // The one timer that must keep a process alive: a collector waiting to get back in.
    keepAlive(this.#reconnectTimer);
  }
}

/** Creates a {@link CollectorClient}; call `connect()` to start it. */
export function createCollectorClient(options: CollectorClientOptions): CollectorClient {
  return new CollectorClient(options);
}
