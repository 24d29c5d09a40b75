import { type Hello, PROTOCOL_VERSION } from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import { admit, checkHello, helloInfo, tokenMatches } from './handshake.js';

const token = new Uint8Array(32).fill(7);
const hello = (overrides: Partial<Hello> = {}): Hello => ({
  protocolVersion: PROTOCOL_VERSION,
  collectorId: 'procmond-1',
  kind: 'procmond',
  pid: 42,
  capabilities: ['fast'],
  taskKinds: ['enumerate'],
  authToken: token,
  ...overrides,
});
const rules = { token, maxCollectorIdLength: 16 };

describe('checkHello', () => {
  it('checks the token first, then the version, then the id and lists', () => {
    expect(checkHello(hello(), rules)).toBeUndefined();
    const wrong = new Uint8Array(32);
    expect(checkHello(hello({ authToken: wrong, protocolVersion: 99 }), rules)?.rejectCode).toBe(
      'ERR_AUTH_FAILED',
    );
    expect(checkHello(hello({ protocolVersion: 99, collectorId: '' }), rules)?.rejectCode).toBe(
      'ERR_PROTOCOL_VERSION',
    );
    expect(checkHello(hello({ collectorId: 'x'.repeat(17) }), rules)?.rejectCode).toBe(
      'ERR_INVALID_HELLO',
    );
    expect(checkHello(hello({ taskKinds: [''] }), rules)?.rejectCode).toBe('ERR_INVALID_HELLO');
    expect(
      checkHello(hello({ authToken: new Uint8Array() }), { ...rules, token: undefined }),
    ).toBeUndefined();
  });

  it('compares tokens only at equal length', () => {
    expect(tokenMatches(token, token.subarray(0, 31))).toBe(false);
    expect(tokenMatches(undefined, token)).toBe(false);
    expect(tokenMatches(token, new Uint8Array(32).fill(7))).toBe(true);
  });
});

describe('admit (the authorize hook)', () => {
  const info = helloInfo(hello(), undefined);
  const failures: unknown[] = [];
  const failed = (cause: unknown): void => {
    failures.push(cause);
  };

  it('gives the hook everything but the token', () => {
    expect(info).toEqual({
      collectorId: 'procmond-1',
      kind: 'procmond',
      pid: 42,
      taskKinds: ['enumerate'],
      capabilities: ['fast'],
      protocolVersion: PROTOCOL_VERSION,
      peer: undefined,
    });
    expect(JSON.stringify(info)).not.toContain('authToken');
    expect(Object.isFrozen(info)).toBe(true);
  });

  it('accepts, refuses with the hook code, and fails closed on a throw or a malformed answer', () => {
    expect(admit(undefined, info, failed)).toBeUndefined();
    expect(admit(() => ({ accept: true }), info, failed)).toBeUndefined();
    const refused = admit(
      () => ({ accept: false, code: 'ERR_NOT_OURS', message: 'pid 42 is not ours' }),
      info,
      failed,
    );
    expect(refused).toMatchObject({
      rejectCode: 'ERR_NOT_OURS',
      rejectMessage: 'pid 42 is not ours',
      error: { code: 'ERR_ADMISSION_REFUSED' },
    });
    expect(failures).toEqual([]);
    const boom = new Error('boom');
    expect(
      admit(
        () => {
          throw boom;
        },
        info,
        failed,
      )?.rejectCode,
    ).toBe('ERR_ADMISSION_FAILED');
    expect(failures).toEqual([boom]);
    const junk = (() => ({ accept: false, code: 'lower case', message: 1 })) as never;
    expect(admit(junk, info, failed)?.rejectCode).toBe('ERR_ADMISSION_FAILED');
    expect(failures).toHaveLength(2);
  });
});
