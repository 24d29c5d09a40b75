import { stat } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, CollectorClient, resolveEndpoint } from '../src/index.js';
import { tempDir, testEndpoint } from './helpers.js';

const posix = process.platform !== 'win32';
let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
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
    await expect(listening).rejects.toMatchObject({ code: 'ERR_CLOSED' });
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
    await expect(broker.listen()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await first;
    expect(broker.state).toBe('listening');
  });

  it('a throwing or junk metrics callback does not stop heartbeats (regression)', async () => {
    const broker = new Broker({ endpoint: testEndpoint(dir), heartbeatIntervalMs: 100 });
    closers.push(() => broker.close());
    await broker.listen();
    let calls = 0;
    const client = new CollectorClient({
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
    const errors: unknown[] = [];
    client.on('handler-error', (error) => errors.push(error));
    const beats: { activeTasks: number; queueDepth: number; cpu: number; memoryBytes: bigint }[] =
      [];
    broker.on('heartbeat', (_id, beat) => beats.push(beat));
    await client.connect();
    while (beats.length < 4) await new Promise((r) => setTimeout(r, 50));
    expect(errors.length).toBeGreaterThanOrEqual(2);
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
    await expect(client.subscribe('a.b')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
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
    while (refusals.length < 3) await new Promise((r) => setTimeout(r, 10));
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
