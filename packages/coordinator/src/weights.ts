import { type DetectionResult, VOLATILE_ATTRIBUTE_PREFIX } from '@daemoneye/proto';

function varintSize(n: number): number {
  let size = 1;
  let v = n;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

function bigVarintSize(n: bigint): number {
  let size = 1;
  let v = n < 0n ? n + (1n << 64n) : n;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

/** A length-delimited field of `bytes` payload bytes: tag (1 byte for fields 1..15) + length + payload. */
function delimited(bytes: number): number {
  return 1 + varintSize(bytes) + bytes;
}

function stringField(value: string): number {
  return value === '' ? 0 : delimited(Buffer.byteLength(value, 'utf8'));
}

/**
 * The protobuf-encoded size of a DetectionResult, in bytes, computed without encoding it (what
 * `DetectionResult.encode(r).finish().length` gives): the aggregator's `weigh`, so its byte budgets
 * count what a collector really sent.
 */
export function encodedSize(result: DetectionResult): number {
  let size =
    stringField(result.fingerprint) + stringField(result.kind) + stringField(result.subject);
  for (const [key, value] of Object.entries(result.attributes)) {
    size += delimited(stringField(key) + stringField(value));
  }
  if (result.collectedAtUnixMs !== 0n) size += 1 + bigVarintSize(result.collectedAtUnixMs);
  return size;
}

/**
 * The canonical content of a DetectionResult for conflict detection: kind, subject and the
 * attributes sorted by key, never the collection time (the fingerprint is the dedup key already)
 * nor a `volatile.*` attribute (a measurement honest collectors take at different instants): what
 * a `DetectionResultView`'s `contentKey()` compares.
 * Two copies with the same fingerprint and a different content key are a conflict.
 */
export function contentKey(result: DetectionResult): string {
  const keys = Object.keys(result.attributes)
    .filter((key) => !key.startsWith(VOLATILE_ATTRIBUTE_PREFIX))
    .sort();
  const parts: string[] = [result.kind, result.subject];
  for (const key of keys) parts.push(key, result.attributes[key] ?? '');
  // JSON quoting makes the join unambiguous whatever the strings hold.
  return JSON.stringify(parts);
}
