import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import {
  type DetectionResult,
  type Envelope,
  type EnvelopeBody,
  type Nack,
  PROTOCOL_VERSION,
  type TaskAssignment,
  type Welcome,
} from '@daemoneye/proto';
import { TOKEN_BYTES } from './broker.js';
import { type Clock, refClock } from './clock.js';
import { FramedConnection } from './connection.js';
import { type Endpoint, resolveEndpoint } from './endpoint.js';
import { RejectedError, TransportError, type TransportErrorCode } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frame.js';
import { normalizePattern, TopicTrie, validateTopic } from './topics.js';

/** Shortest heartbeat interval the client accepts from a Welcome. */
const MIN_HEARTBEAT_INTERVAL_MS = 100;
const KNOWN_NACK_CODES: readonly TransportErrorCode[] = [
  'ERR_INVALID_PATTERN',
  'ERR_INVALID_TOPIC',
  'ERR_TOO_MANY_SUBSCRIPTIONS',
  'ERR_BACKPRESSURE',
  'ERR_FRAME_TOO_LARGE',
  'ERR_CLOSED',
];

/** A broker's refusal, as opposed to a lost or closed connection. */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof TransportError &&
    error.code !== 'ERR_NOT_CONNECTED' &&
    error.code !== 'ERR_CLOSED'
  );
}

/** A finite, non-negative integer, or 0. */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? Math.min(Math.trunc(value), 0xffff_ffff)
    : 0;
}

function nackCode(code: string): TransportErrorCode {
  return KNOWN_NACK_CODES.find((known) => known === code) ?? 'ERR_PROTOCOL';
}

/** Load figures a collector reports in each Heartbeat. */
export interface HeartbeatMetrics {
  activeTasks: number;
  queueDepth: number;
  /** 0..1 */
  cpu: number;
  memoryBytes: number;
}

/** A topic message received by a collector. */
export interface ReceivedMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** Collector id of the publisher as stamped by the broker; `''` for the agent. */
  readonly sender: string;
}

/** Options of {@link CollectorClient}. */
export interface CollectorClientOptions {
  /** Unique id of this collector, e.g. `procmond-1`. Required. */
  collectorId: string;
  /** Collector kind, e.g. `procmond`. Required. */
  kind: string;
  /** Socket path / pipe name or resolved endpoint. Default: the platform default. */
  endpoint?: Endpoint | string;
  /** The auth token. Default: read from the endpoint's token file at every connect. */
  token?: Uint8Array;
  /** Send no token (for a broker with `auth: false`). Default false. */
  noAuth?: boolean;
  /** Reported process id. Default `process.pid`. */
  pid?: number;
  /** Task kinds this collector accepts. Default `[]`. */
  taskKinds?: string[];
  /** Free-form capabilities. Default `[]`. */
  capabilities?: string[];
  /** Called at each heartbeat for the current load. Default: zeros. */
  metrics?: () => HeartbeatMetrics;
  /** Called for each task assignment (also emitted as `task`). */
  onTask?: (task: TaskAssignment) => void;
  /** Reconnect after a lost session. Default true. */
  reconnect?: boolean;
  /** First reconnect delay. Default 100. */
  initialReconnectDelayMs?: number;
  /** Largest reconnect delay. Default 5000. */
  maxReconnectDelayMs?: number;
  /** Reconnect attempts before giving up (state `closed`, event `give-up`). Default Infinity. */
  maxReconnectAttempts?: number;
  /** Time to get Welcome or Reject after connecting. Default 5000. */
  connectTimeoutMs?: number;
  /** Largest frame in either direction. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Outbound bytes queued before `ERR_BACKPRESSURE`. Default 8 MiB. */
  maxQueueBytes?: number;
  /** Outbound frames queued before `ERR_BACKPRESSURE`. Default 10 000. */
  maxQueueFrames?: number;
  /** Tasks buffered for `tasks()` before new ones are refused. Default 1000. */
  maxBufferedTasks?: number;
  /** Time source and timers. Default: real time; its timers keep the process alive while reconnecting. */
  clock?: Clock;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
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
  state: [state: ClientState];
  welcome: [welcome: Welcome];
  task: [task: TaskAssignment];
  message: [message: ReceivedMessage];
  nack: [nack: Nack];
  disconnected: [reason: string];
  'reconnect-scheduled': [attempt: number, delayMs: number];
  'reconnect-failed': [error: unknown];
  /** Re-sending a subscription after a reconnect failed. */
  'resubscribe-failed': [pattern: string, error: unknown];
  'give-up': [error: unknown];
  /** An `onTask`, subscription handler or `task`/`message` listener threw; the client goes on. */
  'handler-error': [error: unknown];
}

interface PendingAck {
  resolve: () => void;
  reject: (error: Error) => void;
}

function positiveInt(value: number | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * The collector side: handshake, heartbeats, subscriptions, publishes, tasks in and results out,
 * reconnect with exponential backoff and jitter, and automatic re-subscription.
 */
export class CollectorClient extends EventEmitter<CollectorClientEvents> {
  state: ClientState = 'idle';
  /** The last Welcome, while a session is open. */
  welcome: Welcome | undefined;
  readonly endpoint: Endpoint;
  private readonly opts: CollectorClientOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly limits: { maxFrameBytes: number; maxQueueBytes: number; maxQueueFrames: number };
  private readonly reconnectDelays: { initial: number; max: number; attempts: number };
  private readonly connectTimeoutMs: number;
  private readonly maxBufferedTasks: number;
  private connection: FramedConnection | undefined;
  /** The connection of an attempt that has not had its Welcome yet. */
  private handshaking: FramedConnection | undefined;
  private heartbeatTimer: unknown;
  private reconnectTimer: unknown;
  private attempt = 0;
  private nextMessageId = 1n;
  private readonly patterns = new Map<string, number>();
  private readonly handlers = new TopicTrie<(message: ReceivedMessage) => void>();
  private readonly pendingAcks = new Map<bigint, PendingAck>();
  private readonly bufferedTasks: TaskAssignment[] = [];
  private taskWaiters: ((result: IteratorResult<TaskAssignment>) => void)[] = [];
  private iterating = false;
  private readonly counters: ClientStats = {
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
    if (typeof options.collectorId !== 'string' || options.collectorId === '') {
      throw new TypeError('collectorId must be a non-empty string');
    }
    if (typeof options.kind !== 'string' || options.kind === '') {
      throw new TypeError('kind must be a non-empty string');
    }
    if (options.token !== undefined && options.token.length !== TOKEN_BYTES) {
      throw new RangeError(`token must be ${TOKEN_BYTES} bytes, got ${options.token.length}`);
    }
    this.opts = options;
    this.endpoint =
      typeof options.endpoint === 'object' ? options.endpoint : resolveEndpoint(options.endpoint);
    this.clock = options.clock ?? refClock;
    this.random = options.random ?? Math.random;
    this.limits = {
      maxFrameBytes: positiveInt(
        options.maxFrameBytes,
        'maxFrameBytes',
        DEFAULT_MAX_FRAME_BYTES,
        64,
      ),
      maxQueueBytes: positiveInt(options.maxQueueBytes, 'maxQueueBytes', 8 * 1024 * 1024, 1024),
      maxQueueFrames: positiveInt(options.maxQueueFrames, 'maxQueueFrames', 10_000),
    };
    const initial = positiveInt(options.initialReconnectDelayMs, 'initialReconnectDelayMs', 100);
    const max = positiveInt(options.maxReconnectDelayMs, 'maxReconnectDelayMs', 5000);
    if (max < initial)
      throw new RangeError('maxReconnectDelayMs must be >= initialReconnectDelayMs');
    const attempts = options.maxReconnectAttempts ?? Number.POSITIVE_INFINITY;
    if (!(attempts >= 0)) throw new RangeError('maxReconnectAttempts must be >= 0');
    this.reconnectDelays = { initial, max, attempts };
    this.connectTimeoutMs = positiveInt(options.connectTimeoutMs, 'connectTimeoutMs', 5000);
    this.maxBufferedTasks = positiveInt(options.maxBufferedTasks, 'maxBufferedTasks', 1000);
  }

  /** Counters. */
  stats(): ClientStats {
    return { ...this.counters };
  }

  /** Connects and completes the handshake. Rejects with a {@link TransportError} (a {@link RejectedError} on Reject). */
  async connect(): Promise<Welcome> {
    if (this.state !== 'idle') {
      throw new TransportError('ERR_CLOSED', `cannot connect in state ${this.state}`);
    }
    this.setState('connecting');
    try {
      return await this.open();
    } catch (error) {
      this.setState('closed');
      throw error;
    }
  }

  /** Subscribes to a pattern; resolves when the broker acknowledges. Re-subscribed after reconnects. */
  async subscribe(pattern: string, handler?: (message: ReceivedMessage) => void): Promise<void> {
    const canonical = normalizePattern(pattern);
    if (this.state === 'closing' || this.state === 'closed') {
      throw new TransportError('ERR_CLOSED', 'cannot subscribe: client closed');
    }
    if (handler) this.handlers.add(canonical, handler);
    this.patterns.set(canonical, (this.patterns.get(canonical) ?? 0) + 1);
    if (this.state !== 'open') return;
    try {
      await this.request({ $case: 'subscribe', value: { pattern: canonical } });
    } catch (error) {
      // Refused by the broker (not merely disconnected): forget it, or every reconnect re-sends it.
      if (
        error instanceof TransportError &&
        error.code !== 'ERR_NOT_CONNECTED' &&
        error.code !== 'ERR_CLOSED'
      ) {
        if (handler) this.handlers.remove(canonical, handler);
        const count = (this.patterns.get(canonical) ?? 1) - 1;
        if (count > 0) this.patterns.set(canonical, count);
        else this.patterns.delete(canonical);
      }
      throw error;
    }
  }

  /** Removes a pattern (and its handler); resolves when the broker acknowledges. */
  async unsubscribe(pattern: string, handler?: (message: ReceivedMessage) => void): Promise<void> {
    const canonical = normalizePattern(pattern);
    if (handler) this.handlers.remove(canonical, handler);
    const count = (this.patterns.get(canonical) ?? 0) - 1;
    if (count > 0) {
      this.patterns.set(canonical, count);
      return;
    }
    this.patterns.delete(canonical);
    if (this.state === 'open')
      await this.request({ $case: 'unsubscribe', value: { pattern: canonical } });
  }

  /**
   * Publishes a message and returns its message id; a failed delivery comes back as a `nack`
   * event carrying that id. Throws `ERR_INVALID_TOPIC`, `ERR_NOT_CONNECTED` or `ERR_BACKPRESSURE`.
   */
  publish(topic: string, payload: Uint8Array): bigint {
    validateTopic(topic);
    const messageId = this.nextMessageId++;
    this.send({ $case: 'publish', value: { topic, payload, sender: '' } }, messageId);
    return messageId;
  }

  /** Sends results for a task; mark the last batch `final`. Throws like {@link publish}. */
  sendResult(
    task: Pick<TaskAssignment, 'taskId' | 'correlationId'>,
    results: DetectionResult[],
    options: { final: boolean; error?: string } = { final: true },
  ): void {
    this.send({
      $case: 'taskResult',
      value: {
        taskId: task.taskId,
        correlationId: task.correlationId,
        results,
        final: options.final,
        error: options.error ?? '',
      },
    });
    this.counters.resultsSent++;
  }

  /** Async iterator over task assignments (buffered up to `maxBufferedTasks`). Ends on close. */
  tasks(): AsyncIterableIterator<TaskAssignment> {
    this.iterating = true;
    const iterator: AsyncIterableIterator<TaskAssignment> = {
      next: () => {
        const task = this.bufferedTasks.shift();
        if (task) return Promise.resolve({ value: task, done: false });
        if (this.state === 'closed') return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.taskWaiters.push(resolve));
      },
      return: () => {
        this.iterating = false;
        this.bufferedTasks.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Says Goodbye and closes; no reconnect follows. */
  async close(reason = 'collector closing'): Promise<void> {
    if (this.state === 'closed') return;
    this.clock.clearTimeout(this.reconnectTimer);
    this.stopHeartbeats();
    // An attempt still in its handshake is dropped too, so nothing keeps the process alive.
    this.handshaking?.destroy(reason);
    this.handshaking = undefined;
    const connection = this.connection;
    this.setState('closing');
    if (connection && connection.state !== 'closed') {
      const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
      connection.close(reason, 200);
      await closed;
    }
    this.finishClose();
  }

  private finishClose(): void {
    this.setState('closed');
    this.welcome = undefined;
    for (const pending of this.pendingAcks.values()) {
      pending.reject(new TransportError('ERR_CLOSED', 'client closed'));
    }
    this.pendingAcks.clear();
    for (const waiter of this.taskWaiters) waiter({ value: undefined, done: true });
    this.taskWaiters = [];
  }

  private setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private async readToken(): Promise<Uint8Array> {
    if (this.opts.noAuth) return new Uint8Array();
    if (this.opts.token) return this.opts.token;
    let token: Buffer;
    try {
      token = await readFile(this.endpoint.tokenPath);
    } catch (error) {
      throw new TransportError(
        'ERR_TOKEN_FILE',
        `cannot read token file ${this.endpoint.tokenPath}`,
        {
          cause: error,
        },
      );
    }
    if (token.length !== TOKEN_BYTES) {
      throw new TransportError(
        'ERR_TOKEN_FILE',
        `token file ${this.endpoint.tokenPath} holds ${token.length} bytes, expected ${TOKEN_BYTES}`,
      );
    }
    return token;
  }

  private async open(): Promise<Welcome> {
    const token = await this.readToken();
    if (this.state === 'closing' || this.state === 'closed') {
      throw new TransportError('ERR_CLOSED', 'client closed');
    }
    const socket = connect(this.endpoint.path);
    const connection = new FramedConnection(socket, this.limits);
    this.handshaking = connection;
    return new Promise<Welcome>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        if (this.handshaking === connection) this.handshaking = undefined;
        this.clock.clearTimeout(timer);
        connection.destroy(error.message);
        reject(error);
      };
      const timer = this.clock.setTimeout(
        () =>
          fail(
            new TransportError(
              'ERR_HANDSHAKE_TIMEOUT',
              `no Welcome within ${this.connectTimeoutMs} ms`,
            ),
          ),
        this.connectTimeoutMs,
      );
      socket.once('connect', () => {
        connection.trySend({
          $case: 'hello',
          value: {
            protocolVersion: PROTOCOL_VERSION,
            collectorId: this.opts.collectorId,
            kind: this.opts.kind,
            pid: this.opts.pid ?? process.pid,
            capabilities: this.opts.capabilities ?? [],
            taskKinds: this.opts.taskKinds ?? [],
            authToken: token,
          },
        });
      });
      socket.once('error', (error) => {
        fail(
          new TransportError(
            'ERR_NOT_CONNECTED',
            `cannot connect to ${this.endpoint.path}: ${error.message}`,
            { cause: error },
          ),
        );
      });
      connection.on('protocol-error', (error) => fail(error));
      connection.on('close', (reason) => {
        if (!settled) {
          fail(
            new TransportError(
              'ERR_NOT_CONNECTED',
              `connection closed during handshake: ${reason}`,
            ),
          );
          return;
        }
        if (this.connection === connection) this.onLost(reason);
      });
      connection.on('envelope', (message) => {
        if (settled) {
          this.onEnvelope(message);
          return;
        }
        const body = message.body;
        if (body?.$case === 'welcome' && (this.state === 'closing' || this.state === 'closed')) {
          // close() ran while this attempt was in flight: do not come back to life.
          fail(new TransportError('ERR_CLOSED', 'client closed during the handshake'));
        } else if (body?.$case === 'welcome') {
          settled = true;
          this.clock.clearTimeout(timer);
          this.connection = connection;
          this.handshaking = undefined;
          this.welcome = body.value;
          this.attempt = 0;
          this.counters.connects++;
          this.setState('open');
          // A broken Welcome must not turn the heartbeat into a busy loop.
          this.startHeartbeats(Math.max(MIN_HEARTBEAT_INTERVAL_MS, body.value.heartbeatIntervalMs));
          this.resubscribe();
          this.emit('welcome', body.value);
          resolve(body.value);
        } else if (body?.$case === 'reject') {
          fail(new RejectedError(body.value.code, body.value.message));
        } else if (body?.$case === 'goodbye') {
          fail(
            new TransportError('ERR_NOT_CONNECTED', `broker said goodbye: ${body.value.reason}`),
          );
        } else {
          fail(
            new TransportError(
              'ERR_PROTOCOL',
              `expected Welcome, got ${body?.$case ?? 'an empty body'}`,
            ),
          );
        }
      });
    });
  }

  private resubscribe(): void {
    for (const pattern of this.patterns.keys()) {
      this.request({ $case: 'subscribe', value: { pattern } }).catch((error: unknown) => {
        // Refused by the broker (not a lost link): forget it so the next reconnect does not retry it.
        if (isRefusal(error)) this.patterns.delete(pattern);
        this.emit('resubscribe-failed', pattern, error);
      });
    }
  }

  private onEnvelope(message: Envelope): void {
    const body = message.body;
    switch (body?.$case) {
      case 'taskAssignment':
        this.onTask(body.value);
        return;
      case 'publish': {
        this.counters.messagesReceived++;
        const received: ReceivedMessage = {
          topic: body.value.topic,
          payload: body.value.payload,
          sender: body.value.sender,
        };
        this.guard(() => this.emit('message', received));
        for (const handler of this.handlers.match(received.topic))
          this.guard(() => handler(received));
        return;
      }
      case 'ack': {
        const pending = this.pendingAcks.get(body.value.messageId);
        this.pendingAcks.delete(body.value.messageId);
        pending?.resolve();
        return;
      }
      case 'nack': {
        this.counters.nacksReceived++;
        const pending = this.pendingAcks.get(body.value.messageId);
        if (pending) {
          this.pendingAcks.delete(body.value.messageId);
          pending.reject(
            new TransportError(
              nackCode(body.value.code),
              `broker refused: ${body.value.code}: ${body.value.message}`,
            ),
          );
        }
        this.emit('nack', body.value);
        return;
      }
      default:
        return;
    }
  }

  private onTask(task: TaskAssignment): void {
    this.counters.tasksReceived++;
    if (
      this.iterating &&
      this.taskWaiters.length === 0 &&
      this.bufferedTasks.length >= this.maxBufferedTasks
    ) {
      // Refuse out loud: the agent sees a final error result and can re-route the task.
      this.counters.tasksRefused++;
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
    const onTask = this.opts.onTask;
    if (onTask) this.guard(() => onTask(task));
    this.guard(() => this.emit('task', task));
    if (!this.iterating) return;
    const waiter = this.taskWaiters.shift();
    if (waiter) waiter({ value: task, done: false });
    else this.bufferedTasks.push(task);
  }

  /** Runs user code; a throw is counted and reported as `handler-error`, never breaks the session. */
  private guard(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.counters.handlerErrors++;
      if (this.listenerCount('handler-error') > 0) this.emit('handler-error', error);
    }
  }

  private send(body: EnvelopeBody, messageId = 0n): void {
    const connection = this.connection;
    if (this.state !== 'open' || !connection) {
      throw new TransportError('ERR_NOT_CONNECTED', `collector client is ${this.state}`);
    }
    try {
      connection.send({ messageId, body });
    } catch (error) {
      if (error instanceof TransportError && error.code === 'ERR_BACKPRESSURE')
        this.counters.backpressure++;
      throw error;
    }
  }

  private request(body: EnvelopeBody): Promise<void> {
    const messageId = this.nextMessageId++;
    return new Promise<void>((resolve, reject) => {
      this.pendingAcks.set(messageId, { resolve, reject });
      try {
        this.send(body, messageId);
      } catch (error) {
        this.pendingAcks.delete(messageId);
        reject(error);
      }
    });
  }

  private startHeartbeats(intervalMs: number): void {
    this.stopHeartbeats();
    const beat = (): void => {
      if (this.state !== 'open') return;
      let metrics: HeartbeatMetrics = { activeTasks: 0, queueDepth: 0, cpu: 0, memoryBytes: 0 };
      const callback = this.opts.metrics;
      if (callback) {
        // A throwing metrics callback must not stop the heartbeat: report zeros this time.
        this.guard(() => {
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
        this.send({
          $case: 'heartbeat',
          value: {
            activeTasks: count(metrics.activeTasks),
            queueDepth: count(metrics.queueDepth),
            cpu,
            memoryBytes: BigInt(memory),
            monotonicNs: process.hrtime.bigint(),
          },
        });
        this.counters.heartbeatsSent++;
      } catch {
        // A full queue skips one heartbeat; staleness detection on the agent covers a stuck link.
      }
      this.heartbeatTimer = this.clock.setTimeout(beat, intervalMs);
    };
    beat();
  }

  private stopHeartbeats(): void {
    this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private onLost(reason: string): void {
    this.stopHeartbeats();
    this.connection = undefined;
    this.welcome = undefined;
    for (const pending of this.pendingAcks.values()) {
      pending.reject(new TransportError('ERR_NOT_CONNECTED', `connection lost: ${reason}`));
    }
    this.pendingAcks.clear();
    this.emit('disconnected', reason);
    if (this.state === 'closing' || this.state === 'closed') return;
    if (this.opts.reconnect === false) {
      this.finishClose();
      return;
    }
    this.scheduleReconnect(new TransportError('ERR_NOT_CONNECTED', reason));
  }

  private scheduleReconnect(lastError: unknown): void {
    if (this.attempt >= this.reconnectDelays.attempts) {
      this.finishClose();
      this.emit('give-up', lastError);
      return;
    }
    this.attempt++;
    this.setState('reconnecting');
    const base = Math.min(
      this.reconnectDelays.max,
      this.reconnectDelays.initial * 2 ** (this.attempt - 1),
    );
    // Full jitter on the upper half keeps restarts of many collectors from arriving in lockstep.
    const delayMs = Math.round(base / 2 + this.random() * (base / 2));
    this.emit('reconnect-scheduled', this.attempt, delayMs);
    this.reconnectTimer = this.clock.setTimeout(() => {
      if (this.state !== 'reconnecting') return;
      this.counters.reconnects++;
      this.open().catch((error: unknown) => {
        if (this.state !== 'reconnecting') return;
        this.emit('reconnect-failed', error);
        this.scheduleReconnect(error);
      });
    }, delayMs);
  }
}

/** Creates a {@link CollectorClient}; call `connect()` to start it. */
export function createCollectorClient(options: CollectorClientOptions): CollectorClient {
  return new CollectorClient(options);
}
