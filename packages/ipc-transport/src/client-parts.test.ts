import { describe, expect, it } from 'vitest';
import { AckTracker, isRefusal, nackCode } from './acks.js';
import { SubscriptionSet } from './client-subscriptions.js';
import { TransportError } from './errors.js';
import { heartbeatOf } from './heartbeat.js';
import { TaskQueue } from './task-queue.js';

const task = (taskId: string) => ({
  taskId,
  correlationId: 'c',
  taskKind: 'k',
  payload: new Uint8Array(),
  deadlineUnixMs: 0n,
});

describe('TaskQueue', () => {
  it('buffers only while iterated, up to max, hands tasks to waiting next() calls first, ends on end()', async () => {
    const queue = new TaskQueue(2);
    queue.offer(task('ignored')); // nobody iterates: not buffered
    expect(queue.full).toBe(false);
    let closed = false;
    const it = queue.iterator(() => closed);
    const waiting = it.next();
    queue.offer(task('t1'));
    expect((await waiting).value?.taskId).toBe('t1');
    queue.offer(task('t2'));
    queue.offer(task('t3'));
    expect(queue.full).toBe(true);
    expect((await it.next()).value?.taskId).toBe('t2');
    const pending = it.next();
    expect((await pending).value?.taskId).toBe('t3');
    const last = it.next();
    closed = true;
    queue.end();
    expect(await last).toEqual({ value: undefined, done: true });
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });
});

describe('AckTracker', () => {
  it('resolves on Ack, rejects on Nack, and rejects everything pending at once', async () => {
    const acks = new AckTracker();
    const a = acks.request(1n, () => undefined);
    const b = acks.request(2n, () => undefined);
    const c = acks.request(3n, () => undefined);
    acks.ack(1n);
    await expect(a).resolves.toBeUndefined();
    expect(acks.nack(2n, new TransportError('ERR_INVALID_PATTERN', 'bad'))).toBe(true);
    await expect(b).rejects.toMatchObject({ code: 'ERR_INVALID_PATTERN' });
    expect(acks.nack(2n, new TransportError('ERR_INVALID_PATTERN', 'again'))).toBe(false);
    acks.rejectAll('ERR_TRANSPORT_NOT_CONNECTED', 'lost');
    await expect(c).rejects.toMatchObject({ code: 'ERR_TRANSPORT_NOT_CONNECTED' });
    await expect(
      acks.request(4n, () => {
        throw new TransportError('ERR_BACKPRESSURE', 'full');
      }),
    ).rejects.toMatchObject({ code: 'ERR_BACKPRESSURE' });
  });

  it('tells refusals from lost links and maps unknown Nack codes', () => {
    expect(isRefusal(new TransportError('ERR_TOO_MANY_SUBSCRIPTIONS', 'x'))).toBe(true);
    expect(isRefusal(new TransportError('ERR_TRANSPORT_NOT_CONNECTED', 'x'))).toBe(false);
    expect(isRefusal(new Error('x'))).toBe(false);
    expect(nackCode('ERR_INVALID_TOPIC')).toBe('ERR_INVALID_TOPIC');
    expect(nackCode('ERR_FROM_THE_FUTURE')).toBe('ERR_TRANSPORT_PROTOCOL');
  });
});

describe('SubscriptionSet', () => {
  it('counts uses per pattern; only the last release must reach the broker', () => {
    const set = new SubscriptionSet();
    const h = (): void => undefined;
    set.add('a.+', h);
    set.add('a.+', undefined);
    expect(set.patterns()).toEqual(['a.+']);
    expect([...set.handlersFor('a.b')]).toEqual([h]);
    expect(set.release('a.+', h)).toBe(false);
    expect(set.handlersFor('a.b').size).toBe(0);
    expect(set.release('a.+', undefined)).toBe(true);
    expect(set.patterns()).toEqual([]);
    set.add('b.#', undefined);
    set.drop('b.#');
    expect(set.patterns()).toEqual([]);
  });
});

describe('heartbeatOf', () => {
  it('clamps junk metrics instead of sending them', () => {
    expect(
      heartbeatOf({
        activeTasks: Number.NaN,
        queueDepth: -3,
        cpu: 7,
        memoryBytes: Number.POSITIVE_INFINITY,
      }),
    ).toStrictEqual({ activeTasks: 0, queueDepth: 0, cpu: 1, memoryBytes: 0n });
    expect(
      heartbeatOf({ activeTasks: 2.9, queueDepth: 1, cpu: 0.25, memoryBytes: 1024.5 }),
    ).toStrictEqual({ activeTasks: 2, queueDepth: 1, cpu: 0.25, memoryBytes: 1024n });
  });
});
