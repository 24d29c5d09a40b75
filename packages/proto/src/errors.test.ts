import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  isProtoError,
  PROTO_ERROR_CODES,
  ProtoDecodeError,
  ProtoEncodeError,
  ProtoError,
} from './index.js';

describe('ProtoError', () => {
  it('carries a stable code, a name and the cause', () => {
    const cause = new RangeError('premature EOF');
    const error = new ProtoDecodeError('bad', { cause });
    expect(error).toBeInstanceOf(ProtoError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('ERR_PROTO_DECODE');
    expect(error.name).toBe('ProtoDecodeError');
    expect(error.cause).toBe(cause);
    expect(new ProtoEncodeError('x').code).toBe('ERR_PROTO_ENCODE');
    expect([...PROTO_ERROR_CODES]).toEqual(['ERR_PROTO_DECODE', 'ERR_PROTO_ENCODE']);
  });

  it('isProtoError matches by brand and code, and narrows', () => {
    const error: unknown = new ProtoDecodeError('bad');
    expect(isProtoError(error)).toBe(true);
    expect(isProtoError(error, 'ERR_PROTO_DECODE')).toBe(true);
    expect(isProtoError(error, 'ERR_PROTO_ENCODE')).toBe(false);
    if (isProtoError(error, 'ERR_PROTO_DECODE')) {
      expectTypeOf(error.code).toEqualTypeOf<'ERR_PROTO_DECODE'>();
    }
    for (const other of [new Error('x'), { code: 'ERR_PROTO_DECODE' }, null, 'ERR_PROTO_DECODE']) {
      expect(isProtoError(other)).toBe(false);
    }
  });

  it('recognises an error of another copy of the package (same Symbol.for brand)', () => {
    // What a second copy of this package would construct: its own class, the same global brand.
    class OtherCopyError extends Error {
      readonly code = 'ERR_PROTO_DECODE';
      constructor() {
        super('from another copy');
        Object.defineProperty(this, Symbol.for('@daemoneye/proto.error'), { value: true });
      }
    }
    const foreign = new OtherCopyError();
    expect(foreign).not.toBeInstanceOf(ProtoError);
    expect(isProtoError(foreign, 'ERR_PROTO_DECODE')).toBe(true);
  });
});
