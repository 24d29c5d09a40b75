import { readFile, stat, writeFile } from 'node:fs/promises';
import { tempDir, until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, CollectorClient, resolveEndpoint, type TransportError } from '../src/index.js';
import { lockPathOf } from '../src/token-file.js';
import { testEndpoint } from './helpers.js';

const posix = process.platform !== 'win32';
let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('de-ipc-'));
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await cleanup();
});

describe('lifecycle edge cases (in-process broker and client, real socket)', () => {
  it('close() during listen() leaves no listener and no files (regression)', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir) });
    const listening = broker.listen();
    const closing = broker.close();
    await expect(listening).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
    await closing;
    if (posix) await expect(stat(testEndpoint(dir))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(resolveEndpoint(testEndpoint(dir)).tokenPath)).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('a second concurrent listen() is refused', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir) });
    closers.push(() => broker.close());
    const first = broker.listen();
    await expect(broker.listen()).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
    await first;
    expect(broker.state).toBe('listening');
  });

  it('a throwing or junk metrics callback does not stop heartbeats (regression)', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir), heartbeatIntervalMs: 100 });
    closers.push(() => broker.close());
    await broker.listen();
    let calls = 0;
    const errors: TransportError[] = [];
    const client = new CollectorClient({
      onCallbackError: (error) => errors.push(error),
      endpoint: testEndpoint(dir),
      collectorId: 'c-1',
      kind: 'test',
      metrics: () => {
        calls++;
        if (calls % 2 === 1) throw new Error('metrics broke');
        return {
          activeTasks: Number.NaN,
          queueDepth: -3,
          cpu: Number.POSITIVE_INFINITY,
          memoryBytes: Number.POSITIVE_INFINITY,
        };
      },
    });
    closers.push(() => client.close());
    const beats: { activeTasks: number; queueDepth: number; cpu: number; memoryBytes: bigint }[] =
      [];
    broker.on('heartbeat', (_id, beat) => beats.push(beat));
    await client.connect();
    await until(() => beats.length >= 4, { what: '4 heartbeats' });
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toMatchObject({
      code: 'ERR_TRANSPORT_CALLBACK_FAILED',
      message: /metrics threw/,
    });
    for (const beat of beats) {
      expect(beat).toMatchObject({ activeTasks: 0, queueDepth: 0, memoryBytes: 0n });
      expect(beat.cpu).toBeGreaterThanOrEqual(0);
      expect(beat.cpu).toBeLessThanOrEqual(1);
    }
  });

  it('close() during a handshake drops the attempt; subscribe() after close() rejects', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir), handshakeTimeoutMs: 60_000 });
    closers.push(() => broker.close());
    await broker.listen();
    const client = new CollectorClient({
      endpoint: testEndpoint(dir),
      collectorId: 'c-1',
      kind: 'test',
      token: new Uint8Array(32),
      connectTimeoutMs: 60_000,
    });
    // close() runs before the Welcome (or the Reject for the wrong token) can arrive.
    const connecting = client.connect();
    await client.close();
    await expect(connecting).rejects.toBeDefined();
    expect(client.state).toBe('closed');
    await expect(client.subscribe('a.b')).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
  });

  it('refuses tasks past maxBufferedTasks out loud (a final error result) and counts them', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir) });
    closers.push(() => broker.close());
    await broker.listen();
    const client = new CollectorClient({
      endpoint: testEndpoint(dir),
      collectorId: 'c-1',
      kind: 'test',
      maxBufferedTasks: 2,
    });
    closers.push(() => client.close());
    await client.connect();
    const tasks = client.tasks(); // iterating, but consuming nothing yet
    const refusals: string[] = [];
    broker.on('task-result', (_id, result) => refusals.push(`${result.taskId}:${result.error}`));
    for (let i = 1; i <= 5; i++) {
      broker.assignTask('c-1', {
        taskId: `t${i}`,
        correlationId: 'c',
        taskKind: 'x',
        payload: new Uint8Array(),
        deadlineUnixMs: 0n,
      });
    }
    await until(() => refusals.length >= 3, { what: '3 refusals' });
    expect(refusals).toEqual([
      't3:ERR_BACKPRESSURE: collector task buffer is full',
      't4:ERR_BACKPRESSURE: collector task buffer is full',
      't5:ERR_BACKPRESSURE: collector task buffer is full',
    ]);
    expect(client.stats().tasksRefused).toBe(3);
    expect((await tasks.next()).value?.taskId).toBe('t1');
    expect((await tasks.next()).value?.taskId).toBe('t2');
  });
});

describe('lifecycle: state-change, one close promise, AbortSignal', () => {
  it('Broker: read-only state, state-change {from,to,reason}, close() returns the same promise and waits', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir) });
    const changes: string[] = [];
    broker.on('state-change', ({ from, to, reason }) => changes.push(`${from}>${to}:${reason}`));
    expect(Object.getOwnPropertyDescriptor(Broker.prototype, 'state')?.set).toBeUndefined();
    await broker.listen();
    const client = new CollectorClient({
      endpoint: testEndpoint(dir),
      collectorId: 'c-1',
      kind: 'test',
      reconnect: false,
    });
    await client.connect();
    const first = broker.close();
    const second = broker.close();
    expect(second).toBe(first);
    expect(broker.state).toBe('closing');
    let closedEvent = false;
    broker.once('closed', () => {
      closedEvent = true;
    });
    await second;
    // The second call did not return early: everything is torn down when it resolves.
    expect(closedEvent).toBe(true);
    expect(broker.state).toBe('closed');
    if (posix) await expect(stat(testEndpoint(dir))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(changes).toEqual([
      'idle>starting:listen()',
      'starting>listening:listening',
      'listening>closing:close()',
      'closing>closed:close()',
    ]);
    expect(broker.close()).toBe(first);
    await until(() => client.state === 'closed', { what: 'the client to close' });
  });

  it('a failed listen() leaves the broker closed once; close() then resolves without another change', async () => {
    // The failure: on POSIX a file that is not a socket at the path (ERR_ENDPOINT_INSECURE, and
    // the lock is given back); a pipe name is no file on win32, so there a live broker holds it.
    const lock = lockPathOf(resolveEndpoint(testEndpoint(dir)));
    const holder = new Broker({ endpoint: testEndpoint(dir) });
    if (posix) await writeFile(testEndpoint(dir), 'not a socket');
    else {
      closers.push(() => holder.close());
      await holder.listen();
    }
    const held = posix ? '' : await readFile(lock, 'utf8');
    const broker = new Broker({ endpoint: testEndpoint(dir) });
    const changes: string[] = [];
    broker.on('state-change', ({ from, to }) => changes.push(`${from}>${to}`));
    await expect(broker.listen()).rejects.toMatchObject({
      code: posix ? 'ERR_ENDPOINT_INSECURE' : 'ERR_ENDPOINT_IN_USE',
    });
    await broker.close();
    expect(changes).toEqual(['idle>starting', 'starting>closed']);
    await expect(broker.listen()).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
    // POSIX: the failed broker gave its lock back; win32: it left the holder's lock alone.
    if (posix) await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    else expect(await readFile(lock, 'utf8')).toBe(held);
  });

  it('CollectorClient: state-change, the same close promise, no reconnect after close', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir) });
    closers.push(() => broker.close());
    await broker.listen();
    const client = new CollectorClient({
      endpoint: testEndpoint(dir),
      collectorId: 'c-1',
      kind: 'test',
    });
    const changes: string[] = [];
    client.on('state-change', ({ from, to }) => changes.push(`${from}>${to}`));
    await client.connect();
    const closing = client.close();
    expect(client.close()).toBe(closing);
    await closing;
    expect(changes).toEqual([
      'idle>connecting',
      'connecting>open',
      'open>closing',
      'closing>closed',
    ]);
    await expect(client.connect()).rejects.toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
  });

  it('listen({ signal }) and connect({ signal }): aborting stops the attempt and closes', async () => {
    const aborted = new AbortController();
    aborted.abort();
    const early = new Broker({ endpoint: testEndpoint(dir) });
    await expect(early.listen({ signal: aborted.signal })).rejects.toMatchObject({
      code: 'ERR_TRANSPORT_ABORTED',
    });
    await early.close();
    expect(early.state).toBe('closed');

    const controller = new AbortController();
    const broker = new Broker({ endpoint: testEndpoint(dir) });
    const listening = broker.listen({ signal: controller.signal });
    controller.abort();
    await expect(listening).rejects.toMatchObject({ code: 'ERR_TRANSPORT_ABORTED' });
    await broker.close();
    if (posix) await expect(stat(testEndpoint(dir))).rejects.toMatchObject({ code: 'ENOENT' });

    // Aborting later closes a listening broker, as net.Server's signal does.
    const later = new AbortController();
    const live = new Broker({ endpoint: testEndpoint(dir) });
    await live.listen({ signal: later.signal });
    later.abort();
    await live.close();
    expect(live.state).toBe('closed');

    const server = new Broker({ endpoint: testEndpoint(dir), handshakeTimeoutMs: 60_000 });
    closers.push(() => server.close());
    await server.listen();
    const connectAbort = new AbortController();
    const client = new CollectorClient({
      endpoint: testEndpoint(dir),
      collectorId: 'c-1',
      kind: 'test',
      token: new Uint8Array(32),
    });
    const connecting = client.connect({ signal: connectAbort.signal });
    connectAbort.abort();
    await expect(connecting).rejects.toMatchObject({ code: 'ERR_TRANSPORT_ABORTED' });
    await client.close();
    expect(client.state).toBe('closed');
  });

  it('a listener that throws does not break the broker; the throw goes to onCallbackError', async () => {
    const errors: TransportError[] = [];
    const broker = new Broker({
      endpoint: testEndpoint(dir),
      onCallbackError: (e) => errors.push(e),
    });
    closers.push(() => broker.close());
    await broker.listen();
    broker.on('collector-connected', () => {
      throw new Error('listener bug');
    });
    broker.subscribe('a.b', () => {
      throw new Error('subscriber bug');
    });
    const client = new CollectorClient({
      endpoint: testEndpoint(dir),
      collectorId: 'c-1',
      kind: 'test',
      reconnect: false,
    });
    closers.push(() => client.close());
    await client.connect();
    expect(broker.collector('c-1')).toBeDefined();
    expect(broker.publish('a.b', new Uint8Array([1])).delivered).toBe(0);
    expect(errors.map((e) => e.message)).toEqual([
      "a 'collector-connected' listener threw: listener bug",
      'subscriber of a.b threw: subscriber bug',
    ]);
    expect(broker.stats()).toMatchObject({ callbackErrors: 2, handlerErrors: 1 });
  });
});

describe('client reconnect on the fake clock', () => {
  it('backs off with the shared backoff, reconnects, re-subscribes, and gives up after maxReconnectAttempts', async () => {
    const { FakeClock } = await import('@daemoneye/test-utils');
    const clock = new FakeClock();
    const path = testEndpoint(dir);
    let broker = new Broker({ endpoint: path });
    await broker.listen();
    const client = new CollectorClient({
      endpoint: path,
      collectorId: 'c-1',
      kind: 'test',
      clock,
      random: () => 0.5,
      initialReconnectDelayMs: 100,
      maxReconnectDelayMs: 400,
      maxReconnectAttempts: 4,
    });
    closers.push(() => client.close());
    const scheduled: number[] = [];
    client.on('reconnect-scheduled', (_attempt, delay) => scheduled.push(delay));
    await client.connect();
    await client.subscribe('a.+');
    await broker.close();
    await until(() => client.state === 'reconnecting', { what: 'reconnecting' });
    expect(scheduled).toEqual([100]);
    // Nobody listens: each attempt fails at once and the next one waits twice as long.
    for (const delay of [100, 200, 400]) {
      const n = scheduled.length;
      clock.advance(delay);
      await until(() => scheduled.length === n + 1, { what: `the attempt after ${delay} ms` });
    }
    expect(scheduled).toEqual([100, 200, 400, 400]);
    broker = new Broker({ endpoint: path });
    closers.push(() => broker.close());
    await broker.listen();
    clock.advance(400);
    await until(() => client.state === 'open', { what: 'the reconnect' });
    await until(() => broker.subscriptionsOf('c-1').length === 1, { what: 'the re-subscription' });
    expect(client.stats()).toMatchObject({ connects: 2, reconnects: 4 });

    const gaveUp = new Promise<unknown>((resolve) => client.once('gave-up', resolve));
    await broker.close();
    // Four failed attempts (each scheduled after the previous one failed), then it gives up.
    await until(() => client.state === 'reconnecting', { what: 'reconnecting again' });
    for (let i = 0; i < 4; i++) {
      const n = scheduled.length;
      clock.advance(400);
      await until(() => scheduled.length > n || client.state === 'closed', {
        what: `attempt ${i}`,
      });
    }
    // The closed broker removed its token file: the last attempt could not even read it.
    expect(await gaveUp).toMatchObject({ code: 'ERR_TOKEN_FILE' });
    expect(client.state).toBe('closed');
  });
});
