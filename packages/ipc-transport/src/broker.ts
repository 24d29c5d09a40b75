import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmod, lstat, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type Envelope,
  type EnvelopeBody,
  type Heartbeat,
  type Hello,
  PROTOCOL_VERSION,
  type TaskAssignment,
  type TaskResult,
} from '@daemoneye/proto';
import { type Clock, systemClock } from './clock.js';
import { FramedConnection } from './connection.js';
import { type Endpoint, isEndpointLive, prepareEndpointDir, resolveEndpoint } from './endpoint.js';
import { TransportError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frame.js';
import { normalizePattern, TopicTrie, validateTopic } from './topics.js';

/** Length in bytes of the auth token. */
export const TOKEN_BYTES = 32;
const COLLECTOR_ID = /^[A-Za-z0-9_.:-]+$/;
/** Most task kinds, and most capabilities, one Hello may declare. */
const MAX_HELLO_LIST = 64;

/** Options of {@link Broker}. Every field is optional; defaults are in the README. */
export interface BrokerOptions {
  /** Socket path / pipe name, or a resolved endpoint. Default: the platform default. */
  endpoint?: Endpoint | string;
  /** Require the token handshake. Default true. */
  auth?: boolean;
  /** Time a new connection has to send Hello. Default 2000. */
  handshakeTimeoutMs?: number;
  /** Interval collectors are told to heartbeat at (100..3 600 000). Default 10 000. */
  heartbeatIntervalMs?: number;
  /** Largest frame payload in either direction. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Largest first frame (the Hello) before the handshake, so silent clients hold little memory. Default 128 KiB. */
  maxHandshakeBytes?: number;
  /** Open connections, handshaking or not; the excess is refused. Default 256. */
  maxConnections?: number;
  /** Outbound bytes queued per connection before `ERR_BACKPRESSURE`. Default 8 MiB. */
  maxQueueBytes?: number;
  /** Outbound frames queued per connection before `ERR_BACKPRESSURE`. Default 10 000. */
  maxQueueFrames?: number;
  /** Subscriptions one connection may hold. Default 1024. */
  maxSubscriptionsPerConnection?: number;
  /** Longest accepted collector id. Default 128. */
  maxCollectorIdLength?: number;
  /** Time source for handshake timers. Default: real time. */
  clock?: Clock;
}

interface ResolvedBrokerOptions {
  endpoint: Endpoint;
  auth: boolean;
  handshakeTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxFrameBytes: number;
  maxHandshakeBytes: number;
  maxConnections: number;
  maxQueueBytes: number;
  maxQueueFrames: number;
  maxSubscriptionsPerConnection: number;
  maxCollectorIdLength: number;
  clock: Clock;
}

function intOption(
  options: BrokerOptions,
  name: keyof BrokerOptions,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: BrokerOptions): ResolvedBrokerOptions {
  if (options.auth !== undefined && typeof options.auth !== 'boolean') {
    throw new TypeError('auth must be a boolean');
  }
  const endpoint =
    typeof options.endpoint === 'object' ? options.endpoint : resolveEndpoint(options.endpoint);
  return {
    endpoint,
    auth: options.auth ?? true,
    handshakeTimeoutMs: intOption(options, 'handshakeTimeoutMs', 2000, 1, 600_000),
    heartbeatIntervalMs: intOption(options, 'heartbeatIntervalMs', 10_000, 100, 3_600_000),
    maxFrameBytes: intOption(options, 'maxFrameBytes', DEFAULT_MAX_FRAME_BYTES, 64, 0xffff_ffff),
    maxHandshakeBytes: intOption(options, 'maxHandshakeBytes', 128 * 1024, 64, 0xffff_ffff),
    maxConnections: intOption(options, 'maxConnections', 256, 1, 1_000_000),
    maxQueueBytes: intOption(options, 'maxQueueBytes', 8 * 1024 * 1024, 1024, 2 ** 40),
    maxQueueFrames: intOption(options, 'maxQueueFrames', 10_000, 1, 100_000_000),
    maxSubscriptionsPerConnection: intOption(
      options,
      'maxSubscriptionsPerConnection',
      1024,
      1,
      1_000_000,
    ),
    maxCollectorIdLength: intOption(options, 'maxCollectorIdLength', 128, 1, 4096),
    clock: options.clock ?? systemClock,
  };
}

/** What the broker knows of one connected collector. */
export interface CollectorInfo {
  readonly collectorId: string;
  readonly kind: string;
  readonly pid: number;
  readonly sessionId: string;
  readonly taskKinds: readonly string[];
  readonly capabilities: readonly string[];
  /** `clock.now()` at the Welcome. */
  readonly connectedAt: number;
}

/** A message on a topic, as delivered to an in-process subscriber. */
export interface TopicMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** Collector id stamped by the broker from the session; `''` for the agent itself. */
  readonly sender: string;
  readonly messageId: bigint;
}

/** Outcome of {@link Broker.publish}. */
export interface PublishReport {
  delivered: number;
  failed: { collectorId: string; error: TransportError }[];
}

/** Counters of a broker; they only grow. */
export interface BrokerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  handshakes: number;
  handshakeTimeouts: number;
  authFailures: number;
  versionMismatches: number;
  invalidHellos: number;
  duplicateCollectors: number;
  protocolErrors: number;
  nacksSent: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  backpressure: number;
  publishesRouted: number;
  deliveries: number;
  handlerErrors: number;
  serverErrors: number;
  /** Current gauges. */
  openConnections: number;
  collectors: number;
  subscriptions: number;
}

/** Typed events of a {@link Broker}. */
export interface BrokerEvents {
  listening: [endpoint: Endpoint];
  'collector-connected': [info: CollectorInfo];
  'collector-disconnected': [info: CollectorInfo, reason: string];
  'task-result': [collectorId: string, result: TaskResult];
  heartbeat: [collectorId: string, heartbeat: Heartbeat];
  /** A bad frame, undecodable envelope or failed handshake; only that connection is affected. */
  'protocol-error': [error: TransportError, collectorId: string | undefined];
  /** A connection refused before or at the handshake (limit, auth, version, duplicate, timeout). */
  'connection-refused': [error: TransportError];
  /** An in-process subscriber threw; the broker goes on. */
  'handler-error': [error: unknown, topic: string];
  /** The listening server reported an error (e.g. EMFILE on accept); it keeps listening. */
  'server-error': [error: Error];
  close: [];
}

/** Lifecycle of a broker. */
export type BrokerState = 'idle' | 'listening' | 'closing' | 'closed';

type Subscriber = Session | LocalSubscription;

interface Session {
  readonly type: 'session';
  readonly info: CollectorInfo;
  readonly connection: FramedConnection;
}

interface LocalSubscription {
  readonly type: 'local';
  readonly handler: (message: TopicMessage) => void;
}

interface PendingConnection {
  readonly id: number;
  readonly connection: FramedConnection;
  timer: unknown;
  session: Session | undefined;
}

/**
 * The agent side of the transport: listens on a local endpoint, authenticates collectors, routes
 * topic messages and carries tasks and results. Never prints, exits or touches signals.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly options: Readonly<ResolvedBrokerOptions>;
  state: BrokerState = 'idle';
  private server: Server | undefined;
  private token: Buffer | undefined;
  private readonly connections = new Set<PendingConnection>();
  private readonly sessions = new Map<string, Session>();
  private readonly trie = new TopicTrie<Subscriber>();
  private nextConnectionId = 1;
  private starting = false;
  private nextMessageId = 1n;
  private ownsFiles = false;
  private readonly counters = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    handshakes: 0,
    handshakeTimeouts: 0,
    authFailures: 0,
    versionMismatches: 0,
    invalidHellos: 0,
    duplicateCollectors: 0,
    protocolErrors: 0,
    nacksSent: 0,
    backpressure: 0,
    publishesRouted: 0,
    deliveries: 0,
    handlerErrors: 0,
    serverErrors: 0,
    closedFramesIn: 0,
    closedFramesOut: 0,
    closedBytesIn: 0,
    closedBytesOut: 0,
  };

  constructor(options: BrokerOptions = {}) {
    super();
    this.options = resolveOptions(options);
  }

  /** The endpoint this broker listens on. */
  get endpoint(): Endpoint {
    return this.options.endpoint;
  }

  /**
   * Prepares the endpoint directory, replaces a stale socket, listens, restricts the socket to
   * 0600 and writes the token file. Rejects with `ERR_ENDPOINT_IN_USE` when another agent is live.
   */
  async listen(): Promise<void> {
    if (this.state !== 'idle' || this.starting) {
      throw new TransportError('ERR_CLOSED', `broker cannot listen in state ${this.state}`);
    }
    this.starting = true;
    try {
      await this.startListening();
    } finally {
      this.starting = false;
    }
    if (this.state !== 'idle') {
      // close() ran while we were starting: undo what was set up.
      await this.teardown();
      throw new TransportError('ERR_CLOSED', 'broker was closed while starting');
    }
    this.state = 'listening';
    this.emit('listening', this.options.endpoint);
  }

  private async startListening(): Promise<void> {
    const { endpoint } = this.options;
    await prepareEndpointDir(endpoint);
    if (endpoint.platform !== 'win32') {
      if (await isEndpointLive(endpoint.path)) {
        throw new TransportError(
          'ERR_ENDPOINT_IN_USE',
          `an agent is already listening on ${endpoint.path}`,
        );
      }
      // A socket file nobody answers on was left by a crashed agent: replace it. Anything else at
      // that path (a regular file, a symlink) is not ours to delete.
      const existing = await lstat(endpoint.path).catch(() => undefined);
      if (existing && !existing.isSocket()) {
        throw new TransportError(
          'ERR_ENDPOINT_INSECURE',
          `${endpoint.path} exists and is not a socket; refusing to replace it`,
        );
      }
      if (existing) await unlink(endpoint.path).catch(() => undefined);
    }
    const server = createServer({ pauseOnConnect: false }, (socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          error.code === 'EADDRINUSE'
            ? new TransportError('ERR_ENDPOINT_IN_USE', `endpoint ${endpoint.path} is in use`, {
                cause: error,
              })
            : error,
        );
      };
      server.once('error', onError);
      server.listen(endpoint.path, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    this.ownsFiles = true;
    server.on('error', (error) => {
      this.counters.serverErrors++;
      this.emit('server-error', error);
    });
    try {
      if (endpoint.platform !== 'win32') await chmod(endpoint.path, 0o600);
      if (this.options.auth) {
        this.token = randomBytes(TOKEN_BYTES);
        await unlink(endpoint.tokenPath).catch(() => undefined);
        await writeFile(endpoint.tokenPath, this.token, { mode: 0o600, flag: 'wx' });
      }
    } catch (error) {
      // Never leave a half-set-up listener behind.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (endpoint.platform !== 'win32') await unlink(endpoint.path).catch(() => undefined);
      this.server = undefined;
      this.ownsFiles = false;
      throw new TransportError(
        'ERR_TOKEN_FILE',
        `cannot secure the endpoint: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /** Currently connected collectors. */
  collectors(): CollectorInfo[] {
    return [...this.sessions.values()].map((session) => session.info);
  }

  /** The collector with this id, if connected. */
  collector(collectorId: string): CollectorInfo | undefined {
    return this.sessions.get(collectorId)?.info;
  }

  /** Counters and gauges. */
  stats(): BrokerStats {
    let framesIn = this.counters.closedFramesIn;
    let framesOut = this.counters.closedFramesOut;
    let bytesIn = this.counters.closedBytesIn;
    let bytesOut = this.counters.closedBytesOut;
    for (const pending of this.connections) {
      framesIn += pending.connection.framesIn;
      framesOut += pending.connection.framesOut;
      bytesIn += pending.connection.bytesIn;
      bytesOut += pending.connection.bytesOut;
    }
    const { closedFramesIn, closedFramesOut, closedBytesIn, closedBytesOut, ...rest } =
      this.counters;
    return {
      ...rest,
      framesIn,
      framesOut,
      bytesIn,
      bytesOut,
      openConnections: this.connections.size,
      collectors: this.sessions.size,
      subscriptions: this.trie.size,
    };
  }

  /**
   * Sends one body to a connected collector. Throws `ERR_UNKNOWN_COLLECTOR`, `ERR_BACKPRESSURE`
   * (counted; the message is not queued) or `ERR_FRAME_TOO_LARGE`.
   */
  sendTo(collectorId: string, body: EnvelopeBody): void {
    const session = this.sessions.get(collectorId);
    if (session?.connection.state !== 'open' || session === undefined) {
      throw new TransportError(
        'ERR_UNKNOWN_COLLECTOR',
        `collector ${collectorId} is not connected`,
      );
    }
    this.sendOn(session.connection, { messageId: this.nextMessageId++, body });
  }

  /** Sends a TaskAssignment to one collector (see {@link sendTo} for errors). */
  assignTask(collectorId: string, task: TaskAssignment): void {
    this.sendTo(collectorId, { $case: 'taskAssignment', value: task });
  }

  /**
   * Publishes from the agent to every subscriber of `topic` (collectors and in-process).
   * Throws `ERR_INVALID_TOPIC`; per-collector failures (backpressure) are reported, not thrown.
   */
  publish(topic: string, payload: Uint8Array): PublishReport {
    validateTopic(topic);
    return this.route(topic, payload, '', undefined, this.nextMessageId++);
  }

  /** Subscribes an in-process handler; returns a function that removes it. */
  subscribe(pattern: string, handler: (message: TopicMessage) => void): () => void {
    const local: LocalSubscription = { type: 'local', handler };
    const canonical = normalizePattern(pattern);
    this.trie.add(canonical, local);
    return () => {
      this.trie.remove(canonical, local);
    };
  }

  /** Drops every subscription of a collector (failover's subscription cleaner). Returns how many. */
  removeSubscriptions(collectorId: string): number {
    const session = this.sessions.get(collectorId);
    return session ? this.trie.removeAll(session) : 0;
  }

  /** Patterns a collector is subscribed to (canonical form). */
  subscriptionsOf(collectorId: string): string[] {
    const session = this.sessions.get(collectorId);
    return session ? this.trie.patternsOf(session) : [];
  }

  /** Closes one collector's connection with a Goodbye. Returns false when it is not connected. */
  disconnect(collectorId: string, reason: string): boolean {
    const session = this.sessions.get(collectorId);
    if (!session) return false;
    session.connection.close(reason);
    return true;
  }

  /** Says Goodbye to everyone, stops listening and removes the socket and token files. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    for (const pending of [...this.connections]) {
      pending.connection.close('broker shutting down', 100);
    }
    const deadline = setTimeout(() => {
      for (const pending of this.connections) pending.connection.destroy('broker closed');
    }, 500);
    await this.teardown();
    clearTimeout(deadline);
    this.state = 'closed';
    this.emit('close');
  }

  /** Stops listening and removes the socket and token files this broker created. */
  private async teardown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.ownsFiles) {
      this.ownsFiles = false;
      const { endpoint } = this.options;
      if (endpoint.platform !== 'win32') await unlink(endpoint.path).catch(() => undefined);
      if (this.token) await unlink(endpoint.tokenPath).catch(() => undefined);
    }
  }

  private onConnection(socket: Socket): void {
    const connection = new FramedConnection(socket, {
      maxFrameBytes: this.options.maxFrameBytes,
      maxQueueBytes: this.options.maxQueueBytes,
      maxQueueFrames: this.options.maxQueueFrames,
    });
    if (this.state !== 'listening') {
      connection.destroy('broker closing');
      return;
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.counters.connectionsRefused++;
      const error = new TransportError(
        'ERR_MAX_CONNECTIONS',
        `connection limit of ${this.options.maxConnections} reached`,
      );
      connection.trySend({ $case: 'reject', value: { code: error.code, message: error.message } });
      connection.close(error.code, 50);
      this.emit('connection-refused', error);
      return;
    }
    this.counters.connectionsAccepted++;
    connection.setInboundLimit(
      Math.min(this.options.maxHandshakeBytes, this.options.maxFrameBytes),
    );
    const pending: PendingConnection = {
      id: this.nextConnectionId++,
      connection,
      timer: undefined,
      session: undefined,
    };
    this.connections.add(pending);
    // Each connection has its own timer: a silent client never delays anyone else's accept.
    pending.timer = this.options.clock.setTimeout(() => {
      if (pending.session || connection.state !== 'open') return;
      this.counters.handshakeTimeouts++;
      this.refuse(
        pending,
        new TransportError(
          'ERR_HANDSHAKE_TIMEOUT',
          `no Hello within ${this.options.handshakeTimeoutMs} ms`,
        ),
      );
    }, this.options.handshakeTimeoutMs);
    connection.on('envelope', (message) => this.onEnvelope(pending, message));
    connection.on('protocol-error', (error) => {
      this.counters.protocolErrors++;
      this.emit('protocol-error', error, pending.session?.info.collectorId);
    });
    connection.on('close', (reason) => this.onClose(pending, reason));
  }

  private onClose(pending: PendingConnection, reason: string): void {
    this.options.clock.clearTimeout(pending.timer);
    this.connections.delete(pending);
    const { connection } = pending;
    this.counters.closedFramesIn += connection.framesIn;
    this.counters.closedFramesOut += connection.framesOut;
    this.counters.closedBytesIn += connection.bytesIn;
    this.counters.closedBytesOut += connection.bytesOut;
    const session = pending.session;
    if (!session) return;
    this.trie.removeAll(session);
    if (this.sessions.get(session.info.collectorId) === session) {
      this.sessions.delete(session.info.collectorId);
      this.emit('collector-disconnected', session.info, reason);
    }
  }

  private refuse(pending: PendingConnection, error: TransportError): void {
    pending.connection.trySend({
      $case: 'reject',
      value: { code: error.code, message: error.message },
    });
    pending.connection.close(error.code, 100);
    this.emit('connection-refused', error);
  }

  private onEnvelope(pending: PendingConnection, message: Envelope): void {
    const session = pending.session;
    if (!session) {
      this.onHandshake(pending, message);
      return;
    }
    const body = message.body;
    switch (body?.$case) {
      case 'taskResult':
        this.emit('task-result', session.info.collectorId, body.value);
        return;
      case 'heartbeat':
        this.emit('heartbeat', session.info.collectorId, body.value);
        return;
      case 'publish':
        this.onPublish(session, message.messageId, body.value.topic, body.value.payload);
        return;
      case 'subscribe':
        this.onSubscribe(session, message.messageId, body.value.pattern);
        return;
      case 'unsubscribe':
        this.onUnsubscribe(session, message.messageId, body.value.pattern);
        return;
      case 'goodbye':
        session.connection.close(`collector said goodbye: ${body.value.reason}`);
        return;
      case 'ack':
      case 'nack':
        return;
      case undefined:
        this.nack(
          session.connection,
          message.messageId,
          'ERR_PROTOCOL',
          'unknown or empty envelope body',
        );
        return;
      default:
        this.nack(
          session.connection,
          message.messageId,
          'ERR_PROTOCOL',
          `unexpected ${message.body?.$case ?? 'body'} from a collector`,
        );
    }
  }

  private onHandshake(pending: PendingConnection, message: Envelope): void {
    const body = message.body;
    if (body?.$case !== 'hello') {
      this.counters.invalidHellos++;
      this.refuse(pending, new TransportError('ERR_PROTOCOL', 'the first frame must be Hello'));
      return;
    }
    const hello = body.value;
    const error = this.checkHello(hello);
    if (error) {
      this.refuse(pending, error);
      return;
    }
    const existing = this.sessions.get(hello.collectorId);
    if (existing) {
      if (existing.connection.state === 'open') {
        this.counters.duplicateCollectors++;
        this.refuse(
          pending,
          new TransportError(
            'ERR_DUPLICATE_COLLECTOR',
            `collector id ${hello.collectorId} is already connected`,
          ),
        );
        return;
      }
      // The old connection is going away: the new one takes over the id.
      this.trie.removeAll(existing);
      this.sessions.delete(hello.collectorId);
      this.emit('collector-disconnected', existing.info, 'replaced by a new connection');
    }
    this.options.clock.clearTimeout(pending.timer);
    const info: CollectorInfo = {
      collectorId: hello.collectorId,
      kind: hello.kind,
      pid: hello.pid,
      sessionId: randomUUID(),
      taskKinds: [...hello.taskKinds],
      capabilities: [...hello.capabilities],
      connectedAt: this.options.clock.now(),
    };
    const session: Session = { type: 'session', info, connection: pending.connection };
    pending.connection.setInboundLimit(this.options.maxFrameBytes);
    pending.session = session;
    this.sessions.set(info.collectorId, session);
    this.counters.handshakes++;
    pending.connection.trySend({
      $case: 'welcome',
      value: {
        sessionId: info.sessionId,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        maxFrameBytes: this.options.maxFrameBytes,
        protocolVersion: PROTOCOL_VERSION,
      },
    });
    this.emit('collector-connected', info);
  }

  private checkHello(hello: Hello): TransportError | undefined {
    // The token first: a client without it learns nothing, not even the protocol version.
    if (this.options.auth && !this.tokenMatches(hello.authToken)) {
      this.counters.authFailures++;
      return new TransportError('ERR_AUTH_FAILED', 'authentication token mismatch');
    }
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      this.counters.versionMismatches++;
      return new TransportError(
        'ERR_PROTOCOL_VERSION',
        `protocol version ${hello.protocolVersion} is not supported (this agent speaks ${PROTOCOL_VERSION})`,
      );
    }
    const id = hello.collectorId;
    if (
      id.length === 0 ||
      id.length > this.options.maxCollectorIdLength ||
      !COLLECTOR_ID.test(id)
    ) {
      this.counters.invalidHellos++;
      return new TransportError(
        'ERR_INVALID_HELLO',
        `collector id must be 1..${this.options.maxCollectorIdLength} characters of [A-Za-z0-9_.:-]`,
      );
    }
    const lists = [...hello.taskKinds, ...hello.capabilities];
    if (
      hello.kind.length > this.options.maxCollectorIdLength ||
      hello.taskKinds.length > MAX_HELLO_LIST ||
      hello.capabilities.length > MAX_HELLO_LIST ||
      lists.some((entry) => entry.length === 0 || entry.length > this.options.maxCollectorIdLength)
    ) {
      this.counters.invalidHellos++;
      return new TransportError(
        'ERR_INVALID_HELLO',
        `kind, task kinds and capabilities must be at most ${this.options.maxCollectorIdLength} characters (task kinds and capabilities not empty), at most ${MAX_HELLO_LIST} of each`,
      );
    }
    return undefined;
  }

  private tokenMatches(candidate: Uint8Array): boolean {
    const token = this.token;
    if (!token || candidate.length !== token.length) return false;
    return timingSafeEqual(token, candidate);
  }

  private onSubscribe(session: Session, messageId: bigint, pattern: string): void {
    let canonical: string;
    try {
      canonical = normalizePattern(pattern);
    } catch (error) {
      this.nackFor(session.connection, messageId, error);
      return;
    }
    const held = this.trie.patternsOf(session);
    if (!held.includes(canonical) && held.length >= this.options.maxSubscriptionsPerConnection) {
      this.nack(
        session.connection,
        messageId,
        'ERR_TOO_MANY_SUBSCRIPTIONS',
        `limit of ${this.options.maxSubscriptionsPerConnection} subscriptions per connection reached`,
      );
      return;
    }
    this.trie.add(canonical, session);
    session.connection.trySend({ $case: 'ack', value: { messageId } });
  }

  private onUnsubscribe(session: Session, messageId: bigint, pattern: string): void {
    try {
      this.trie.remove(pattern, session);
    } catch (error) {
      this.nackFor(session.connection, messageId, error);
      return;
    }
    session.connection.trySend({ $case: 'ack', value: { messageId } });
  }

  private onPublish(session: Session, messageId: bigint, topic: string, payload: Uint8Array): void {
    try {
      validateTopic(topic);
    } catch (error) {
      this.nackFor(session.connection, messageId, error);
      return;
    }
    const report = this.route(topic, payload, session.info.collectorId, session, messageId);
    for (const failure of report.failed) {
      this.nack(
        session.connection,
        messageId,
        failure.error.code,
        `delivery to ${failure.collectorId} failed: ${failure.error.message}`,
      );
    }
  }

  private route(
    topic: string,
    payload: Uint8Array,
    sender: string,
    from: Session | undefined,
    messageId: bigint,
  ): PublishReport {
    this.counters.publishesRouted++;
    const report: PublishReport = { delivered: 0, failed: [] };
    const subscribers = this.trie.match(topic);
    if (subscribers.size === 0) return report;
    const envelope: Envelope = {
      messageId,
      body: { $case: 'publish', value: { topic, payload, sender } },
    };
    for (const subscriber of subscribers) {
      if (subscriber === from) continue;
      if (subscriber.type === 'local') {
        try {
          subscriber.handler({ topic, payload, sender, messageId });
          report.delivered++;
        } catch (error) {
          this.counters.handlerErrors++;
          this.emit('handler-error', error, topic);
        }
        continue;
      }
      try {
        this.sendOn(subscriber.connection, envelope);
        report.delivered++;
      } catch (error) {
        if (error instanceof TransportError) {
          report.failed.push({ collectorId: subscriber.info.collectorId, error });
        } else {
          throw error;
        }
      }
    }
    this.counters.deliveries += report.delivered;
    return report;
  }

  private sendOn(connection: FramedConnection, message: Envelope): void {
    try {
      connection.send(message);
    } catch (error) {
      if (error instanceof TransportError && error.code === 'ERR_BACKPRESSURE')
        this.counters.backpressure++;
      throw error;
    }
  }

  /** Nacks with the code of a typed error (a bad pattern or topic); anything else is a bug. */
  private nackFor(connection: FramedConnection, messageId: bigint, error: unknown): void {
    if (!(error instanceof TransportError)) throw error;
    this.nack(connection, messageId, error.code, error.message);
  }

  private nack(connection: FramedConnection, messageId: bigint, code: string, text: string): void {
    this.counters.nacksSent++;
    connection.trySend({ $case: 'nack', value: { messageId, code, message: text } });
  }
}

/** Creates a {@link Broker}; call `listen()` to start it. */
export function createBroker(options: BrokerOptions = {}): Broker {
  return new Broker(options);
}
