import { describe, expect, it } from 'vitest';
import { FAILOVER_ERROR_CODES, FailoverError, isFailoverError } from './index.js';

describe('FailoverError', () => {
  it('has unique codes, each carrying the noun when it could clash with another package', () => {
    expect(new Set(FAILOVER_ERROR_CODES).size).toBe(FAILOVER_ERROR_CODES.length);
    for (const code of FAILOVER_ERROR_CODES) {
      expect(code === 'ERR_TOO_MANY_PENDING_TASKS' || code.startsWith('ERR_FAILOVER_')).toBe(true);
    }
  });

  it('isFailoverError narrows by code and works across copies of the package (Symbol.for brand)', () => {
    const error: unknown = new FailoverError('ERR_FAILOVER_CLOSED', 'closed', { cause: 'x' });
    expect(isFailoverError(error)).toBe(true);
    expect(isFailoverError(error, 'ERR_FAILOVER_CLOSED')).toBe(true);
    expect(isFailoverError(error, 'ERR_FAILOVER_ABORTED')).toBe(false);
    if (isFailoverError(error, 'ERR_FAILOVER_CLOSED')) {
      const code: 'ERR_FAILOVER_CLOSED' = error.code;
      expect(code).toBe('ERR_FAILOVER_CLOSED');
    }
    // What another loaded copy's error looks like: same global symbol, different class.
    const foreign = Object.assign(new Error('x'), { code: 'ERR_FAILOVER_CLOSED' });
    Object.defineProperty(foreign, Symbol.for('@daemoneye/failover.error'), { value: true });
    expect(isFailoverError(foreign, 'ERR_FAILOVER_CLOSED')).toBe(true);
    expect(isFailoverError(Object.assign(new Error('x'), { code: 'ERR_FAILOVER_CLOSED' }))).toBe(
      false,
    );
    expect(isFailoverError(null)).toBe(false);
    expect((error as Error).name).toBe('FailoverError');
  });
});
