import type { DetectionResult } from '@daemoneye/proto';

/** What one benchmark task asks a collector to send back. */
export interface WorkSpec {
  /** TaskResult frames to send; the last one is `final`. */
  readonly batches: number;
  /** Results per frame. */
  readonly batchSize: number;
}

/** Attribute carrying the sender's `process.hrtime.bigint()` at the `final` write. */
export const SENT_NS_ATTRIBUTE = 'bench.sent_ns';
/** Task kind of every benchmark task. */
export const BENCH_TASK_KIND = 'bench';
/** Task kind asking a collector for its `process.cpuUsage()` (one result, attributes below). */
export const BENCH_CPU_KIND = 'bench-cpu';
/** Task kind a collector takes and never answers (tasks held for the failover scenario). */
export const BENCH_HOLD_KIND = 'bench-hold';
/** Attributes of the {@link BENCH_CPU_KIND} result: user and system CPU, microseconds. */
export const CPU_USER_ATTRIBUTE = 'bench.cpu_user_us';
export const CPU_SYSTEM_ATTRIBUTE = 'bench.cpu_system_us';

/** Encodes a work spec as a TaskAssignment payload (two big-endian u32). */
export function encodeWork(spec: WorkSpec): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, spec.batches);
  view.setUint32(4, spec.batchSize);
  return bytes;
}

/** Decodes {@link encodeWork}; a short payload means one empty final batch. */
export function decodeWork(payload: Uint8Array): WorkSpec {
  if (payload.length < 8) return { batches: 1, batchSize: 0 };
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { batches: view.getUint32(0), batchSize: view.getUint32(4) };
}

/** One benchmark result, generic over how its timestamp travels (bigint in protobuf, number in JSON). */
function buildResults<T>(
  collectorId: string,
  taskId: string,
  start: number,
  count: number,
  collectedAtUnixMs: T,
): {
  fingerprint: string;
  kind: string;
  subject: string;
  attributes: Record<string, string>;
  collectedAtUnixMs: T;
}[] {
  return Array.from({ length: count }, (_, i) => {
    const n = start + i;
    return {
      fingerprint: `${collectorId}/${taskId}/${n}`,
      kind: 'process',
      subject: `pid:${1000 + n}`,
      attributes: { exe: '/usr/bin/example', user: 'root' },
      collectedAtUnixMs,
    };
  });
}

/** A result as a collector would report one process; the fingerprint is unique per task. */
export function makeResults(
  collectorId: string,
  taskId: string,
  start: number,
  count: number,
  collectedAtUnixMs: bigint,
): DetectionResult[] {
  return buildResults(collectorId, taskId, start, count, collectedAtUnixMs);
}

/** The JSON shape of a result in the child_process baseline (no bigint in JSON). */
export interface JsonResult {
  readonly fingerprint: string;
  readonly kind: string;
  readonly subject: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly collectedAtUnixMs: number;
}

/** The baseline's task message (parent to child). */
export interface IpcTask {
  readonly type: 'task';
  readonly taskId: string;
  readonly correlationId: string;
  readonly batches: number;
  readonly batchSize: number;
}

/** The baseline's result message (child to parent). */
export interface IpcResult {
  readonly type: 'result';
  readonly collectorId: string;
  readonly taskId: string;
  readonly correlationId: string;
  readonly results: JsonResult[];
  readonly final: boolean;
  /** `process.hrtime.bigint()` at the final send, as a decimal string; '' before. */
  readonly sentNs: string;
}

/** Builds the baseline's results, the same content as {@link makeResults}. */
export function makeJsonResults(
  collectorId: string,
  taskId: string,
  start: number,
  count: number,
  collectedAtUnixMs: number,
): JsonResult[] {
  return buildResults(collectorId, taskId, start, count, collectedAtUnixMs);
}

/** Type guard for messages from the baseline children. */
export function isIpcResult(message: unknown): message is IpcResult {
  return (
    typeof message === 'object' &&
    message !== null &&
    'type' in message &&
    message.type === 'result'
  );
}

/** Type guard for messages to the baseline children. */
export function isIpcTask(message: unknown): message is IpcTask {
  return (
    typeof message === 'object' && message !== null && 'type' in message && message.type === 'task'
  );
}

/** The baseline's CPU request (parent to child) and answer (child to parent). */
export interface IpcCpuRequest {
  readonly type: 'cpu?';
}
export interface IpcCpuReply {
  readonly type: 'cpu';
  readonly collectorId: string;
  /** `process.cpuUsage()` of the child, microseconds. */
  readonly user: number;
  readonly system: number;
}

/** Type guard for {@link IpcCpuRequest}. */
export function isIpcCpuRequest(message: unknown): message is IpcCpuRequest {
  return (
    typeof message === 'object' && message !== null && 'type' in message && message.type === 'cpu?'
  );
}

/** Type guard for {@link IpcCpuReply}. */
export function isIpcCpuReply(message: unknown): message is IpcCpuReply {
  return (
    typeof message === 'object' &&
    message !== null &&
    'type' in message &&
    message.type === 'cpu' &&
    'user' in message &&
    typeof message.user === 'number' &&
    'system' in message &&
    typeof message.system === 'number'
  );
}
