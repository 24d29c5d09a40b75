import { Socket } from 'node:net';
import type { Envelope } from '@daemoneye/proto';
import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import { FramedConnection } from './connection.js';
import { TransportError } from './errors.js';
import { type RemoteSubscriber, Router } from './routing.js';

function subscriber(collectorId: string): RemoteSubscriber {
  const limits = { maxFrameBytes: 1024, maxQueueBytes: 4096, maxQueueFrames: 10 };
  return {
    type: 'session',
    collectorId,
    connection: new FramedConnection(new Socket(), limits, new FakeClock(), 0),
  };
}

function router(sent: [string, Envelope][], full = new Set<string>()) {
  const byConnection = new Map<FramedConnection, string>();
  const r = new Router({
    maxSubscriptionsPerConnection: 3,
    maxTopicCacheEntries: 16,
    send: (connection, message) => {
      const id = byConnection.get(connection) ?? '?';
      if (full.has(id)) throw new TransportError('ERR_BACKPRESSURE', 'full');
      sent.push([id, message]);
    },
    onHandlerError: () => undefined,
  });
  const make = (id: string): RemoteSubscriber => {
    const s = subscriber(id);
    byConnection.set(s.connection, id);
    return s;
  };
  return { r, make };
}

describe('Router', () => {
  it('routes to every match but the sender, reporting per-collector failures', () => {
    const sent: [string, Envelope][] = [];
    const { r, make } = router(sent, new Set(['slow']));
    const a = make('a');
    const b = make('b');
    const slow = make('slow');
    expect(r.subscribe(a, 'events.*')).toBeUndefined();
    expect(r.subscribe(b, 'events.#')).toBeUndefined();
    expect(r.subscribe(slow, 'events.x')).toBeUndefined();
    const local: string[] = [];
    const off = r.local('events.x', (m) => local.push(m.sender));
    const report = r.route('events.x', new Uint8Array([1]), 'a', a, 5n);
    expect(report.delivered).toBe(2);
    expect(report.failed.map((f) => [f.collectorId, f.error.code])).toEqual([
      ['slow', 'ERR_BACKPRESSURE'],
    ]);
    expect(sent.map(([id]) => id)).toEqual(['b']);
    expect(local).toEqual(['a']);
    off();
    off();
    expect(r.stats()).toMatchObject({
      subscribes: 4,
      unsubscribes: 1,
      publishesRouted: 1,
      deliveries: 2,
    });
  });

  it('holds at most maxSubscriptionsPerConnection, re-subscribing a held one is free, bad patterns are Nacked', () => {
    const { r, make } = router([]);
    const a = make('a');
    for (const p of ['a.b', 'a.c', 'a.d']) expect(r.subscribe(a, p)).toBeUndefined();
    expect(r.subscribe(a, 'a.e')?.code).toBe('ERR_TOO_MANY_SUBSCRIPTIONS');
    expect(r.subscribe(a, 'a.b')).toBeUndefined();
    expect(r.subscribe(a, 'a.#.b')?.code).toBe('ERR_INVALID_PATTERN');
    expect(r.unsubscribe(a, 'a.b')).toBeUndefined();
    expect(r.subscribe(a, 'a.e')).toBeUndefined();
    expect(r.patternsOf(a).sort()).toEqual(['a.c', 'a.d', 'a.e']);
    expect(r.removeAll(a)).toBe(3);
    expect(r.size).toBe(0);
  });
});
