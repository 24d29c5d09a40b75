import { describe, expect, it } from 'vitest';
import { fixedCollectorArgs, killSignals, testEndpoint } from './helpers.js';

describe('killSignals', () => {
  it('POSIX: SIGCONT first, so a stopped agent wakes up to die', () => {
    expect(killSignals('linux')).toEqual(['SIGCONT', 'SIGKILL']);
    expect(killSignals('darwin')).toEqual(['SIGCONT', 'SIGKILL']);
  });
  it('win32: SIGKILL only (regression: SIGCONT threw "Unknown signal" there)', () => {
    expect(killSignals('win32')).toEqual(['SIGKILL']);
  });
});

describe('testEndpoint', () => {
  it('POSIX: a socket in the test directory; win32: one pipe per directory', () => {
    expect(testEndpoint('/tmp/de-agent-x', 'linux')).toBe('/tmp/de-agent-x/agent.sock');
    expect(testEndpoint('C:\\T\\de-agent-x', 'win32')).toBe('\\\\.\\pipe\\de-test-de-agent-x');
  });
});

describe('fixedCollectorArgs', () => {
  it('a fixed-table procmond under Wine only', () => {
    expect(fixedCollectorArgs(false)).toEqual([]);
    expect(fixedCollectorArgs(true)[1]).toMatch(/^procmond=.*fixed-procmond\.mjs$/);
  });
});
