import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DetectionResult,
  type Envelope,
  encodeEnvelope,
  encodeEnvelopeFrame,
  encodeHeartbeatFrame,
  encodeTaskResultFrame,
  FRAME_PREFIX_BYTES,
  type Heartbeat,
  isProtoError,
  ProtoEncodeError,
  type TaskResult,
} from './index.js';

const SEED = 20_261_202;

/** The reference: the generated encoder's bytes behind a separately built length prefix. */
function framed(message: Envelope): Uint8Array {
  const payload = encodeEnvelope(message);
  const frame = new Uint8Array(FRAME_PREFIX_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, FRAME_PREFIX_BYTES);
  return frame;
}

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 127n, 128n, (1n << 28n) - 1n, 1n << 28n, 1n << 32n, (1n << 64n) - 1n),
);
// Any UTF-16 (lone surrogates included), long strings too (multi-byte length prefixes).
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
);
const key = fc.oneof(text, fc.constantFrom('0', '10', '4294967294', '-1', 'exe', ''));
const detectionResult: fc.Arbitrary<DetectionResult> = fc.record({
  fingerprint: text,
  kind: text,
  subject: text,
  attributes: fc.dictionary(key, text, { maxKeys: 6 }),
  collectedAtUnixMs: u64,
});
const taskResult: fc.Arbitrary<TaskResult> = fc.record({
  taskId: text,
  correlationId: text,
  results: fc.array(detectionResult, { maxLength: 40 }),
  final: fc.boolean(),
  error: text,
});
const heartbeat: fc.Arbitrary<Heartbeat> = fc.record({
  activeTasks: fc.nat({ max: 0xffff_ffff }),
  queueDepth: fc.oneof(fc.constantFrom(0, 127, 128, 0xffff_ffff), fc.nat({ max: 0xffff_ffff })),
  cpu: fc.oneof(fc.double(), fc.constantFrom(0, -0, 1, Number.NaN, Number.POSITIVE_INFINITY)),
  memoryBytes: u64,
  // Explicit presence: undefined (not sent) as well as 0 and '' (sent).
  state: fc.option(
    fc.oneof(fc.constantFrom(0, 1, 2, -1), fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff })),
    { nil: undefined },
  ),
  message: fc.option(text, { nil: undefined }),
});

describe('frame encoders: byte-identical to the generated encoder, framed', () => {
  it('encodeTaskResultFrame', () => {
    fc.assert(
      fc.property(taskResult, u64, (value, messageId) => {
        const expected = framed({ messageId, body: { $case: 'taskResult', value } });
        expect(encodeTaskResultFrame(value, messageId)).toEqual(Buffer.from(expected));
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('encodeHeartbeatFrame', () => {
    fc.assert(
      fc.property(heartbeat, u64, (value, messageId) => {
        const expected = framed({ messageId, body: { $case: 'heartbeat', value } });
        expect(encodeHeartbeatFrame(value, messageId)).toEqual(Buffer.from(expected));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('encodeEnvelopeFrame, every body case', () => {
    const bytes = fc.uint8Array({ maxLength: 40 });
    const body = fc.oneof(
      taskResult.map((value) => ({ $case: 'taskResult' as const, value })),
      heartbeat.map((value) => ({ $case: 'heartbeat' as const, value })),
      fc
        .record({
          protocolVersion: fc.nat({ max: 0xffff_ffff }),
          collectorId: text,
          kind: text,
          pid: fc.nat({ max: 0xffff_ffff }),
          capabilities: fc.array(text, { maxLength: 3 }),
          taskKinds: fc.array(text, { maxLength: 3 }),
          authToken: bytes,
        })
        .map((value) => ({ $case: 'hello' as const, value })),
      fc
        .record({
          taskId: text,
          correlationId: text,
          taskKind: text,
          payload: bytes,
          deadlineUnixMs: u64,
        })
        .map((value) => ({ $case: 'taskAssignment' as const, value })),
      fc
        .record({ topic: text, payload: bytes, sender: text })
        .map((value) => ({ $case: 'publish' as const, value })),
      fc.record({ reason: text }).map((value) => ({ $case: 'goodbye' as const, value })),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(body, u64, (value, messageId) => {
        const message: Envelope = { messageId, body: value };
        expect(encodeEnvelopeFrame(message)).toEqual(Buffer.from(framed(message)));
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('encodes own attributes only, as Object.entries does (an inherited enumerable key is skipped)', () => {
    const attributes: Record<string, string> = Object.create({ inherited: 'x' });
    attributes.own = 'y';
    attributes['0'] = 'z';
    const value: TaskResult = {
      taskId: 't',
      correlationId: 'c',
      final: false,
      error: '',
      results: [{ fingerprint: 'f', kind: '', subject: '', attributes, collectedAtUnixMs: 0n }],
    };
    expect(encodeTaskResultFrame(value)).toEqual(
      Buffer.from(framed({ messageId: 0n, body: { $case: 'taskResult', value } })),
    );
  });

  it('writes exactly the bytes it sized (one buffer, prefix = length of the rest)', () => {
    const frame = encodeTaskResultFrame({
      taskId: 't',
      correlationId: 'c',
      final: true,
      error: '',
      results: [
        {
          fingerprint: 'f'.repeat(200),
          kind: 'é',
          subject: '\ud800',
          attributes: { a: 'b' },
          collectedAtUnixMs: 1n,
        },
      ],
    });
    expect(frame.readUInt32BE(0)).toBe(frame.length - FRAME_PREFIX_BYTES);
  });

  it.each([
    [
      'a uint64 above 2^64-1',
      () => encodeTaskResultFrame(result({ collectedAtUnixMs: 1n << 64n })),
    ],
    ['a negative messageId', () => encodeTaskResultFrame(result({}), -1n)],
    ['a non-string attribute', () => encodeTaskResultFrame(result({ attributes: { a: 1 } }))],
    ['a fractional uint32', () => encodeHeartbeatFrame({ ...beat(), activeTasks: 1.5 })],
    ['an int32 out of range', () => encodeHeartbeatFrame({ ...beat(), state: 2 ** 31 })],
    [
      'a generated-encoder failure',
      () =>
        encodeEnvelopeFrame({
          messageId: 0n,
          body: {
            $case: 'taskAssignment',
            value: {
              taskId: '',
              correlationId: '',
              taskKind: '',
              payload: new Uint8Array(),
              deadlineUnixMs: -5n,
            },
          },
        }),
    ],
  ])('throws ProtoEncodeError on %s', (_name, run) => {
    let thrown: unknown;
    try {
      run();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProtoEncodeError);
    expect(isProtoError(thrown, 'ERR_PROTO_ENCODE')).toBe(true);
  });
});

function result(override: Record<string, unknown>): TaskResult {
  const base = {
    fingerprint: 'f',
    kind: 'k',
    subject: 's',
    attributes: {},
    collectedAtUnixMs: 0n,
    ...override,
  };
  // Deliberately ill-typed values reach the encoder as they would from untyped callers.
  const results: DetectionResult[] = [];
  Reflect.set(results, 0, base);
  return { taskId: '', correlationId: '', final: false, error: '', results };
}

function beat(): Heartbeat {
  return {
    activeTasks: 0,
    queueDepth: 0,
    cpu: 0,
    memoryBytes: 0n,
  };
}
