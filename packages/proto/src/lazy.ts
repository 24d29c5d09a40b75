import { Buffer } from 'node:buffer';
import { decodeEnvelope, type EnvelopeBody } from './envelope.js';
import { ProtoDecodeError } from './errors.js';
import { encodeTaskResultFrame, FRAME_PREFIX_BYTES } from './frame-encode.js';
import type { DetectionResult, TaskResult } from './gen/daemoneye/v1/envelope.js';
import { DetectionResultView } from './result-view.js';
import { asBuffer, Cursor, isAscii, LEN, latin1, utf8 } from './wire.js';

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
const DR_ATTRIBUTE = 34; // 4, len (map entry)

/** How {@link decodeEnvelopeLazy} copies the results out of the input bytes. */
export type LazyCopyMode = 'frame' | 'result';

/** Options of {@link decodeEnvelopeLazy}. */
export interface LazyDecodeOptions {
  /**
   * `'frame'` (default): one copy per frame of the TaskResult body; every view is a window on that
   * copy, so a view kept alive keeps the whole body (at most the frame) alive.
   * `'result'`: one copy per result, held as a one-byte string on the V8 heap (no ArrayBuffer per
   * result); a view pins only its own bytes. What the agent's broker uses.
   */
  readonly copy?: LazyCopyMode | undefined;
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
  const input = asBuffer(bytes);
  const cursor = new Cursor(input, 0, input.length);
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
      if (body !== 0) validateBody(input, body, bodyStart, bodyEnd);
      bodyStart = cursor.lengthDelimited();
      bodyEnd = cursor.pos;
      body = field;
      continue;
    }
    cursor.skip(tag);
  }
  if (body !== ENVELOPE_TASK_RESULT) {
    if (body !== 0) validateBody(input, body, bodyStart, bodyEnd);
    // Rare bodies: the generated decoder is fast enough and is the reference.
    const envelope = decodeEnvelope(bytes);
    if (envelope.body?.$case === 'taskResult') {
      throw new ProtoDecodeError('inconsistent TaskResult body'); // unreachable: same scan
    }
    return { messageId: envelope.messageId, body: envelope.body };
  }
  const value = scanTaskResult(input, bodyStart, bodyEnd, options?.copy ?? 'frame');
  return { messageId, body: { $case: 'taskResult', value } };
}

/**
 * Checks a body strictly (every tag and length inside its bounds) so the generated decoder, which
 * is lenient with a stray end-group tag or field 0 and then reads on from inside the body, never
 * sees one. Bodies other than TaskResult hold only scalars, strings and bytes: one level suffices.
 */
function validateBody(bytes: Buffer, field: number, start: number, end: number): void {
  if (field === ENVELOPE_TASK_RESULT) {
    scanTaskResult(bytes, start, end, 'result');
    return;
  }
  const cursor = new Cursor(bytes, start, end);
  while (cursor.pos < cursor.end) cursor.skip(cursor.tag());
}

/** Where {@link scanDetectionResult} found the last result's fingerprint (last occurrence wins). */
let fingerprintStart = 0;
let fingerprintEnd = 0;

function scanTaskResult(
  input: Buffer,
  start: number,
  end: number,
  copy: LazyCopyMode,
): TaskResultView {
  // 'frame': copy the body once and scan the copy, so every view is a window on it.
  let buf = input;
  let from = start;
  let to = end;
  if (copy === 'frame') {
    buf = Buffer.allocUnsafeSlow(end - start);
    input.copy(buf, 0, start, end);
    from = 0;
    to = end - start;
  }
  const cursor = new Cursor(buf, from, to);
  let taskId = '';
  let correlationId = '';
  let final = false;
  let error = '';
  const results: DetectionResultView[] = [];
  let resultBytes = 0;
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
        const resultEnd = cursor.pos;
        scanDetectionResult(cursor, resultStart, resultEnd);
        const length = resultEnd - resultStart;
        if (copy === 'frame') {
          const fingerprint = utf8(buf, fingerprintStart, fingerprintEnd);
          results.push(new DetectionResultView(fingerprint, buf, resultStart, length));
        } else {
          // A one-byte string: one heap object, no ArrayBuffer and no backing store per result.
          const own = latin1(buf, resultStart, resultEnd);
          // An ASCII fingerprint is a slice of it (V8 shares the characters); else decode UTF-8.
          const fingerprint = isAscii(buf, fingerprintStart, fingerprintEnd)
            ? own.substring(fingerprintStart - resultStart, fingerprintEnd - resultStart)
            : utf8(buf, fingerprintStart, fingerprintEnd);
          results.push(new DetectionResultView(fingerprint, own, 0, length));
        }
        resultBytes += length;
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
  return { taskId, correlationId, final, error, results, resultBytes };
}

/**
 * Validates one encoded DetectionResult completely (every tag, length and map entry) with the
 * caller's cursor and leaves its fingerprint's bounds in `fingerprintStart`/`fingerprintEnd`, so that a later {@link DetectionResultView.decode}
 * cannot fail. Leaves the cursor at `end` with its own end restored.
 */
function scanDetectionResult(cursor: Cursor, start: number, end: number): void {
  const buf = cursor.buf;
  const outerEnd = cursor.end;
  let pos = start;
  fingerprintStart = start;
  fingerprintEnd = start;
  while (pos < end) {
    // Fast path for what encoders write: a one-byte tag of fields 1-4 (length-delimited) and a
    // one-byte length. Anything else goes through the general cursor below.
    const tag = buf[pos] as number;
    if ((tag === 0x0a || tag === 0x12 || tag === 0x1a || tag === 0x22) && pos + 1 < end) {
      const length = buf[pos + 1] as number;
      if (length < 0x80) {
        const valueStart = pos + 2;
        const valueEnd = valueStart + length;
        if (valueEnd > end) {
          throw new ProtoDecodeError(`length ${length} runs past the end at byte ${pos + 1}`);
        }
        if (tag === DR_FINGERPRINT) {
          fingerprintStart = valueStart;
          fingerprintEnd = valueEnd;
        } else if (tag === DR_ATTRIBUTE) {
          scanEntry(cursor, valueStart, valueEnd);
        }
        pos = valueEnd;
        continue;
      }
    }
    cursor.pos = pos;
    cursor.end = end;
    const general = cursor.tag();
    if (general === DR_FINGERPRINT) {
      fingerprintStart = cursor.lengthDelimited();
      fingerprintEnd = cursor.pos;
    } else if (general === DR_ATTRIBUTE) {
      const entryStart = cursor.lengthDelimited();
      const entryEnd = cursor.pos;
      scanEntry(cursor, entryStart, entryEnd);
      pos = entryEnd;
      continue;
    } else {
      cursor.skip(general);
    }
    pos = cursor.pos;
  }
  cursor.pos = end;
  cursor.end = outerEnd;
}

/** Validates one map entry's fields inside `[start, end)`. */
function scanEntry(cursor: Cursor, start: number, end: number): void {
  const buf = cursor.buf;
  // Fast path: `0a <len> key 12 <len> value` with one-byte lengths, the encoders' layout.
  if (end - start >= 4 && buf[start] === 0x0a) {
    const keyLength = buf[start + 1] as number;
    const valueTag = start + 2 + keyLength;
    if (keyLength < 0x80 && valueTag + 2 <= end && buf[valueTag] === 0x12) {
      const valueLength = buf[valueTag + 1] as number;
      if (valueLength < 0x80 && valueTag + 2 + valueLength === end) return;
    }
  }
  const outerEnd = cursor.end;
  cursor.pos = start;
  cursor.end = end;
  while (cursor.pos < end) cursor.skip(cursor.tag());
  cursor.end = outerEnd;
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

/**
 * A {@link DetectionResultView} of one DetectionResult (encoded, then viewed with its own copy):
 * for tests and for results made in process. Throws `ProtoEncodeError` for a value the wire cannot
 * carry.
 */
export function detectionResultView(result: DetectionResult): DetectionResultView {
  const frame = encodeTaskResultFrame({
    taskId: '',
    correlationId: '',
    results: [result],
    final: false,
    error: '',
  });
  const body = decodeEnvelopeLazy(frame.subarray(FRAME_PREFIX_BYTES), { copy: 'result' }).body;
  const view = body?.$case === 'taskResult' ? body.value.results[0] : undefined;
  if (view === undefined) throw new ProtoDecodeError('no result in the encoded TaskResult'); // unreachable
  return view;
}
