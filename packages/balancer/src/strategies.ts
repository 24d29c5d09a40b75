import type { CollectorRecord } from './collector.js';
import type { Fleet } from './fleet.js';
import type { ResolvedOptions } from './options.js';
import type { Pool } from './pools.js';
import { ScoreIndex } from './score-index.js';
import type { Scorer } from './scoring.js';
import type { ExcludeList } from './types.js';

/** P2C draws before falling back to listing the eligible candidates. */
const P2C_DRAWS = 4;
/** Relative tolerance under which two scores are a tie. */
export const TIE_EPSILON = 1e-9;

function isIdArray(exclude: ExcludeList): exclude is readonly string[] {
  return Array.isArray(exclude);
}

function isExcluded(c: CollectorRecord, exclude: ExcludeList | undefined): boolean {
  if (exclude === undefined) return false;
  return isIdArray(exclude) ? exclude.includes(c.id) : exclude.has(c.id);
}

/**
 * The running maxima of one selection: over the candidates slow start admitted, and, while none
 * was admitted, over the others; ties within {@link TIE_EPSILON} relative are broken at random
 * (reservoir sampling: each of k tied candidates is kept with probability 1/k). One instance is
 * reused by every selection (no allocation per selection).
 */
class Maxima {
  #best: CollectorRecord | undefined;
  #bestScore = 0;
  #bestTies = 0;
  #spare: CollectorRecord | undefined;
  #spareScore = 0;
  #spareTies = 0;

  constructor(private readonly random: () => number) {}

  /** Offers an admitted candidate; true when it is the new best alone (not a tie). */
  admitted(c: CollectorRecord, s: number): boolean {
    const tolerance = this.#bestScore * TIE_EPSILON;
    if (this.#best === undefined || s > this.#bestScore + tolerance) {
      this.#best = c;
      this.#bestScore = s;
      this.#bestTies = 1;
      return true;
    }
    if (s >= this.#bestScore - tolerance) {
      this.#bestTies++;
      if (this.random() * this.#bestTies < 1) this.#best = c;
    }
    return false;
  }

  /** Offers a candidate slow start deferred; ignored once one was admitted. */
  deferred(c: CollectorRecord, s: number): void {
    if (this.#best !== undefined) return;
    const tolerance = this.#spareScore * TIE_EPSILON;
    if (this.#spare === undefined || s > this.#spareScore + tolerance) {
      this.#spare = c;
      this.#spareScore = s;
      this.#spareTies = 1;
    } else if (s >= this.#spareScore - tolerance) {
      this.#spareTies++;
      if (this.random() * this.#spareTies < 1) this.#spare = c;
    }
  }

  /** Starts a selection (also after one that a throwing callback left unfinished). */
  start(): this {
    this.#best = undefined;
    this.#spare = undefined;
    this.#bestScore = 0;
    this.#spareScore = 0;
    this.#bestTies = 0;
    this.#spareTies = 0;
    return this;
  }

  /** The best admitted candidate, else the best deferred one; holds no reference after. */
  take(): CollectorRecord | undefined {
    const chosen = this.#best ?? this.#spare;
    this.#best = undefined;
    this.#spare = undefined;
    return chosen;
  }
}

/**
 * The five strategies over one pool. `weighted` and `least-loaded` walk the pool's score index
 * (exact: the same choice as a full scan, see `#indexed`); `auto` below `p2cMinCandidates`, P2C's
 * fallback and panic selections scan every member.
 */
export class Selector {
  readonly #o: ResolvedOptions;
  readonly #scorer: Scorer;
  readonly #fleet: Fleet;
  readonly #random: () => number;
  /** Indices reused by P2C's fallback; grows with the pool, never allocated per selection. */
  #scratch = new Int32Array(16);
  /** Node stack of the index walk: one pending sibling per tree level at most. */
  readonly #stack = new Int32Array(64);
  /** Whether this strategy keeps score indexes at all. */
  readonly usesIndex: boolean;
  readonly #leastLoaded: boolean;
  readonly #maxima: Maxima;

  constructor(o: ResolvedOptions, scorer: Scorer, fleet: Fleet) {
    this.#o = o;
    this.#scorer = scorer;
    this.#fleet = fleet;
    this.#random = o.random;
    this.#maxima = new Maxima(o.random);
    this.usesIndex = o.strategy === 'weighted' || o.strategy === 'least-loaded';
    this.#leastLoaded = o.strategy === 'least-loaded';
  }

  /** The collector this strategy chooses from `pool`, or undefined when none is eligible. */
  pick(
    pool: Pool,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
  ): CollectorRecord | undefined {
    const members = pool.members;
    const n = members.length;
    if (n === 0) return undefined;
    switch (this.#o.strategy) {
      case 'round-robin':
        return this.#roundRobin(pool, exclude, ignoreEjection, now);
      case 'least-loaded':
      case 'weighted':
        // The index leaves ejected members out; a panic selection needs them, so it scans.
        return ignoreEjection
          ? this.scan(members, exclude, true, now, this.#leastLoaded)
          : this.#indexed(pool, exclude, now);
      case 'p2c':
        return this.#p2c(members, exclude, ignoreEjection, now, false);
      case 'auto':
        return n < this.#o.p2cMinCandidates
          ? this.scan(members, exclude, ignoreEjection, now, false)
          : this.#p2c(members, exclude, ignoreEjection, now, true);
    }
  }

  // ---- score index --------------------------------------------------------------------------

  /** The bound a leaf holds: -Infinity for an ejected member (never chosen outside panic). */
  #bound(c: CollectorRecord): number {
    if (c.ejected) return Number.NEGATIVE_INFINITY;
    return this.#leastLoaded ? this.#scorer.leastLoaded(c) : this.#scorer.scoreBound(c);
  }

  #valid(index: ScoreIndex | undefined): index is ScoreIndex {
    return (
      index !== undefined &&
      index.meansVersion === this.#fleet.meansVersion &&
      (this.#leastLoaded || index.historyVersion === this.#fleet.historyVersion)
    );
  }

  /** Brings a member's leaves up to date in every pool whose index is current. */
  updateLeaves(c: CollectorRecord): void {
    let bound: number | undefined;
    for (const m of c.memberships) {
      const index = m.pool.index;
      if (!this.#valid(index)) continue;
      bound ??= this.#bound(c);
      index.update(m.position, bound);
    }
  }

  #indexFor(pool: Pool): ScoreIndex {
    const current = pool.index;
    if (this.#valid(current)) return current;
    const members = pool.members;
    const index = new ScoreIndex(
      members.length,
      this.#fleet.meansVersion,
      this.#fleet.historyVersion,
    );
    for (let i = 0; i < members.length; i++) {
      const c = members[i];
      if (c !== undefined) index.setLeaf(i, this.#bound(c));
    }
    index.build();
    pool.index = index;
    return index;
  }

  /**
   * Best-first walk of the index: the child with the larger bound first, and a subtree is skipped
   * once its bound is below the best exact score so far minus the tie tolerance. Every member that
   * a full scan could choose has `exact <= bound`, so it is visited; the result is the full scan's
   * (the highest score among admitted candidates, ties within 1e-9 at random, and the best of the
   * others when slow start admitted none).
   */
  #indexed(pool: Pool, exclude: ExcludeList | undefined, now: number): CollectorRecord | undefined {
    const index = this.#indexFor(pool);
    const nodes = index.nodes;
    const base = index.base;
    const members = pool.members;
    const stack = this.#stack;
    const scorer = this.#scorer;
    const leastLoaded = this.#leastLoaded;
    const maxima = this.#maxima.start();
    let floor = Number.NEGATIVE_INFINITY;
    let sp = 0;
    stack[sp++] = 1;
    while (sp > 0) {
      const k = stack[--sp] ?? 1;
      const bound = nodes[k] ?? Number.NEGATIVE_INFINITY;
      if (bound === Number.NEGATIVE_INFINITY || bound < floor) continue;
      if (k < base) {
        const l = 2 * k;
        if ((nodes[l] ?? 0) >= (nodes[l + 1] ?? 0)) {
          stack[sp++] = l + 1;
          stack[sp++] = l;
        } else {
          stack[sp++] = l;
          stack[sp++] = l + 1;
        }
        continue;
      }
      const c = members[k - base];
      if (c === undefined || isExcluded(c, exclude)) continue;
      // A least-loaded leaf holds the exact score (it does not depend on the history means).
      const s = leastLoaded ? bound : scorer.score(c);
      if (!this.#admitted(c, now)) maxima.deferred(c, s);
      else if (maxima.admitted(c, s)) floor = s - s * TIE_EPSILON;
    }
    return maxima.take();
  }

  // ---- scans and duels ----------------------------------------------------------------------

  #eligible(
    c: CollectorRecord,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
  ): boolean {
    if (c.ejected && !ignoreEjection) return false;
    return !isExcluded(c, exclude);
  }

  /**
   * Slow start: a collector in its ramp takes part in a selection with probability equal to its
   * slow-start factor, so its share grows with the factor whatever the strategy.
   */
  #admitted(c: CollectorRecord, now: number): boolean {
    if (this.#o.slowStartMs === 0 || now - c.startedAt >= this.#o.slowStartMs) return true;
    return this.#random() < this.#scorer.ramp(c, now);
  }

  #index(n: number): number {
    const i = Math.floor(this.#random() * n);
    if (!(i >= 0)) return 0;
    return i < n ? i : n - 1;
  }

  /**
   * Highest score among eligible candidates admitted by slow start (or, when slow start admitted
   * none, among all eligible ones); ties within 1e-9 relative are broken at random.
   */
  scan(
    members: readonly CollectorRecord[],
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
    leastLoaded: boolean,
  ): CollectorRecord | undefined {
    const maxima = this.#maxima.start();
    const n = members.length;
    for (let i = 0; i < n; i++) {
      const c = members[i];
      if (c === undefined || !this.#eligible(c, exclude, ignoreEjection)) continue;
      const s = leastLoaded ? this.#scorer.leastLoaded(c) : this.#scorer.score(c);
      if (this.#admitted(c, now)) maxima.admitted(c, s);
      else maxima.deferred(c, s);
    }
    return maxima.take();
  }

  /**
   * Power of two choices: two distinct random candidates, the better score wins. O(1) unless
   * repeated draws hit ineligible candidates; then the eligible ones are listed once.
   */
  #p2c(
    members: readonly CollectorRecord[],
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
    auto: boolean,
  ): CollectorRecord | undefined {
    const n = members.length;
    let first: CollectorRecord | undefined;
    let firstIndex = -1;
    for (let draw = 0; draw < P2C_DRAWS && first === undefined; draw++) {
      const i = this.#index(n);
      const c = members[i];
      if (c !== undefined && this.#eligible(c, exclude, ignoreEjection)) {
        first = c;
        firstIndex = i;
      }
    }
    let second: CollectorRecord | undefined;
    if (first !== undefined && n > 1) {
      for (let draw = 0; draw < P2C_DRAWS && second === undefined; draw++) {
        let j = this.#index(n - 1);
        if (j >= firstIndex) j++;
        const c = members[j];
        if (c !== undefined && this.#eligible(c, exclude, ignoreEjection)) second = c;
      }
    }
    if (first !== undefined && second !== undefined) return this.#duel(first, second, now);
    if (first !== undefined && n === 1) return first;

    // Repeated draws hit ineligible candidates: list the eligible ones (one O(n) pass).
    let scratch = this.#scratch;
    if (scratch.length < n) {
      scratch = new Int32Array(Math.max(n, scratch.length * 2));
      this.#scratch = scratch;
    }
    let m = 0;
    for (let i = 0; i < n; i++) {
      const c = members[i];
      if (c !== undefined && this.#eligible(c, exclude, ignoreEjection)) scratch[m++] = i;
    }
    if (m === 0) return undefined;
    if (auto && m < this.#o.p2cMinCandidates) {
      // Few eligible ones left: a full scan is fairer than P2C among them.
      return this.scan(members, exclude, ignoreEjection, now, false);
    }
    const i = this.#index(m);
    const a = members[scratch[i] ?? 0];
    if (m === 1 || a === undefined) return a;
    let j = this.#index(m - 1);
    if (j >= i) j++;
    const b = members[scratch[j] ?? 0];
    return b === undefined ? a : this.#duel(a, b, now);
  }

  /** P2C's comparison: slow start admission first, then the higher score, ties at random. */
  #duel(a: CollectorRecord, b: CollectorRecord, now: number): CollectorRecord {
    const inA = this.#admitted(a, now);
    const inB = this.#admitted(b, now);
    if (inA !== inB) return inA ? a : b;
    const sa = this.#scorer.score(a);
    const sb = this.#scorer.score(b);
    const tolerance = Math.max(sa, sb) * TIE_EPSILON;
    if (sa > sb + tolerance) return a;
    if (sb > sa + tolerance) return b;
    return this.#random() < 0.5 ? a : b;
  }

  /** Next eligible collector after the pool's cursor; slow start may pass one over. */
  #roundRobin(
    pool: Pool,
    exclude: ExcludeList | undefined,
    ignoreEjection: boolean,
    now: number,
  ): CollectorRecord | undefined {
    const members = pool.members;
    const n = members.length;
    const start = pool.cursor % n;
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const c = members[i];
      if (c === undefined || !this.#eligible(c, exclude, ignoreEjection)) continue;
      if (this.#admitted(c, now)) {
        pool.cursor = i + 1;
        return c;
      }
      if (fallback < 0) fallback = i;
    }
    if (fallback < 0) return undefined;
    pool.cursor = fallback + 1;
    return members[fallback];
  }
}
