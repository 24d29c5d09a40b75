/** Shared validation: the house message shape `options.<name> must be ..., got ...`. */

/** Allowed range of a number option. */
export interface NumberRule {
  readonly min: number;
  readonly max: number;
  /** Excludes `min` itself. */
  readonly minExclusive?: boolean;
  readonly integer?: boolean;
}

/** How a bad value is shown in a message: strings quoted, other values by their kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'function' ? 'a function' : `${typeof value}`;
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

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(
        Math.min((row[j - 1] ?? 0) + 1, (previous[j] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/** The known name closest to `key` (case-insensitive edit distance <= 3), if any. */
export function nearestName(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const name of known) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Refuses keys that are not options: `<prefix>.<key> is not a known option (did you mean x?)`. */
export function rejectUnknownKeys(
  prefix: string,
  value: Record<string, unknown>,
  known: readonly string[],
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = nearestName(key, known);
    const hint = near === undefined ? '' : ` (did you mean ${near}?)`;
    throw new TypeError(`${prefix}.${key} is not a known option${hint}`);
  }
}
