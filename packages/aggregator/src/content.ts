import { hash } from 'node:crypto';

/** Top-level properties the default content key leaves out: the collection time differs per copy. */
export const CONTENT_KEY_IGNORED: readonly string[] = ['collectedAtUnixMs'];

const MAX_DEPTH = 32;

/** A canonical, unambiguous form of `value` (strings quoted, bigints suffixed). */
function canonical(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'object':
      break;
    default:
      // Functions and symbols carry no content a collector could send.
      return typeof value;
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) throw new RangeError(`result nested deeper than ${MAX_DEPTH} levels`);
  if (ArrayBuffer.isView(value)) {
    return `<${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}>`;
  }
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (const element of value) out += `${canonical(element, depth + 1)},`;
    return `${out}]`;
  }
  out = '{';
  for (const name of Object.keys(value).sort()) {
    if (depth === 0 && CONTENT_KEY_IGNORED.includes(name)) continue;
    out += `${JSON.stringify(name)}:${canonical(Reflect.get(value, name), depth + 1)},`;
  }
  return `${out}}`;
}

/**
 * The default `contentKey`: the SHA-256 (hex) of a canonical form of the result (own enumerable
 * properties sorted by name, recursively; byte arrays as hex), leaving out the top-level
 * `collectedAtUnixMs`. Results whose content is not in own enumerable properties (class instances
 * with getters, lazy views) need their own `contentKey`. Throws for results nested deeper than 32
 * levels, which then count as disagreeing with every other copy.
 */
export function defaultContentKey(result: unknown): string {
  return hash('sha256', canonical(result, 0), 'hex');
}

/** The default `weigh`: a finite non-negative numeric `byteLength` property, else 0. */
export function defaultWeigh(result: unknown): number {
  if (typeof result !== 'object' || result === null || !('byteLength' in result)) return 0;
  const bytes = result.byteLength;
  return typeof bytes === 'number' && Number.isFinite(bytes) && bytes >= 0 ? bytes : 0;
}

/** The default `dedupKey`: a string `fingerprint` property, else undefined (invalid). */
export function defaultDedupKey(result: unknown): unknown {
  return typeof result === 'object' && result !== null && 'fingerprint' in result
    ? result.fingerprint
    : undefined;
}
