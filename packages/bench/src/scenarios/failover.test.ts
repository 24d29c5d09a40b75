import { describe, expect, it } from 'vitest';
import { canStopProcesses } from './failover.js';

describe('canStopProcesses', () => {
  it('POSIX can SIGSTOP a collector; Windows cannot (regression: kill("SIGSTOP") threw there)', () => {
    expect(canStopProcesses('linux')).toBe(true);
    expect(canStopProcesses('darwin')).toBe(true);
    expect(canStopProcesses('freebsd')).toBe(true);
    expect(canStopProcesses('win32')).toBe(false);
  });
});
