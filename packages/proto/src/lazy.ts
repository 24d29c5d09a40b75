import { decodeEnvelope, type EnvelopeBody } from './envelope.js';
import { ProtoDecodeError } from './errors.js';
import type { DetectionResult, TaskResult } from './gen/daemoneye/v1/envelope.js';
import { Cursor, LEN, utf8 } from './wire.js';

// Tags (field number << 3 | wire type) of the fields the lazy decoder reads.
const ENVELOPE_MESSAGE_ID = 8; // 1, varint
const ENVELOPE_TASK_RESULT = 17; // field number of the TaskResult body
const FIRST_BODY_FIELD = 10;
const LAST_BODY_FIELD = 21;
const TR_TASK_ID = 10; // 1, len
const TR_CORRELATION_ID = 18; // 2, len
const TR_RESULT = 26; // 3, len
const TR_FINAL = 32; // 4, varint
const TR_ERROR = 42; // 5, len
const DR_FINGERPRINT = 10; // 1, len
const DR_KIND = 18; // 2, len
const DR_SUBJECT = 26; // 3, len
const DR_ATTRIBUTE = 34; // 4, len (map entry)
const DR_COLLECTED_AT = 40; // 5, varint
const ENTRY_KEY = 10; // 1, len
const ENTRY_VALUE = 18; // 2, len

/** How {@link decodeEnvelopeLazy} copies the results out of the input bytes. */
export type LazyCopyMode = 'frame' | 'result';

/** Options of {@link decodeEnvelopeLazy}. */
export interface LazyDecodeOptions {
  /**
   * `'frame'` (default): one copy per frame of the region holding the results; every view is a
   * window on that copy, so a view kept alive keeps the whole region (at most the frame) alive.
   * `'result'`: one copy per result; a view pins only its own bytes, at one allocation per result.
   */
  readonly copy?: LazyCopyMode | undefined;
}

/**
 * One DetectionResult kept as its encoded bytes. Only `fingerprint` (the dedup key) is decoded up
 * front; the bytes were validated when the frame was decoded, so {@link decode} cannot throw.
 */
export class DetectionResultView {
  /** The dedup key: the result's `fingerprint` field (last occurrence wins). */
  readonly fingerprint: string;
  readonly #buf: Uint8Array;
  readonly #offset: number;
  /** Encoded size of this result in bytes (its weight for byte budgets). */
  readonly byteLength: number;
  #contentKey: string | undefined;

  /** @internal Built by {@link decodeEnvelopeLazy}. */
  constructor(fingerprint: string, buf: Uint8Array, offset: number, byteLength: number) {
    this.fingerprint = fingerprint;
    this.#buf = buf;
    this.#offset = offset;
    this.byteLength = byteLength;
  }

  /** The encoded DetectionResult (no tag, no length prefix). A window on the copy: do not mutate. */
  get bytes(): Uint8Array {
    const buf = this.#buf;
    if (this.#offset === 0 && this.byteLength === buf.length) return buf;
    return buf.subarray(this.#offset, this.#offset + this.byteLength);
  }

  /** Decodes the whole result: equal to what the generated `DetectionResult.decode` returns. */
  decode(): DetectionResult {
    return decodeDetectionResult(this.#buf, this.#offset, this.#offset + this.byteLength);
  }

  /**
   * A string equal for two results exactly when their kind, subject and attributes are equal
   * (attribute order does not matter; fingerprint and collection time are not part of it).
   * Computed on first call and kept.
   */
  contentKey(): string {
    if (this.#contentKey !== undefined) return this.#contentKey;
    const { kind, subject, attributes } = this.decode();
    const parts: string[] = [kind, subject];
    for (const key of Object.keys(attributes).sort()) parts.push(key, attributes[key] as string);
    // JSON escaping makes the join unambiguous whatever the strings hold.
    this.#contentKey = JSON.stringify(parts);
    return this.#contentKey;
  }
}

/** A TaskResult with its header decoded and each result kept as a {@link DetectionResultView}. */
export interface TaskResultView {
  readonly taskId: string;
  readonly correlationId: string;
  readonly final: boolean;
  /** Set by a collector that could not do the task; `''` otherwise. */
  readonly error: string;
  readonly results: readonly DetectionResultView[];
  /** Sum of the results' `byteLength`. */
  readonly resultBytes: number;
}

/** An Envelope body as the lazy decoder returns it: TaskResult as a view, the rest decoded. */
export type LazyEnvelopeBody =
  | Exclude<EnvelopeBody, { $case: 'taskResult' }>
  | { $case: 'taskResult'; value: TaskResultView };

/** An Envelope as {@link decodeEnvelopeLazy} returns it. */
export interface LazyEnvelope {
  messageId: bigint;
  body?: LazyEnvelopeBody | undefined;
}

/**
 * Decodes one Envelope for the agent's hot path. A TaskResult body gets its header (task id,
 * correlation id, final, error) and, per result, only the fingerprint decoded; each result stays
 * as bytes copied out of `bytes` (see {@link LazyDecodeOptions.copy}), so the caller may reuse
 * or drop `bytes` at once. Every other body is decoded by the generated code. Unknown fields are
 * skipped, fields may come in any order, a repeated scalar keeps its last value and a repeated
 * body replaces the previous one, all as the generated decoder does. Throws
 * {@link ProtoDecodeError} on malformed input, including a few inputs the generated decoder
 * reads leniently (a field crossing the end of its submessage, a stray end-group tag, field 0).
 */
export function decodeEnvelopeLazy(bytes: Uint8Array, options?: LazyDecodeOptions): LazyEnvelope {
  const cursor = new Cursor(bytes, 0, bytes.length);
  let messageId = 0n;
  let body = 0;
  let bodyStart = 0;
  let bodyEnd = 0;
  while (cursor.pos < cursor.end) {
    const tag = cursor.tag();
    if (tag === ENVELOPE_MESSAGE_ID) {
      messageId = cursor.uint64();
      continue;
    }
    const field = tag >>> 3;
    if ((tag & 7) === LEN && field >= FIRST_BODY_FIELD && field <= LAST_BODY_FIELD) {
      // A later body replaces an earlier one; the replaced one must still be well formed.
      if (body !== 0) validateBody(bytes, body, bodyStart, bodyEnd);
      bodyStart = cursor.lengthDelimited();
      bodyEnd = cursor.pos;
      body = field;
      continue;
    }
    cursor.skip(tag);
  }
  if (body !== ENVELOPE_TASK_RESULT) {
    if (body !== 0) validateBody(bytes, body, bodyStart, bodyEnd);
    // Rare bodies: the generated decoder is fast enough and is the reference.
    const envelope = decodeEnvelope(bytes);
    if (envelope.body?.$case === 'taskResult') {
      throw new ProtoDecodeError('inconsistent TaskResult body'); // unreachable: same scan
    }
    return { messageId: envelope.messageId, body: envelope.body };
  }
  const value = scanTaskResult(bytes, bodyStart, bodyEnd, options?.copy ?? 'frame');
  return { messageId, body: { $case: 'taskResult', value } };
}

/**
 * Checks a body strictly (every tag and length inside its bounds) so the generated decoder, which
 * is lenient with a stray end-group tag or field 0 and then reads on from inside the body, never
 * sees one. Bodies other than TaskResult hold only scalars, strings and bytes: one level suffices.
 */
function validateBody(bytes: Uint8Array, field: number, start: number, end: number): void {
  if (field === ENVELOPE_TASK_RESULT) {
    scanTaskResult(bytes, start, end, 'result');
    return;
  }
  const cursor = new Cursor(bytes, start, end);
  while (cursor.pos < cursor.end) cursor.skip(cursor.tag());
}

function scanTaskResult(
  bytes: Uint8Array,
  start: number,
  end: number,
  copy: LazyCopyMode,
): TaskResultView {
  const cursor = new Cursor(bytes, start, end);
  let taskId = '';
  let correlationId = '';
  let final = false;
  let error = '';
  // Per result: fingerprint, start and end in `bytes`; views are built once the bytes are copied.
  const fingerprints: string[] = [];
  const bounds: number[] = [];
  while (cursor.pos < cursor.end) {
    const tag = cursor.tag();
    switch (tag) {
      case TR_TASK_ID:
        taskId = cursor.string();
        break;
      case TR_CORRELATION_ID:
        correlationId = cursor.string();
        break;
      case TR_RESULT: {
        const resultStart = cursor.lengthDelimited();
        fingerprints.push(scanDetectionResult(bytes, resultStart, cursor.pos));
        bounds.push(resultStart, cursor.pos);
        break;
      }
      case TR_FINAL:
        final = cursor.bool();
        break;
      case TR_ERROR:
        error = cursor.string();
        break;
      default:
        cursor.skip(tag);
    }
  }
  const count = fingerprints.length;
  const results: DetectionResultView[] = new Array(count);
  let resultBytes = 0;
  if (count > 0) {
    if (copy === 'result') {
      for (let i = 0; i < count; i++) {
        const from = bounds[2 * i] as number;
        const length = (bounds[2 * i + 1] as number) - from;
        const own = new Uint8Array(length);
        own.set(bytes.subarray(from, from + length));
        results[i] = new DetectionResultView(fingerprints[i] as string, own, 0, length);
        resultBytes += length;
      }
    } else {
      // Results are in ascending order in the frame: one copy from the first to the last.
      const first = bounds[0] as number;
      const region = new Uint8Array((bounds[2 * count - 1] as number) - first);
      region.set(bytes.subarray(first, first + region.length));
      for (let i = 0; i < count; i++) {
        const from = bounds[2 * i] as number;
        const length = (bounds[2 * i + 1] as number) - from;
        results[i] = new DetectionResultView(
          fingerprints[i] as string,
          region,
          from - first,
          length,
        );
        resultBytes += length;
      }
    }
  }
  return { taskId, correlationId, final, error, results, resultBytes };
}

/**
 * Validates one encoded DetectionResult completely (every tag, length and map entry) and returns
 * its fingerprint, so that a later {@link DetectionResultView.decode} cannot fail.
 */
function scanDetectionResult(buf: Uint8Array, start: number, end: number): string {
  const cursor = new Cursor(buf, start, end);
  let fingerprintStart = start;
  let fingerprintEnd = start;
  while (cursor.pos < cursor.end) {
    const tag = cursor.tag();
    if (tag === DR_FINGERPRINT) {
      fingerprintStart = cursor.lengthDelimited();
      fingerprintEnd = cursor.pos;
    } else if (tag === DR_ATTRIBUTE) {
      const entryStart = cursor.lengthDelimited();
      const entry = new Cursor(buf, entryStart, cursor.pos);
      while (entry.pos < entry.end) entry.skip(entry.tag());
    } else {
      cursor.skip(tag);
    }
  }
  return utf8(buf, fingerprintStart, fingerprintEnd);
}

/** Decodes validated DetectionResult bytes exactly as the generated decoder does. */
function decodeDetectionResult(buf: Uint8Array, start: number, end: number): DetectionResult {
  const cursor = new Cursor(buf, start, end);
  const result: DetectionResult = {
    fingerprint: '',
    kind: '',
    subject: '',
    attributes: {},
    collectedAtUnixMs: 0n,
  };
  while (cursor.pos < cursor.end) {
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
        const entry = new Cursor(buf, entryStart, cursor.pos);
        let key = '';
        let value = '';
        while (entry.pos < entry.end) {
          const entryTag = entry.tag();
          if (entryTag === ENTRY_KEY) key = entry.string();
          else if (entryTag === ENTRY_VALUE) value = entry.string();
          else entry.skip(entryTag);
        }
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

/** Decodes a whole {@link TaskResultView} into the generated `TaskResult` shape. */
export function decodeTaskResultView(view: TaskResultView): TaskResult {
  return {
    taskId: view.taskId,
    correlationId: view.correlationId,
    results: view.results.map((result) => result.decode()),
    final: view.final,
    error: view.error,
  };
}
