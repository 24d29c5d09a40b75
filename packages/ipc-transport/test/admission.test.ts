// Admission (issue 11 item 1, issue 12 item 5): the authorize hook refuses in the handshake, and
// silent connections cannot starve real ones.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { tempDir, until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Broker,
  type BrokerOptions,
  CollectorClient,
  type HelloInfo,
  RejectedError,
  type TransportError,
} from '../src/index.js';
import { type Child, spawnFixture, testEndpoint } from './helpers.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
let brokers: Broker[] = [];
let clients: CollectorClient[] = [];
let sockets: Socket[] = [];
let children: Child[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('de-adm-'));
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(clients.map((c) => c.close()));
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await Promise.all(brokers.map((b) => b.close()));
  brokers = [];
  clients = [];
  sockets = [];
  children = [];
  await cleanup();
});

const socketPath = (): string => testEndpoint(dir);

async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const broker = new Broker({ endpoint: socketPath(), endpointCheckIntervalMs: 0, ...options });
  brokers.push(broker);
  await broker.listen();
  return broker;
}

function client(collectorId: string, kind = 'test'): CollectorClient {
  const c = new CollectorClient({
    endpoint: socketPath(),
    collectorId,
    kind,
    taskKinds: ['enumerate'],
    reconnect: false,
  });
  clients.push(c);
  return c;
}

describe('the authorize hook', () => {
  it('refuses in the handshake with its own code: a Reject, never admitted then disconnected', async () => {
    const seen: HelloInfo[] = [];
    const broker = await startBroker({
      authorize: (hello) => {
        seen.push(hello);
        return hello.kind === 'procmond'
          ? { accept: true }
          : {
              accept: false,
              code: 'ERR_UNKNOWN_KIND',
              message: `kind ${hello.kind} is not expected`,
            };
      },
    });
    const connected: string[] = [];
    const refused: string[] = [];
    broker.on('collector-connected', (info) => connected.push(info.collectorId));
    broker.on('connection-refused', (error, code) => refused.push(`${error.code}/${code}`));
    await client('procmond-1', 'procmond').connect();
    const intruder = client('netmond-9', 'netmond');
    const error = await intruder.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RejectedError);
    expect(error).toMatchObject({ rejectCode: 'ERR_UNKNOWN_KIND', code: 'ERR_TRANSPORT_REJECTED' });
    expect(intruder.state).toBe('closed');
    expect(connected).toEqual(['procmond-1']);
    expect(refused).toEqual(['ERR_ADMISSION_REFUSED/ERR_UNKNOWN_KIND']);
    expect(seen.map((h) => h.collectorId)).toEqual(['procmond-1', 'netmond-9']);
    expect(seen[1]).toMatchObject({
      kind: 'netmond',
      pid: process.pid,
      taskKinds: ['enumerate'],
      peer: undefined,
    });
    expect(seen[1]).not.toHaveProperty('authToken');
    expect(broker.stats()).toMatchObject({
      admissionsRefused: 1,
      handshakes: 1,
      refusedByCode: { ERR_UNKNOWN_KIND: 1 },
    });
  });

  it('a throwing authorize rejects with ERR_ADMISSION_FAILED and goes to onCallbackError', async () => {
    const errors: TransportError[] = [];
    const broker = await startBroker({
      authorize: () => {
        throw new Error('policy store down');
      },
      onCallbackError: (e) => errors.push(e),
    });
    const error = await client('procmond-1')
      .connect()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ rejectCode: 'ERR_ADMISSION_FAILED' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      code: 'ERR_TRANSPORT_CALLBACK_FAILED',
      message: 'authorize threw: policy store down',
    });
    expect(broker.stats()).toMatchObject({
      callbackErrors: 1,
      collectors: 0,
      refusedByCode: { ERR_ADMISSION_FAILED: 1 },
    });
  });
});

async function silent(count: number, broker: Broker): Promise<Socket[]> {
  const opened: Socket[] = [];
  const start = broker.stats().connectionsAccepted;
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const socket = connect(socketPath());
        socket.on('error', () => undefined);
        socket.on('data', () => undefined);
        sockets.push(socket);
        await once(socket, 'connect');
        return socket;
      }),
    );
    opened.push(...batch);
    await until(() => broker.stats().connectionsAccepted - start === opened.length, {
      what: 'the broker to take the batch',
    });
  }
  return opened;
}

describe('maxPendingHandshakes', () => {
  it('300 silent connections never keep a status client or a restarting collector out', async () => {
    // The defaults: maxConnections 256, maxPendingHandshakes 64, a 2 s handshake timeout.
    const broker = await startBroker({ handshakeTimeoutMs: 60_000 });
    await silent(300, broker);
    let stats = broker.stats();
    expect(stats.pendingHandshakes).toBe(64);
    expect(stats.handshakesEvicted).toBe(300 - 64);
    expect(stats.connectionsRefused).toBe(0);
    // `status` and a collector process coming back after a crash both get in at once.
    const status = client('status-cli', 'cli');
    await status.connect();
    const restarted = spawnFixture('collector.mjs', {
      DE_ENDPOINT: socketPath(),
      DE_COLLECTOR_ID: 'procmond-1',
    });
    children.push(restarted);
    await restarted.waitType('connected', 10_000);
    stats = broker.stats();
    expect(stats.collectors).toBe(2);
    // The status client evicted one more silent connection; once it was in, a slot was free.
    expect(stats.handshakesEvicted).toBe(300 - 64 + 1);
    expect(stats.refusedByCode).toEqual({ ERR_HANDSHAKE_EVICTED: 300 - 64 + 1 });
  });

  it('still refuses ERR_MAX_CONNECTIONS when established sessions fill the cap', async () => {
    const broker = await startBroker({ auth: false, maxConnections: 3, maxPendingHandshakes: 2 });
    for (const id of ['a', 'b', 'c']) {
      const c = new CollectorClient({
        endpoint: socketPath(),
        collectorId: id,
        kind: 'test',
        noAuth: true,
        reconnect: false,
      });
      clients.push(c);
      await c.connect();
    }
    const late = new CollectorClient({
      endpoint: socketPath(),
      collectorId: 'd',
      kind: 'test',
      noAuth: true,
      reconnect: false,
    });
    clients.push(late);
    await expect(late.connect()).rejects.toMatchObject({ rejectCode: 'ERR_MAX_CONNECTIONS' });
    expect(broker.stats()).toMatchObject({
      connectionsRefused: 1,
      refusedByCode: { ERR_MAX_CONNECTIONS: 1 },
    });
  });
});
