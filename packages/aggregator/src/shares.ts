interface Count {
  open: number;
  full: number;
}

/**
 * Per collector, across pending sets: how many shares still take its results (`open`) and how
 * many are full (`full`). Entries at zero are dropped, so the book holds only live collectors.
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
    if (count === undefined) {
      if (open > 0 || full > 0) this.#counts.set(collectorId, { open, full });
      return;
    }
    count.open += open;
    count.full += full;
    if (count.open <= 0 && count.full <= 0) this.#counts.delete(collectorId);
  }
}
