import type { CollectorRecord, Membership } from './collector.js';
import type { ScoreIndex } from './score-index.js';

/** Candidates for one task kind, rebuilt only when collectors come or go. */
export interface Pool {
  readonly members: CollectorRecord[];
  /** Round-robin position. */
  cursor: number;
  /** Ejected members, recounted when the ejection version moves. */
  ejectedCount: number;
  ejectionVersion: number;
  /** Max-tree of score bounds for the full-scan strategies; built on first use. */
  index: ScoreIndex | undefined;
}

function emptyPool(): Pool {
  return { members: [], cursor: 0, ejectedCount: 0, ejectionVersion: -1, index: undefined };
}

/** The pool of every collector, the pool of collectors that accept any kind, one per kind. */
export class Pools {
  dirty = true;
  #all: Pool = emptyPool();
  #anyKind: Pool = emptyPool();
  #byKind = new Map<string, Pool>();

  /** Candidates for `taskKind` (every collector when undefined). */
  poolFor(taskKind: string | undefined): Pool {
    if (taskKind === undefined) return this.#all;
    return this.#byKind.get(taskKind) ?? this.#anyKind;
  }

  /** Rebuilds every pool from the registered collectors, keeping round-robin cursors. */
  rebuild(collectors: Iterable<CollectorRecord>): void {
    const records = [...collectors];
    const kinds = new Set<string>();
    for (const c of records) for (const k of c.taskKinds) kinds.add(k);
    const all = emptyPool();
    const anyKind = emptyPool();
    const byKind = new Map<string, Pool>();
    for (const k of kinds) byKind.set(k, emptyPool());
    for (const c of records) {
      const memberships: Membership[] = [];
      const join = (pool: Pool) => {
        memberships.push({ pool, position: pool.members.length });
        pool.members.push(c);
      };
      join(all);
      if (c.taskKinds.length === 0) {
        join(anyKind);
        for (const pool of byKind.values()) join(pool);
      } else {
        for (const k of c.taskKinds) {
          const pool = byKind.get(k);
          if (pool !== undefined) join(pool);
        }
      }
      c.memberships = memberships;
    }
    all.cursor = this.#all.cursor;
    anyKind.cursor = this.#anyKind.cursor;
    for (const [k, pool] of byKind) pool.cursor = this.#byKind.get(k)?.cursor ?? 0;
    this.#all = all;
    this.#anyKind = anyKind;
    this.#byKind = byKind;
    this.dirty = false;
  }
}
