import { describe, expect, it } from 'vitest';
import { terminateSignals } from './platform.js';

describe('terminateSignals', () => {
  it('linux: SIGTERM then SIGKILL', () => {
    expect(terminateSignals('linux')).toEqual({ graceful: 'SIGTERM', force: 'SIGKILL' });
  });

  it('darwin: SIGTERM then SIGKILL', () => {
    expect(terminateSignals('darwin')).toEqual({ graceful: 'SIGTERM', force: 'SIGKILL' });
  });

  it('freebsd: SIGTERM then SIGKILL', () => {
    expect(terminateSignals('freebsd')).toEqual({ graceful: 'SIGTERM', force: 'SIGKILL' });
  });

  it('win32: no graceful signal, kill() terminates the process', () => {
    expect(terminateSignals('win32')).toEqual({ graceful: null, force: 'SIGKILL' });
  });
});
