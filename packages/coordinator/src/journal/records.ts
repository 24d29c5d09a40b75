import { type DetectionResult, TaskResult } from '@daemoneye/proto';
import type { AggregatedResult } from '../types.js';
import { crc32c } from './crc32c.js';

/** Bytes before each record's payload: u32 LE payload length, u32 LE CRC-32C of the payload. */
export const RECORD_HEADER_BYTES = 8;
/** Largest payload a record may claim; a longer length is corruption, not a record. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** One entry of the journal. */
export type JournalRecord =
  | {
      readonly type: 'set-begun';
      readonly correlationId: string;
      readonly kind: string;
      readonly mode: 'fan-out' | 'dispatch';
      /** Wall-clock deadline of the set (Unix ms): a restart after it closes the set. */
      readonly deadlineUnixMs: number;
      readonly startedAtUnixMs: number;
      readonly payload: Uint8Array;
    }
  | {
      readonly type: 'task-accepted';
      readonly taskId: string;
      readonly correlationId: string;
      readonly collectorId: string | undefined;
      /** 1 for the first incarnation that accepted it, +1 for each re-issue after a restart. */
      readonly attempt: number;
    }
  | {
      readonly type: 'batch';
      readonly collectorId: string;
      readonly correlationId: string;
      readonly taskId: string;
      readonly final: boolean;
      readonly error: string;
      readonly results: readonly DetectionResult[];
    }
  | { readonly type: 'set-completed'; readonly result: AggregatedResult }
  | { readonly type: 'set-written'; readonly correlationId: string }
  | {
      readonly type: 'task-ended';
      readonly taskId: string;
      readonly correlationId: string;
      readonly outcome: 'completed' | 'failed';
      readonly reason: string;
    };

const CODES = [
  'set-begun',
  'task-accepted',
  'batch',
  'set-completed',
  'set-written',
  'task-ended',
] as const;
type RecordType = (typeof CODES)[number];

const BIG = '$big';

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { [BIG]: value.toString() };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && BIG in value) {
    const v: unknown = Reflect.get(value, BIG);
    if (typeof v === 'string') return BigInt(v);
  }
  return value;
}

/** The payload of one record: u8 type, u32 LE header length, the JSON header, then raw bytes. */
export function encodePayload(record: JournalRecord): Uint8Array {
  let header: unknown;
  let body: Uint8Array = new Uint8Array();
  switch (record.type) {
    case 'set-begun': {
      const { payload, ...rest } = record;
      header = rest;
      body = payload;
      break;
    }
    case 'batch':
      // The batch is kept as the bytes the collector's TaskResult encodes to.
      header = { collectorId: record.collectorId };
      body = TaskResult.encode({
        taskId: record.taskId,
        correlationId: record.correlationId,
        results: [...record.results],
        final: record.final,
        error: record.error,
      }).finish();
      break;
    default:
      header = record;
  }
  const json = Buffer.from(JSON.stringify(header, replacer), 'utf8');
  const out = Buffer.allocUnsafe(5 + json.length + body.length);
  out.writeUInt8(CODES.indexOf(record.type), 0);
  out.writeUInt32LE(json.length, 1);
  json.copy(out, 5);
  out.set(body, 5 + json.length);
  return out;
}

/** A whole framed record: header (length, CRC-32C) then payload. */
export function frameRecord(record: JournalRecord): Buffer {
  const payload = encodePayload(record);
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32c(payload), 4);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

function isRecordObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Decodes one payload; undefined when it is not a record this version wrote. */
export function decodePayload(payload: Uint8Array): JournalRecord | undefined {
  if (payload.length < 5) return undefined;
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const type: RecordType | undefined = CODES[buf.readUInt8(0)];
  const jsonLength = buf.readUInt32LE(1);
  if (type === undefined || 5 + jsonLength > buf.length) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 5, 5 + jsonLength), reviver);
  } catch {
    return undefined;
  }
  if (!isRecordObject(header)) return undefined;
  const body = buf.subarray(5 + jsonLength);
  if (type === 'set-begun') {
    return { ...header, type, payload: new Uint8Array(body) } as JournalRecord;
  }
  if (type === 'batch') {
    const r = TaskResult.decode(body);
    const collectorId = header.collectorId;
    if (typeof collectorId !== 'string') return undefined;
    return {
      type,
      collectorId,
      correlationId: r.correlationId,
      taskId: r.taskId,
      final: r.final,
      error: r.error,
      results: r.results,
    };
  }
  return { ...header, type } as JournalRecord;
}

/** What {@link scanRecords} found in a segment's bytes. */
export interface Scan {
  readonly records: JournalRecord[];
  /** Offset just after the last whole, valid record: the file is cut here. */
  readonly validBytes: number;
  /** Why the scan stopped before the end (`torn`, `crc`, `length`, `undecodable`), or undefined. */
  readonly stoppedAt: 'torn' | 'crc' | 'length' | 'undecodable' | undefined;
}

/** Reads records until the end or the first torn, oversized, corrupt or unknown one. */
export function scanRecords(bytes: Buffer): Scan {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < RECORD_HEADER_BYTES)
      return { records, validBytes: at, stoppedAt: 'torn' };
    const length = bytes.readUInt32LE(at);
    if (length > MAX_RECORD_BYTES) return { records, validBytes: at, stoppedAt: 'length' };
    const end = at + RECORD_HEADER_BYTES + length;
    if (end > bytes.length) return { records, validBytes: at, stoppedAt: 'torn' };
    const payload = bytes.subarray(at + RECORD_HEADER_BYTES, end);
    if (crc32c(payload) !== bytes.readUInt32LE(at + 4))
      return { records, validBytes: at, stoppedAt: 'crc' };
    let record: JournalRecord | undefined;
    try {
      record = decodePayload(payload);
    } catch {
      record = undefined;
    }
    if (record === undefined) return { records, validBytes: at, stoppedAt: 'undecodable' };
    records.push(record);
    at = end;
  }
  return { records, validBytes: at, stoppedAt: undefined };
}
