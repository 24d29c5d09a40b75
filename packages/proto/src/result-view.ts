import { Buffer } from 'node:buffer';
import { fastContentKey, VOLATILE_ATTRIBUTE_PREFIX } from './content-key.js';
import type { DetectionResult } from './gen/daemoneye/v1/envelope.js';
import { Cursor } from './wire.js';

// Tags inside a DetectionResult and its map entries.
const DR_FINGERPRINT = 10; // 1, len
const DR_KIND = 18; // 2, len
const DR_SUBJECT = 26; // 3, len
const DR_ATTRIBUTE = 34; // 4, len (map entry)
const DR_COLLECTED_AT = 40; // 5, varint
const ENTRY_KEY = 10; // 1, len
const ENTRY_VALUE = 18; // 2, len

/**
 * One DetectionResult kept as its encoded bytes. Only `fingerprint` (the dedup key) is decoded up
 * front; the bytes were validated when the frame was decoded, so {@link decode} cannot throw.
 * `kind`, `subject`, `attributes` and `collectedAtUnixMs` read like a `DetectionResult`'s: the
 * first read decodes the result once and keeps it.
 */
export class DetectionResultView {
  /** The dedup key: the result's `fingerprint` field (last occurrence wins). */
  readonly fingerprint: string;
  /** A Buffer (`'frame'` copies: a window from `#offset`) or a latin1 string of exactly the bytes. */
  readonly #data: Buffer | string;
  readonly #offset: number;
  /** Encoded size of this result in bytes (its weight for byte budgets). */
  readonly byteLength: number;
  #contentKey: string | undefined;
  #decoded: DetectionResult | undefined;

  /** @internal Built by {@link decodeEnvelopeLazy}. */
  constructor(fingerprint: string, data: Buffer | string, offset: number, byteLength: number) {
    this.fingerprint = fingerprint;
    this.#data = data;
    this.#offset = offset;
    this.byteLength = byteLength;
    this.#contentKey = undefined;
    this.#decoded = undefined;
  }

  /**
   * The encoded DetectionResult (no tag, no length prefix). With `copy: 'frame'` a window on the
   * frame's copy (do not mutate); with `copy: 'result'` a fresh Buffer on every call.
   */
  get bytes(): Buffer {
    const data = this.#data;
    if (typeof data === 'string') return Buffer.from(data, 'latin1');
    if (this.#offset === 0 && this.byteLength === data.length) return data;
    return data.subarray(this.#offset, this.#offset + this.byteLength);
  }

  /** Decodes the whole result: equal to what the generated `DetectionResult.decode` returns. */
  decode(): DetectionResult {
    const data = this.#data;
    if (typeof data === 'string') return decodeDetectionResult(this.bytes, 0, this.byteLength);
    return decodeDetectionResult(data, this.#offset, this.#offset + this.byteLength);
  }

  /** The decoded result, decoded on first use and kept (do not mutate it). */
  #full(): DetectionResult {
    this.#decoded ??= this.decode();
    return this.#decoded;
  }

  /** The result's `kind` (decodes the result on first read of any field but `fingerprint`). */
  get kind(): string {
    return this.#full().kind;
  }

  /** The result's `subject`. */
  get subject(): string {
    return this.#full().subject;
  }

  /** The result's attributes (one object, kept: do not mutate). */
  get attributes(): { readonly [key: string]: string } {
    return this.#full().attributes;
  }

  /** The collector's Unix ms timestamp. */
  get collectedAtUnixMs(): bigint {
    return this.#full().collectedAtUnixMs;
  }

  /**
   * A string equal for two results exactly when their kind, subject and attributes are equal
   * (attribute order does not matter; fingerprint, collection time and attributes whose key starts
   * with `volatile.` are not part of it).
   * Computed on first call and kept.
   */
  contentKey(): string {
    if (this.#contentKey !== undefined) return this.#contentKey;
    const data = this.#data;
    let key =
      typeof data === 'string'
        ? fastContentKey(this.bytes, 0, this.byteLength)
        : fastContentKey(data, this.#offset, this.#offset + this.byteLength);
    if (key === undefined) {
      // Some kept string is not ASCII: compare what decode() yields.
      const { kind, subject, attributes } = this.decode();
      const parts: string[] = [kind, subject];
      for (const name of Object.keys(attributes).sort()) {
        if (!name.startsWith(VOLATILE_ATTRIBUTE_PREFIX))
          parts.push(name, attributes[name] as string);
      }
      // JSON escaping makes the join unambiguous whatever the strings hold.
      key = JSON.stringify(parts);
    }
    this.#contentKey = key;
    return key;
  }
}

/** Decodes validated DetectionResult bytes exactly as the generated decoder does. */
export function decodeDetectionResult(buf: Buffer, start: number, end: number): DetectionResult {
  const cursor = new Cursor(buf, start, end);
  const result: DetectionResult = {
    fingerprint: '',
    kind: '',
    subject: '',
    attributes: {},
    collectedAtUnixMs: 0n,
  };
  while (cursor.pos < end) {
    const tag = cursor.tag();
    switch (tag) {
      case DR_FINGERPRINT:
        result.fingerprint = cursor.string();
        break;
      case DR_KIND:
        result.kind = cursor.string();
        break;
      case DR_SUBJECT:
        result.subject = cursor.string();
        break;
      case DR_ATTRIBUTE: {
        const entryStart = cursor.lengthDelimited();
        const entryEnd = cursor.pos;
        cursor.pos = entryStart;
        cursor.end = entryEnd;
        let key = '';
        let value = '';
        while (cursor.pos < entryEnd) {
          const entryTag = cursor.tag();
          if (entryTag === ENTRY_KEY) key = cursor.string();
          else if (entryTag === ENTRY_VALUE) value = cursor.string();
          else cursor.skip(entryTag);
        }
        cursor.end = end;
        // Plain assignment, as the generated code does (so `__proto__` behaves the same).
        result.attributes[key] = value;
        break;
      }
      case DR_COLLECTED_AT:
        result.collectedAtUnixMs = cursor.uint64();
        break;
      default:
        cursor.skip(tag);
    }
  }
  return result;
}
