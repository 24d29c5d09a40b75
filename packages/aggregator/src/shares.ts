/** One collector's standing across pending sets. */
export interface Account {
  /** Shares that still take its results. */
  open: number;
  /** Shares that are full (after `share-full`). */
  full: number;
  /** Bytes charged to the slots it holds now (bounded by `maxPendingBytesPerCollector`). */
  bytes: number;
}

/** Entries at zero are kept (no churn per round) until the book holds this many. */
const PRUNE_AT = 1024;

/**
 * Per collector, across pending sets: open and full shares and the bytes its slots hold. Entries
 * at zero stay for reuse; past 1024 entries the idle ones are pruned.
 */
export class ShareBook {
  readonly #accounts = new Map<string, Account>();

  /** The collector's account, created on first use. */
  account(collectorId: string): Account {
    let account = this.#accounts.get(collectorId);
    if (account === undefined) {
      if (this.#accounts.size >= PRUNE_AT) this.#prune();
      account = { open: 0, full: 0, bytes: 0 };
      this.#accounts.set(collectorId, account);
    }
    return account;
  }

  open(collectorId: string, delta: number): void {
    this.account(collectorId).open += delta;
  }

  full(collectorId: string, delta: number): void {
    this.account(collectorId).full += delta;
  }

  bytes(collectorId: string, delta: number): void {
    if (delta !== 0) this.account(collectorId).bytes += delta;
  }

  openOf(collectorId: string): number {
    return this.#accounts.get(collectorId)?.open ?? 0;
  }

  fullOf(collectorId: string): number {
    return this.#accounts.get(collectorId)?.full ?? 0;
  }

  bytesOf(collectorId: string): number {
    return this.#accounts.get(collectorId)?.bytes ?? 0;
  }

  #prune(): void {
    for (const [id, account] of this.#accounts) {
      if (account.open === 0 && account.full === 0 && account.bytes === 0) {
        this.#accounts.delete(id);
      }
    }
  }
}
