import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTransportError } from './errors.js';
import { encodeFrame, FrameDecoder } from './frame.js';

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(bytes.subarray(last, p));
    last = p;
  }
  parts.push(bytes.subarray(last));
  return parts;
}

describe('FrameDecoder', () => {
  it('decodes any split of a stream of frames (fast-check, fixed seed)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
          const decoder = new FrameDecoder(1024);
          const out: Buffer[] = [];
          for (const part of splitAt(stream, cuts)) out.push(...decoder.push(part));
          expect(out.map((b) => [...b])).toEqual(payloads.map((p) => [...p]));
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { seed: 1337, numRuns: 500 },
    );
  });

  it('decodes one byte at a time and many frames in one chunk', () => {
    const payloads = [Buffer.from('a'), Buffer.from('hello'), Buffer.alloc(1000, 7)];
    const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
    const byByte = new FrameDecoder();
    const out: Buffer[] = [];
    for (const byte of stream) out.push(...byByte.push(Buffer.from([byte])));
    expect(out).toEqual(payloads);
    expect(new FrameDecoder().push(stream)).toEqual(payloads);
  });

  it('rejects a zero length', () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(Buffer.from([0, 0, 0, 0]))).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_EMPTY' }),
    );
    // The decoder stays failed: the connection must be closed.
    expect(() => decoder.push(Buffer.from([1]))).toThrow();
  });

  it('rejects an oversized length before allocating, including 4 GiB - 1', () => {
    const decoder = new FrameDecoder(16);
    let caught: unknown;
    try {
      decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    } catch (error) {
      caught = error;
    }
    expect(isTransportError(caught, 'ERR_FRAME_TOO_LARGE')).toBe(true);
    expect(() => new FrameDecoder(16).push(Buffer.from([0, 0, 0, 17]))).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }),
    );
    expect(new FrameDecoder(16).push(Buffer.from([0, 0, 0, 16]))).toEqual([]);
  });

  it('refuses to encode empty or oversized payloads', () => {
    expect(() => encodeFrame(new Uint8Array())).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_EMPTY' }),
    );
    expect(() => encodeFrame(new Uint8Array(17), 16)).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }),
    );
  });

  it('validates maxFrameBytes', () => {
    expect(() => new FrameDecoder(0)).toThrow(RangeError);
    expect(() => new FrameDecoder(1.5)).toThrow(RangeError);
  });

  it('never throws anything but a TransportError on random input (fixed seed)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const decoder = new FrameDecoder(256);
        try {
          for (const chunk of chunks) decoder.push(chunk);
        } catch (error) {
          expect(isTransportError(error)).toBe(true);
        }
      }),
      { seed: 7, numRuns: 1000 },
    );
  });
});
