import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  encodeEnvelope,
  envelope,
  HealthState,
  PROTOCOL_VERSION,
  ProtoDecodeError,
} from './index.js';

describe('envelope codec', () => {
  it('round-trips every body case', () => {
    const token = new Uint8Array(32).fill(7);
    const cases = [
      envelope(
        {
          $case: 'hello',
          value: {
            protocolVersion: PROTOCOL_VERSION,
            collectorId: 'procmond-1',
            kind: 'procmond',
            pid: 42,
            capabilities: ['x'],
            taskKinds: ['enumerate'],
            authToken: token,
          },
        },
        5n,
      ),
      envelope({
        $case: 'welcome',
        value: {
          sessionId: 's',
          heartbeatIntervalMs: 100,
          maxFrameBytes: 1024,
          protocolVersion: 1,
        },
      }),
      envelope({ $case: 'reject', value: { code: 'ERR_AUTH', message: 'bad token' } }),
      envelope({ $case: 'subscribe', value: { pattern: 'events.#' } }),
      envelope({ $case: 'unsubscribe', value: { pattern: 'events.#' } }),
      envelope({
        $case: 'publish',
        value: { topic: 'a.b', payload: new Uint8Array([1, 2]), sender: '' },
      }),
      envelope({
        $case: 'taskAssignment',
        value: {
          taskId: 't',
          correlationId: 'c',
          taskKind: 'k',
          payload: new Uint8Array(),
          deadlineUnixMs: 9n,
        },
      }),
      envelope({
        $case: 'taskResult',
        value: {
          taskId: 't',
          correlationId: 'c',
          final: true,
          error: '',
          results: [
            {
              fingerprint: 'f',
              kind: 'process',
              subject: 'p',
              attributes: { a: 'b' },
              collectedAtUnixMs: 1n,
            },
          ],
        },
      }),
      envelope({
        $case: 'heartbeat',
        value: {
          activeTasks: 1,
          queueDepth: 2,
          cpu: 0.5,
          memoryBytes: 3n,
          state: HealthState.HEALTH_STATE_DEGRADED,
          message: 'disk full',
        },
      }),
      envelope({ $case: 'ack', value: { messageId: 1n } }),
      envelope({ $case: 'nack', value: { messageId: 1n, code: 'ERR', message: 'm' } }),
      envelope({ $case: 'goodbye', value: { reason: 'bye' } }),
    ];
    for (const message of cases) {
      expect(decodeEnvelope(encodeEnvelope(message))).toEqual(message);
    }
  });

  it('ignores monotonic_ns (field 5, now reserved) from a collector that still sends it', () => {
    // Envelope.heartbeat (field 18): memory_bytes = 3, monotonic_ns = 128, state = DEGRADED.
    const bytes = Uint8Array.of(0x92, 0x01, 7, 0x20, 3, 0x28, 0x80, 0x01, 0x30, 2);
    const decoded = decodeEnvelope(bytes);
    expect(decoded).toEqual(
      envelope({
        $case: 'heartbeat',
        value: {
          activeTasks: 0,
          queueDepth: 0,
          cpu: 0,
          memoryBytes: 3n,
          state: HealthState.HEALTH_STATE_DEGRADED,
        },
      }),
    );
    expect(encodeEnvelope(decoded)).toEqual(Uint8Array.of(0x92, 0x01, 4, 0x20, 3, 0x30, 2));
  });

  it('throws a typed error on truncated input', () => {
    const bytes = encodeEnvelope(
      envelope({ $case: 'goodbye', value: { reason: 'a long enough reason' } }),
    );
    expect(() => decodeEnvelope(bytes.subarray(0, bytes.length - 3))).toThrow(ProtoDecodeError);
  });

  it('never crashes on random bytes (fixed seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          decodeEnvelope(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtoDecodeError);
          expect((error as ProtoDecodeError).code).toBe('ERR_PROTO_DECODE');
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
