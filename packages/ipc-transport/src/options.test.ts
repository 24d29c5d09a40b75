import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import { resolveBackoffOptions } from './backoff.js';
import { BROKER_DEFAULTS, resolveBrokerOptions } from './broker-options.js';
import { CLIENT_DEFAULTS, resolveClientOptions } from './client-options.js';

type Row = readonly [name: string, good: unknown, badType: unknown, outOfRange: unknown];

const noop = (): void => undefined;

// One row per option: a good value, a value of the wrong type, a value out of range (or
// `undefined` where every value of the right type is allowed).
const brokerRows: Row[] = [
  ['endpoint', '/tmp/x/agent.sock', 42, undefined],
  ['auth', false, 'yes', undefined],
  ['handshakeTimeoutMs', 500, '500', 3e9],
  ['heartbeatIntervalMs', 100, null, 99],
  ['maxFrameBytes', 1024, '1', 1023],
  ['maxHandshakeBytes', 4096, true, 2 ** 32],
  ['maxConnections', 10, '10', 0],
  ['maxPendingHandshakes', 8, [], 0],
  ['maxQueueBytes', 4096, '4096', 1023],
  ['maxQueueFrames', 5, {}, 0],
  ['maxSubscriptionsPerConnection', 5, '5', 1.5],
  ['maxTopicCacheEntries', 0, '0', -1],
  ['maxCollectorIdLength', 64, '64', 4097],
  ['closeGraceMs', 0, '0', 2 ** 31],
  ['endpointCheckIntervalMs', 0, '0', Number.NaN],
  ['authorize', () => ({ accept: true }), 'yes', undefined],
  ['onCallbackError', noop, 1, undefined],
  ['clock', new FakeClock(), { now: noop }, undefined],
];

const required = { collectorId: 'c-1', kind: 'test' };
const clientRows: Row[] = [
  ['collectorId', 'procmond-1', 7, 'a b'],
  ['kind', 'procmond', 7, ''],
  ['endpoint', '/tmp/x/agent.sock', 42, undefined],
  ['token', new Uint8Array(32), 'abc', new Uint8Array(31)],
  ['noAuth', true, 1, undefined],
  ['pid', 123, '123', -1],
  ['taskKinds', ['a'], 'a', ['']],
  ['capabilities', ['b'], [1], Array.from({ length: 65 }, () => 'x')],
  ['metrics', noop, {}, undefined],
  ['onTask', noop, 'x', undefined],
  ['reconnect', false, 'no', undefined],
  ['initialReconnectDelayMs', 10, '10', 0],
  ['maxReconnectDelayMs', 10_000, '1', 3e9],
  ['maxReconnectAttempts', 3, '3', -1],
  ['connectTimeoutMs', 100, '100', 3e9],
  ['maxFrameBytes', 2048, '2048', 64],
  ['maxQueueBytes', 2048, '2048', 10],
  ['maxQueueFrames', 2, '2', 0],
  ['maxBufferedTasks', 2, '2', 0],
  ['closeGraceMs', 0, '0', -5],
  ['onCallbackError', noop, 'x', undefined],
  ['clock', new FakeClock(), 1, undefined],
  ['random', () => 0.5, 0.5, undefined],
];

const backoffRows: Row[] = [
  ['initialDelayMs', 0, '0', 2 ** 31],
  ['multiplier', 1.5, '2', 0.5],
  ['maxDelayMs', 60_000, '1', 3e9],
  ['jitter', 0, '0', 1.5],
  ['resetAfterMs', 10, '10', -1],
];

describe.each([
  ['Broker', brokerRows, (o: Record<string, unknown>) => resolveBrokerOptions(o)],
  [
    'CollectorClient',
    clientRows,
    (o: Record<string, unknown>) => resolveClientOptions({ ...required, ...o }),
  ],
  ['backoff', backoffRows, (o: Record<string, unknown>) => resolveBackoffOptions(o)],
] as const)('%s options', (_name, rows, resolve) => {
  it.each(rows)(
    '%s: good value accepted, wrong type TypeError, out of range RangeError',
    (name, good, badType, outOfRange) => {
      expect(() => resolve({ [name]: good })).not.toThrow();
      // undefined = default (collectorId and kind have none: they are required)
      if (name !== 'collectorId' && name !== 'kind')
        expect(() => resolve({ [name]: undefined })).not.toThrow();
      expect(() => resolve({ [name]: badType })).toThrow(TypeError);
      expect(() => resolve({ [name]: badType })).toThrow(
        new RegExp(`^(options|backoff)\\.${name} must be .*, got `),
      );
      if (outOfRange !== undefined) {
        expect(() => resolve({ [name]: outOfRange })).toThrow(RangeError);
        expect(() => resolve({ [name]: outOfRange })).toThrow(
          new RegExp(`${name} must be .*, got `),
        );
      }
    },
  );

  it('refuses an unknown key with the nearest known name', () => {
    const [first] = rows;
    const name = first?.[0] ?? '';
    const typo = `${name.slice(0, -1)}`;
    expect(() => resolve({ [typo]: 1 })).toThrow(
      new TypeError(`options.${typo} is not a known option (did you mean ${name}?)`),
    );
    expect(() => resolve({ zzzzzzzzzzzzzzzzzzzz: 1 })).toThrow(/is not a known option$/);
  });
});

describe('option specifics', () => {
  it('caps every delay at 2^31-1 (Node would fire a larger one after 1 ms)', () => {
    expect(() => resolveClientOptions({ ...required, connectTimeoutMs: 3e9 })).toThrow(RangeError);
    expect(() => resolveClientOptions({ ...required, maxReconnectDelayMs: 3e9 })).toThrow(
      RangeError,
    );
    expect(
      resolveClientOptions({ ...required, connectTimeoutMs: 2 ** 31 - 1 }).connectTimeoutMs,
    ).toBe(2 ** 31 - 1);
  });

  it('has one floor for maxFrameBytes (1024) in Broker and CollectorClient', () => {
    expect(resolveBrokerOptions({ maxFrameBytes: 1024 }).maxFrameBytes).toBe(1024);
    expect(() => resolveBrokerOptions({ maxFrameBytes: 1023 })).toThrow(RangeError);
    expect(resolveClientOptions({ ...required, maxFrameBytes: 1024 }).maxFrameBytes).toBe(1024);
    expect(() => resolveClientOptions({ ...required, maxFrameBytes: 1023 })).toThrow(RangeError);
  });

  it('applies the documented defaults', () => {
    const broker = resolveBrokerOptions({});
    for (const [key, value] of Object.entries(BROKER_DEFAULTS)) {
      expect(broker[key as keyof typeof broker], key).toBe(value);
    }
    expect(broker.maxPendingHandshakes).toBe(64);
    const client = resolveClientOptions(required);
    expect(client.connectTimeoutMs).toBe(CLIENT_DEFAULTS.connectTimeoutMs);
    expect(client.backoff).toMatchObject({ initialDelayMs: 100, maxDelayMs: 5000 });
    expect(client.maxReconnectAttempts).toBe(Number.POSITIVE_INFINITY);
  });

  it('requires collectorId and kind, and maxReconnectDelayMs >= initialReconnectDelayMs', () => {
    expect(() => resolveClientOptions({ kind: 'x' } as never)).toThrow(/collectorId .*required/);
    expect(() =>
      resolveClientOptions({ ...required, initialReconnectDelayMs: 500, maxReconnectDelayMs: 400 }),
    ).toThrow(RangeError);
  });
});
