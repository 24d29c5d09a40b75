import { Buffer } from 'node:buffer';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { ProtoEncodeError } from './errors.js';
import {
  type DetectionResult,
  Envelope,
  type Heartbeat,
  type TaskResult,
} from './gen/daemoneye/v1/envelope.js';

/** Size of the big-endian u32 length prefix in front of every frame. */
export const FRAME_PREFIX_BYTES = 4;

const MAX_UINT64 = (1n << 64n) - 1n;
const TWO_32 = 0x1_0000_0000;

/**
 * Byte lengths of the strings and submessages of the message being encoded, in the order the
 * writer needs them: the size pass fills it, the write pass reads it back, so nothing is measured
 * twice. Module-level and reused (encoding is synchronous and never calls back into user code
 * that could re-enter it).
 */
let sizes = new Int32Array(1024);
let sizeCount = 0;

function pushSize(size: number): void {
  if (sizeCount === sizes.length) {
    const grown = new Int32Array(sizes.length * 2);
    grown.set(sizes);
    sizes = grown;
  }
  sizes[sizeCount++] = size;
}

function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  return 5;
}

// Splits a uint64 into two 32-bit halves without BigInt arithmetic (each BigInt operation
// allocates; a timestamp written with shifts cost ~12 allocations).
const SPLIT = new DataView(new ArrayBuffer(8));

function uint64Size(value: bigint): number {
  SPLIT.setBigUint64(0, value, true);
  const hi = SPLIT.getUint32(4, true);
  if (hi === 0) return varintSize(SPLIT.getUint32(0, true));
  // 32 low bits take 5 groups with 3 bits to spare; the rest of hi needs ceil((bits - 3) / 7).
  const bits = 32 - Math.clz32(hi);
  return bits <= 3 ? 5 : 5 + Math.ceil((bits - 3) / 7);
}

/** UTF-8 byte length, as TextEncoder/Buffer encode (a lone surrogate is U+FFFD, 3 bytes). */
function utf8Length(text: string): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, 'utf8');
  }
  return length;
}

/** The name of a field of result `index` (or of the TaskResult when `index` < 0), for messages. */
function resultField(index: number, field: string, key?: string): string {
  const base = index < 0 ? 'taskResult' : `taskResult.results[${index}]`;
  return key === undefined ? `${base}.${field}` : `${base}.${field}[${JSON.stringify(key)}]`;
}

// The per-result checks take the field's parts, not its name: building names eagerly cost more
// than encoding the result.
function checkResultString(value: unknown, index: number, field: string, key?: string): string {
  if (typeof value !== 'string') {
    throw new ProtoEncodeError(
      `${resultField(index, field, key)} must be a string, got ${typeof value}`,
    );
  }
  return value;
}

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    throw new ProtoEncodeError(`${name} must be a string, got ${typeof value}`);
  }
  return value;
}

function checkUint64(value: unknown, name: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_UINT64) {
    throw new ProtoEncodeError(`${name} must be a uint64 bigint, got ${String(value)}`);
  }
  return value;
}

function checkUint32(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= TWO_32) {
    throw new ProtoEncodeError(`${name} must be an integer in 0..4294967295, got ${String(value)}`);
  }
  return value;
}

function checkInt32(value: unknown, name: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < -0x8000_0000 ||
    value > 0x7fff_ffff
  ) {
    throw new ProtoEncodeError(`${name} must be an int32, got ${String(value)}`);
  }
  return value;
}

/** Writes into one preallocated buffer; the caller sized it exactly. */
class Out {
  readonly buf: Buffer;
  pos: number;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
    this.pos = FRAME_PREFIX_BYTES;
    this.buf.writeUInt32BE(size - FRAME_PREFIX_BYTES, 0);
  }

  byte(value: number): void {
    this.buf[this.pos++] = value;
  }

  varint(value: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  uint64(value: bigint): void {
    SPLIT.setBigUint64(0, value, true);
    let lo = SPLIT.getUint32(0, true);
    let hi = SPLIT.getUint32(4, true);
    if (hi === 0) {
      this.varint(lo);
      return;
    }
    const buf = this.buf;
    let pos = this.pos;
    // 7 bits at a time from the 64-bit value held as (hi, lo), both unsigned 32-bit.
    while (hi !== 0 || lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  int32(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    // Negative int32: sign-extended to 64 bits, always 10 bytes (as protobuf requires).
    const buf = this.buf;
    let rest = value;
    for (let i = 0; i < 9; i++) {
      buf[this.pos++] = (rest & 0x7f) | 0x80;
      rest >>= 7;
    }
    buf[this.pos++] = 1;
  }

  /** A string whose UTF-8 length is `byteLength`, with its length prefix. */
  string(text: string, byteLength: number): void {
    this.varint(byteLength);
    const buf = this.buf;
    if (byteLength === text.length && byteLength <= 64) {
      let pos = this.pos;
      for (let i = 0; i < byteLength; i++) buf[pos++] = text.charCodeAt(i);
      this.pos = pos;
      return;
    }
    this.pos += buf.write(
      text,
      this.pos,
      byteLength,
      byteLength === text.length ? 'latin1' : 'utf8',
    );
  }
}

/** Size of one DetectionResult's body; pushes its string, entry and own sizes. */
function sizeDetectionResult(result: DetectionResult, index: number): number {
  if (typeof result !== 'object' || result === null) {
    throw new ProtoEncodeError(
      `${resultField(index, 'self')} must be a DetectionResult, got ${String(result)}`,
    );
  }
  if (typeof result.attributes !== 'object' || result.attributes === null) {
    throw new ProtoEncodeError(
      `${resultField(index, 'attributes')} must be an object, got ${String(result.attributes)}`,
    );
  }
  const slot = sizeCount;
  pushSize(0); // the result's own size, filled below
  let size = 0;
  const fingerprint = checkResultString(result.fingerprint, index, 'fingerprint');
  const kind = checkResultString(result.kind, index, 'kind');
  const subject = checkResultString(result.subject, index, 'subject');
  if (fingerprint !== '') {
    const n = utf8Length(fingerprint);
    pushSize(n);
    size += 1 + varintSize(n) + n;
  }
  if (kind !== '') {
    const n = utf8Length(kind);
    pushSize(n);
    size += 1 + varintSize(n) + n;
  }
  if (subject !== '') {
    const n = utf8Length(subject);
    pushSize(n);
    size += 1 + varintSize(n) + n;
  }
  const attributes = result.attributes;
  // for-in over own keys is the order of the generated encoder's Object.entries, without
  // allocating a key array (inherited enumerable keys, which Object.entries skips, are skipped).
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value = checkResultString(attributes[key], index, 'attributes', key);
    const entrySlot = sizeCount;
    pushSize(0);
    let entry = 0;
    if (key !== '') {
      const n = utf8Length(key);
      pushSize(n);
      entry += 1 + varintSize(n) + n;
    }
    if (value !== '') {
      const n = utf8Length(value);
      pushSize(n);
      entry += 1 + varintSize(n) + n;
    }
    sizes[entrySlot] = entry;
    size += 1 + varintSize(entry) + entry;
  }
  const collectedAt = result.collectedAtUnixMs;
  if (typeof collectedAt !== 'bigint' || collectedAt < 0n || collectedAt > MAX_UINT64) {
    throw new ProtoEncodeError(
      `${resultField(index, 'collectedAtUnixMs')} must be a uint64 bigint, got ${String(collectedAt)}`,
    );
  }
  if (collectedAt !== 0n) size += 1 + uint64Size(collectedAt);
  sizes[slot] = size;
  return size;
}

function writeDetectionResult(out: Out, result: DetectionResult, cursor: { i: number }): void {
  let i = cursor.i;
  out.varint(sizes[i++] as number);
  if (result.fingerprint !== '') {
    out.byte(0x0a);
    out.string(result.fingerprint, sizes[i++] as number);
  }
  if (result.kind !== '') {
    out.byte(0x12);
    out.string(result.kind, sizes[i++] as number);
  }
  if (result.subject !== '') {
    out.byte(0x1a);
    out.string(result.subject, sizes[i++] as number);
  }
  const attributes = result.attributes;
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value = attributes[key] as string;
    out.byte(0x22);
    out.varint(sizes[i++] as number);
    if (key !== '') {
      out.byte(0x0a);
      out.string(key, sizes[i++] as number);
    }
    if (value !== '') {
      out.byte(0x12);
      out.string(value, sizes[i++] as number);
    }
  }
  if (result.collectedAtUnixMs !== 0n) {
    out.byte(0x28);
    out.uint64(result.collectedAtUnixMs);
  }
  cursor.i = i;
}

/**
 * Encodes `Envelope{ messageId, taskResult }` as one frame: the 4-byte big-endian length, then
 * the Envelope, in one exactly sized buffer (no second copy, no per-attribute closure). The bytes
 * are identical to the generated encoder's (a differential property test keeps them so). Throws
 * {@link ProtoEncodeError} for a value the wire cannot carry.
 */
export function encodeTaskResultFrame(result: TaskResult, messageId = 0n): Buffer {
  sizeCount = 0;
  return encodeTaskResult(result, messageId);
}

function encodeTaskResult(result: TaskResult, messageId: bigint): Buffer {
  checkUint64(messageId, 'messageId');
  const taskId = checkString(result.taskId, 'taskResult.taskId');
  const correlationId = checkString(result.correlationId, 'taskResult.correlationId');
  const error = checkString(result.error, 'taskResult.error');
  let body = 0;
  const taskIdLength = taskId === '' ? 0 : utf8Length(taskId);
  if (taskId !== '') body += 1 + varintSize(taskIdLength) + taskIdLength;
  const correlationLength = correlationId === '' ? 0 : utf8Length(correlationId);
  if (correlationId !== '') body += 1 + varintSize(correlationLength) + correlationLength;
  const results = result.results;
  if (!Array.isArray(results)) {
    throw new ProtoEncodeError(`taskResult.results must be an array, got ${typeof results}`);
  }
  for (let r = 0; r < results.length; r++) {
    const size = sizeDetectionResult(results[r] as DetectionResult, r);
    body += 1 + varintSize(size) + size;
  }
  if (result.final) body += 2;
  const errorLength = error === '' ? 0 : utf8Length(error);
  if (error !== '') body += 1 + varintSize(errorLength) + errorLength;
  const idSize = messageId === 0n ? 0 : 1 + uint64Size(messageId);
  const out = new Out(FRAME_PREFIX_BYTES + idSize + 2 + varintSize(body) + body);
  if (messageId !== 0n) {
    out.byte(0x08);
    out.uint64(messageId);
  }
  out.byte(0x8a); // field 17 (taskResult), wire type 2
  out.byte(0x01);
  out.varint(body);
  if (taskId !== '') {
    out.byte(0x0a);
    out.string(taskId, taskIdLength);
  }
  if (correlationId !== '') {
    out.byte(0x12);
    out.string(correlationId, correlationLength);
  }
  const cursor = { i: 0 };
  for (let r = 0; r < results.length; r++) {
    out.byte(0x1a);
    writeDetectionResult(out, results[r] as DetectionResult, cursor);
  }
  if (result.final) {
    out.byte(0x20);
    out.byte(0x01);
  }
  if (error !== '') {
    out.byte(0x2a);
    out.string(error, errorLength);
  }
  return out.buf;
}

/**
 * Encodes `Envelope{ messageId, heartbeat }` as one frame (length prefix included), byte-identical
 * to the generated encoder. Throws {@link ProtoEncodeError} for a value the wire cannot carry.
 */
export function encodeHeartbeatFrame(heartbeat: Heartbeat, messageId = 0n): Buffer {
  checkUint64(messageId, 'messageId');
  const activeTasks = checkUint32(heartbeat.activeTasks, 'heartbeat.activeTasks');
  const queueDepth = checkUint32(heartbeat.queueDepth, 'heartbeat.queueDepth');
  if (typeof heartbeat.cpu !== 'number') {
    throw new ProtoEncodeError(`heartbeat.cpu must be a number, got ${typeof heartbeat.cpu}`);
  }
  const memoryBytes = checkUint64(heartbeat.memoryBytes, 'heartbeat.memoryBytes');
  // Explicit presence (`optional` in the schema): written whenever defined, 0 and '' included.
  const state =
    heartbeat.state === undefined ? undefined : checkInt32(heartbeat.state, 'heartbeat.state');
  const message =
    heartbeat.message === undefined
      ? undefined
      : checkString(heartbeat.message, 'heartbeat.message');
  let body = 0;
  if (activeTasks !== 0) body += 1 + varintSize(activeTasks);
  if (queueDepth !== 0) body += 1 + varintSize(queueDepth);
  if (heartbeat.cpu !== 0) body += 9;
  if (memoryBytes !== 0n) body += 1 + uint64Size(memoryBytes);
  if (state !== undefined) body += 1 + (state < 0 ? 10 : varintSize(state));
  const messageLength = message === undefined ? 0 : utf8Length(message);
  if (message !== undefined) body += 1 + varintSize(messageLength) + messageLength;
  const idSize = messageId === 0n ? 0 : 1 + uint64Size(messageId);
  const out = new Out(FRAME_PREFIX_BYTES + idSize + 2 + varintSize(body) + body);
  if (messageId !== 0n) {
    out.byte(0x08);
    out.uint64(messageId);
  }
  out.byte(0x92); // field 18 (heartbeat), wire type 2
  out.byte(0x01);
  out.varint(body);
  if (activeTasks !== 0) {
    out.byte(0x08);
    out.varint(activeTasks);
  }
  if (queueDepth !== 0) {
    out.byte(0x10);
    out.varint(queueDepth);
  }
  if (heartbeat.cpu !== 0) {
    out.byte(0x19);
    out.buf.writeDoubleLE(heartbeat.cpu, out.pos);
    out.pos += 8;
  }
  if (memoryBytes !== 0n) {
    out.byte(0x20);
    out.uint64(memoryBytes);
  }
  if (state !== undefined) {
    out.byte(0x30);
    out.int32(state);
  }
  if (message !== undefined) {
    out.byte(0x3a);
    out.string(message, messageLength);
  }
  return out.buf;
}

const PREFIX_PLACEHOLDER = new Uint8Array(FRAME_PREFIX_BYTES);

/**
 * Encodes any Envelope as one frame (4-byte big-endian length, then the Envelope). TaskResult and
 * Heartbeat bodies take the hand-written encoders above; other bodies the generated encoder,
 * written after a reserved prefix so the frame is still built in one buffer.
 */
export function encodeEnvelopeFrame(message: Envelope): Buffer {
  const body = message.body;
  if (body?.$case === 'taskResult') return encodeTaskResultFrame(body.value, message.messageId);
  if (body?.$case === 'heartbeat') return encodeHeartbeatFrame(body.value, message.messageId);
  let bytes: Uint8Array;
  try {
    const writer = new BinaryWriter().raw(PREFIX_PLACEHOLDER);
    bytes = Envelope.encode(message, writer).finish();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ProtoEncodeError(`cannot encode Envelope: ${detail}`, { cause: error });
  }
  const frame = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  frame.writeUInt32BE(frame.length - FRAME_PREFIX_BYTES, 0);
  return frame;
}
