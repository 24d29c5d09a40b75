import {
  buildItems,
  FAILED,
  FINAL,
  OVERFLOWED,
  type PendingSet,
  type SlotState,
  WAITING,
} from './pending-set.js';
import type { ShareBook } from './shares.js';
import type { AggregatedResult, CompletionReason, ReassignOutcome } from './types.js';

const NONE: readonly string[] = Object.freeze([]);

function append(list: string[] | undefined, id: string): string[] {
  if (list === undefined) return [id];
  list.push(id);
  return list;
}

/** Nothing outstanding: failed beats everything; a set where nobody sent final overflowed. */
export function settledReason(states: readonly SlotState[]): CompletionReason {
  if (states.includes(FAILED)) return 'collector-failed';
  return states.includes(FINAL) ? 'all-received' : 'overflow';
}

/**
 * The one result of a completing set; gives every slot's share and held bytes back to `shares`.
 * The caller has taken the set out of the pending ones and released its intake.
 */
export function settle<R>(
  set: PendingSet<R>,
  reason: CompletionReason,
  shares: ShareBook,
  completedAt: number,
): AggregatedResult<R> {
  // Most sets have nobody failed or overflowed: those lists share one frozen empty array.
  const responded: string[] = [];
  let missing: string[] | undefined;
  let failed: string[] | undefined;
  let overflowed: string[] | undefined;
  for (let i = 0; i < set.collectors.length; i++) {
    const id = set.collectors[i] ?? '';
    const state = set.states[i];
    shares.bytes(id, -(set.usage?.[2 * i + 1] ?? 0));
    if (state === FINAL) {
      responded.push(id);
      continue;
    }
    missing = append(missing, id);
    if (state === FAILED) failed = append(failed, id);
    else if (state === OVERFLOWED) {
      overflowed = append(overflowed, id);
      shares.full(id, -1);
    } else shares.open(id, -1);
  }
  return {
    correlationId: set.correlationId,
    results: buildItems(set),
    expected: set.collectors,
    responded,
    missing: missing ?? NONE,
    failed: failed ?? NONE,
    overflowed: overflowed ?? NONE,
    complete: reason === 'all-received',
    reason,
    duplicatesDropped: set.duplicatesDropped,
    overflowDropped: set.overflowDropped,
    invalidDropped: set.invalidDropped,
    conflicts: set.conflicts,
    variantsDropped: set.variantsDropped,
    bytes: set.bytes,
    startedAt: set.startedAt,
    completedAt,
  };
}

/** `ResultAggregator.reassign` on a pending set (see there for the rules). */
export function reassignSlot<R>(
  set: PendingSet<R>,
  from: string,
  to: string,
  shares: ShareBook,
): ReassignOutcome {
  const fromIndex = set.collectors.indexOf(from);
  const fromState = set.states[fromIndex];
  if (fromState === undefined) return 'unexpected-collector';
  if (fromState === FINAL) return 'already-final';
  if (fromState === OVERFLOWED) return 'already-overflowed';
  const toIndex = set.collectors.indexOf(to);
  if (toIndex >= 0 && set.states[toIndex] !== FAILED) return 'already-expected';
  set.collectors[fromIndex] = to;
  set.states[fromIndex] = WAITING;
  if (fromState === FAILED) set.outstanding++;
  else shares.open(from, -1);
  shares.open(to, 1);
  // What the slot holds is now the new collector's to answer for.
  const held = set.usage?.[2 * fromIndex + 1] ?? 0;
  shares.bytes(from, -held);
  shares.bytes(to, held);
  // `to` failed here before: its old slot goes (its usage stays held by the set), unless it is
  // the very slot just re-armed.
  if (toIndex >= 0 && toIndex !== fromIndex) {
    set.collectors.splice(toIndex, 1);
    set.states.splice(toIndex, 1);
    shares.bytes(to, -(set.usage?.[2 * toIndex + 1] ?? 0));
    set.usage?.splice(2 * toIndex, 2);
  }
  return 'reassigned';
}
