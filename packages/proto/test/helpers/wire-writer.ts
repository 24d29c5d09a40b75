/**
 * A test-only protobuf writer: emits fields one at a time in any order, so property tests can
 * build bytes the generated encoder never produces (unknown fields, repeats, any field order,
 * overlong varints, groups).
 */

/** One encoded field: tag and value, ready to concatenate. */
export type Field = Uint8Array;

/** A varint of `value` (a bigint below 2^64), padded with `extra` redundant bytes (overlong). */
export function varint(value: bigint, extra = 0): Uint8Array {
  const out: number[] = [];
  let rest = BigInt.asUintN(64, value);
  do {
    out.push(Number(rest & 0x7fn));
    rest >>= 7n;
  } while (rest > 0n);
  // Overlong form: continuation bits on redundant zero groups, never past 10 bytes.
  const padding = Math.min(extra, 10 - out.length);
  for (let i = 0; i < padding; i++) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i] = (out[i] as number) | 0x80;
  return Uint8Array.from(out);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function tag(field: number, wireType: number): Uint8Array {
  return varint(BigInt(field) * 8n + BigInt(wireType));
}

export function varintField(field: number, value: bigint, extra = 0): Field {
  return concat([tag(field, 0), varint(value, extra)]);
}

export function bytesField(field: number, value: Uint8Array, extraLength = 0): Field {
  return concat([tag(field, 2), varint(BigInt(value.length), extraLength), value]);
}

export function fixed64Field(field: number, value: Uint8Array): Field {
  return concat([tag(field, 1), value.subarray(0, 8)]);
}

export function fixed32Field(field: number, value: Uint8Array): Field {
  return concat([tag(field, 5), value.subarray(0, 4)]);
}

/** A group of field number `field` wrapping `inner` (already encoded fields). */
export function groupField(field: number, inner: readonly Field[]): Field {
  return concat([tag(field, 3), ...inner, tag(field, 4)]);
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
