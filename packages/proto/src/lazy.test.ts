import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleFrame } from '../test/helpers/sample-frame.js';
import {
  bytesField,
  concat,
  type Field,
  fixed32Field,
  fixed64Field,
  groupField,
  utf8,
  varintField,
} from '../test/helpers/wire-writer.js';
import {
  DetectionResult,
  decodeEnvelope,
  decodeEnvelopeLazy,
  decodeTaskResultView,
  detectionResultJson,
  detectionResultView,
  type Envelope,
  encodeEnvelope,
  isProtoError,
  type LazyEnvelope,
  ProtoDecodeError,
} from './index.js';

const SEED = 20_261_201;

/** The lazy result materialised into the generated shape, to compare with the generated decoder. */
function materialise(lazy: LazyEnvelope): Envelope {
  const body = lazy.body;
  if (body?.$case === 'taskResult') {
    return {
      messageId: lazy.messageId,
      body: { $case: 'taskResult', value: decodeTaskResultView(body.value) },
    };
  }
  return { messageId: lazy.messageId, body };
}

// --- arbitraries: fields of each message in any order, with repeats and unknown fields --------

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  // Values whose low 32 bits are zero: a decoder that keeps only those would read them as 0.
  fc.constantFrom(0n, 1n, 1n << 32n, 1n << 35n, 1n << 63n, (1n << 64n) - 1n),
);
const overlong = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 9 }) },
);
/** String payloads: valid UTF-8 of any text (lone surrogates included) or arbitrary bytes. */
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(utf8) },
  { weight: 2, arbitrary: fc.string({ maxLength: 80 }).map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
);
const keyText = fc.oneof(
  text,
  fc.constantFrom('__proto__', 'constructor', '0', '7', '10', 'exe', 'user', '').map(utf8),
);

function unknownField(known: readonly number[], depth = 0): fc.Arbitrary<Field> {
  const number = fc
    .oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: (1 << 29) - 1 }))
    .filter((n) => !known.includes(n));
  const leaves: fc.Arbitrary<Field>[] = [
    fc.tuple(number, u64, overlong).map(([n, v, x]) => varintField(n, v, x)),
    fc
      .tuple(number, fc.uint8Array({ maxLength: 30 }), overlong)
      .map(([n, v, x]) => bytesField(n, v, x)),
    fc
      .tuple(number, fc.uint8Array({ minLength: 8, maxLength: 8 }))
      .map(([n, v]) => fixed64Field(n, v)),
    fc
      .tuple(number, fc.uint8Array({ minLength: 4, maxLength: 4 }))
      .map(([n, v]) => fixed32Field(n, v)),
  ];
  if (depth < 2) {
    leaves.push(
      fc
        .tuple(number, fc.array(unknownField([], depth + 1), { maxLength: 3 }))
        .map(([n, inner]) => groupField(n, inner)),
    );
  }
  return fc.oneof(...leaves);
}

/** A known field number sent with another wire type: both decoders must skip it. */
function wrongWireType(numbers: readonly number[], lengthDelimited: readonly number[]) {
  return fc
    .tuple(fc.constantFrom(...numbers), u64, fc.uint8Array({ maxLength: 10 }))
    .map(([n, v, b]) => (lengthDelimited.includes(n) ? varintField(n, v) : bytesField(n, b)));
}

const entry = fc
  .array(
    fc.oneof(
      keyText.map((k) => bytesField(1, k)),
      keyText.map((v) => bytesField(2, v)),
      unknownField([1, 2]),
      wrongWireType([1, 2], [1, 2]),
    ),
    { maxLength: 5 },
  )
  .map(concat);

const detectionResult = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: text.map((t) => bytesField(1, t)) },
      { weight: 2, arbitrary: text.map((t) => bytesField(2, t)) },
      { weight: 2, arbitrary: text.map((t) => bytesField(3, t)) },
      {
        weight: 4,
        arbitrary: fc.tuple(entry, overlong).map(([e, x]) => bytesField(4, e, x)),
      },
      { weight: 2, arbitrary: fc.tuple(u64, overlong).map(([v, x]) => varintField(5, v, x)) },
      { weight: 1, arbitrary: unknownField([1, 2, 3, 4, 5]) },
      { weight: 1, arbitrary: wrongWireType([1, 2, 3, 4, 5], [1, 2, 3, 4]) },
    ),
    { maxLength: 12 },
  )
  .map(concat);

const taskResult = fc
  .array(
    fc.oneof(
      { weight: 1, arbitrary: text.map((t) => bytesField(1, t)) },
      { weight: 1, arbitrary: text.map((t) => bytesField(2, t)) },
      { weight: 6, arbitrary: detectionResult.map((r) => bytesField(3, r)) },
      { weight: 1, arbitrary: fc.tuple(u64, overlong).map(([v, x]) => varintField(4, v, x)) },
      { weight: 1, arbitrary: text.map((t) => bytesField(5, t)) },
      { weight: 1, arbitrary: unknownField([1, 2, 3, 4, 5]) },
      { weight: 1, arbitrary: wrongWireType([1, 2, 3, 4, 5], [1, 2, 3, 5]) },
    ),
    { maxLength: 16 },
  )
  .map(concat);

const envelopeBytes = fc
  .array(
    fc.oneof(
      { weight: 1, arbitrary: fc.tuple(u64, overlong).map(([v, x]) => varintField(1, v, x)) },
      { weight: 6, arbitrary: taskResult.map((t) => bytesField(17, t)) },
      // Another body: the last body wins, so a later TaskResult replaces it and vice versa.
      { weight: 1, arbitrary: text.map((t) => bytesField(21, bytesField(1, t))) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.nat({ max: 1000 }), text)
          .map(([n, t]) => bytesField(18, concat([varintField(1, BigInt(n)), bytesField(7, t)]))),
      },
      { weight: 1, arbitrary: unknownField([1, ...Array.from({ length: 12 }, (_, i) => 10 + i)]) },
      { weight: 1, arbitrary: wrongWireType([1, 17, 21], [17, 21]) },
    ),
    { maxLength: 6 },
  )
  .map(concat);

describe('decodeEnvelopeLazy: differential against the generated decoder', () => {
  it('yields exactly what decodeEnvelope yields, for any field order, repeats and unknown fields', () => {
    fc.assert(
      fc.property(envelopeBytes, fc.constantFrom('frame', 'result'), (bytes, copy) => {
        const expected = decodeEnvelope(bytes);
        const lazy = decodeEnvelopeLazy(bytes, { copy });
        expect(materialise(lazy)).toEqual(expected);
        if (lazy.body?.$case === 'taskResult' && expected.body?.$case === 'taskResult') {
          const view = lazy.body.value;
          const results = expected.body.value.results;
          expect(view.results.map((r) => r.fingerprint)).toEqual(results.map((r) => r.fingerprint));
          let total = 0;
          for (const [i, result] of view.results.entries()) {
            total += result.byteLength;
            expect(result.bytes.length).toBe(result.byteLength);
            // The DetectionResult-like getters read what the generated decoder yields.
            expect({
              fingerprint: result.fingerprint,
              kind: result.kind,
              subject: result.subject,
              attributes: result.attributes,
              collectedAtUnixMs: result.collectedAtUnixMs,
            }).toEqual(results[i]);
            const parsed = JSON.parse(detectionResultJson(result, ['c1']));
            const reference = results[i];
            expect(parsed).toEqual({
              ...JSON.parse(
                JSON.stringify({
                  ...reference,
                  collectedAtUnixMs: reference?.collectedAtUnixMs.toString(),
                }),
              ),
              sources: ['c1'],
            });
          }
          expect(view.resultBytes).toBe(total);
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('decodes what the generated encoder writes (canonical bytes)', () => {
    const result = fc.record({
      fingerprint: fc.string(),
      kind: fc.string(),
      subject: fc.string({ unit: 'binary' }),
      attributes: fc.dictionary(fc.string(), fc.string({ unit: 'binary' })),
      collectedAtUnixMs: u64,
    });
    const message = fc.record({
      messageId: u64,
      body: fc.record({
        $case: fc.constant('taskResult' as const),
        value: fc.record({
          taskId: fc.string(),
          correlationId: fc.string(),
          results: fc.array(result, { maxLength: 8 }),
          final: fc.boolean(),
          error: fc.string(),
        }),
      }),
    });
    fc.assert(
      fc.property(message, (envelope) => {
        const bytes = encodeEnvelope(envelope);
        expect(materialise(decodeEnvelopeLazy(bytes))).toEqual(decodeEnvelope(bytes));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('when it accepts corrupted bytes, agrees with the generated decoder; else throws ProtoDecodeError', () => {
    const corrupted = fc
      .tuple(envelopeBytes, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 4 }))
      .chain(([bytes, flips]) =>
        fc.nat({ max: bytes.length }).map((cut) => {
          const copy = bytes.slice(0, Math.max(cut, bytes.length - 8));
          for (const [at, value] of flips) if (copy.length > 0) copy[at % copy.length] = value;
          return copy;
        }),
      );
    let accepted = 0;
    fc.assert(
      fc.property(corrupted, (bytes) => {
        let lazy: LazyEnvelope;
        try {
          lazy = decodeEnvelopeLazy(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtoDecodeError);
          expect(isProtoError(error, 'ERR_PROTO_DECODE')).toBe(true);
          return;
        }
        accepted++;
        expect(materialise(lazy)).toEqual(decodeEnvelope(bytes));
      }),
      { seed: SEED, numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('never throws anything but ProtoDecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeEnvelopeLazy(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtoDecodeError);
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe('lazy views', () => {
  it('detectionResultView: a view of one result, equal to it when decoded', () => {
    const { message } = sampleFrame();
    for (const result of message.results) {
      const view = detectionResultView(result);
      expect(view.decode()).toEqual(result);
      expect(view.fingerprint).toBe(result.fingerprint);
      expect(view.byteLength).toBe(DetectionResult.encode(result).finish().length);
    }
  });

  it('own a copy: overwriting the input after decoding changes nothing', () => {
    for (const copy of ['frame', 'result'] as const) {
      const { bytes, message } = sampleFrame();
      const lazy = decodeEnvelopeLazy(bytes, { copy });
      bytes.fill(0);
      expect(lazy.body?.$case).toBe('taskResult');
      if (lazy.body?.$case !== 'taskResult') return;
      expect(decodeTaskResultView(lazy.body.value)).toEqual(message);
      const [a, b] = lazy.body.value.results;
      if (copy === 'result') {
        // Held as the view's own string: every read is a fresh Buffer, so writing to one changes nothing.
        expect(a?.bytes).not.toBe(a?.bytes);
        a?.bytes.fill(0);
        expect(a?.decode()).toEqual(message.results[0]);
      } else {
        expect(a?.bytes.buffer).toBe(b?.bytes.buffer);
      }
      expect(a?.bytes.buffer).not.toBe(bytes.buffer);
    }
  });

  it('decodes non-TaskResult bodies with the generated decoder', () => {
    const message: Envelope = {
      messageId: 9n,
      body: { $case: 'goodbye', value: { reason: 'bye' } },
    };
    expect(decodeEnvelopeLazy(encodeEnvelope(message))).toEqual(message);
    expect(decodeEnvelopeLazy(new Uint8Array())).toEqual({ messageId: 0n, body: undefined });
  });

  it.each([
    ['a result crossing its TaskResult', [0x8a, 0x01, 0x03, 0x1a, 0x05, 0x0a]],
    ['a truncated varint', [0x08, 0xff]],
    ['a varint of 11 bytes', [0x08, ...new Array(10).fill(0xff), 0x01]],
    ['an end-group tag without a start', [0x8a, 0x01, 0x01, 0x0c]],
    ['field number 0', [0x02, 0x00]],
    ['wire type 7', [0x0f]],
    ['an unterminated group in a result', [0x8a, 0x01, 0x04, 0x1a, 0x02, 0x33, 0x08]],
    ['a map entry with a bad length', [0x8a, 0x01, 0x05, 0x1a, 0x03, 0x22, 0x01, 0x0a]],
  ])('throws ProtoDecodeError on %s', (_name, bytes) => {
    expect(() => decodeEnvelopeLazy(Uint8Array.from(bytes))).toThrow(ProtoDecodeError);
  });
});
