import { describe, expect, it } from 'vitest';
import {
  AGGREGATOR_ERROR_CODES,
  AggregatorError,
  type AggregatorErrorCode,
  isAggregatorError,
  ResultAggregator,
} from './index.js';

describe('AggregatorError and isAggregatorError', () => {
  it('lists every code once, each carrying the package noun or a meaning of its own', () => {
    expect([...AGGREGATOR_ERROR_CODES]).toEqual([
      'ERR_DUPLICATE_CORRELATION',
      'ERR_TOO_MANY_PENDING_SETS',
      'ERR_AGGREGATOR_CLOSED',
      'ERR_AGGREGATOR_INVALID_ARGUMENT',
      'ERR_AGGREGATOR_CALLBACK_FAILED',
    ]);
    expect(new Set(AGGREGATOR_ERROR_CODES).size).toBe(AGGREGATOR_ERROR_CODES.length);
  });

  it('narrows to the code, and keeps name, message and cause', () => {
    const cause = new Error('root');
    const error: unknown = new AggregatorError('ERR_AGGREGATOR_CLOSED', 'closed', { cause });
    expect(isAggregatorError(error)).toBe(true);
    expect(isAggregatorError(error, 'ERR_AGGREGATOR_CLOSED')).toBe(true);
    expect(isAggregatorError(error, 'ERR_TOO_MANY_PENDING_SETS')).toBe(false);
    if (isAggregatorError(error, 'ERR_AGGREGATOR_CLOSED')) {
      const code: 'ERR_AGGREGATOR_CLOSED' = error.code;
      expect(code).toBe('ERR_AGGREGATOR_CLOSED');
      expect(error.name).toBe('AggregatorError');
      expect(error.cause).toBe(cause);
    }
  });

  it('recognises an error of another copy of the package by its Symbol.for brand', () => {
    // What a second copy's AggregatorError looks like: another class, the same global brand.
    class OtherCopyError extends Error {
      readonly code: AggregatorErrorCode = 'ERR_DUPLICATE_CORRELATION';
    }
    const foreign = new OtherCopyError('dup');
    expect(isAggregatorError(foreign)).toBe(false);
    Object.defineProperty(foreign, Symbol.for('@daemoneye/aggregator.error'), { value: true });
    expect(isAggregatorError(foreign, 'ERR_DUPLICATE_CORRELATION')).toBe(true);
  });

  it('refuses look-alikes: no brand, unknown code, not an object', () => {
    const plain = Object.assign(new Error('x'), { code: 'ERR_AGGREGATOR_CLOSED' });
    expect(isAggregatorError(plain)).toBe(false);
    const branded = {
      code: 'ERR_SOMETHING_ELSE',
      [Symbol.for('@daemoneye/aggregator.error')]: true,
    };
    expect(isAggregatorError(branded)).toBe(false);
    for (const value of [null, undefined, 'ERR_AGGREGATOR_CLOSED', 42]) {
      expect(isAggregatorError(value)).toBe(false);
    }
  });

  it('what begin throws passes the guard with its code', () => {
    const aggregator = new ResultAggregator<{ fingerprint: string }>();
    aggregator.close();
    let thrown: unknown;
    try {
      aggregator.begin('c', ['p']);
    } catch (error) {
      thrown = error;
    }
    expect(isAggregatorError(thrown, 'ERR_AGGREGATOR_CLOSED')).toBe(true);
    // close() is idempotent.
    expect(() => aggregator.close()).not.toThrow();
  });
});
