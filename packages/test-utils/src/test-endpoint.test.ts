import { describe, expect, it } from 'vitest';
import { testEndpoint } from './test-endpoint.js';

describe('testEndpoint', () => {
  it('POSIX: a socket file in the test directory', () => {
    expect(testEndpoint('/tmp/de-ipc-abc', 'linux')).toBe('/tmp/de-ipc-abc/agent.sock');
  });
  it('win32: one pipe per test directory, the same on every call', () => {
    const dir = 'C:\\Temp\\de-ipc-abc';
    expect(testEndpoint(dir, 'win32')).toBe('\\\\.\\pipe\\de-test-de-ipc-abc');
    expect(testEndpoint(dir, 'win32')).toBe(testEndpoint(dir, 'win32'));
    expect(testEndpoint('C:\\Temp\\de-ipc-xyz', 'win32')).not.toBe(testEndpoint(dir, 'win32'));
  });
});
