// The coordinator's option helpers: the house block (the same text as in aggregator, balancer,
// failover and ipc-transport; test/conformance.test.ts runs every copy on one table) and the
// checks only the coordinator's options need.
import type { Clock } from './clock.js';

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

export function isClock(value: unknown): value is Clock {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    'now' in value &&
    typeof value.now === 'function' &&
    'setTimeout' in value &&
    typeof value.setTimeout === 'function' &&
    'clearTimeout' in value &&
    typeof value.clearTimeout === 'function'
  );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function integer(
  path: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(
      `${path} must be an integer in ${min}..${max}, got ${describeValue(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${path} must be an integer in ${min}..${max}, got ${describeValue(value)}`,
    );
  }
  return value;
}

export function fraction(path: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number')
    throw new TypeError(`${path} must be a number in (0, 1], got ${describeValue(value)}`);
  if (!(value > 0 && value <= 1))
    throw new RangeError(`${path} must be a number in (0, 1], got ${describeValue(value)}`);
  return value;
}

export function text(path: string, value: unknown, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${path} must be a non-empty string, got ${describeValue(value)}`);
  }
  if (pattern && !pattern.test(value)) {
    throw new RangeError(`${path} must match ${pattern.source}, got ${describeValue(value)}`);
  }
  return value;
}

export function fn<F>(path: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${path} must be a function, got ${describeValue(value)}`);
  }
  return value;
}

export function nested<T extends object>(
  path: string,
  value: T | undefined,
  known: readonly string[],
): T | Record<string, never> {
  if (value === undefined) return {};
  if (!isRecord(value))
    throw new TypeError(`${path} must be an object, got ${describeValue(value)}`);
  refuseUnknownKeys(path, value, known);
  return value;
}
