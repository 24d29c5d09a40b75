/** Serialising one sink record to one bounded NDJSON line: truncation and error lines. */

/**
 * A record whose `results` items are JSON text already (e.g. built straight from protobuf bytes):
 * the line is `head`'s fields, then `"results": [items]`, then `tail`'s fields. The sink cuts it
 * like any record with a `results` array.
 */
export class PreparedLine {
  constructor(
    readonly head: Readonly<Record<string, unknown>>,
    readonly items: readonly string[],
    readonly tail: Readonly<Record<string, unknown>>,
  ) {}

  /** The fields with `results` as a placeholder string, in line order. */
  fields(results: unknown): Record<string, unknown> {
    return { ...this.head, results, ...this.tail };
  }

  /** The whole line (no newline). */
  text(): string {
    return splice(toJson(this.fields(PLACEHOLDER)), `[${this.items.join(',')}]`);
  }
}

/** Stands for the results array while the rest of a line is serialised. */
const PLACEHOLDER = '\u0000results\u0000';
const PLACEHOLDER_JSON = JSON.stringify(PLACEHOLDER);

/** Puts `results` where the placeholder's JSON is (the first `"results":` value). */
function splice(text: string, results: string): string {
  const at = text.indexOf(`"results":${PLACEHOLDER_JSON}`);
  if (at < 0) throw new Error('results placeholder lost'); // unreachable: head/tail keys are fixed
  const start = at + '"results":'.length;
  return text.slice(0, start) + results + text.slice(start + PLACEHOLDER_JSON.length);
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** The record's small top-level scalars (what identifies it), for cut-down and error lines. */
function header(record: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isRecord(record)) return out;
  for (const [key, value] of Object.entries(record)) {
    if (typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else if (typeof value === 'string' && value.length <= 1024) out[key] = value;
  }
  return out;
}

/**
 * Serialises one record to a line (newline included) of at most `maxLineBytes` bytes.
 * A record with a `results` array keeps its other fields and the leading results that fit; any
 * other record keeps its small scalar fields. Both carry `truncated: { originalBytes, ... }`.
 * Exported for tests.
 */
export function encodeLine(
  record: unknown,
  maxLineBytes: number,
):
  | { status: 'written' | 'truncated'; line: Buffer; originalBytes: number }
  | { status: 'unserialisable'; line: Buffer; reason: string } {
  let text: string | undefined;
  let failure: unknown;
  try {
    text = record instanceof PreparedLine ? record.text() : toJson(record);
  } catch (cause) {
    failure = cause;
  }
  if (text !== undefined) {
    const bytes = Buffer.byteLength(text) + 1;
    if (bytes <= maxLineBytes)
      return { status: 'written', line: Buffer.from(`${text}\n`), originalBytes: bytes };
  }
  try {
    return cut(record, maxLineBytes, text === undefined ? undefined : Buffer.byteLength(text) + 1);
  } catch (cause) {
    failure ??= cause;
  }
  const reason = `cannot serialise output line: ${message(failure)}`;
  const error = toJson({
    ...header(record instanceof PreparedLine ? record.fields(undefined) : record),
    type: 'error',
    error: 'unserialisable',
    reason,
  });
  const line = Buffer.from(`${error.slice(0, maxLineBytes - 1)}\n`);
  return { status: 'unserialisable', line, reason };
}

function cut(
  record: unknown,
  maxLineBytes: number,
  knownBytes: number | undefined,
): { status: 'truncated'; line: Buffer; originalBytes: number } {
  if (record instanceof PreparedLine) {
    return cutItems(record.fields(PLACEHOLDER), [...record.items], maxLineBytes, knownBytes);
  }
  const results = isRecord(record) && Array.isArray(record.results) ? record.results : undefined;
  if (!isRecord(record) || results === undefined) {
    if (knownBytes === undefined) throw new Error('record is not serialisable');
    const line = toJson({
      ...header(record),
      truncated: { originalBytes: knownBytes, cutBytes: -1 },
    });
    const bytes = Buffer.byteLength(line) + 1;
    const final = toJson({
      ...header(record),
      truncated: { originalBytes: knownBytes, cutBytes: knownBytes - bytes },
    });
    return { status: 'truncated', line: Buffer.from(`${final}\n`), originalBytes: knownBytes };
  }
  return cutItems(
    { ...record, results: PLACEHOLDER },
    results.map((item) => toJson(item) ?? 'null'),
    maxLineBytes,
    knownBytes,
  );
}

/** Keeps the leading items that fit; `rest` holds every other field, `results` a placeholder. */
function cutItems(
  rest: Record<string, unknown>,
  items: string[],
  maxLineBytes: number,
  knownBytes: number | undefined,
): { status: 'truncated'; line: Buffer; originalBytes: number } {
  const itemBytes = items.map((item) => Buffer.byteLength(item));
  const restText = toJson(rest);
  const placeholderBytes = PLACEHOLDER_JSON.length;
  // `[` `]` plus one comma per item after the first, and the placeholder removed.
  const originalBytes =
    knownBytes ??
    Buffer.byteLength(restText) -
      placeholderBytes +
      2 +
      itemBytes.reduce((a, b) => a + b, 0) +
      Math.max(0, items.length - 1) +
      1;
  const marker = (kept: number): string =>
    toJson({ originalBytes, keptResults: kept, cutResults: items.length - kept, cutBytes: 0 });
  // Room for the fixed part with a worst-case marker (digits of the counts can only shrink).
  const fixed =
    Buffer.byteLength(restText) -
    placeholderBytes +
    2 +
    Buffer.byteLength(`,"truncated":${marker(0)}`) +
    24 +
    1;
  let room = maxLineBytes - fixed;
  let kept = 0;
  while (kept < items.length) {
    const need = (itemBytes[kept] ?? 0) + (kept > 0 ? 1 : 0);
    if (need > room) break;
    room -= need;
    kept++;
  }
  const build = (cutBytes: number): string => {
    const marked = toJson({
      ...rest,
      truncated: { originalBytes, keptResults: kept, cutResults: items.length - kept, cutBytes },
    });
    return splice(marked, `[${items.slice(0, kept).join(',')}]`);
  };
  const draft = Buffer.byteLength(build(0)) + 1;
  // The count's own digits change the length: settle it (two rounds suffice).
  let text = build(originalBytes - draft);
  text = build(originalBytes - Buffer.byteLength(text) - 1);
  if (Buffer.byteLength(text) + 1 > maxLineBytes) {
    // The record's other fields alone are too big: fall back to its identifying scalars.
    text = toJson({
      ...header({ ...rest, results: undefined }),
      truncated: { originalBytes, keptResults: 0, cutResults: items.length },
    });
  }
  return { status: 'truncated', line: Buffer.from(`${text}\n`), originalBytes };
}
