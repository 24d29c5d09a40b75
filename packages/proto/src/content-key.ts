import { Buffer } from 'node:buffer';
import { Cursor, isAscii } from './wire.js';

// Tags inside a DetectionResult and its map entries.
const KIND = 18;
const SUBJECT = 26;
const ATTRIBUTE = 34;
const ENTRY_KEY = 10;
const ENTRY_VALUE = 18;

/** Fast keys start with this character; slow keys are JSON arrays (`[`), so the two never meet. */
const FAST_MARKER = 0x01;
/** Per entry in {@link entries}: key start, key end, value start, value end. */
const STRIDE = 4;

let entries = new Int32Array(STRIDE * 16);
let order = new Int32Array(16);
let scratch = Buffer.allocUnsafeSlow(256);

const PROTO_KEY = Buffer.from('__proto__', 'latin1');

/**
 * Attribute keys with this prefix are measurements that honest collectors read at different
 * instants (a process's resident memory, say): carried and written like any attribute, but never
 * part of the content key, so they cannot make two honest copies a conflict.
 */
export const VOLATILE_ATTRIBUTE_PREFIX = 'volatile.';
const VOLATILE = Buffer.from(VOLATILE_ATTRIBUTE_PREFIX, 'latin1');

/** Whether an entry's key starts with {@link VOLATILE_ATTRIBUTE_PREFIX}. */
function isVolatileKey(buf: Buffer, start: number, end: number): boolean {
  return (
    end - start >= VOLATILE.length && VOLATILE.compare(buf, start, start + VOLATILE.length) === 0
  );
}

/** Whether an entry's key is `__proto__`. */
function isProtoKey(buf: Buffer, start: number, end: number): boolean {
  return end - start === PROTO_KEY.length && PROTO_KEY.compare(buf, start, end) === 0;
}

/** Compares the keys of entries `a` and `b` byte by byte (ASCII here, so code unit order). */
function compareKeys(buf: Buffer, a: number, b: number): number {
  const aStart = entries[a * STRIDE] as number;
  const aEnd = entries[a * STRIDE + 1] as number;
  const bStart = entries[b * STRIDE] as number;
  const bEnd = entries[b * STRIDE + 1] as number;
  const length = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < length; i++) {
    const diff = (buf[aStart + i] as number) - (buf[bStart + i] as number);
    if (diff !== 0) return diff;
  }
  return aEnd - aStart - (bEnd - bStart);
}

function ensureScratch(size: number): Buffer {
  if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, scratch.length * 2));
  return scratch;
}

/** Writes `buf[start, end)` with a 4-byte big-endian length in front; returns the next position. */
function put(out: Buffer, at: number, buf: Buffer, start: number, end: number): number {
  const length = end - start;
  out[at] = length >>> 24;
  out[at + 1] = (length >>> 16) & 0xff;
  out[at + 2] = (length >>> 8) & 0xff;
  out[at + 3] = length & 0xff;
  let pos = at + 4;
  // Buffer#copy costs more than a short loop (argument checks in JS before the native copy).
  if (length <= 64) {
    for (let i = start; i < end; i++) out[pos++] = buf[i] as number;
    return pos;
  }
  out.set(buf.subarray(start, end), pos);
  return pos + length;
}

/**
 * The content key of validated DetectionResult bytes without decoding them, when every string
 * decode() would keep (kind, subject, attribute keys and values after last-wins, `__proto__`
 * dropped as decode() drops it, volatile attributes left out) is ASCII; otherwise undefined (the caller decodes and uses a
 * JSON key). For ASCII, bytes and strings correspond one to one, so two results get the same key
 * exactly when their decoded kind, subject and attributes are equal: entries sorted by key, every
 * piece length-prefixed. A result with a non-ASCII kept string decodes to a non-ASCII string, so
 * it can never equal one with a fast key.
 */
export function fastContentKey(buf: Buffer, start: number, end: number): string | undefined {
  const cursor = new Cursor(buf, start, end);
  let kindStart = start;
  let kindEnd = start;
  let subjectStart = start;
  let subjectEnd = start;
  let count = 0;
  let bytes = 0;
  while (cursor.pos < end) {
    const tag = cursor.tag();
    if (tag === KIND) {
      kindStart = cursor.lengthDelimited();
      kindEnd = cursor.pos;
    } else if (tag === SUBJECT) {
      subjectStart = cursor.lengthDelimited();
      subjectEnd = cursor.pos;
    } else if (tag === ATTRIBUTE) {
      const entryStart = cursor.lengthDelimited();
      const entryEnd = cursor.pos;
      cursor.pos = entryStart;
      cursor.end = entryEnd;
      let keyStart = entryStart;
      let keyEnd = entryStart;
      let valueStart = entryStart;
      let valueEnd = entryStart;
      while (cursor.pos < entryEnd) {
        const entryTag = cursor.tag();
        if (entryTag === ENTRY_KEY) {
          keyStart = cursor.lengthDelimited();
          keyEnd = cursor.pos;
        } else if (entryTag === ENTRY_VALUE) {
          valueStart = cursor.lengthDelimited();
          valueEnd = cursor.pos;
        } else {
          cursor.skip(entryTag);
        }
      }
      cursor.end = end;
      // decode() drops `__proto__` (assigning a string to it on a plain object does nothing).
      if (isProtoKey(buf, keyStart, keyEnd)) continue;
      // Volatile measurements are not content.
      if (isVolatileKey(buf, keyStart, keyEnd)) continue;
      if ((count + 1) * STRIDE > entries.length) {
        const grown = new Int32Array(entries.length * 2);
        grown.set(entries);
        entries = grown;
        order = new Int32Array(grown.length / STRIDE);
      }
      const at = count * STRIDE;
      entries[at] = keyStart;
      entries[at + 1] = keyEnd;
      entries[at + 2] = valueStart;
      entries[at + 3] = valueEnd;
      count++;
    } else {
      cursor.skip(tag);
    }
  }
  if (!isAscii(buf, kindStart, kindEnd) || !isAscii(buf, subjectStart, subjectEnd)) {
    return undefined;
  }
  // Insertion sort by key, ties by arrival (few entries per result; stable).
  for (let i = 0; i < count; i++) {
    let j = i;
    while (j > 0 && compareKeys(buf, order[j - 1] as number, i) > 0) {
      order[j] = order[j - 1] as number;
      j--;
    }
    order[j] = i;
  }
  // Worst case size: marker, kind, subject, count, every entry.
  for (let i = 0; i < count; i++) {
    const at = i * STRIDE;
    bytes +=
      8 +
      (entries[at + 1] as number) -
      (entries[at] as number) +
      (entries[at + 3] as number) -
      (entries[at + 2] as number);
  }
  const out = ensureScratch(1 + 8 + kindEnd - kindStart + subjectEnd - subjectStart + 4 + bytes);
  out[0] = FAST_MARKER;
  let pos = put(out, 1, buf, kindStart, kindEnd);
  pos = put(out, pos, buf, subjectStart, subjectEnd);
  const countAt = pos;
  pos += 4;
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const index = order[i] as number;
    // Of equal keys the last to arrive wins; it is the last of its run in the stable order.
    const next = i + 1 < count ? (order[i + 1] as number) : -1;
    if (next >= 0 && compareKeys(buf, index, next) === 0) continue;
    const at = index * STRIDE;
    const keyStart = entries[at] as number;
    const keyEnd = entries[at + 1] as number;
    const valueStart = entries[at + 2] as number;
    const valueEnd = entries[at + 3] as number;
    // Only what decode() keeps must be ASCII (an overridden value may be anything).
    if (!isAscii(buf, keyStart, keyEnd) || !isAscii(buf, valueStart, valueEnd)) return undefined;
    pos = put(out, pos, buf, keyStart, keyEnd);
    pos = put(out, pos, buf, valueStart, valueEnd);
    kept++;
  }
  out[countAt] = kept >>> 24;
  out[countAt + 1] = (kept >>> 16) & 0xff;
  out[countAt + 2] = (kept >>> 8) & 0xff;
  out[countAt + 3] = kept & 0xff;
  return out.toString('latin1', 0, pos);
}
