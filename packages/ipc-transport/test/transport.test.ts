import { once } from 'node:events';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { decodeEnvelope, type Envelope, encodeEnvelope } from '@daemoneye/proto';
import { FakeClock, tempDir, until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, FrameDecoder, resolveEndpoint, TransportError } from '../src/index.js';
import { lockPathOf } from '../src/token-file.js';
import { type Child, spawnFixture, testEndpoint, waitConnected } from './helpers.js';

const posix = process.platform !== 'win32';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
let children: Child[] = [];
let brokers: Broker[] = [];
let sockets: Socket[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('de-ipc-'));
});

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const socket of sockets) socket.destroy();
  await Promise.all(brokers.map((b) => b.close()));
  await Promise.all(children.map((c) => c.exited));
  children = [];
  brokers = [];
  sockets = [];
  await cleanup();
});

// Regression: this built a new pipe name on every call on Windows, so broker and clients met on
// different pipes.
const endpointPath = (): string => testEndpoint(dir);

async function startBroker(options: ConstructorParameters<typeof Broker>[0] = {}): Promise<Broker> {
  const broker = new Broker({ endpoint: endpointPath(), heartbeatIntervalMs: 100, ...options });
  brokers.push(broker);
  await broker.listen();
  return broker;
}

function collector(id: string, env: Record<string, string> = {}): Child {
  const child = spawnFixture('collector.mjs', {
    DE_ENDPOINT: endpointPath(),
    DE_COLLECTOR_ID: id,
    ...env,
  });
  children.push(child);
  return child;
}

/** A raw socket client that records every envelope it receives. */
async function rawClient(): Promise<{
  socket: Socket;
  received: Envelope[];
  closed: Promise<void>;
}> {
  const socket = connect(endpointPath());
  sockets.push(socket);
  const received: Envelope[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk) => {
    for (const frame of decoder.push(chunk)) received.push(decodeEnvelope(frame));
  });
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => undefined);
  await once(socket, 'connect');
  return { socket, received, closed };
}

function frame(message: Envelope): Buffer {
  const body = encodeEnvelope(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

describe('broker and collector processes', () => {
  it('routes publishes between 3 collector processes by topic pattern', async () => {
    const broker = await startBroker();
    const a = collector('procmond-1');
    const b = collector('procmond-2');
    const c = collector('netmond-1');
    await Promise.all([a, b, c].map((child) => child.waitType('connected')));
    expect(
      broker
        .collectors()
        .map((i) => i.collectorId)
        .sort(),
    ).toEqual(['netmond-1', 'procmond-1', 'procmond-2']);

    a.send({ type: 'subscribe', pattern: 'events.process.*' });
    b.send({ type: 'subscribe', pattern: 'events.network.#' });
    // The publisher subscribes to its own topics too: it must still receive none of them.
    c.send({ type: 'subscribe', pattern: 'events.#' });
    await Promise.all([
      a.waitType('subscribed'),
      b.waitType('subscribed'),
      c.waitType('subscribed'),
    ]);
    for (const child of [a, b, c]) child.send({ type: 'subscribe', pattern: 'sentinel.all' });
    await Promise.all(
      [a, b, c].map((child) =>
        child.waitFor((r) => r.type === 'subscribed' && r.pattern === 'sentinel.all'),
      ),
    );
    const local: string[] = [];
    broker.subscribe('events.#', (m) => local.push(`${m.sender}:${m.topic}`));

    c.send({ type: 'publish', topic: 'events.process.lifecycle', text: 'p1' });
    c.send({ type: 'publish', topic: 'events.network.connections', text: 'n1' });
    const gotA = await a.waitType('message');
    const gotB = await b.waitType('message');
    expect(gotA).toMatchObject({
      topic: 'events.process.lifecycle',
      sender: 'netmond-1',
      text: 'p1',
    });
    expect(gotB).toMatchObject({
      topic: 'events.network.connections',
      sender: 'netmond-1',
      text: 'n1',
    });
    // Both publishes are routed once the local subscriber has them; a sentinel published after
    // that reaches each collector behind any stray delivery (one ordered socket each).
    await until(() => local.length === 2, { what: 'both publishes routed' });
    expect(broker.publish('sentinel.all', Buffer.from('end')).delivered).toBe(3);
    await Promise.all(
      [a, b, c].map((child) =>
        child.waitFor((r) => r.type === 'message' && r.topic === 'sentinel.all'),
      ),
    );
    const seen = (child: Child): unknown[] =>
      child.reports.filter((r) => r.type === 'message' && r.topic !== 'sentinel.all');
    expect(seen(a)).toHaveLength(1);
    expect(seen(b)).toHaveLength(1);
    expect(seen(c)).toHaveLength(0);
    expect(local.sort()).toEqual([
      'netmond-1:events.network.connections',
      'netmond-1:events.process.lifecycle',
    ]);
    expect(broker.stats().handshakes).toBe(3);
  });

  it('carries tasks to a collector and its results back', async () => {
    const broker = await startBroker();
    const a = collector('procmond-1');
    await waitConnected(broker, 'procmond-1');
    const result = new Promise<[string, string]>((resolve) =>
      broker.once('task-result', (id, r) => resolve([id, r.results[0]?.fingerprint ?? ''])),
    );
    broker.assignTask('procmond-1', {
      taskId: 't1',
      correlationId: 'c1',
      taskKind: 'echo',
      payload: new Uint8Array(),
      deadlineUnixMs: 0n,
    });
    expect(await result).toEqual(['procmond-1', 'fp-t1']);
    await a.waitType('connected');
    const beat = new Promise<string>((resolve) => broker.once('heartbeat', (id) => resolve(id)));
    expect(await beat).toBe('procmond-1');
    expect(() =>
      broker.sendTo('nobody', { $case: 'goodbye', value: { reason: 'x' } }),
    ).toThrowError(expect.objectContaining({ code: 'ERR_TRANSPORT_UNKNOWN_COLLECTOR' }));
  });

  it('rejects a wrong token with Reject and closes', async () => {
    const broker = await startBroker();
    const bad = collector('evil-1', { DE_TOKEN_HEX: 'ab'.repeat(32) });
    const report = await bad.waitType('connect-failed');
    expect(report).toMatchObject({ code: 'ERR_TRANSPORT_REJECTED', rejectCode: 'ERR_AUTH_FAILED' });
    expect((await bad.exited).code).toBe(3);
    expect(broker.stats().authFailures).toBe(1);
    expect(broker.collectors()).toHaveLength(0);
  });

  it('drops a client that never says Hello at the timeout while another collector connects (fake clock)', async () => {
    const clock = new FakeClock();
    const broker = await startBroker({ handshakeTimeoutMs: 3000, clock });
    const silent = await rawClient();
    const good = collector('procmond-1');
    await good.waitType('connected');
    // The legitimate collector got in while the silent one was still waiting.
    expect(silent.socket.destroyed).toBe(false);
    expect(broker.stats().pendingHandshakes).toBe(1);
    clock.advance(2999);
    expect(broker.stats().handshakeTimeouts).toBe(0);
    clock.advance(1);
    await silent.closed;
    const reject = silent.received.find((m) => m.body?.$case === 'reject');
    expect(reject?.body?.$case === 'reject' && reject.body.value.code).toBe(
      'ERR_HANDSHAKE_TIMEOUT',
    );
    expect(broker.stats().handshakeTimeouts).toBe(1);
    expect(broker.stats().refusedByCode).toEqual({ ERR_HANDSHAKE_TIMEOUT: 1 });
    expect(broker.collector('procmond-1')).toBeDefined();
  });

  it('closes only the connection that sends an oversized frame', async () => {
    const broker = await startBroker({ maxFrameBytes: 4096 });
    const a = collector('procmond-1');
    const b = collector('procmond-2');
    await Promise.all([a.waitType('connected'), b.waitType('connected')]);
    const errors: string[] = [];
    broker.on('protocol-error', (e) => errors.push(e.code));
    const raw = await rawClient();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0xffff_ffff);
    raw.socket.write(header);
    await raw.closed;
    expect(errors).toEqual(['ERR_FRAME_TOO_LARGE']);
    const goodbye = raw.received.find((m) => m.body?.$case === 'goodbye');
    expect(goodbye?.body?.$case === 'goodbye' && goodbye.body.value.reason).toMatch(
      /ERR_FRAME_TOO_LARGE/,
    );
    // Everyone else is still served.
    a.send({ type: 'subscribe', pattern: 'x.y' });
    await a.waitType('subscribed');
    b.send({ type: 'publish', topic: 'x.y', text: 'still here' });
    expect(await a.waitType('message')).toMatchObject({ text: 'still here' });
    expect(broker.stats().protocolErrors).toBe(1);
  });

  it('refuses a duplicate collector id while the first is connected', async () => {
    const broker = await startBroker();
    const first = collector('procmond-1');
    await first.waitType('connected');
    const second = collector('procmond-1');
    expect(await second.waitType('connect-failed')).toMatchObject({
      rejectCode: 'ERR_DUPLICATE_COLLECTOR',
    });
    expect(broker.stats().duplicateCollectors).toBe(1);
  });

  it('refuses connections past maxConnections (all sessions) and counts them by code', async () => {
    const broker = await startBroker({ auth: false, maxConnections: 2 });
    for (const id of ['s-1', 's-2']) {
      const raw = await rawClient();
      raw.socket.write(rawHello(id));
      await waitConnected(broker, id);
    }
    const third = await rawClient();
    await third.closed;
    const reject = third.received.find((m) => m.body?.$case === 'reject');
    expect(reject?.body?.$case === 'reject' && reject.body.value.code).toBe('ERR_MAX_CONNECTIONS');
    expect(broker.stats().connectionsRefused).toBe(1);
    expect(broker.stats().refusedByCode).toEqual({ ERR_MAX_CONNECTIONS: 1 });
  });

  it('answers an unexpected body with Nack and a bad first frame with Reject', async () => {
    const broker = await startBroker({ auth: false });
    const raw = await rawClient();
    raw.socket.write(
      frame({
        messageId: 0n,
        body: {
          $case: 'hello',
          value: {
            protocolVersion: 1,
            collectorId: 'raw-1',
            kind: 'raw',
            pid: 1,
            capabilities: [],
            taskKinds: [],
            authToken: new Uint8Array(),
          },
        },
      }),
    );
    await waitConnected(broker, 'raw-1');
    raw.socket.write(
      frame({
        messageId: 9n,
        body: {
          $case: 'welcome',
          value: { sessionId: '', heartbeatIntervalMs: 1, maxFrameBytes: 1, protocolVersion: 1 },
        },
      }),
    );
    raw.socket.write(frame({ messageId: 10n, body: undefined }));
    // A sentinel: frames are handled in order, so its Ack comes after both Nacks.
    raw.socket.write(
      frame({ messageId: 11n, body: { $case: 'subscribe', value: { pattern: 'sentinel' } } }),
    );
    await until(
      () => raw.received.some((m) => m.body?.$case === 'ack' && m.body.value.messageId === 11n),
      { what: 'the Ack of the sentinel' },
    );
    const nacks = raw.received.filter((m) => m.body?.$case === 'nack');
    expect(nacks.map((m) => m.body?.$case === 'nack' && m.body.value.code)).toEqual([
      'ERR_TRANSPORT_PROTOCOL',
      'ERR_TRANSPORT_PROTOCOL',
    ]);
    const other = await rawClient();
    other.socket.write(
      frame({ messageId: 0n, body: { $case: 'goodbye', value: { reason: 'hi' } } }),
    );
    await other.closed;
    expect(other.received.some((m) => m.body?.$case === 'reject')).toBe(true);
  });
});

function rawHello(id: string): Buffer {
  return frame({
    messageId: 0n,
    body: {
      $case: 'hello',
      value: {
        protocolVersion: 1,
        collectorId: id,
        kind: 'raw',
        pid: 1,
        capabilities: [],
        taskKinds: [],
        authToken: new Uint8Array(),
      },
    },
  });
}

describe('limits', () => {
  it('gives ERR_BACKPRESSURE when a collector does not read, and counts it', async () => {
    const broker = await startBroker({ auth: false, maxQueueFrames: 4, maxQueueBytes: 512 * 1024 });
    const raw = await rawClient();
    raw.socket.write(rawHello('slow-1'));
    await waitConnected(broker, 'slow-1');
    raw.socket.pause(); // never reads again: the kernel buffer fills, then our queue
    const payload = new Uint8Array(128 * 1024);
    let caught: unknown;
    for (let i = 0; i < 200 && caught === undefined; i++) {
      try {
        broker.sendTo('slow-1', { $case: 'publish', value: { topic: 'a.b', payload, sender: '' } });
      } catch (error) {
        caught = error;
      }
    }
    expect(caught).toMatchObject({ code: 'ERR_BACKPRESSURE' });
    expect(broker.stats().backpressure).toBe(1);
    // Others are unaffected.
    const other = await rawClient();
    other.socket.write(rawHello('other-1'));
    await waitConnected(broker, 'other-1');
    broker.sendTo('other-1', { $case: 'goodbye', value: { reason: 'fine' } });
  });

  it('refuses subscriptions past maxSubscriptionsPerConnection with a Nack code', async () => {
    await startBroker({ maxSubscriptionsPerConnection: 1 });
    const a = collector('procmond-1');
    await a.waitType('connected');
    a.send({ type: 'subscribe', pattern: 'a.b' });
    await a.waitType('subscribed');
    a.send({ type: 'subscribe', pattern: 'a.c' });
    expect(await a.waitType('error')).toMatchObject({ code: 'ERR_TOO_MANY_SUBSCRIPTIONS' });
    // Re-subscribing a held pattern at the limit is fine.
    a.send({ type: 'subscribe', pattern: 'a.b' });
    await a.waitFor(
      (r) =>
        r.type === 'subscribed' && a.reports.filter((x) => x.type === 'subscribed').length === 2,
    );
  });

  it('keeps the first frame under maxHandshakeBytes, then allows maxFrameBytes', async () => {
    const broker = await startBroker({ auth: false, maxHandshakeBytes: 1024 });
    const early = await rawClient();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(2048);
    early.socket.write(header);
    await early.closed;
    expect(broker.stats().protocolErrors).toBe(1);
    const raw = await rawClient();
    raw.socket.write(rawHello('big-1'));
    await waitConnected(broker, 'big-1');
    const got = new Promise<number>((resolve) =>
      broker.subscribe('big.topic', (m) => resolve(m.payload.length)),
    );
    raw.socket.write(
      frame({
        messageId: 1n,
        body: {
          $case: 'publish',
          value: { topic: 'big.topic', payload: new Uint8Array(64 * 1024), sender: '' },
        },
      }),
    );
    expect(await got).toBe(64 * 1024);
  });

  it('refuses a Hello with an empty task kind (regression: it crashed the agent)', async () => {
    const broker = await startBroker({ auth: false });
    const raw = await rawClient();
    raw.socket.write(
      frame({
        messageId: 0n,
        body: {
          $case: 'hello',
          value: {
            protocolVersion: 1,
            collectorId: 'odd-1',
            kind: 'raw',
            pid: 1,
            capabilities: [],
            taskKinds: ['enumerate', ''],
            authToken: new Uint8Array(),
          },
        },
      }),
    );
    await raw.closed;
    const reject = raw.received.find((m) => m.body?.$case === 'reject');
    expect(reject?.body?.$case === 'reject' && reject.body.value.code).toBe('ERR_INVALID_HELLO');
    expect(broker.collectors()).toHaveLength(0);
  });

  it('refuses a Hello with an oversized collector id', async () => {
    const broker = await startBroker({ auth: false });
    const raw = await rawClient();
    raw.socket.write(rawHello('x'.repeat(10_000)));
    await raw.closed;
    const reject = raw.received.find((m) => m.body?.$case === 'reject');
    expect(reject?.body?.$case === 'reject' && reject.body.value.code).toBe('ERR_INVALID_HELLO');
    expect(broker.stats().invalidHellos).toBe(1);
  });
});

describe('endpoint lifecycle', () => {
  // A Windows pipe name is not a file: nothing else can sit at that name as a file (POSIX only).
  it.skipIf(!posix)('refuses to replace a file that is not a socket', async () => {
    await writeFile(endpointPath(), 'not a socket');
    await expect(new Broker({ endpoint: endpointPath() }).listen()).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_INSECURE',
    });
    expect(await readFile(endpointPath(), 'utf8')).toBe('not a socket');
  });

  // A pipe lives in the pipe namespace, not in a directory: there is no endpoint directory to
  // symlink on Windows, and prepareEndpointDir does not check one there (POSIX only).
  it.skipIf(!posix)('refuses a symlinked endpoint directory', async () => {
    const { symlink, mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'real'), { mode: 0o700 });
    await symlink(join(dir, 'real'), join(dir, 'link'));
    await expect(
      new Broker({ endpoint: join(dir, 'link', 'agent.sock') }).listen(),
    ).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_INSECURE',
    });
  });

  it('writes a 0600 socket and token file and removes both on close', async () => {
    const broker = await startBroker();
    const { path, tokenPath } = broker.endpoint;
    // File modes exist on POSIX only (win32 has DACLs, which Node neither sets nor reports), and a
    // pipe is no file to stat there.
    if (posix) {
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await stat(tokenPath)).mode & 0o777).toBe(0o600);
    }
    expect((await readFile(tokenPath)).length).toBe(32);
    await broker.close();
    if (posix) await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(tokenPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('replaces a stale socket file (POSIX) and lock left by a killed broker', async () => {
    const first = spawnFixture('broker.mjs', { DE_ENDPOINT: endpointPath() });
    children.push(first);
    await first.waitType('listening');
    first.kill('SIGKILL');
    await first.exited;
    // The stale socket file is still there (POSIX; a pipe ends with its process), and so is the
    // dead broker's lock file (every platform).
    if (posix) await stat(endpointPath());
    await stat(lockPathOf(resolveEndpoint(endpointPath())));
    const broker = await startBroker();
    const a = collector('procmond-1');
    await a.waitType('connected');
    expect(broker.state).toBe('listening');
  });

  // Under Wine a second listen() on a live pipe succeeds (no first-instance check), but the lock
  // file refuses the second broker before it listens, so this runs everywhere.
  it('fails a second broker on a live endpoint with ERR_ENDPOINT_IN_USE', async () => {
    const first = spawnFixture('broker.mjs', { DE_ENDPOINT: endpointPath() });
    children.push(first);
    await first.waitType('listening');
    const second = new Broker({ endpoint: endpointPath() });
    await expect(second.listen()).rejects.toMatchObject({ code: 'ERR_ENDPOINT_IN_USE' });
    if (posix) await stat(endpointPath()); // the live agent's socket was not touched
    const a = collector('procmond-1');
    await a.waitType('connected'); // and the first broker still answers
  });

  // No file modes on win32 (DACLs instead, and prepareEndpointDir checks none there): POSIX only.
  it.skipIf(!posix)('refuses a 0777 endpoint directory', async () => {
    await chmod(dir, 0o777);
    const broker = new Broker({ endpoint: endpointPath() });
    await expect(broker.listen()).rejects.toBeInstanceOf(TransportError);
    await expect(new Broker({ endpoint: endpointPath() }).listen()).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_INSECURE',
    });
  });

  it('reconnects and re-subscribes a collector after the broker restarts', async () => {
    const broker = await startBroker();
    const a = collector('procmond-1');
    await a.waitType('connected');
    a.send({ type: 'subscribe', pattern: 'events.process.+' });
    await a.waitType('subscribed');
    await broker.close();
    await a.waitFor((r) => r.type === 'state' && r.state === 'reconnecting');
    const restarted = await startBroker();
    await waitConnected(restarted, 'procmond-1');
    await a.waitFor(
      (r) => r.type === 'welcome' && a.reports.filter((x) => x.type === 'welcome').length >= 2,
    );
    // The re-subscription races the first publish; wait until the broker holds it.
    await until(() => restarted.subscriptionsOf('procmond-1').length > 0, {
      what: 'the re-subscription',
    });
    expect(restarted.subscriptionsOf('procmond-1')).toEqual(['events.process.+']);
    restarted.publish('events.process.lifecycle', Buffer.from('after restart'));
    expect(await a.waitType('message')).toMatchObject({ text: 'after restart', sender: '' });
  });

  // Reads /proc/<pid>/fd and /proc/net: Linux only (there is no /proc on win32, and Wine's
  // `netstat -ano` prints only its header, so the Windows equivalent cannot be checked under Wine).
  it.skipIf(process.platform !== 'linux')('opens no TCP or UDP port', async () => {
    const child = spawnFixture('broker.mjs', { DE_ENDPOINT: endpointPath() });
    children.push(child);
    const { pid } = await child.waitType('listening');
    const a = collector('procmond-1');
    await a.waitType('connected');
    const { readdir, readlink } = await import('node:fs/promises');
    const inodes = new Set<string>();
    for (const fd of await readdir(`/proc/${String(pid)}/fd`)) {
      const target = await readlink(`/proc/${String(pid)}/fd/${fd}`).catch(() => '');
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match?.[1]) inodes.add(match[1]);
    }
    expect(inodes.size).toBeGreaterThan(0);
    for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
      const text = await readFile(`/proc/${String(pid)}/net/${table}`, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const inode = line.trim().split(/\s+/)[9];
        if (inode) expect(inodes.has(inode), `${table} socket inode ${inode}`).toBe(false);
      }
    }
  });

  it('a client without a readable token file fails with ERR_TOKEN_FILE', async () => {
    await startBroker();
    await writeFile(resolveEndpoint(endpointPath()).tokenPath, 'short');
    const a = collector('procmond-1');
    expect(await a.waitType('connect-failed')).toMatchObject({ code: 'ERR_TOKEN_FILE' });
  });
});
