import { EventEmitter } from 'node:events';
import {
  type DetectionResult,
  type Envelope,
  type EnvelopeBody,
  type Nack,
  PROTOCOL_VERSION,
  type TaskAssignment,
  type Welcome,
} from '@daemoneye/proto';
import { backoffDelay } from './backoff.js';
import { startHandshake } from './client-handshake.js';
import {
  type CollectorClientOptions,
  type HeartbeatMetrics,
  type ResolvedClientOptions,
  resolveClientOptions,
} from './client-options.js';
import { keepAlive } from './clock.js';
import type { FramedConnection } from './connection.js';
import type { Endpoint } from './endpoint.js';
import {
  isTransportErrorCode,
  reportCallbackError,
  TransportError,
  type TransportErrorCode,
} from './errors.js';
import type { StateChange } from './lifecycle.js';
import { TaskQueue } from './task-queue.js';
import { readTokenFile } from './token-file.js';
import { normalizePattern, TopicTrie, validateTopic } from './topics.js';

/** Shortest heartbeat interval the client accepts from a Welcome. */
const MIN_HEARTBEAT_INTERVAL_MS = 100;

/** A broker's refusal, as opposed to a lost or closed connection. */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof TransportError &&
    error.code !== 'ERR_TRANSPORT_NOT_CONNECTED' &&
    error.code !== 'ERR_TRANSPORT_CLOSED'
  );
}

/** A finite, non-negative integer, or 0. */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? Math.min(Math.trunc(value), 0xffff_ffff)
    : 0;
}

function nackCode(code: string): TransportErrorCode {
  return isTransportErrorCode(code) ? code : 'ERR_TRANSPORT_PROTOCOL';
}

/** A topic message received by a collector. */
export interface ReceivedMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** Collector id of the publisher as stamped by the broker; `''` for the agent. */
  readonly sender: string;
}

/** Lifecycle of a collector client. */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/** Counters of a collector client. */
export interface ClientStats {
  connects: number;
  reconnects: number;
  heartbeatsSent: number;
  tasksReceived: number;
  tasksRefused: number;
  resultsSent: number;
  messagesReceived: number;
  nacksReceived: number;
  backpressure: number;
  handlerErrors: number;
}

/** Typed events of a {@link CollectorClient}. */
export interface CollectorClientEvents {
  'state-change': [change: StateChange<ClientState>];
  welcome: [welcome: Welcome];
  task: [task: TaskAssignment];
  message: [message: ReceivedMessage];
  nack: [nack: Nack];
  disconnected: [reason: string];
  'reconnect-scheduled': [attempt: number, delayMs: number];
  'reconnect-failed': [error: unknown];
  /** Re-sending a subscription after a reconnect failed. */
  'resubscribe-failed': [pattern: string, error: unknown];
  'gave-up': [error: unknown];
  closed: [];
}

interface PendingAck {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Calls each listener of `event` in order (what `emit` does), typed per event. */
function emitTo<K extends keyof CollectorClientEvents>(
  emitter: EventEmitter<CollectorClientEvents>,
  event: K,
  args: CollectorClientEvents[K],
): void {
  for (const listener of emitter.rawListeners(event)) {
    if (typeof listener === 'function') Reflect.apply(listener, emitter, args);
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
  #heartbeatTimer: unknown;
  #reconnectTimer: unknown;
  #attempt = 0;
  #nextMessageId = 1n;
  #closing: Promise<void> | undefined;
  readonly #patterns = new Map<string, number>();
  readonly #handlers = new TopicTrie<(message: ReceivedMessage) => void>();
  readonly #pendingAcks = new Map<bigint, PendingAck>();
  readonly #tasks: TaskQueue;
  readonly #counters: ClientStats = {
    connects: 0,
    reconnects: 0,
    heartbeatsSent: 0,
    tasksReceived: 0,
    tasksRefused: 0,
    resultsSent: 0,
    messagesReceived: 0,
    nacksReceived: 0,
    backpressure: 0,
    handlerErrors: 0,
  };

  constructor(options: CollectorClientOptions) {
    super();
    this.options = resolveClientOptions(options);
    this.#tasks = new TaskQueue(this.options.maxBufferedTasks);
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
    if (handler) this.#handlers.add(canonical, handler);
    this.#patterns.set(canonical, (this.#patterns.get(canonical) ?? 0) + 1);
    if (this.#state !== 'open') return;
    try {
      await this.#request({ $case: 'subscribe', value: { pattern: canonical } });
    } catch (error) {
      // Refused by the broker (not merely disconnected): forget it, or every reconnect re-sends it.
      if (isRefusal(error)) {
        if (handler) this.#handlers.remove(canonical, handler);
        const left = (this.#patterns.get(canonical) ?? 1) - 1;
        if (left > 0) this.#patterns.set(canonical, left);
        else this.#patterns.delete(canonical);
      }
      throw error;
    }
  }

  /** Removes a pattern (and its handler); resolves when the broker acknowledges. */
  async unsubscribe(pattern: string, handler?: (message: ReceivedMessage) => void): Promise<void> {
    const canonical = normalizePattern(pattern);
    if (handler) this.#handlers.remove(canonical, handler);
    const left = (this.#patterns.get(canonical) ?? 0) - 1;
    if (left > 0) {
      this.#patterns.set(canonical, left);
      return;
    }
    this.#patterns.delete(canonical);
    if (this.#state === 'open') {
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
    this.#stopHeartbeats();
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
    this.#stopHeartbeats();
    this.#closing ??= Promise.resolve();
    this.#setState('closed', reason);
    this.#welcome = undefined;
    for (const pending of this.#pendingAcks.values()) {
      pending.reject(new TransportError('ERR_TRANSPORT_CLOSED', 'client closed'));
    }
    this.#pendingAcks.clear();
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
    this.#guard(`a '${event}' listener`, () => emitTo(this, event, args));
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
    const attempt = startHandshake({
      endpoint: options.endpoint,
      limits: options,
      clock: options.clock,
      closeGraceMs: options.closeGraceMs,
      connectTimeoutMs: options.connectTimeoutMs,
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        collectorId: options.collectorId,
        kind: options.kind,
        pid: options.pid,
        capabilities: [...options.capabilities],
        taskKinds: [...options.taskKinds],
        authToken: token,
      },
      closing: () => this.#state === 'closing' || this.#state === 'closed',
      onWelcome: (welcome, connection) => this.#onWelcome(welcome, connection),
      onEnvelope: (message) => this.#onEnvelope(message),
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
    this.#startHeartbeats(Math.max(MIN_HEARTBEAT_INTERVAL_MS, welcome.heartbeatIntervalMs));
    this.#resubscribe();
    this.#fire('welcome', welcome);
  }

  #resubscribe(): void {
    for (const pattern of this.#patterns.keys()) {
      this.#request({ $case: 'subscribe', value: { pattern } }).catch((error: unknown) => {
        // Refused by the broker (not a lost link): forget it so the next reconnect does not retry it.
        if (isRefusal(error)) this.#patterns.delete(pattern);
        this.#fire('resubscribe-failed', pattern, error);
      });
    }
  }

  #onEnvelope(message: Envelope): void {
    const body = message.body;
    switch (body?.$case) {
      case 'taskAssignment':
        this.#onTask(body.value);
        return;
      case 'publish': {
        this.#counters.messagesReceived++;
        const received: ReceivedMessage = {
          topic: body.value.topic,
          payload: body.value.payload,
          sender: body.value.sender,
        };
        this.#fire('message', received);
        for (const handler of this.#handlers.match(received.topic)) {
          this.#guard(`the handler of ${received.topic}`, () => handler(received));
        }
        return;
      }
      case 'ack': {
        const pending = this.#pendingAcks.get(body.value.messageId);
        this.#pendingAcks.delete(body.value.messageId);
        pending?.resolve();
        return;
      }
      case 'nack': {
        this.#counters.nacksReceived++;
        const pending = this.#pendingAcks.get(body.value.messageId);
        if (pending) {
          this.#pendingAcks.delete(body.value.messageId);
          pending.reject(
            new TransportError(
              nackCode(body.value.code),
              `broker refused: ${body.value.code}: ${body.value.message}`,
            ),
          );
        }
        this.#fire('nack', body.value);
        return;
      }
      default:
        return;
    }
  }

  #onTask(task: TaskAssignment): void {
    this.#counters.tasksReceived++;
    if (this.#tasks.full) {
      // Refuse out loud: the agent sees a final error result and can re-route the task.
      this.#counters.tasksRefused++;
      try {
        this.sendResult(task, [], {
          final: true,
          error: 'ERR_BACKPRESSURE: collector task buffer is full',
        });
      } catch {
        // The connection is gone or full: the agent's failover handles the task.
      }
      return;
    }
    const onTask = this.options.onTask;
    if (onTask) this.#guard('onTask', () => onTask(task));
    this.#fire('task', task);
    this.#tasks.offer(task);
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
    return new Promise<void>((resolve, reject) => {
      this.#pendingAcks.set(messageId, { resolve, reject });
      try {
        this.#send(body, messageId);
      } catch (error) {
        this.#pendingAcks.delete(messageId);
        reject(error);
      }
    });
  }

  #startHeartbeats(intervalMs: number): void {
    this.#stopHeartbeats();
    const beat = (): void => {
      if (this.#state !== 'open') return;
      let metrics: HeartbeatMetrics = { activeTasks: 0, queueDepth: 0, cpu: 0, memoryBytes: 0 };
      const callback = this.options.metrics;
      if (callback) {
        // A throwing metrics callback must not stop the heartbeat: report zeros this time.
        this.#guard('metrics', () => {
          metrics = callback();
        });
      }
      const cpu = Number.isFinite(metrics.cpu) ? Math.min(1, Math.max(0, metrics.cpu)) : 0;
      const memory =
        typeof metrics.memoryBytes === 'number' &&
        Number.isFinite(metrics.memoryBytes) &&
        metrics.memoryBytes > 0
          ? Math.trunc(metrics.memoryBytes)
          : 0;
      try {
        this.#send({
          $case: 'heartbeat',
          value: {
            activeTasks: count(metrics.activeTasks),
            queueDepth: count(metrics.queueDepth),
            cpu,
            memoryBytes: BigInt(memory),
            monotonicNs: process.hrtime.bigint(),
          },
        });
        this.#counters.heartbeatsSent++;
      } catch {
        // A full queue skips one heartbeat; staleness detection on the agent covers a stuck link.
      }
      this.#heartbeatTimer = this.options.clock.setTimeout(beat, intervalMs);
    };
    beat();
  }

  #stopHeartbeats(): void {
    this.options.clock.clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }

  #onLost(reason: string): void {
    this.#stopHeartbeats();
    this.#connection = undefined;
    this.#welcome = undefined;
    for (const pending of this.#pendingAcks.values()) {
      pending.reject(
        new TransportError('ERR_TRANSPORT_NOT_CONNECTED', `connection lost: ${reason}`),
      );
    }
    this.#pendingAcks.clear();
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
