/**
 * A max-tree (tournament tree) over one pool's members: leaf `i` holds an upper bound of member
 * `i`'s score, every inner node the largest bound below it. The full-scan strategies walk it
 * best-first and stop as soon as no remaining bound can reach the best exact score found, so a
 * selection computes few exact scores instead of one per candidate. `-Infinity` marks a leaf that
 * cannot be chosen (ejected, or padding).
 */
export class ScoreIndex {
  /** Index of the first leaf; a power of two >= the member count. */
  readonly base: number;
  /** `nodes[1]` is the root; the children of `k` are `2k` and `2k + 1`. */
  readonly nodes: Float64Array;
  /** Fleet versions the bounds were computed for (see `Fleet`). */
  readonly meansVersion: number;
  readonly historyVersion: number;

  constructor(size: number, meansVersion: number, historyVersion: number) {
    let base = 1;
    while (base < size) base *= 2;
    this.base = base;
    this.nodes = new Float64Array(2 * base).fill(Number.NEGATIVE_INFINITY);
    this.meansVersion = meansVersion;
    this.historyVersion = historyVersion;
  }

  /** Sets leaf `i` without updating its ancestors (call {@link build} after a batch). */
  setLeaf(i: number, value: number): void {
    this.nodes[this.base + i] = value;
  }

  /** Computes every inner node from the leaves. */
  build(): void {
    const nodes = this.nodes;
    for (let k = this.base - 1; k >= 1; k--) {
      const l = nodes[2 * k] ?? Number.NEGATIVE_INFINITY;
      const r = nodes[2 * k + 1] ?? Number.NEGATIVE_INFINITY;
      nodes[k] = Math.max(l, r);
    }
  }

  /** Sets leaf `i` and repairs its ancestors: O(log n). */
  update(i: number, value: number): void {
    const nodes = this.nodes;
    let k = this.base + i;
    nodes[k] = value;
    k >>= 1;
    while (k >= 1) {
      const l = nodes[2 * k] ?? Number.NEGATIVE_INFINITY;
      const r = nodes[2 * k + 1] ?? Number.NEGATIVE_INFINITY;
      const max = Math.max(l, r);
      if (nodes[k] === max) return;
      nodes[k] = max;
      k >>= 1;
    }
  }
}
