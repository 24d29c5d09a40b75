import type { AggregatedItem, AggregatedVariant } from '@daemoneye/aggregator';
import {
  type DetectionResult,
  type DetectionResultView,
  detectionResultView,
} from '@daemoneye/proto';
import type { AggregatedResult } from '../types.js';
import type { OpenSet } from './state.js';

interface Variant {
  result: DetectionResultView;
  sources: string[];
}

/** One item being merged: its first content, and every other content seen (a conflict). */
interface Item {
  key: string;
  first: Variant;
  others: Variant[];
  dropped: number;
}

function uniq(ids: Iterable<string>): string[] {
  return [...new Set(ids)];
}

function fromAggregated(item: AggregatedItem<DetectionResultView>): Item {
  const first = { result: item.result, sources: [...item.sources] };
  if (!item.conflict) return { key: item.key, first, others: [], dropped: 0 };
  const others = item.variants.slice(1).map((v: AggregatedVariant<DetectionResultView>) => ({
    result: v.result,
    sources: [...v.sources],
  }));
  return { key: item.key, first, others, dropped: item.variantsDropped };
}

function toAggregated(item: Item): AggregatedItem<DetectionResultView> {
  const base = { key: item.key, result: item.first.result, sources: item.first.sources };
  if (item.others.length === 0) return { ...base, conflict: false };
  return {
    ...base,
    conflict: true,
    variants: [item.first, ...item.others],
    variantsDropped: item.dropped,
  };
}

/** Adds one copy; returns true when it was a duplicate (same key, same content, same source). */
function add(items: Map<string, Item>, result: DetectionResultView, source: string): boolean {
  const item = items.get(result.fingerprint);
  if (item === undefined) {
    items.set(result.fingerprint, {
      key: result.fingerprint,
      first: { result, sources: [source] },
      others: [],
      dropped: 0,
    });
    return false;
  }
  const content = result.contentKey();
  const variant = [item.first, ...item.others].find((v) => v.result.contentKey() === content);
  if (variant === undefined) {
    item.others.push({ result, sources: [source] });
    return false;
  }
  if (variant.sources.includes(source)) return true;
  variant.sources.push(source);
  return false;
}

/** The deduplicated items of journaled batches, in arrival order (what a set written again holds). */
export function itemsOf(
  batches: readonly { collectorId: string; results: readonly DetectionResult[] }[],
): AggregatedItem<DetectionResultView>[] {
  const items = new Map<string, Item>();
  for (const batch of batches)
    for (const r of batch.results) add(items, detectionResultView(r), batch.collectorId);
  return [...items.values()].map(toAggregated);
}

/** What recovery decided about the tasks of a set it closes or resumes. */
export interface RecoveredTasks {
  /** Collectors whose task failed in recovery or before the crash, with why. */
  readonly failed: ReadonlyMap<string, { taskId: string; reason: string }>;
}

/**
 * One set's outcome across the crash: what the new incarnation aggregated (`live`, when the set
 * was resumed) merged with the result batches journaled before it. Dedup is by fingerprint and
 * conflicts by content, as the aggregator does; items keep first-arrival order (journaled first).
 */
export function mergeRecovered(
  open: OpenSet,
  live: AggregatedResult | undefined,
  tasks: RecoveredTasks,
  now: { clock: number; unixMs: number },
): AggregatedResult {
  const b = open.begun;
  const items = new Map<string, Item>();
  let duplicates = live?.duplicatesDropped ?? 0;
  const finals = new Set<string>();
  for (const batch of open.batches) {
    for (const r of batch.results)
      if (add(items, detectionResultView(r), batch.collectorId)) duplicates++;
    if (batch.final && batch.error === '') finals.add(batch.collectorId);
  }
  for (const item of live?.results ?? []) {
    const known = items.get(item.key);
    if (known === undefined) items.set(item.key, fromAggregated(item));
    else
      for (const v of item.conflict ? item.variants : [item])
        for (const s of v.sources) if (add(items, v.result, s)) duplicates++;
  }
  const asked = [...open.tasks.values()].map((t) => t.collectorId);
  // A dispatch that was placed again expects only where it is now; a fan-out every collector asked.
  const expected =
    b.mode === 'dispatch' && live !== undefined
      ? [...live.expected]
      : uniq([
          ...asked.filter((id): id is string => id !== undefined),
          ...open.batches.map((x) => x.collectorId),
          ...(live?.expected ?? []),
        ]);
  const responded = uniq([...finals, ...(live?.responded ?? [])]);
  const missing = expected.filter((id) => !responded.includes(id));
  const missingReasons: Record<string, string> = {};
  for (const id of missing)
    missingReasons[id] =
      live?.missingReasons[id] ?? tasks.failed.get(id)?.reason ?? 'agent-restart';
  const failedTasks = [
    ...[...tasks.failed].map(([collectorId, t]) => ({ ...t, collectorId })),
    ...(live?.failedTasks ?? []),
  ];
  let reason = live?.reason ?? (missing.length > 0 ? 'agent-restart' : 'all-received');
  if (reason === 'all-received' && missing.length > 0) reason = 'collector-failed';
  if (expected.length === 0) reason = live?.reason ?? 'agent-restart';
  const results = [...items.values()].map(toAggregated);
  return {
    correlationId: b.correlationId,
    kind: b.kind,
    mode: b.mode,
    complete: reason === 'all-received',
    reason,
    results,
    expected,
    responded,
    missing,
    missingReasons,
    failedTasks,
    duplicatesDropped: duplicates,
    overflowDropped: live?.overflowDropped ?? 0,
    conflicts: results.filter((i) => i.conflict).length,
    overflowed: live?.overflowed ?? [],
    startedAt: now.clock - (now.unixMs - b.startedAtUnixMs),
    completedAt: now.clock,
    startedAtUnixMs: b.startedAtUnixMs,
    completedAtUnixMs: now.unixMs,
  };
}
