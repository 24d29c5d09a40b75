import { Buffer } from 'node:buffer';
import { ProtoDecodeError } from './errors.js';

/** Protobuf wire types used below. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const SGROUP = 3;
export const EGROUP = 4;
export const I32 = 5;

/** Nesting limit for groups in unknown fields (the same as @bufbuild/protobuf's reader). */
const MAX_GROUP_DEPTH = 100;

function fail(message: string, at: number): never {
  throw new ProtoDecodeError(`${message} at byte ${at}`);
}

/**
 * A bounds-checked cursor over protobuf bytes. Every read stays inside `[pos, end)`: a field that
 * would cross the end of its (sub)message is an error, not a read into the next field.
 */
export class Cursor {
  buf: Buffer;
  pos: number;
  end: number;
  /** High 32 bits of the last {@link varint64Lo} read. */
  hi = 0;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** A varint truncated to its low 32 bits (unsigned), as protobuf's uint32 reader does. */
  varint32(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    if (pos >= end) fail('truncated varint', pos);
    let b = buf[pos++] as number;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let result = b & 0x7f;
    for (let shift = 7; shift < 35; shift += 7) {
      if (pos >= end) fail('truncated varint', pos);
      b = buf[pos++] as number;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    // Bytes 6..10 only carry bits above 32: skip them, but a varint is at most 10 bytes.
    for (let i = 5; i < 10; i++) {
      if (pos >= end) fail('truncated varint', pos);
      b = buf[pos++] as number;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    return fail('varint longer than 10 bytes', pos);
  }

  /** A 64-bit varint: returns the low 32 bits (unsigned) and leaves the high 32 bits in `hi`. */
  varint64Lo(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) fail('truncated varint', pos);
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.hi = 0;
        return lo >>> 0;
      }
    }
    if (pos >= end) fail('truncated varint', pos);
    b = buf[pos++] as number;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x70) >> 4;
    if (b < 0x80) {
      this.pos = pos;
      this.hi = hi;
      return lo >>> 0;
    }
    for (let shift = 3; shift <= 31; shift += 7) {
      if (pos >= end) fail('truncated varint', pos);
      b = buf[pos++] as number;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    return fail('varint longer than 10 bytes', pos);
  }

  /** A uint64 varint as a bigint. */
  uint64(): bigint {
    const lo = this.varint64Lo();
    const hi = this.hi;
    return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A bool: true for every non-zero 64-bit varint. */
  bool(): boolean {
    const lo = this.varint64Lo();
    return lo !== 0 || this.hi !== 0;
  }

  /** Reads a tag; field number 0, wire types 6 and 7 and an end-group tag here are errors. */
  tag(): number {
    const at = this.pos;
    const tag = this.varint32();
    const wireType = tag & 7;
    if (tag >>> 3 === 0) fail('field number 0', at);
    if (wireType === EGROUP) fail('end-group tag without a start-group tag', at);
    if (wireType > I32) fail(`invalid wire type ${wireType}`, at);
    return tag;
  }

  /** Reads a length prefix and returns the start of the value; `pos` is left after it. */
  lengthDelimited(): number {
    const at = this.pos;
    const length = this.varint32();
    const start = this.pos;
    if (length > this.end - start) fail(`length ${length} runs past the end`, at);
    this.pos = start + length;
    return start;
  }

  /** A length-delimited UTF-8 string (invalid sequences become U+FFFD, as in the generated code). */
  string(): string {
    const start = this.lengthDelimited();
    return utf8(this.buf, start, this.pos);
  }

  /** Skips the value of a field whose tag was just read. */
  skip(tag: number, depth = 0): void {
    const at = this.pos;
    switch (tag & 7) {
      case VARINT:
        this.varint64Lo();
        return;
      case I64:
        if (this.end - this.pos < 8) fail('truncated fixed64', at);
        this.pos += 8;
        return;
      case LEN:
        this.lengthDelimited();
        return;
      case I32:
        if (this.end - this.pos < 4) fail('truncated fixed32', at);
        this.pos += 4;
        return;
      case SGROUP: {
        if (depth >= MAX_GROUP_DEPTH) fail('groups nested too deep', at);
        const field = tag >>> 3;
        for (;;) {
          if (this.pos >= this.end) fail('unterminated group', at);
          const tagAt = this.pos;
          const inner = this.varint32();
          if ((inner & 7) === EGROUP) {
            if (inner >>> 3 !== field) fail('end-group tag of another field', tagAt);
            return;
          }
          this.pos = tagAt;
          this.skip(this.tag(), depth + 1);
        }
      }
      default:
        fail(`invalid wire type ${tag & 7}`, at);
    }
  }
}

/**
 * UTF-8 text of `buf[start, end)`, as the generated code decodes strings: invalid sequences become
 * U+FFFD (WHATWG replacement, the same as a non-fatal TextDecoder) and a leading BOM is kept. The
 * differential tests compare the two on random bytes.
 */
export function utf8(buf: Buffer, start: number, end: number): string {
  if (start === end) return '';
  if (hasUtf8Slice(buf)) return buf.utf8Slice(start, end);
  return buf.toString('utf8', start, end);
}

/** Node's Buffer with the native methods that Buffer#toString(encoding, start, end) ends in. */
interface NativeBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

// Buffer#toString(encoding, start, end) checks its arguments (about as costly as decoding a short
// string) before calling utf8Slice; the bounds are checked here already, so call it directly
// when this Node has it (every Node this package supports), else fall back to toString.
const HAS_UTF8_SLICE = typeof Reflect.get(Buffer.prototype, 'utf8Slice') === 'function';

function hasUtf8Slice(_buf: Buffer): _buf is NativeBuffer {
  return HAS_UTF8_SLICE;
}

const HAS_LATIN1_SLICE = typeof Reflect.get(Buffer.prototype, 'latin1Slice') === 'function';

function hasLatin1Slice(_buf: Buffer): _buf is NativeBuffer {
  return HAS_LATIN1_SLICE;
}

/** `buf[start, end)` as a one-byte string, one character per byte (the bounds checked by the caller). */
export function latin1(buf: Buffer, start: number, end: number): string {
  if (start === end) return '';
  if (hasLatin1Slice(buf)) return buf.latin1Slice(start, end);
  return buf.toString('latin1', start, end);
}

/** Whether `buf[start, end)` is all ASCII (so its UTF-8 and latin1 readings are the same string). */
export function isAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((buf[i] as number) > 0x7f) return false;
  return true;
}

/** `bytes` as a Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
