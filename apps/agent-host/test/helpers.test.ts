import { describe, expect, it } from 'vitest';
import { killSignals } from './helpers.js';

describe('killSignals', () => {
  it('POSIX: SIGCONT first, so a stopped agent wakes up to die', () => {
    expect(killSignals('linux')).toEqual(['SIGCONT', 'SIGKILL']);
    expect(killSignals('darwin')).toEqual(['SIGCONT', 'SIGKILL']);
  });
  it('win32: SIGKILL only (regression: SIGCONT threw "Unknown signal" there)', () => {
    expect(killSignals('win32')).toEqual(['SIGKILL']);
  });
});
