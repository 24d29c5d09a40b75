import { TransportError } from './errors.js';

/** Size of the big-endian u32 length prefix of every frame. */
export const FRAME_HEADER_BYTES = 4;
/** Default largest accepted frame payload: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** Prefixes one payload with its u32 big-endian length. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  if (payload.length === 0) {
    throw new TransportError('ERR_FRAME_EMPTY', 'a frame must carry at least one byte');
  }
  if (payload.length > maxFrameBytes) {
    throw new TransportError(
      'ERR_FRAME_TOO_LARGE',
      `frame of ${payload.length} bytes exceeds maxFrameBytes ${maxFrameBytes}`,
    );
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frame payloads. Accepts any split of the stream (a byte at a time,
 * many frames in one chunk). The declared length is checked before any allocation; a zero or
 * oversized length throws a {@link TransportError} and the decoder stays failed.
 */
export class FrameDecoder {
  private limit: number;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;
  private failure: TransportError | undefined;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > 0xffff_ffff) {
      throw new RangeError(
        `maxFrameBytes must be an integer in 1..4294967295, got ${maxFrameBytes}`,
      );
    }
    this.limit = maxFrameBytes;
  }

  /** Largest accepted frame payload right now. */
  get maxFrameBytes(): number {
    return this.limit;
  }

  /** Changes the largest accepted frame (e.g. raised after a handshake); applies to the next header. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > 0xffff_ffff) {
      throw new RangeError(
        `maxFrameBytes must be an integer in 1..4294967295, got ${maxFrameBytes}`,
      );
    }
    this.limit = maxFrameBytes;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Feeds a chunk; returns every payload it completes, in order. Throws on a bad length. */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failure) throw this.failure;
    const frames: Buffer[] = [];
    if (chunk.length === 0) return frames;
    this.chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.buffered += chunk.length;
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) return frames;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length === 0) {
          this.failure = new TransportError('ERR_FRAME_EMPTY', 'received a frame with length 0');
          throw this.failure;
        }
        if (length > this.maxFrameBytes) {
          this.failure = new TransportError(
            'ERR_FRAME_TOO_LARGE',
            `received a frame length of ${length} bytes, above maxFrameBytes ${this.maxFrameBytes}`,
          );
          throw this.failure;
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) return frames;
      frames.push(this.take(this.expected));
      this.expected = -1;
    }
  }

  /** Removes `n` buffered bytes (n <= buffered) and returns them as one Buffer. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      // Fast path: the bytes sit in one chunk; subarray shares memory, no copy.
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0];
      if (head === undefined) break;
      const need = n - filled;
      if (head.length <= need) {
        head.copy(out, filled);
        filled += head.length;
        this.chunks.shift();
      } else {
        head.copy(out, filled, 0, need);
        this.chunks[0] = head.subarray(need);
        filled += need;
      }
    }
    this.buffered -= n;
    return out;
  }
}
