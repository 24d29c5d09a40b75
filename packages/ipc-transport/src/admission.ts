import { randomUUID } from 'node:crypto';
import { type Hello, type LazyEnvelope, PROTOCOL_VERSION } from '@daemoneye/proto';
import type { ResolvedBrokerOptions } from './broker-options.js';
import type { FramedConnection } from './connection.js';
import { TransportError, type TransportErrorCode } from './errors.js';
import { admit, checkHello, helloInfo, type Refusal } from './handshake.js';
import type { RemoteSubscriber } from './routing.js';

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

/** A collector connection past its Welcome. */
export interface Session extends RemoteSubscriber {
  readonly info: CollectorInfo;
}

/** One accepted connection, pending until its Hello is admitted. */
export interface Conn {
  readonly connection: FramedConnection;
  timer: unknown;
  session: Session | undefined;
}

/** What the gate needs from its broker. */
export interface GateHooks {
  /** The current auth token (undefined with `auth: false`). */
  token(): Uint8Array | undefined;
  /** The session holding a collector id, if any. */
  session(collectorId: string): Session | undefined;
  /** Drops a session whose connection is going away, so a new one can take its id. */
  replace(existing: Session): void;
  /** Registers an admitted session (the Welcome has been queued). */
  admitted(session: Session): void;
  refused(error: TransportError, rejectCode: string): void;
  callbackFailed(what: string, cause: unknown): void;
}

function refusal(code: TransportErrorCode, message: string): Refusal {
  return { error: new TransportError(code, message), rejectCode: code, rejectMessage: message };
}

/**
 * Admission of new connections: the connection cap, the pending-handshake cap (a new connection
 * evicts the oldest pending one, sshd's MaxStartups idea, so silent connections never lock out a
 * real one), one handshake timer each, the Hello checks, the `authorize` hook and the Welcome.
 */
export class AdmissionGate {
  /** Connections still in their handshake, oldest first. */
  readonly pending = new Set<Conn>();
  /** Open connections (pending or in session); the ones saying Goodbye are not counted. */
  #live = 0;
  readonly counters = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    handshakes: 0,
    handshakeTimeouts: 0,
    handshakesEvicted: 0,
    authFailures: 0,
    versionMismatches: 0,
    invalidHellos: 0,
    admissionsRefused: 0,
    duplicateCollectors: 0,
  };
  /** Every refusal by the code sent in the Reject. */
  readonly refusedByCode: Record<string, number> = {};

  constructor(
    private readonly options: ResolvedBrokerOptions,
    private readonly hooks: GateHooks,
  ) {}

  /** Takes a new connection in (evicting the oldest pending one when full), or refuses it. */
  accept(connection: FramedConnection): Conn | undefined {
    const { options } = this;
    if (this.#live >= options.maxConnections || this.pending.size >= options.maxPendingHandshakes) {
      const oldest = this.pending.values().next();
      if (oldest.done) {
        this.counters.connectionsRefused++;
        const why = refusal(
          'ERR_MAX_CONNECTIONS',
          `connection limit of ${options.maxConnections} reached`,
        );
        this.#reject(connection, why);
        return undefined;
      }
      this.counters.handshakesEvicted++;
      this.refuse(oldest.value, refusal('ERR_HANDSHAKE_EVICTED', 'too many pending handshakes'));
    }
    this.counters.connectionsAccepted++;
    connection.setInboundLimit(Math.min(options.maxHandshakeBytes, options.maxFrameBytes));
    const conn: Conn = { connection, timer: undefined, session: undefined };
    this.pending.add(conn);
    this.#live++;
    connection.on('state-change', ({ from }) => {
      if (from === 'open') this.#live--;
    });
    // Each connection has its own timer: a silent client never delays anyone else's accept.
    conn.timer = options.clock.setTimeout(() => {
      if (!this.pending.has(conn) || connection.state !== 'open') return;
      this.counters.handshakeTimeouts++;
      this.refuse(
        conn,
        refusal('ERR_HANDSHAKE_TIMEOUT', `no Hello within ${options.handshakeTimeoutMs} ms`),
      );
    }, options.handshakeTimeoutMs);
    return conn;
  }

  /** The connection closed: forget it. */
  closed(conn: Conn): void {
    this.options.clock.clearTimeout(conn.timer);
    this.pending.delete(conn);
  }

  /** Answers a pending handshake with Reject and closes it; counted by the code sent. */
  refuse(conn: Conn, why: Refusal): void {
    this.closed(conn);
    this.#reject(conn.connection, why);
  }

  #reject(connection: FramedConnection, why: Refusal): void {
    this.refusedByCode[why.rejectCode] = (this.refusedByCode[why.rejectCode] ?? 0) + 1;
    connection.trySend({
      $case: 'reject',
      value: { code: why.rejectCode, message: why.rejectMessage },
    });
    connection.close(why.rejectCode);
    this.hooks.refused(why.error, why.rejectCode);
  }

  /** The first frame of a pending connection: a Hello that is admitted, or a Reject. */
  handshake(conn: Conn, message: LazyEnvelope): void {
    const body = message.body;
    if (body?.$case !== 'hello') {
      this.counters.invalidHellos++;
      this.refuse(conn, refusal('ERR_TRANSPORT_PROTOCOL', 'the first frame must be Hello'));
      return;
    }
    const hello = body.value;
    const why = this.#check(hello);
    if (why) {
      this.refuse(conn, why);
      return;
    }
    const existing = this.hooks.session(hello.collectorId);
    if (existing) {
      if (existing.connection.state === 'open') {
        this.counters.duplicateCollectors++;
        this.refuse(
          conn,
          refusal(
            'ERR_DUPLICATE_COLLECTOR',
            `collector id ${hello.collectorId} is already connected`,
          ),
        );
        return;
      }
      // The old connection is going away: the new one takes over the id.
      this.hooks.replace(existing);
    }
    this.#welcome(conn, hello);
  }

  #check(hello: Hello): Refusal | undefined {
    const builtIn = checkHello(hello, {
      token: this.options.auth ? (this.hooks.token() ?? new Uint8Array()) : undefined,
      maxCollectorIdLength: this.options.maxCollectorIdLength,
    });
    if (builtIn) {
      const code = builtIn.error.code;
      if (code === 'ERR_AUTH_FAILED') this.counters.authFailures++;
      else if (code === 'ERR_PROTOCOL_VERSION') this.counters.versionMismatches++;
      else this.counters.invalidHellos++;
      return builtIn;
    }
    const refused = admit(this.options.authorize, helloInfo(hello, undefined), (cause) =>
      this.hooks.callbackFailed('authorize', cause),
    );
    if (refused) this.counters.admissionsRefused++;
    return refused;
  }

  #welcome(conn: Conn, hello: Hello): void {
    const { options } = this;
    this.closed(conn);
    const info: CollectorInfo = Object.freeze({
      collectorId: hello.collectorId,
      kind: hello.kind,
      pid: hello.pid,
      sessionId: randomUUID(),
      taskKinds: Object.freeze([...hello.taskKinds]),
      capabilities: Object.freeze([...hello.capabilities]),
      connectedAt: options.clock.now(),
    });
    const session: Session = {
      type: 'session',
      collectorId: info.collectorId,
      info,
      connection: conn.connection,
    };
    conn.connection.setInboundLimit(options.maxFrameBytes);
    conn.session = session;
    this.counters.handshakes++;
    conn.connection.trySend({
      $case: 'welcome',
      value: {
        sessionId: info.sessionId,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        maxFrameBytes: options.maxFrameBytes,
        protocolVersion: PROTOCOL_VERSION,
      },
    });
    this.hooks.admitted(session);
  }
}
