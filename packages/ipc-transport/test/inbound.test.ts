// Inbound backpressure (broker.pauseInbound) and topic churn (issue 12, items 1 and 6), on real
// Unix sockets.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { decodeEnvelope, type Envelope, encodeEnvelope, PROTOCOL_VERSION } from '@daemoneye/proto';
import { tempDir, until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, FrameDecoder } from '../src/index.js';
import { testEndpoint } from './helpers.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
let broker: Broker | undefined;
let sockets: Socket[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('de-in-'));
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await broker?.close();
  broker = undefined;
  sockets = [];
  await cleanup();
});

function frame(message: Envelope): Buffer {
  const body = encodeEnvelope(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/** A raw authenticated-less session (auth off) that records what the broker sends. */
async function session(id: string): Promise<{ socket: Socket; received: Envelope[] }> {
  const socket = connect(testEndpoint(dir));
  sockets.push(socket);
  socket.on('error', () => undefined);
  const received: Envelope[] = [];
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  socket.on('data', (chunk) => {
    for (const f of decoder.push(chunk)) received.push(decodeEnvelope(f));
  });
  await once(socket, 'connect');
  socket.write(
    frame({
      messageId: 0n,
      body: {
        $case: 'hello',
        value: {
          protocolVersion: PROTOCOL_VERSION,
          collectorId: id,
          kind: 'raw',
          pid: process.pid,
          capabilities: [],
          taskKinds: [],
          authToken: new Uint8Array(),
        },
      },
    }),
  );
  await until(() => received.some((m) => m.body?.$case === 'welcome'), { what: `${id} welcome` });
  return { socket, received };
}

function publishFrame(topic: string, seq: number, size: number): Buffer {
  const payload = Buffer.alloc(size);
  payload.writeUInt32BE(seq, 0);
  return frame({
    messageId: BigInt(seq),
    body: { $case: 'publish', value: { topic, payload, sender: '' } },
  });
}

async function start(): Promise<Broker> {
  broker = new Broker({
    endpoint: testEndpoint(dir),
    auth: false,
    endpointCheckIntervalMs: 0,
  });
  await broker.listen();
  return broker;
}

describe('inbound backpressure', () => {
  it('a paused connection is not read: its kernel buffer fills, its writer backs up, and resume delivers every frame in order', async () => {
    const b = await start();
    const frames = 256;
    const size = 64 * 1024; // 16 MiB per connection
    const seen = new Map<string, number[]>([
      ['paused-1', []],
      ['control-1', []],
    ]);
    b.subscribe('flood.#', (m) => seen.get(m.sender)?.push(Buffer.from(m.payload).readUInt32BE(0)));
    const paused = await session('paused-1');
    const control = await session('control-1');
    b.pauseInbound('paused-1');
    expect(b.isInboundPaused('paused-1')).toBe(true);
    expect(b.isInboundPaused('control-1')).toBe(false);
    let pausedWriteRefused = false;
    for (let seq = 0; seq < frames; seq++) {
      if (!paused.socket.write(publishFrame('flood.a', seq, size))) pausedWriteRefused = true;
      control.socket.write(publishFrame('flood.b', seq, size));
    }
    // The sentinel: the unpaused connection, written side by side, has been read to the end.
    await until(() => seen.get('control-1')?.length === frames, {
      what: 'the control flood',
      timeoutMs: 20_000,
    });
    expect(pausedWriteRefused).toBe(true); // write() returned false: the writer sees backpressure
    expect(seen.get('paused-1')).toEqual([]);
    // Almost all of it still waits in the writer's own buffer: the kernel buffer is full.
    expect(paused.socket.writableLength).toBeGreaterThan((frames * size) / 2);
    expect(b.stats()).toMatchObject({ inboundPaused: 1, inboundPauses: 1 });

    b.resumeInbound('paused-1');
    await until(() => seen.get('paused-1')?.length === frames, {
      what: 'the paused flood',
      timeoutMs: 20_000,
    });
    expect(seen.get('paused-1')).toEqual(Array.from({ length: frames }, (_, i) => i));
    await until(() => paused.socket.writableLength === 0, { what: 'the writer to drain' });
    expect(b.isInboundPaused('paused-1')).toBe(false);
    expect(() => b.pauseInbound('nobody')).toThrow(
      expect.objectContaining({ code: 'ERR_TRANSPORT_UNKNOWN_COLLECTOR' }),
    );
  });

  it('frames already read stay held while paused, even ones decoded in the same chunk', async () => {
    const b = await start();
    const got: number[] = [];
    b.subscribe('held.x', (m) => {
      const seq = Buffer.from(m.payload).readUInt32BE(0);
      got.push(seq);
      // Pause from inside a delivery: the rest of this chunk must wait.
      if (seq === 1) b.pauseInbound('held-1');
    });
    const s = await session('held-1');
    s.socket.write(Buffer.concat([0, 1, 2, 3].map((i) => publishFrame('held.x', i, 8))));
    s.socket.write(
      frame({ messageId: 99n, body: { $case: 'subscribe', value: { pattern: 'sentinel' } } }),
    );
    await until(() => got.length >= 2, { what: 'the first two' });
    expect(got).toEqual([0, 1]);
    expect(s.received.some((m) => m.body?.$case === 'ack')).toBe(false);
    b.resumeInbound('held-1');
    await until(() => s.received.some((m) => m.body?.$case === 'ack'), {
      what: 'the sentinel ack',
    });
    expect(got).toEqual([0, 1, 2, 3]);
  });
});

describe('topic churn', () => {
  it('subscribe/unsubscribe churn from one connection invalidates nothing cached; another connection keeps publishing', async () => {
    const b = await start();
    const churner = await session('churn-1');
    const publisher = await session('pub-1');
    const listener = await session('sub-1');
    listener.socket.write(
      frame({
        messageId: 1n,
        body: { $case: 'subscribe', value: { pattern: 'events.process.+' } },
      }),
    );
    await until(() => listener.received.some((m) => m.body?.$case === 'ack'), { what: 'sub ack' });
    let local = 0;
    b.subscribe('events.#', () => local++);
    const rounds = 2000;
    const churn: Buffer[] = [];
    for (let i = 0; i < rounds; i++) {
      churn.push(
        frame({
          messageId: BigInt(2 * i + 1),
          body: { $case: 'subscribe', value: { pattern: `churn.n${i}.+` } },
        }),
      );
      churn.push(
        frame({
          messageId: BigInt(2 * i + 2),
          body: { $case: 'unsubscribe', value: { pattern: `churn.n${i}.+` } },
        }),
      );
    }
    const before = b.stats();
    churner.socket.write(Buffer.concat(churn));
    for (let i = 0; i < rounds; i++)
      publisher.socket.write(publishFrame('events.process.lifecycle', i, 16));
    await until(
      () => churner.received.filter((m) => m.body?.$case === 'ack').length === 2 * rounds,
      {
        what: 'every churn ack',
        timeoutMs: 20_000,
      },
    );
    await until(() => local === rounds, { what: 'every publish', timeoutMs: 20_000 });
    await until(
      () => listener.received.filter((m) => m.body?.$case === 'publish').length === rounds,
      { what: 'every delivery to the collector', timeoutMs: 20_000 },
    );
    const after = b.stats();
    expect(after.subscribes - before.subscribes).toBe(rounds);
    expect(after.unsubscribes - before.unsubscribes).toBe(rounds);
    // The churned patterns match no cached topic: the publishers' cache entry survived it all.
    expect(after.topicCacheInvalidations - before.topicCacheInvalidations).toBe(0);
    expect(after.topicCacheMisses - before.topicCacheMisses).toBe(1);
    expect(after.topicCacheHits - before.topicCacheHits).toBe(rounds - 1);
    expect(b.subscriptionsOf('churn-1')).toEqual([]);
  });
});
