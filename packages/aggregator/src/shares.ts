interface Count {
  open: number;
  full: number;
}

/** Entries at zero are kept (no churn per round) until the book holds this many. */
const PRUNE_AT = 1024;

/**
 * Per collector, across pending sets: how many shares still take its results (`open`) and how
 * many are full (`full`). Entries at zero stay for reuse; past 1024 entries they are pruned.
 */
export class ShareBook {
  readonly #counts = new Map<string, Count>();

  open(collectorId: string, delta: number): void {
    this.#add(collectorId, delta, 0);
  }

  full(collectorId: string, delta: number): void {
    this.#add(collectorId, 0, delta);
  }

  openOf(collectorId: string): number {
    return this.#counts.get(collectorId)?.open ?? 0;
  }

  fullOf(collectorId: string): number {
    return this.#counts.get(collectorId)?.full ?? 0;
  }

  #add(collectorId: string, open: number, full: number): void {
    const count = this.#counts.get(collectorId);
    if (count !== undefined) {
      count.open += open;
      count.full += full;
      return;
    }
    if (this.#counts.size >= PRUNE_AT) this.#prune();
    this.#counts.set(collectorId, { open, full });
  }

  #prune(): void {
    for (const [id, count] of this.#counts) {
      if (count.open === 0 && count.full === 0) this.#counts.delete(id);
    }
  }
}
