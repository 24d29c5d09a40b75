import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkPathLength,
  defaultEndpoint,
  type EndpointEnvironment,
  maxSocketPathBytes,
  prepareEndpointDir,
  resolveEndpoint,
} from './endpoint.js';

const base: EndpointEnvironment = {
  platform: 'linux',
  env: {},
  uid: 1000,
  username: 'alice',
  tmpdir: '/tmp',
};

describe('defaultEndpoint', () => {
  it('linux with XDG_RUNTIME_DIR', () => {
    const e = defaultEndpoint({ ...base, env: { XDG_RUNTIME_DIR: '/run/user/1000' } });
    expect(e.path).toBe('/run/user/1000/daemoneye/agent.sock');
    expect(e.tokenPath).toBe('/run/user/1000/daemoneye/agent.token');
    expect(e.dir).toBe('/run/user/1000/daemoneye');
  });
  it('linux without XDG_RUNTIME_DIR', () => {
    expect(defaultEndpoint(base).path).toBe('/tmp/daemoneye-1000/agent.sock');
  });
  it('darwin', () => {
    const e = defaultEndpoint({ ...base, platform: 'darwin', tmpdir: '/var/folders/xy/T' });
    expect(e.path).toBe('/var/folders/xy/T/daemoneye-1000/agent.sock');
  });
  it('freebsd', () => {
    expect(defaultEndpoint({ ...base, platform: 'freebsd', uid: 1001 }).path).toBe(
      '/tmp/daemoneye-1001/agent.sock',
    );
  });
  it('win32', () => {
    const e = defaultEndpoint({
      ...base,
      platform: 'win32',
      username: 'Bob Smith',
      tmpdir: 'C:\\Temp',
    });
    expect(e.path).toBe('\\\\.\\pipe\\daemoneye-Bob_Smith-agent');
    expect(e.tokenPath).toBe('C:\\Temp\\daemoneye-Bob_Smith\\daemoneye-Bob_Smith-agent.token');
    expect(e.dir).toBe('C:\\Temp\\daemoneye-Bob_Smith');
  });
  // Regression: on Windows the agent hands collectors its pipe name, and resolveEndpoint(pipe) put
  // the token at <dir>\daemoneye-<user>-agent.token while the agent wrote <dir>\agent.token: every
  // collector failed ERR_TOKEN_FILE and the agent ran with none.
  it.each([
    ['linux with XDG_RUNTIME_DIR', { ...base, env: { XDG_RUNTIME_DIR: '/run/user/1000' } }],
    ['linux without XDG_RUNTIME_DIR', base],
    ['darwin', { ...base, platform: 'darwin', tmpdir: '/var/folders/xy/T' }],
    ['freebsd', { ...base, platform: 'freebsd', uid: 1001 }],
    ['win32', { ...base, platform: 'win32', username: 'Bob Smith', tmpdir: 'C:\\Temp' }],
  ] satisfies [string, EndpointEnvironment][])(
    '%s: resolveEndpoint(defaultEndpoint().path) is defaultEndpoint() (collectors find the token)',
    (_name, environment) => {
      const endpoint = defaultEndpoint(environment);
      expect(resolveEndpoint(endpoint.path, environment)).toEqual(endpoint);
    },
  );
  it('POSIX endpoints use / on every host, Windows ones \\ (pure, whatever the host platform)', () => {
    const linux = resolveEndpoint('/x/y/agent.sock', base);
    expect(linux).toEqual({
      path: '/x/y/agent.sock',
      tokenPath: '/x/y/agent.token',
      dir: '/x/y',
      platform: 'linux',
    });
    expect(defaultEndpoint({ ...base, platform: 'darwin', tmpdir: '/T' }).tokenPath).toBe(
      '/T/daemoneye-1000/agent.token',
    );
    const windows = resolveEndpoint('\\\\.\\pipe\\p', {
      ...base,
      platform: 'win32',
      tmpdir: 'C:/T',
    });
    expect(windows.tokenPath).toBe('C:\\T\\daemoneye-alice\\p.token');
  });
  it('explicit paths put the token next to the socket', () => {
    expect(resolveEndpoint('/x/y/agent.sock', base).tokenPath).toBe('/x/y/agent.token');
    expect(resolveEndpoint('/x/y/other', base).tokenPath).toBe('/x/y/other.token');
    expect(resolveEndpoint('mypipe', { ...base, platform: 'win32', tmpdir: 'C:\\T' }).path).toBe(
      '\\\\.\\pipe\\mypipe',
    );
  });
});

describe('path length', () => {
  it('knows each platform limit', () => {
    expect(maxSocketPathBytes('linux')).toBe(107);
    expect(maxSocketPathBytes('darwin')).toBe(103);
    expect(maxSocketPathBytes('freebsd')).toBe(103);
    expect(maxSocketPathBytes('win32')).toBe(256);
  });
  it('refuses a path that is too long', () => {
    const e = resolveEndpoint(`/tmp/${'x'.repeat(120)}/agent.sock`, base);
    expect(() => checkPathLength(e)).toThrowError(
      expect.objectContaining({ code: 'ERR_ENDPOINT_PATH_TOO_LONG' }),
    );
    expect(() =>
      checkPathLength(
        resolveEndpoint(`/tmp/${'x'.repeat(100)}.sock`, { ...base, platform: 'darwin' }),
      ),
    ).toThrow();
  });
});

describe('prepareEndpointDir on win32 (no modes or owners to check there)', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  it('only creates the token directory, even one open to others', async () => {
    dir = await mkdtemp(join(tmpdir(), 'de-ep-'));
    await chmod(dir, 0o777);
    const endpoint = { path: '\\\\.\\pipe\\x', tokenPath: join(dir, 'sub', 'x.token') };
    await prepareEndpointDir({ ...endpoint, dir: join(dir, 'sub'), platform: 'win32' }, 4242);
    expect((await stat(join(dir, 'sub'))).isDirectory()).toBe(true);
  });
});

// POSIX modes and owners: Windows has neither (Node maps only the read-only attribute), so the
// checks below cannot hold there; the win32 branch is tested above.
describe.skipIf(process.platform === 'win32')('prepareEndpointDir', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  it('creates a missing directory with 0700 and accepts it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'de-ep-'));
    const e = resolveEndpoint(join(dir, 'sub', 'agent.sock'));
    await prepareEndpointDir(e);
  });
  it('refuses a directory open to group or others', async () => {
    dir = await mkdtemp(join(tmpdir(), 'de-ep-'));
    await chmod(dir, 0o777);
    await expect(
      prepareEndpointDir(resolveEndpoint(join(dir, 'agent.sock'))),
    ).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_INSECURE',
    });
  });
  it('refuses a directory owned by someone else', async () => {
    dir = await mkdtemp(join(tmpdir(), 'de-ep-'));
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    await expect(
      prepareEndpointDir(resolveEndpoint(join(dir, 'agent.sock')), uid + 1),
    ).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_INSECURE',
    });
  });
});
