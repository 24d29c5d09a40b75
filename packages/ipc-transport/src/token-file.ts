import { randomBytes } from 'node:crypto';
import { link, lstat, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { Endpoint } from './endpoint.js';
import { TransportError } from './errors.js';

/** Length in bytes of the auth token. */
export const TOKEN_BYTES = 32;
/** A lock whose holder is alive but whose socket answers nobody is taken over after this long (pid reuse). */
export const STALE_LOCK_MS = 30_000;

/**
 * Which file a path names right now: device, inode and change time (an inode number is reused at
 * once after an unlink; the new file's change time differs, at the file system's granularity),
 * plus the content we wrote where we know it, so we remove only what is still ours.
 */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly ctimeNs: bigint;
  readonly content?: Uint8Array | undefined;
}

/** The identity of what sits at `path` (not following symlinks), or undefined when nothing does. */
export async function identityOf(
  path: string,
  content?: Uint8Array,
): Promise<FileIdentity | undefined> {
  try {
    const info = await lstat(path, { bigint: true });
    return { dev: info.dev, ino: info.ino, ctimeNs: info.ctimeNs, content };
  } catch {
    return undefined;
  }
}

/** Same device, inode and change time. */
export function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.ctimeNs === b.ctimeNs
  );
}

/** Whether `path` is still the file `identity` names (and holds its content, when known). */
export async function stillOwn(path: string, identity: FileIdentity | undefined): Promise<boolean> {
  if (identity === undefined || !sameFile(await identityOf(path), identity)) return false;
  if (identity.content === undefined) return true;
  const now = await readFile(path).catch(() => undefined);
  return now !== undefined && Buffer.from(identity.content).equals(now);
}

/** Unlinks `path` only when it is still the file `identity` names. Returns whether it did. */
export async function removeIfOwn(
  path: string,
  identity: FileIdentity | undefined,
): Promise<boolean> {
  if (!(await stillOwn(path, identity))) return false;
  try {
    await unlink(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes a fresh 0600 token file (exclusive create) and returns the identity of what was written. */
export async function writeTokenFile(path: string, token: Uint8Array): Promise<FileIdentity> {
  await writeFile(path, token, { mode: 0o600, flag: 'wx' });
  const identity = await identityOf(path, token);
  if (identity === undefined) throw new Error(`${path} vanished right after it was written`);
  return identity;
}

/** Reads and checks a token file (the collector side). Throws `ERR_TOKEN_FILE`. */
export async function readTokenFile(path: string): Promise<Uint8Array> {
  let token: Buffer;
  try {
    token = await readFile(path);
  } catch (error) {
    throw new TransportError('ERR_TOKEN_FILE', `cannot read token file ${path}`, { cause: error });
  }
  if (token.length !== TOKEN_BYTES) {
    throw new TransportError(
      'ERR_TOKEN_FILE',
      `token file ${path} holds ${token.length} bytes, expected ${TOKEN_BYTES}`,
    );
  }
  return token;
}

/** The lock file of an endpoint: `<dir>/<name>.lock`, beside the token file. */
export function lockPathOf(endpoint: Endpoint): string {
  return endpoint.tokenPath.endsWith('.token')
    ? `${endpoint.tokenPath.slice(0, -'.token'.length)}.lock`
    : `${endpoint.tokenPath}.lock`;
}

/** A lock file without a readable pid younger than this may still be being written. */
const PARTIAL_LOCK_MS = 5000;
/** `link` failures that mean "this file system has no hard links". */
const NO_LINKS: ReadonlySet<string> = new Set([
  'EPERM',
  'ENOTSUP',
  'EOPNOTSUPP',
  'EXDEV',
  'ENOSYS',
  'EINVAL',
]);

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

/** Nonces of the locks held by brokers of this process (a lock with our pid but not listed is stale). */
const heldHere = new Set<string>();

interface Holder {
  readonly pid: number;
  readonly nonce: string;
  /** The whole lock file as read. */
  readonly text: string;
  readonly identity: FileIdentity;
  readonly mtimeMs: number;
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const info = await lstat(path, { bigint: true });
    const text = await readFile(path, 'utf8');
    const [pidText = '', nonce = ''] = text.split('\n');
    return {
      pid: Number.parseInt(pidText, 10),
      nonce,
      text,
      identity: { dev: info.dev, ino: info.ino, ctimeNs: info.ctimeNs },
      mtimeMs: Number(info.mtimeMs),
    };
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists, it is just not ours to signal.
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}

/**
 * One broker per endpoint: a lock file created atomically (written aside, then `link`ed into
 * place, so it is never seen half-written) and held for the broker's life. A lock whose holder
 * is gone is broken by renaming it aside and checking by inode that what moved is the stale one.
 */
export class EndpointLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly identity: FileIdentity,
    private readonly nonce: string,
  ) {}

  /** Takes the endpoint's lock or rejects with `ERR_ENDPOINT_IN_USE`. */
  static async acquire(
    endpoint: Endpoint,
    socketLive: () => Promise<boolean>,
  ): Promise<EndpointLock> {
    const path = lockPathOf(endpoint);
    const nonce = randomBytes(12).toString('hex');
    const aside = `${path}.${nonce}.tmp`;
    const content = Buffer.from(`${process.pid}\n${nonce}\n`);
    for (let attempt = 0; attempt < 8; attempt++) {
      await writeFile(aside, content, { mode: 0o600, flag: 'w' });
      let linked = false;
      try {
        linked = await EndpointLock.place(aside, path, content);
      } finally {
        await unlink(aside).catch(() => undefined);
      }
      if (linked) {
        const identity = await identityOf(path, content);
        if (identity !== undefined) {
          heldHere.add(nonce);
          return new EndpointLock(path, identity, nonce);
        }
        continue;
      }
      const holder = await readHolder(path);
      if (holder === undefined) continue; // released meanwhile: try again
      if (await EndpointLock.holderLive(holder, socketLive)) {
        throw new TransportError(
          'ERR_ENDPOINT_IN_USE',
          `another broker (pid ${Number.isInteger(holder.pid) ? holder.pid : 'unknown'}) holds ${path}`,
        );
      }
      await EndpointLock.breakStale(path, holder, nonce);
    }
    throw new TransportError('ERR_ENDPOINT_IN_USE', `could not take ${path}: it keeps changing`);
  }

  /**
   * Puts the lock file in place atomically: `link` (never seen half-written); where the file
   * system has no hard links, an exclusive create (a lock briefly empty is taken for one being
   * written). Returns false when a lock already exists.
   */
  private static async place(aside: string, path: string, content: Uint8Array): Promise<boolean> {
    try {
      await link(aside, path);
      return true;
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EEXIST') return false;
      if (code === undefined || !NO_LINKS.has(code)) {
        throw new TransportError('ERR_TOKEN_FILE', `cannot create lock file ${path}`, {
          cause: error,
        });
      }
    }
    try {
      await writeFile(path, content, { mode: 0o600, flag: 'wx' });
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw new TransportError('ERR_TOKEN_FILE', `cannot create lock file ${path}`, {
        cause: error,
      });
    }
  }

  private static async holderLive(
    holder: Holder,
    socketLive: () => Promise<boolean>,
  ): Promise<boolean> {
    // Unreadable content: garbage, or a lock being written by an exclusive create right now.
    if (!Number.isInteger(holder.pid) || holder.pid <= 0) {
      return Date.now() - holder.mtimeMs < PARTIAL_LOCK_MS;
    }
    if (holder.pid === process.pid) return heldHere.has(holder.nonce);
    if (!processAlive(holder.pid)) return false;
    // The pid is alive. Unless its socket answers, an old lock may name a reused pid.
    if (Date.now() - holder.mtimeMs < STALE_LOCK_MS) return true;
    return socketLive();
  }

  private static async breakStale(path: string, holder: Holder, nonce: string): Promise<void> {
    const moved = `${path}.stale-${nonce}`;
    try {
      await rename(path, moved);
    } catch {
      return; // someone else moved it first
    }
    // rename() updates the change time: compare the inode and the content instead.
    const now = await identityOf(moved);
    const text = await readFile(moved, 'utf8').catch(() => '');
    const same =
      now !== undefined &&
      now.dev === holder.identity.dev &&
      now.ino === holder.identity.ino &&
      text === holder.text;
    if (!same) {
      // We moved a lock a competitor took a moment ago: put it back where it was still free.
      await link(moved, path).catch(() => undefined);
    }
    await unlink(moved).catch(() => undefined);
  }

  /** Whether the lock file is still this lock (nobody broke it). */
  async verify(): Promise<boolean> {
    return !this.released && (await stillOwn(this.path, this.identity));
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.nonce);
    await removeIfOwn(this.path, this.identity);
  }
}
