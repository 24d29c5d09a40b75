import { lstat, mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { posix, win32 } from 'node:path';
import { TransportError } from './errors.js';

/** Where the agent listens and keeps its token file. */
export interface Endpoint {
  /** Socket file path (Unix) or pipe name (Windows). */
  readonly path: string;
  /** The 0600 file holding the 32-byte auth token. */
  readonly tokenPath: string;
  /** The private directory holding both (Unix); the token's directory on Windows. */
  readonly dir: string;
  readonly platform: NodeJS.Platform;
}

/** The facts `defaultEndpoint` depends on; all injectable so every platform branch is testable. */
export interface EndpointEnvironment {
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
  /** Numeric uid on POSIX; ignored on Windows. */
  uid: number;
  username: string;
  tmpdir: string;
}

/** The environment of the current process. */
export function currentEnvironment(): EndpointEnvironment {
  const info = userInfo();
  return {
    platform: process.platform,
    env: process.env,
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    username: info.username,
    tmpdir: tmpdir(),
  };
}

/** Longest socket path in bytes (without the NUL) that `bind()` accepts on a platform. */
export function maxSocketPathBytes(platform: NodeJS.Platform): number {
  if (platform === 'win32') return 256; // pipe names: \\.\pipe\ + up to 256 characters
  if (platform === 'linux' || platform === 'android') return 107; // sun_path[108]
  return 103; // macOS and the BSDs: sun_path[104]
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_') || 'user';
}

const PIPE_PREFIX = '\\\\.\\pipe\\';

/**
 * The Windows endpoint of a pipe name (pure, `win32` paths on any host): `\\.\pipe\<name>`, token
 * `<tmpdir>\daemoneye-<user>\<name>.token`. The one rule for the default and for explicit names, so
 * a collector handed the default pipe name finds the agent's token file.
 */
function windowsEndpoint(pipeOrName: string, environment: EndpointEnvironment): Endpoint {
  const path = pipeOrName.startsWith(PIPE_PREFIX) ? pipeOrName : `${PIPE_PREFIX}${pipeOrName}`;
  const name = safeName(path.slice(PIPE_PREFIX.length));
  const dir = win32.join(environment.tmpdir, `daemoneye-${safeName(environment.username)}`);
  return { path, tokenPath: win32.join(dir, `${name}.token`), dir, platform: environment.platform };
}

/**
 * The POSIX endpoint of a socket path (pure, `posix` paths on any host): the token file sits next
 * to the socket, `<dir>/<name without .sock>.token`.
 */
function posixEndpoint(path: string, environment: EndpointEnvironment): Endpoint {
  const dir = posix.dirname(path);
  const name = posix.basename(path).replace(/\.sock$/, '');
  return { path, tokenPath: posix.join(dir, `${name}.token`), dir, platform: environment.platform };
}

/**
 * The default endpoint per platform (pure). Unix: `$XDG_RUNTIME_DIR/daemoneye/agent.sock` when
 * XDG_RUNTIME_DIR is set, else `<tmpdir>/daemoneye-<uid>/agent.sock`, token `agent.token` beside it.
 * Windows: `\\.\pipe\daemoneye-<user>-agent`, token
 * `<tmpdir>\daemoneye-<user>\daemoneye-<user>-agent.token`. Always equal to
 * `resolveEndpoint(defaultEndpoint(environment).path, environment)`.
 */
export function defaultEndpoint(environment: EndpointEnvironment = currentEnvironment()): Endpoint {
  if (environment.platform === 'win32') {
    return windowsEndpoint(`daemoneye-${safeName(environment.username)}-agent`, environment);
  }
  const runtime = environment.env.XDG_RUNTIME_DIR;
  const dir =
    runtime !== undefined && runtime !== ''
      ? posix.join(runtime, 'daemoneye')
      : posix.join(environment.tmpdir, `daemoneye-${environment.uid}`);
  return posixEndpoint(posix.join(dir, 'agent.sock'), environment);
}

/**
 * The endpoint for an explicit path (e.g. `--endpoint`), or the default one. Unix: the token file
 * sits next to the socket, `<dir>/<name without .sock>.token`. Windows: `\\.\pipe\` is prefixed
 * unless present; token `<tmpdir>\daemoneye-<user>\<name>.token`.
 */
export function resolveEndpoint(
  path?: string,
  environment: EndpointEnvironment = currentEnvironment(),
): Endpoint {
  if (path === undefined || path === '') return defaultEndpoint(environment);
  return environment.platform === 'win32'
    ? windowsEndpoint(path, environment)
    : posixEndpoint(path, environment);
}

/** Throws `ERR_ENDPOINT_PATH_TOO_LONG` when the socket path exceeds the platform limit. */
export function checkPathLength(endpoint: Endpoint): void {
  const bytes = Buffer.byteLength(endpoint.path);
  const max = maxSocketPathBytes(endpoint.platform);
  if (bytes > max) {
    throw new TransportError(
      'ERR_ENDPOINT_PATH_TOO_LONG',
      `endpoint path is ${bytes} bytes, above the ${endpoint.platform} limit of ${max}: ${endpoint.path}`,
    );
  }
}

/**
 * Makes sure the endpoint directory exists, belongs to the current user and is closed to group
 * and others (0700). Creates it with 0700 when missing. Refuses anything else with
 * `ERR_ENDPOINT_INSECURE`. On Windows only the token directory is created.
 */
export async function prepareEndpointDir(
  endpoint: Endpoint,
  uid = currentEnvironment().uid,
): Promise<void> {
  checkPathLength(endpoint);
  try {
    await mkdir(endpoint.dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new TransportError(
      'ERR_ENDPOINT_INSECURE',
      `cannot use ${endpoint.dir} as the endpoint directory: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (endpoint.platform === 'win32') return;
  // lstat, not stat: a symlink planted by another user must not pass for our directory.
  const info = await lstat(endpoint.dir);
  if (info.isSymbolicLink() || !info.isDirectory()) {
    throw new TransportError(
      'ERR_ENDPOINT_INSECURE',
      `${endpoint.dir} is not a directory (a symlink or another file type is refused)`,
    );
  }
  if (uid >= 0 && info.uid !== uid) {
    throw new TransportError(
      'ERR_ENDPOINT_INSECURE',
      `endpoint directory ${endpoint.dir} is owned by uid ${info.uid}, not by the current user (${uid})`,
    );
  }
  if ((info.mode & 0o077) !== 0) {
    throw new TransportError(
      'ERR_ENDPOINT_INSECURE',
      `endpoint directory ${endpoint.dir} has mode ${(info.mode & 0o777).toString(8)}; it must not be open to group or others (use 0700)`,
    );
  }
}

/** Whether something accepts connections at `path` (a live agent) within `timeoutMs` (a timeout counts as live). */
export function isEndpointLive(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (live: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    // A socket that neither accepts nor refuses in time is treated as live: refusing is the safe side.
    const timer = setTimeout(() => done(true), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
