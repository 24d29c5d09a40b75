import { connect } from 'node:net';
import { type Hello, type LazyEnvelope, PROTOCOL_VERSION, type Welcome } from '@daemoneye/proto';
import type { ResolvedClientOptions } from './client-options.js';
import { FramedConnection } from './connection.js';
import { RejectedError, TransportError } from './errors.js';

/** One connection attempt of the collector client, up to its Welcome. */
export interface HandshakeAttempt {
  readonly connection: FramedConnection;
  /** Resolves at the Welcome (after `onWelcome` ran); rejects with a typed error. */
  readonly welcome: Promise<Welcome>;
}

export interface HandshakeHooks {
  /** True once the client is closing: a late Welcome must not bring it back to life. */
  readonly closing: () => boolean;
  /** Called synchronously at the Welcome, before any envelope that follows it is handled. */
  readonly onWelcome: (welcome: Welcome, connection: FramedConnection) => void;
  /** Every envelope after the Welcome. */
  readonly onEnvelope: (message: LazyEnvelope) => void;
  /** The connection closed after the Welcome. */
  readonly onLost: (reason: string) => void;
}

/** Connects, sends Hello and waits for Welcome or Reject within `connectTimeoutMs`. */
export function startHandshake(
  options: ResolvedClientOptions,
  token: Uint8Array,
  params: HandshakeHooks,
): HandshakeAttempt {
  const { endpoint, clock } = options;
  const hello: Hello = {
    protocolVersion: PROTOCOL_VERSION,
    collectorId: options.collectorId,
    kind: options.kind,
    pid: options.pid,
    capabilities: [...options.capabilities],
    taskKinds: [...options.taskKinds],
    authToken: token,
  };
  const socket = connect(endpoint.path);
  const connection = new FramedConnection(socket, options, clock, options.closeGraceMs);
  const welcome = new Promise<Welcome>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      connection.destroy(error.message);
      reject(error);
    };
    const timer = clock.setTimeout(
      () =>
        fail(
          new TransportError(
            'ERR_HANDSHAKE_TIMEOUT',
            `no Welcome within ${options.connectTimeoutMs} ms`,
          ),
        ),
      options.connectTimeoutMs,
    );
    socket.once('connect', () => {
      connection.trySend({ $case: 'hello', value: hello });
    });
    socket.once('error', (error) => {
      fail(
        new TransportError(
          'ERR_TRANSPORT_NOT_CONNECTED',
          `cannot connect to ${endpoint.path}: ${error.message}`,
          { cause: error },
        ),
      );
    });
    connection.on('protocol-error', (error) => fail(error));
    connection.on('close', (reason) => {
      if (!settled) {
        fail(
          new TransportError(
            'ERR_TRANSPORT_NOT_CONNECTED',
            `connection closed during handshake: ${reason}`,
          ),
        );
        return;
      }
      params.onLost(reason);
    });
    connection.on('envelope', (message) => {
      if (settled) {
        params.onEnvelope(message);
        return;
      }
      const body = message.body;
      if (body?.$case === 'welcome' && params.closing()) {
        fail(new TransportError('ERR_TRANSPORT_CLOSED', 'client closed during the handshake'));
      } else if (body?.$case === 'welcome') {
        settled = true;
        clock.clearTimeout(timer);
        params.onWelcome(body.value, connection);
        resolve(body.value);
      } else if (body?.$case === 'reject') {
        fail(new RejectedError(body.value.code, body.value.message));
      } else if (body?.$case === 'goodbye') {
        fail(
          new TransportError(
            'ERR_TRANSPORT_NOT_CONNECTED',
            `broker said goodbye: ${body.value.reason}`,
          ),
        );
      } else {
        fail(
          new TransportError(
            'ERR_TRANSPORT_PROTOCOL',
            `expected Welcome, got ${body?.$case ?? 'an empty body'}`,
          ),
        );
      }
    });
  });
  return { connection, welcome };
}
