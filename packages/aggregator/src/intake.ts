import { defaultContentKey, defaultDedupKey, defaultWeigh } from './content.js';
import type { ResolvedOptions } from './options.js';
import { type Extra, hasSent, heldAt, type PendingSet } from './pending-set.js';
import type { Account } from './shares.js';
import type { AddResultOutcome, ShareFullReason } from './types.js';

/** What one input result did to its set. */
export type Step = 'unchanged' | 'changed' | 'invalid' | ShareFullReason;

/** Reports a user callback that threw (the aggregator's callback policy). */
export type ReportCallbackError = (callback: string, correlationId: string, cause: unknown) => void;

/**
 * How one result enters a pending set: its key, its weight against the sender's share and the
 * global budget, and dedup with content comparison (conflicts). Holds the global counters.
 */
export class Intake<R> {
  readonly #options: ResolvedOptions<R>;
  readonly #report: ReportCallbackError;
  pendingResults = 0;
  pendingBytes = 0;
  duplicatesDropped = 0;
  invalidResults = 0;
  conflicts = 0;
  variantsDropped = 0;

  constructor(options: ResolvedOptions<R>, report: ReportCallbackError) {
    this.#options = options;
    this.#report = report;
  }

  /** Adds one result from `slot` (which is WAITING) to `set`. */
  add(set: PendingSet<R>, slot: number, from: string, result: R, account: Account): Step {
    const key = this.keyOf(result, set);
    if (key === undefined) return 'invalid';
    const index = set.keys.get(key);
    return index === undefined
      ? this.#addNew(set, slot, from, key, result, account)
      : this.#addCopy(set, slot, from, index, result, account);
  }

  /** Gives back what a completed set held to the global budget. */
  release(set: PendingSet<R>): void {
    this.pendingResults -= set.held;
    this.pendingBytes -= set.bytes;
  }

  /** A key the set does not hold yet: charge the sender's share, then keep it. */
  #addNew(
    set: PendingSet<R>,
    slot: number,
    from: string,
    key: string,
    result: R,
    account: Account,
  ): Step {
    const weight = this.#weightOf(result, set);
    if (weight === undefined) return 'invalid';
    const refusal = this.#charge(set, slot, weight, account);
    if (refusal !== undefined) return refusal;
    set.keys.set(key, set.results.length);
    set.results.push(result);
    set.origin.push(from);
    return 'changed';
  }

  /**
   * A copy of a held key. From its own sender again: a re-delivery. From a new collector: compare
   * contents (lazily computing the kept copy's once); the same content adds a source, another
   * content becomes a variant (charged to the sender) and makes the item a conflict.
   */
  #addCopy(
    set: PendingSet<R>,
    slot: number,
    from: string,
    index: number,
    result: R,
    account: Account,
  ): Step {
    if (hasSent(set, index, from)) {
      set.duplicatesDropped++;
      this.duplicatesDropped++;
      return 'unchanged';
    }
    const extra = this.#extraOf(set, index);
    const content = this.#contentOf(result, set);
    if (content !== undefined) {
      const agreeing =
        content === extra.content
          ? extra.sources
          : extra.variants?.find((variant) => variant.content === content)?.sources;
      if (agreeing !== undefined) {
        agreeing.push(from);
        set.duplicatesDropped++;
        this.duplicatesDropped++;
        return 'changed';
      }
    }
    const weight = this.#weightOf(result, set);
    if (weight === undefined) return 'invalid';
    if (!extra.conflict) {
      extra.conflict = true;
      set.conflicts++;
      this.conflicts++;
    }
    if (extra.bytes < 0) extra.bytes = this.#weightOf(heldAt(set, index), set) ?? 0;
    const variants = extra.variants ?? [];
    let refusal: ShareFullReason | 'bounds' | undefined;
    if (variants.length + 1 >= this.#options.maxVariantsPerItem) refusal = 'bounds';
    else if (extra.bytes + weight > this.#options.maxItemBytes) refusal = 'bounds';
    else refusal = this.#charge(set, slot, weight, account);
    if (refusal === undefined) {
      variants.push({ result, content, sources: [from] });
      extra.variants = variants;
      extra.bytes += weight;
      return 'changed';
    }
    // Refused: never a source of any content, but the dissent is kept (and a re-delivery of it
    // stays a duplicate).
    extra.refused = (extra.refused ?? []).concat(from);
    set.variantsDropped++;
    this.variantsDropped++;
    return refusal === 'bounds' ? 'changed' : refusal;
  }

  #extraOf(set: PendingSet<R>, index: number): Extra<R> {
    let map = set.extra;
    if (map === undefined) {
      map = new Map();
      set.extra = map;
    }
    let extra = map.get(index);
    if (extra === undefined) {
      extra = {
        sources: [set.origin[index] ?? ''],
        content: this.#contentOf(heldAt(set, index), set),
        variants: undefined,
        refused: undefined,
        conflict: false,
        bytes: -1,
      };
      map.set(index, extra);
    }
    return extra;
  }

  /** Charges `weight` to `slot` and its collector, or says which budget has no room. */
  #charge(
    set: PendingSet<R>,
    slot: number,
    weight: number,
    account: Account,
  ): ShareFullReason | undefined {
    let usage = set.usage;
    if (usage === undefined) {
      usage = new Array<number>(2 * set.collectors.length).fill(0);
      set.usage = usage;
    }
    const used = usage[2 * slot] ?? 0;
    const usedBytes = usage[2 * slot + 1] ?? 0;
    if (used >= set.countShare) return 'count';
    if (usedBytes + weight > set.byteShare) return 'bytes';
    if (account.bytes + weight > this.#options.maxPendingBytesPerCollector) {
      return 'collector-bytes';
    }
    if (this.pendingBytes + weight > this.#options.maxPendingBytes) return 'pending-bytes';
    usage[2 * slot] = used + 1;
    usage[2 * slot + 1] = usedBytes + weight;
    set.held++;
    set.bytes += weight;
    this.pendingResults++;
    this.pendingBytes += weight;
    account.bytes += weight;
    return undefined;
  }

  /** `weigh(result) + resultOverheadBytes`, or undefined when weigh failed (result invalid). */
  #weightOf(result: R, set: PendingSet<R>): number | undefined {
    const weigh = this.#options.weigh;
    let bytes: unknown;
    if (weigh === undefined) bytes = defaultWeigh(result);
    else {
      try {
        bytes = weigh(result);
      } catch (error) {
        this.#report('weigh', set.correlationId, error);
        return undefined;
      }
    }
    if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return undefined;
    return Math.ceil(bytes) + this.#options.resultOverheadBytes;
  }

  #contentOf(result: R, set: PendingSet<R>): string | undefined {
    const contentKey = this.#options.contentKey;
    try {
      const content = contentKey === undefined ? defaultContentKey(result) : contentKey(result);
      return typeof content === 'string' ? content : undefined;
    } catch (error) {
      if (contentKey !== undefined) this.#report('contentKey', set.correlationId, error);
      return undefined;
    }
  }

  /** After `final`: an exact re-delivery is `duplicate`, anything new is `late`. */
  afterFinal(set: PendingSet<R>, collectorId: string, results: readonly R[]): AddResultOutcome {
    for (const result of results) {
      const key = this.keyOf(result, set);
      const index = key === undefined ? undefined : set.keys.get(key);
      if (index === undefined || !hasSent(set, index, collectorId)) return 'late';
    }
    set.duplicatesDropped += results.length;
    this.duplicatesDropped += results.length;
    return 'duplicate';
  }

  keyOf(result: R, set: PendingSet<R>): string | undefined {
    const dedupKey = this.#options.dedupKey;
    if (dedupKey === undefined) {
      const key = defaultDedupKey(result);
      return typeof key === 'string' ? key : undefined;
    }
    try {
      const key = dedupKey(result);
      return typeof key === 'string' ? key : undefined;
    } catch (error) {
      this.#report('dedupKey', set.correlationId, error);
      return undefined;
    }
  }
}
