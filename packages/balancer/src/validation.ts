/** Shared validation: the house message shape `options.<name> must be ..., got ...`. */

/** Allowed range of a number option. */
export interface NumberRule {
  readonly min: number;
  readonly max: number;
  /** Excludes `min` itself. */
  readonly minExclusive?: boolean;
  readonly integer?: boolean;
}

/** Validates a number option (`name` is the full path, e.g. `options.stalenessMs`). */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback;
  const kind = rule.integer ? 'an integer' : 'a finite number';
  const low = rule.minExclusive ? `> ${rule.min}` : `>= ${rule.min}`;
  const allowed = `${kind} ${low} and <= ${rule.max}`;
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be ${allowed}, got ${describeValue(value)}`);
  }
  const tooLow = rule.minExclusive ? value <= rule.min : value < rule.min;
  if (
    !Number.isFinite(value) ||
    tooLow ||
    value > rule.max ||
    (rule.integer === true && !Number.isInteger(value))
  ) {
    throw new RangeError(`${name} must be ${allowed}, got ${value}`);
  }
  return value;
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---- house option helpers -------------------------------------------------------------------
// The same text in aggregator, balancer, coordinator, failover and ipc-transport (each keeps no
// runtime dependency for it); test/conformance.test.ts runs every copy on one table.

/** How a value is shown in an option message: short, and never throwing. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/**
 * The known name nearest to `key`: case-insensitive edit distance at most max(3, length / 3), or
 * a prefix either way (`maxRss` for `maxRssBytes`: a unit left out is the commonest slip).
 */
export function nearestName(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = key.toLowerCase();
  for (const name of known) {
    const other = name.toLowerCase();
    const prefix = lower.length >= 3 && (other.startsWith(lower) || lower.startsWith(other));
    const d = prefix ? 1 : editDistance(lower, other);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(3, Math.floor(key.length / 3)) ? best : undefined;
}

/** Throws `<path>.<key> is not a known option (did you mean x?)` for a key not in `known`. */
export function refuseUnknownKeys(path: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = nearestName(key, known);
    const hint = near === undefined ? '' : ` (did you mean ${near}?)`;
    throw new TypeError(`${path}.${key} is not a known option${hint}`);
  }
}
// ---- end of the house option helpers --------------------------------------------------------
