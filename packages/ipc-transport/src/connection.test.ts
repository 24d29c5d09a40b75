import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FakeClock, type TempDir, tempDir, testEndpoint, until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FramedConnection } from './connection.js';

let temp: TempDir;
let server: Server;
let accepted: Socket[] = [];
let path = '';

beforeEach(async () => {
  temp = await tempDir('de-conn-');
  path = testEndpoint(temp.dir);
  accepted = [];
  server = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(path, resolve));
});

afterEach(async () => {
  for (const s of accepted) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await temp.cleanup();
});

const limits = { maxFrameBytes: 1024, maxQueueBytes: 4096, maxQueueFrames: 2 };

describe('FramedConnection', () => {
  it('destroys a peer that never reads its Goodbye after closeGraceMs on the clock, with state-change events', async () => {
    const clock = new FakeClock();
    const socket = connect(path);
    await once(socket, 'connect');
    await until(() => accepted.length === 1, { what: 'the accept' });
    const peer = accepted[0];
    peer?.pause(); // reads nothing and never ends its side
    if (peer) peer.allowHalfOpen = true;
    const connection = new FramedConnection(socket, limits, clock, 200);
    const changes: string[] = [];
    connection.on('state-change', ({ from, to, reason }) =>
      changes.push(`${from}>${to}:${reason}`),
    );
    connection.close('bye');
    expect(connection.state).toBe('closing');
    expect(clock.delays).toEqual([200]);
    expect(
      Object.getOwnPropertyDescriptor(FramedConnection.prototype, 'state')?.set,
    ).toBeUndefined();
    clock.advance(200);
    await once(connection, 'close');
    expect(changes).toEqual(['open>closing:bye', 'closing>closed:bye']);
    expect(clock.timerCount).toBe(0);
  });

  it('refuses a send past maxQueueFrames with ERR_BACKPRESSURE and a send after close with ERR_TRANSPORT_CLOSED', async () => {
    const socket = connect(path);
    const connection = new FramedConnection(socket, limits, new FakeClock(), 0);
    const heartbeat = { messageId: 0n, body: { $case: 'ack' as const, value: { messageId: 1n } } };
    // Not connected yet: writes queue in the socket, the frame count grows.
    connection.send(heartbeat);
    connection.send(heartbeat);
    expect(() => connection.send(heartbeat)).toThrow(
      expect.objectContaining({ code: 'ERR_BACKPRESSURE' }),
    );
    connection.destroy('done');
    expect(() => connection.send(heartbeat)).toThrow(
      expect.objectContaining({ code: 'ERR_TRANSPORT_CLOSED' }),
    );
    await once(connection, 'close');
  });
});
