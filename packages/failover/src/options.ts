import type { Clock } from './clock.js';

// The house option rules: `undefined` means the default; a wrong type is a TypeError, a value out
// of range a RangeError, both worded `options.<name> must be <what is allowed>, got <value>`; an
// unknown key is a TypeError naming the nearest known one; every delay is an integer in 0..2^31-1.

/** Largest delay Node's timers honour (larger ones fire after 1 ms). */
export const MAX_DELAY_MS = 2_147_483_647;

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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks an options object (`undefined` is `{}`) and refuses unknown keys, naming the nearest
 * known one. `name` is the path used in messages, e.g. `options` or `options.backoff`.
 */
export function readOptions(
  name: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isRecord(value))
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  refuseUnknownKeys(name, value, known);
  return value;
}

/** Range of a number option. */
export interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
  /** Excludes `min` itself. */
  readonly minExclusive?: boolean;
}

/** A number option; `undefined` gives `fallback`. */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback;
  const low = rule.minExclusive ? `(${rule.min}` : `[${rule.min}`;
  const what = `${rule.integer ? 'an integer' : 'a number'} in ${low}, ${rule.max}]`;
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be ${what}, got ${describeValue(value)}`);
  const tooLow = rule.minExclusive ? value <= rule.min : value < rule.min;
  if (
    Number.isNaN(value) ||
    tooLow ||
    value > rule.max ||
    (rule.integer === true && !Number.isInteger(value))
  ) {
    throw new RangeError(`${name} must be ${what}, got ${describeValue(value)}`);
  }
  return value;
}

/** A delay in ms: an integer in [min, 2^31-1]. */
export function delayOption(name: string, value: unknown, fallback: number, min = 0): number {
  return numberOption(name, value, fallback, { min, max: MAX_DELAY_MS, integer: true });
}

/** One of a fixed set of strings. */
export function enumOption<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    const what = `one of ${allowed.map((a) => `"${a}"`).join(', ')}`;
    const error = typeof value === 'string' ? RangeError : TypeError;
    throw new error(`${name} must be ${what}, got ${describeValue(value)}`);
  }
  return found;
}

/** A function option, or undefined. */
export function functionOption<F extends (...args: never[]) => unknown>(
  name: string,
  value: unknown,
  isF: (v: unknown) => v is F,
): F | undefined {
  if (value === undefined) return undefined;
  if (!isF(value)) throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  return value;
}

/** A Clock: an object (not an array) with `now`, `setTimeout` and `clearTimeout` functions. */
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

/** A Clock (an object with `now`, `setTimeout` and `clearTimeout` functions). */
export function clockOption(name: string, value: unknown, fallback: Clock): Clock {
  if (value === undefined) return fallback;
  if (!isClock(value)) {
    throw new TypeError(
      `${name} must be a Clock (now, setTimeout, clearTimeout), got ${describeValue(value)}`,
    );
  }
  return value;
}

/** An object the caller must pass (a hook, a registry). */
export function objectArgument(name: string, value: unknown): Record<string, unknown> {
  if (!isRecord(value))
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  return value;
}

/** A non-empty string argument (ids, commands). */
export function idArgument(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** Narrows unknown to a function of any signature (only the shape can be checked). */
export function isFunction<F extends (...args: never[]) => unknown>(value: unknown): value is F {
  return typeof value === 'function';
}
