import type { Deadline } from './deadlines.js';
import type { AggregatedItem, AggregatedVariant } from './types.js';

export const WAITING = 0;
export const FINAL = 1;
export const FAILED = 2;
/** The slot's share (or `maxPendingBytes`) filled up: its part ended without `final`. */
export const OVERFLOWED = 3;
export type SlotState = typeof WAITING | typeof FINAL | typeof FAILED | typeof OVERFLOWED;

/** A content that disagreed with the kept copy of a key. */
export interface Variant<R> {
  readonly result: R;
  /** Its content key; undefined when `contentKey` failed (then it matches nothing). */
  readonly content: string | undefined;
  readonly sources: string[];
}

/**
 * What a key needs once a second collector sent it; absent (no allocation) for the common key
 * with a single source.
 */
export interface Extra<R> {
  /** Sources agreeing with the kept copy; starts with its first sender. */
  readonly sources: string[];
  /** Content key of the kept copy, computed once, when the second source arrived. */
  readonly content: string | undefined;
  variants: Variant<R>[] | undefined;
  /** Collectors whose differing copy was refused (bounds); never listed as sources. */
  refused: string[] | undefined;
  conflict: boolean;
  /** Charged bytes of every kept copy of this key; -1 until a variant needs it. */
  bytes: number;
}

/**
 * A pending correlation set. Results are held as parallel arrays (`results[i]`, first sender
 * `origin[i]`) indexed through `keys`: no object per result and no one-element `sources` array
 * until a second collector sends the same key (`extra`).
 */
export interface PendingSet<R> {
  readonly correlationId: string;
  readonly startedAt: number;
  deadline: Deadline<PendingSet<R>> | undefined;
  /** Current expected collectors (slots); `states[i]` belongs to `collectors[i]`. */
  readonly collectors: string[];
  readonly states: SlotState[];
  /**
   * Each slot's share usage (kept across `reassign`): results held at `2i`, bytes charged at
   * `2i + 1`; created at the first charge, so a set that gets no result does not pay for it.
   */
  usage: number[] | undefined;
  /** Each slot's share, fixed at `begin`: floor(limit / expected collectors). */
  readonly countShare: number;
  readonly byteShare: number;
  /** Collectors still WAITING. */
  outstanding: number;
  /** Key -> index into `results` / `origin`; insertion order is index order. */
  readonly keys: Map<string, number>;
  readonly results: R[];
  readonly origin: string[];
  extra: Map<number, Extra<R>> | undefined;
  /** Results held (keys plus variants) and bytes charged. */
  held: number;
  bytes: number;
  duplicatesDropped: number;
  overflowDropped: number;
  invalidDropped: number;
  conflicts: number;
  variantsDropped: number;
  done: boolean;
}

/** A fresh set for `collectors` (already validated and copied). */
export function createSet<R>(
  correlationId: string,
  startedAt: number,
  collectors: string[],
  maxResults: number,
  maxBytes: number,
): PendingSet<R> {
  const n = collectors.length;
  return {
    correlationId,
    startedAt,
    deadline: undefined,
    collectors,
    states: new Array<SlotState>(n).fill(WAITING),
    usage: undefined,
    countShare: Math.max(1, Math.floor(maxResults / n)),
    byteShare: Math.floor(maxBytes / n),
    outstanding: n,
    keys: new Map(),
    results: [],
    origin: [],
    extra: undefined,
    held: 0,
    bytes: 0,
    duplicatesDropped: 0,
    overflowDropped: 0,
    invalidDropped: 0,
    conflicts: 0,
    variantsDropped: 0,
    done: false,
  };
}

/** Whether `collectorId` already sent key `index` (any content, or a refused one). */
export function hasSent<R>(set: PendingSet<R>, index: number, collectorId: string): boolean {
  const extra = set.extra?.get(index);
  if (extra === undefined) return set.origin[index] === collectorId;
  if (extra.sources.includes(collectorId)) return true;
  if (extra.refused?.includes(collectorId) === true) return true;
  if (extra.variants === undefined) return false;
  for (const variant of extra.variants) if (variant.sources.includes(collectorId)) return true;
  return false;
}

/**
 * The held result at `index` (always in range: indexes come from `keys`). R is unconstrained, so
 * no type guard can tell "absent" from an `undefined` R; hence the one assertion.
 */
export function heldAt<R>(set: PendingSet<R>, index: number): R {
  return set.results[index] as R;
}

/** The delivered items, built once at completion, in first-arrival order. */
export function buildItems<R>(set: PendingSet<R>): AggregatedItem<R>[] {
  const items: AggregatedItem<R>[] = [];
  // forEach, not for-of: no [key, index] tuple per entry.
  set.keys.forEach((index, key) => {
    const result = heldAt(set, index);
    const extra = set.extra?.get(index);
    if (extra === undefined) {
      items.push({ key, result, sources: [set.origin[index] ?? ''], conflict: false });
    } else if (!extra.conflict) {
      items.push({ key, result, sources: extra.sources, conflict: false });
    } else {
      const variants: AggregatedVariant<R>[] = [{ result, sources: extra.sources }];
      for (const variant of extra.variants ?? []) {
        variants.push({ result: variant.result, sources: variant.sources });
      }
      const variantsDropped = extra.refused?.length ?? 0;
      items.push({
        key,
        result,
        sources: extra.sources,
        conflict: true,
        variants,
        variantsDropped,
      });
    }
  });
  return items;
}
