import type { AggregatedResult as RawResult } from '@daemoneye/aggregator';
import { PLACEHOLDER_PREFIX } from '@daemoneye/failover';
import type { DetectionResultView } from '@daemoneye/proto';
import type { AggregatedResult, ResultReason } from './types.js';

/** What the coordinator keeps for one open correlation set. */
export interface SetRecord {
  readonly correlationId: string;
  readonly kind: string;
  readonly mode: 'fan-out' | 'dispatch';
  readonly startedAt: number;
  readonly startedAtUnixMs: number;
  /** Tasks of the set (pinned fan-out tasks, or the one dispatched task). */
  readonly taskIds: string[];
  /** Collectors asked but never expected by the aggregator (the send failed, not connected). */
  readonly notSent: Map<string, string>;
  /** Collector (or placeholder) -> why its task ended failed. */
  readonly taskReasons: Map<string, string>;
  readonly failedTasks: { taskId: string; collectorId: string | undefined; reason: string }[];
  /** Placeholder -> the collector its task was last on (undefined: never placed). */
  readonly placeholders: Map<string, string | undefined>;
  readonly resolve: (result: AggregatedResult) => void;
  readonly promise: Promise<AggregatedResult>;
  cleanup: (() => void) | undefined;
}

/** A new record with its promise. */
export function openRecord(
  fields: Pick<SetRecord, 'correlationId' | 'kind' | 'mode' | 'startedAt' | 'startedAtUnixMs'>,
): SetRecord {
  let resolve: (result: AggregatedResult) => void = () => undefined;
  const promise = new Promise<AggregatedResult>((r) => {
    resolve = r;
  });
  return {
    ...fields,
    taskIds: [],
    notSent: new Map(),
    taskReasons: new Map(),
    failedTasks: [],
    placeholders: new Map(),
    resolve,
    promise,
    cleanup: undefined,
  };
}

/** The placeholder a parked task's set expects; the same spelling failover uses. */
export function placeholderOf(taskId: string): string {
  return `${PLACEHOLDER_PREFIX}${taskId}`;
}

function uniq(ids: Iterable<string>): string[] {
  return [...new Set(ids)];
}

/**
 * Turns the aggregator's result into the coordinator's: placeholders become the collector their
 * task was last on (or vanish when it was never placed), and each missing collector gets a reason.
 */
export function toResult(
  raw: RawResult<DetectionResultView>,
  record: SetRecord,
  failureOf: (collectorId: string) => string | undefined,
  now: { clock: number; unixMs: number },
): AggregatedResult {
  const parkedReason = new Map<string, string>();
  const real = (id: string): string | undefined => {
    if (!id.startsWith(PLACEHOLDER_PREFIX)) return id;
    const last = record.placeholders.get(id);
    if (last !== undefined) {
      const why = record.taskReasons.get(id);
      parkedReason.set(last, why === undefined ? 'parked' : `parked: ${why}`);
    }
    return last;
  };
  const map = (ids: readonly string[]): string[] =>
    uniq(ids.map(real).filter((id): id is string => id !== undefined));
  const responded = map(raw.responded);
  const missing = uniq([...map(raw.missing), ...record.notSent.keys()]).filter(
    (id) => !responded.includes(id),
  );
  const expected = uniq([...map(raw.expected), ...record.notSent.keys()]);
  const failed = new Set(raw.failed.map(real));
  const overflowed = map(raw.overflowed);
  const missingReasons: Record<string, string> = {};
  for (const id of missing) {
    missingReasons[id] =
      parkedReason.get(id) ??
      record.notSent.get(id) ??
      (overflowed.includes(id) ? 'overflow' : undefined) ??
      record.taskReasons.get(id) ??
      (failed.has(id) ? `collector-failed: ${failureOf(id) ?? 'unknown'}` : raw.reason);
  }
  let reason: ResultReason = raw.reason;
  if (expected.length === 0) reason = 'no-collector';
  // A part cut for overflow ended (the aggregator's `complete` stands); any other missing one failed.
  else if (reason === 'all-received' && missing.some((id) => !overflowed.includes(id)))
    reason = 'collector-failed';
  return {
    correlationId: raw.correlationId,
    kind: record.kind,
    mode: record.mode,
    complete: reason === 'all-received',
    reason,
    results: raw.results,
    expected,
    responded,
    missing,
    missingReasons,
    failedTasks: [...record.failedTasks],
    duplicatesDropped: raw.duplicatesDropped,
    overflowDropped: raw.overflowDropped,
    conflicts: raw.conflicts,
    overflowed,
    startedAt: record.startedAt,
    completedAt: now.clock,
    startedAtUnixMs: record.startedAtUnixMs,
    completedAtUnixMs: now.unixMs,
  };
}

/** A result for a request that never reached the aggregator (nobody to ask, a limit, or cancelled). */
export function emptyResult(
  record: SetRecord,
  reason: ResultReason,
  now: { clock: number; unixMs: number },
): AggregatedResult {
  const missing = [...record.notSent.keys()];
  return {
    correlationId: record.correlationId,
    kind: record.kind,
    mode: record.mode,
    complete: false,
    reason,
    results: [],
    expected: missing,
    responded: [],
    missing,
    missingReasons: Object.fromEntries(record.notSent),
    failedTasks: [...record.failedTasks],
    duplicatesDropped: 0,
    overflowDropped: 0,
    conflicts: 0,
    overflowed: [],
    startedAt: record.startedAt,
    completedAt: now.clock,
    startedAtUnixMs: record.startedAtUnixMs,
    completedAtUnixMs: now.unixMs,
  };
}
