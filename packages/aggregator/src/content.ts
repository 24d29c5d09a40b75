import { createHash } from 'node:crypto';

/** Top-level properties the default content key leaves out: the collection time differs per copy. */
export const CONTENT_KEY_IGNORED: readonly string[] = ['collectedAtUnixMs'];

const MAX_DEPTH = 32;

function canonical(value: unknown, depth: number, out: string[]): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      out.push(Object.is(value, -0) ? '-0' : String(value));
      return;
    case 'bigint':
      out.push(`${value}n`);
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'undefined':
      out.push('undefined');
      return;
    case 'object':
      break;
    default:
      // Functions and symbols carry no content a collector could send.
      out.push(typeof value);
      return;
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (depth >= MAX_DEPTH) throw new RangeError(`result nested deeper than ${MAX_DEPTH} levels`);
  if (ArrayBuffer.isView(value)) {
    out.push(`<${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}>`);
    return;
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (const element of value) {
      canonical(element, depth + 1, out);
      out.push(',');
    }
    out.push(']');
    return;
  }
  const names = Object.keys(value).sort();
  out.push('{');
  for (const name of names) {
    if (depth === 0 && CONTENT_KEY_IGNORED.includes(name)) continue;
    out.push(JSON.stringify(name), ':');
    canonical(Reflect.get(value, name), depth + 1, out);
    out.push(',');
  }
  out.push('}');
}

/**
 * The default `contentKey`: the SHA-256 (hex) of a canonical form of the result (own enumerable
 * properties sorted by name, recursively; byte arrays as hex), leaving out the top-level
 * `collectedAtUnixMs`. Results whose content is not in own enumerable properties (class instances
 * with getters, lazy views) need their own `contentKey`. Throws for results nested deeper than 32
 * levels, which then count as disagreeing with every other copy.
 */
export function defaultContentKey(result: unknown): string {
  const out: string[] = [];
  canonical(result, 0, out);
  return createHash('sha256').update(out.join('')).digest('hex');
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
