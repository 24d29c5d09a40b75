import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEnvelopeFrameOf, sampleFrame } from '../test/helpers/sample-frame.js';
import { bytesField, concat, utf8, varintField } from '../test/helpers/wire-writer.js';
import {
  DetectionResultView,
  decodeEnvelopeLazy,
  detectionResultView,
  encodeEnvelope,
} from './index.js';

const SEED = 20_261_201;

describe('DetectionResultView.contentKey', () => {
  it('contentKey: equal iff kind, subject and attributes are equal (order and time ignored)', () => {
    const { bytes } = sampleFrame();
    const lazy = decodeEnvelopeLazy(bytes);
    if (lazy.body?.$case !== 'taskResult') throw new Error('expected a TaskResult');
    const [a, b, c] = lazy.body.value.results;
    expect(a).toBeInstanceOf(DetectionResultView);
    // a and b differ in subject; b and c in one attribute value.
    expect(a?.contentKey()).not.toBe(b?.contentKey());
    expect(b?.contentKey()).not.toBe(c?.contentKey());
    const same = decodeEnvelopeLazy(
      encodeEnvelope({
        messageId: 0n,
        body: {
          $case: 'taskResult',
          value: {
            taskId: 'other',
            correlationId: 'c-1',
            final: false,
            error: '',
            results: [
              {
                fingerprint: 'proc/1',
                kind: 'process',
                subject: 'pid:1',
                attributes: { user: 'root', exe: '/bin/a' },
                collectedAtUnixMs: 999n,
              },
            ],
          },
        },
      }),
    );
    if (same.body?.$case !== 'taskResult') throw new Error('expected a TaskResult');
    expect(same.body.value.results[0]?.contentKey()).toBe(a?.contentKey());
  });

  it('contentKey leaves out volatile.* attributes (honest collectors read them at different times)', () => {
    for (const subject of ['pid:7', 'pid:7 \u00e9']) {
      const at = (rss: string, extra: Record<string, string> = {}) =>
        detectionResultView({
          fingerprint: 'p7',
          kind: 'process',
          subject,
          attributes: { pid: '7', 'volatile.rss': rss, ...extra },
          collectedAtUnixMs: 1n,
        }).contentKey();
      expect(at('4096')).toBe(at('8192'));
      expect(at('4096', { rss: '1' })).not.toBe(at('4096', { rss: '2' }));
      expect(at('4096', { pid: '8' })).not.toBe(at('4096'));
    }
  });

  it('contentKey agrees with decoded equality for random results (property)', () => {
    const small = fc.constantFrom('a', 'b', '');
    const result = fc.record({
      fingerprint: fc.constant('f'),
      kind: small,
      subject: small,
      attributes: fc.dictionary(
        fc.constantFrom('x', 'y', '1', '__proto__', 'volatile.rss'),
        small,
        {
          maxKeys: 3,
        },
      ),
      collectedAtUnixMs: fc.bigInt({ min: 0n, max: 3n }),
    });
    fc.assert(
      fc.property(result, result, (x, y) => {
        const frame = encodeEnvelope({
          messageId: 0n,
          body: {
            $case: 'taskResult',
            value: { taskId: '', correlationId: '', final: false, error: '', results: [x, y] },
          },
        });
        const lazy = decodeEnvelopeLazy(frame);
        if (lazy.body?.$case !== 'taskResult') throw new Error('expected a TaskResult');
        const [vx, vy] = lazy.body.value.results;
        const dx = vx?.decode();
        const dy = vy?.decode();
        const kept = (attributes: Record<string, string> | undefined) =>
          Object.entries(attributes ?? {})
            .filter(([key]) => !key.startsWith('volatile.'))
            .sort();
        const equal =
          dx?.kind === dy?.kind &&
          dx?.subject === dy?.subject &&
          JSON.stringify(kept(dx?.attributes)) === JSON.stringify(kept(dy?.attributes));
        expect(vx?.contentKey() === vy?.contentKey()).toBe(equal);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('contentKey: equal exactly when decoded content is equal, for any encoding (property)', () => {
    // Few distinct pieces, so equal contents are common; [0xff] and U+FFFD decode alike.
    const piece = fc.constantFrom(
      ...['', 'a', 'b', 'ab', '__proto__', 'volatile.x', '\u00e9', '\ufffd'].map(utf8),
      Uint8Array.of(0xff),
      Uint8Array.of(0x61, 0xff),
    );
    const entryField = fc
      .tuple(piece, piece, fc.boolean())
      .map(([k, v, unknown]) =>
        bytesField(
          4,
          concat([bytesField(1, k), ...(unknown ? [varintField(9, 1n)] : []), bytesField(2, v)]),
        ),
      );
    const field = fc.oneof(
      piece.map((p) => bytesField(2, p)),
      piece.map((p) => bytesField(3, p)),
      entryField,
      entryField,
      fc.constant(varintField(12, 5n)),
    );
    const encodings = fc
      .array(field, { maxLength: 7 })
      .chain((fields) =>
        fc.tuple(
          fc.constant(fields),
          fc.shuffledSubarray(fields, { minLength: fields.length, maxLength: fields.length }),
          fc.array(field, { maxLength: 2 }),
          fc.array(field, { maxLength: 1 }),
        ),
      );
    const wrap = (fields: Uint8Array[], fingerprint: string, time: bigint): Uint8Array =>
      concat([bytesField(1, utf8(fingerprint)), ...fields, varintField(5, time)]);
    fc.assert(
      fc.property(encodings, ([a, shuffled, before, after]) => {
        const frame = encodeEnvelopeFrameOf([
          wrap(a, 'x', 1n),
          wrap([...before, ...shuffled, ...after], 'y', 2n),
        ]);
        const lazy = decodeEnvelopeLazy(frame);
        if (lazy.body?.$case !== 'taskResult') throw new Error('expected a TaskResult');
        const [va, vb] = lazy.body.value.results;
        const content = (v: DetectionResultView | undefined) => {
          const r = v?.decode();
          const kept = Object.entries(r?.attributes ?? {}).filter(
            ([key]) => !key.startsWith('volatile.'),
          );
          return [r?.kind, r?.subject, kept.sort()];
        };
        expect(va?.contentKey() === vb?.contentKey()).toBe(
          JSON.stringify(content(va)) === JSON.stringify(content(vb)),
        );
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });
});
