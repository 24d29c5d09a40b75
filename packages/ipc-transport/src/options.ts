import type { Clock } from './clock.js';
import type { CallbackErrorHandler } from './errors.js';

/** Largest delay Node's timers take (2^31-1 ms); larger values would fire after 1 ms. */
export const MAX_DELAY_MS = 2_147_483_647;
/** The one floor of every `maxFrameBytes` / `maxHandshakeBytes` option (1 KiB). */
export const MIN_FRAME_BYTES = 1024;
/** The ceiling of every frame size option: the largest length a 4-byte header can declare. */
export const MAX_FRAME_BYTES = 0xffff_ffff;

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

/** Throws a TypeError unless `options` is a plain object; returns it as a record. */
export function optionsRecord(options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  }
  return { ...options };
}

/** Refuses an unknown key with the nearest known name. */
export function rejectUnknownKeys(
  options: Record<string, unknown>,
  known: readonly string[],
): void {
  refuseUnknownKeys('options', options, known);
}

/** An integer option in `min..max`; `undefined` is the default. */
export function intOption(
  options: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  const what = `options.${name} must be an integer in ${min}..${max}, got ${describeValue(value)}`;
  if (typeof value !== 'number') throw new TypeError(what);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(what);
  return value;
}

/** A delay option in ms: an integer in `min..2^31-1`. */
export function delayOption(
  options: Record<string, unknown>,
  name: string,
  fallback: number,
  min = 0,
): number {
  return intOption(options, name, fallback, min, MAX_DELAY_MS);
}

/** An integer option that may also be `Infinity` (no limit). */
export function countOrInfinity(
  options: Record<string, unknown>,
  name: string,
  fallback: number,
): number {
  const value = options[name];
  if (value === Number.POSITIVE_INFINITY) return value;
  if (value === undefined) return fallback;
  const what = `options.${name} must be an integer >= 0 or Infinity, got ${describeValue(value)}`;
  if (typeof value !== 'number') throw new TypeError(what);
  if (!Number.isInteger(value) || value < 0) throw new RangeError(what);
  return value;
}

export function boolOption(
  options: Record<string, unknown>,
  name: string,
  fallback: boolean,
): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new TypeError(`options.${name} must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

/** A string option matching `pattern` with `1..maxLength` characters. */
export function stringOption(
  options: Record<string, unknown>,
  name: string,
  maxLength: number,
  pattern?: RegExp,
): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  const allowed = `a string of 1..${maxLength} characters${pattern ? ` matching ${pattern}` : ''}`;
  if (typeof value !== 'string') {
    throw new TypeError(`options.${name} must be ${allowed}, got ${describeValue(value)}`);
  }
  if (value.length === 0 || value.length > maxLength || (pattern && !pattern.test(value))) {
    throw new RangeError(`options.${name} must be ${allowed}, got ${describeValue(value)}`);
  }
  return value;
}

/** A list of non-empty strings, at most `maxItems` of at most `maxLength` characters. */
export function stringListOption(
  options: Record<string, unknown>,
  name: string,
  maxItems: number,
  maxLength: number,
): string[] {
  const value = options[name];
  if (value === undefined) return [];
  const allowed = `an array of at most ${maxItems} strings of 1..${maxLength} characters`;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new TypeError(`options.${name} must be ${allowed}, got ${describeValue(value)}`);
  }
  const items: string[] = value;
  if (
    items.length > maxItems ||
    items.some((item) => item.length === 0 || item.length > maxLength)
  ) {
    throw new RangeError(`options.${name} must be ${allowed}, got ${describeValue(value)}`);
  }
  return [...items];
}

function isFunction(value: unknown): value is (...args: never[]) => unknown {
  return typeof value === 'function';
}

/** A function option; the caller states its type (only "is a function" can be checked). */
export function functionOption<F>(
  options: Record<string, unknown>,
  name: string,
  guard: (value: unknown) => value is F,
): F | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (!isFunction(value) || !guard(value)) {
    throw new TypeError(`options.${name} must be a function, got ${describeValue(value)}`);
  }
  return value;
}

/** Type guard for a `(error) => void` callback option. */
export function isCallbackErrorHandler(value: unknown): value is CallbackErrorHandler {
  return typeof value === 'function';
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

/** A `Clock` option (an object with `now`, `setTimeout` and `clearTimeout`). */
export function clockOption(options: Record<string, unknown>, fallback: Clock): Clock {
  const value = options.clock;
  if (value === undefined) return fallback;
  if (!isClock(value)) {
    throw new TypeError(
      `options.clock must be a Clock (now, setTimeout, clearTimeout), got ${describeValue(value)}`,
    );
  }
  return value;
}
