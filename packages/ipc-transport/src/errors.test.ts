import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  isTransportError,
  RejectedError,
  reportCallbackError,
  TRANSPORT_ERROR_CODES,
  TransportError,
} from './errors.js';

describe('TransportError', () => {
  it('has unique codes, every generic one carrying the package noun', () => {
    expect(new Set(TRANSPORT_ERROR_CODES).size).toBe(TRANSPORT_ERROR_CODES.length);
    for (const generic of [
      'ERR_CLOSED',
      'ERR_UNKNOWN_COLLECTOR',
      'ERR_NOT_CONNECTED',
      'ERR_PROTOCOL',
      'ERR_REJECTED',
      'ERR_CALLBACK_FAILED',
      'ERR_PROTO_DECODE',
    ]) {
      expect(TRANSPORT_ERROR_CODES).not.toContain(generic);
    }
  });

  it('is recognised across two copies of the package by its Symbol.for brand', () => {
    const mine = new TransportError('ERR_TRANSPORT_CLOSED', 'closed');
    expect(isTransportError(mine)).toBe(true);
    // What another copy's instance looks like: same registered symbol, a different class.
    const foreign = Object.assign(new Error('x'), { code: 'ERR_BACKPRESSURE' });
    Object.defineProperty(foreign, Symbol.for('@daemoneye/ipc-transport.error'), { value: true });
    expect(isTransportError(foreign, 'ERR_BACKPRESSURE')).toBe(true);
    expect(foreign instanceof TransportError).toBe(false);
    // Look-alikes without the brand, or with an unknown code, are not ours.
    expect(isTransportError(Object.assign(new Error('x'), { code: 'ERR_BACKPRESSURE' }))).toBe(
      false,
    );
    const odd = Object.assign(new Error('x'), { code: 'ERR_NOPE' });
    Object.defineProperty(odd, Symbol.for('@daemoneye/ipc-transport.error'), { value: true });
    expect(isTransportError(odd)).toBe(false);
  });

  it('narrows to the code passed', () => {
    const error: unknown = new RejectedError('ERR_AUTH_FAILED', 'no');
    expect(isTransportError(error, 'ERR_TRANSPORT_CLOSED')).toBe(false);
    if (isTransportError(error, 'ERR_TRANSPORT_REJECTED')) {
      expectTypeOf(error.code).toEqualTypeOf<'ERR_TRANSPORT_REJECTED'>();
      expect(error.code).toBe('ERR_TRANSPORT_REJECTED');
    } else {
      expect.unreachable();
    }
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ rejectCode: 'ERR_AUTH_FAILED', name: 'RejectedError' });
  });
});

describe('the callback policy', () => {
  it('hands the throw to onCallbackError with code ERR_TRANSPORT_CALLBACK_FAILED and the cause', () => {
    const seen: TransportError[] = [];
    const boom = new Error('boom');
    reportCallbackError((e) => seen.push(e), 'a listener', boom);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ code: 'ERR_TRANSPORT_CALLBACK_FAILED', cause: boom });
    expect(seen[0]?.message).toBe('a listener threw: boom');
  });

  it('re-throws on a microtask without a handler (an uncaught exception)', async () => {
    const thrown: unknown[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      try {
        task();
      } catch (error) {
        thrown.push(error);
      }
    });
    reportCallbackError(undefined, 'onTask', 'text');
    spy.mockRestore();
    expect(thrown).toHaveLength(1);
    expect(thrown[0]).toMatchObject({ code: 'ERR_TRANSPORT_CALLBACK_FAILED', cause: 'text' });
  });
});
