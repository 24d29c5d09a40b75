import type { CollectorRecord } from './collector.js';
import type { BalancerEvent } from './events.js';
import type { ResolvedOptions } from './options.js';
import type { Pool } from './pools.js';

/** What ejection needs from the balancer. */
export interface EjectionOwner {
  /** Registered collectors (the cap is a share of them). */
  readonly size: number;
  emit(event: BalancerEvent): void;
  /** The collector's eligibility changed: its index leaves need an update. */
  touched(c: CollectorRecord): void;
}

/**
 * Outlier ejection: a collector with `consecutiveFailures` failures in a row leaves rotation for
 * `min(baseEjectionMs x count, maxEjectionMs)`, at most `maxEjectionPercent` of all at once, and a
 * pool with more than that share ejected panics (ignores ejection).
 */
export class Ejection {
  readonly #o: ResolvedOptions;
  readonly #owner: EjectionOwner;
  readonly ejected = new Set<CollectorRecord>();
  /** Earliest `ejectedUntil` of the ejected ones. */
  nextEnd = Number.POSITIVE_INFINITY;
  /** Moves on every ejection and return, so pools recount their ejected members lazily. */
  version = 0;
  ejections = 0;
  skipped = 0;

  constructor(o: ResolvedOptions, owner: EjectionOwner) {
    this.#o = o;
    this.#owner = owner;
  }

  /** Panic: more than `maxEjectionPercent` of this pool is ejected, so ejection is ignored. */
  isPanic(pool: Pool): boolean {
    if (pool.ejectionVersion !== this.version) {
      let count = 0;
      for (const c of pool.members) if (c.ejected) count++;
      pool.ejectedCount = count;
      pool.ejectionVersion = this.version;
    }
    const n = pool.members.length;
    return n > 0 && pool.ejectedCount * 100 > this.#o.maxEjectionPercent * n;
  }

  /** Called after each failed task of `c` (its streak already counted). */
  afterFailure(c: CollectorRecord, now: number): void {
    // maxEjectionPercent 0 disables ejection: nothing to try, nothing to report as skipped.
    if (
      this.#o.maxEjectionPercent > 0 &&
      c.consecutiveFailures >= this.#o.consecutiveFailures &&
      !c.ejected
    ) {
      this.#tryEject(c, now);
    }
  }

  #tryEject(c: CollectorRecord, now: number): void {
    if (now >= this.nextEnd) this.endDue(now);
    const maxEjected = Math.floor((this.#owner.size * this.#o.maxEjectionPercent) / 100);
    if (this.ejected.size + 1 > maxEjected) {
      // Stays in rotation; its next failure tries again.
      this.skipped++;
      this.#owner.emit({
        type: 'ejection-skipped',
        id: c.id,
        at: now,
        ejected: this.ejected.size,
        maxEjected,
      });
      return;
    }
    // The multiplier decays by one for every baseEjectionMs spent un-ejected since the last one.
    if (c.ejectionCount > 0) {
      const quiet = Math.floor((now - c.lastEjectionEnd) / this.#o.baseEjectionMs);
      if (quiet > 0) c.ejectionCount = Math.max(0, c.ejectionCount - quiet);
    }
    c.ejectionCount++;
    const duration = Math.min(this.#o.baseEjectionMs * c.ejectionCount, this.#o.maxEjectionMs);
    c.ejected = true;
    c.ejectedUntil = now + duration;
    c.consecutiveFailures = 0;
    this.ejected.add(c);
    this.version++;
    this.ejections++;
    this.#owner.touched(c);
    if (c.ejectedUntil < this.nextEnd) this.nextEnd = c.ejectedUntil;
    this.#owner.emit({
      type: 'ejected',
      id: c.id,
      at: now,
      untilMs: c.ejectedUntil,
      ejectionCount: c.ejectionCount,
    });
  }

  /** Ends every ejection due by `now`. */
  endDue(now: number): void {
    for (const c of this.ejected) {
      if (c.ejectedUntil <= now) this.#return(c, now);
    }
    this.nextEnd = this.#earliestEnd();
  }

  /** Ends `c`'s ejection at once (a restart). */
  end(c: CollectorRecord, now: number): void {
    if (!c.ejected) return;
    this.#return(c, now);
    this.nextEnd = this.#earliestEnd();
  }

  /** Forgets a removed collector. */
  forget(c: CollectorRecord): void {
    if (this.ejected.delete(c)) this.version++;
  }

  #return(c: CollectorRecord, now: number): void {
    c.ejected = false;
    // Back in rotation with a clean slate: failures of tasks sent before the ejection do not count.
    c.consecutiveFailures = 0;
    c.lastEjectionEnd = Math.min(now, c.ejectedUntil);
    this.ejected.delete(c);
    this.version++;
    this.#owner.touched(c);
    this.#owner.emit({ type: 'ejection-ended', id: c.id, at: now });
  }

  #earliestEnd(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const c of this.ejected) if (c.ejectedUntil < earliest) earliest = c.ejectedUntil;
    return earliest;
  }
}
