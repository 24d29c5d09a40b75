import { posix, win32 } from 'node:path';

/**
 * The endpoint of a test's private directory: a socket file in it on POSIX; on Windows, where pipes
 * live in their own namespace, a pipe named after the directory. Derived from `dir` alone, so every
 * call in one test gives the same endpoint and two tests never share one.
 */
export function testEndpoint(dir: string, platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32'
    ? `\\\\.\\pipe\\de-test-${win32.basename(dir)}`
    : posix.join(dir, 'agent.sock');
}
