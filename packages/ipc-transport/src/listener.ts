import { randomBytes } from 'node:crypto';
import { chmod, lstat, rename, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Clock } from './clock.js';
import { type Endpoint, maxSocketPathBytes, prepareEndpointDir } from './endpoint.js';
import { TransportError } from './errors.js';
import {
  EndpointLock,
  type FileIdentity,
  identityOf,
  removeIfOwn,
  sameFile,
  stillOwn,
  TOKEN_BYTES,
  writeTokenFile,
} from './token-file.js';

/** A socket or token file that was deleted or replaced while the broker listened. */
export interface EndpointLoss {
  readonly what: 'socket' | 'token';
  /** True when the broker put its own file back; false when something else sits there now. */
  readonly recreated: boolean;
  /** Why it could not be re-created (`ERR_ENDPOINT_LOST`), when `recreated` is false. */
  readonly error?: TransportError<'ERR_ENDPOINT_LOST'>;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function listenOn(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ pauseOnConnect: false }, onConnection);
  return new Promise<Server>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new TransportError('ERR_ENDPOINT_IN_USE', `endpoint ${path} is in use`, {
              cause: error,
            })
          : error,
      );
    };
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

/**
 * Whether something accepts connections at `path` within `timeoutMs` on `clock` (a timeout counts
 * as live: refusing is the safe side).
 */
export function socketAnswers(path: string, clock: Clock, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (live: boolean): void => {
      clock.clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    const timer = clock.setTimeout(() => done(true), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * The files side of a broker: the lock (one broker per endpoint), the listening socket (0600) and
 * the token file (0600). Removes on stop only what is still its own, by device and inode.
 */
export class EndpointListener {
  token: Uint8Array | undefined;
  #lock: EndpointLock | undefined;
  #server: Server | undefined;
  readonly #retired: Server[] = [];
  #socketId: FileIdentity | undefined;
  #tokenId: FileIdentity | undefined;
  #lost = { socket: false, token: false };
  #stopped = false;
  #checking: Promise<EndpointLoss[]> | undefined;

  constructor(
    readonly endpoint: Endpoint,
    private readonly auth: boolean,
    private readonly clock: Clock,
    private readonly onConnection: (socket: Socket) => void,
    private readonly onServerError: (error: Error) => void,
  ) {}

  /** Takes the lock, replaces a stale socket, listens, writes the token. Undoes it all on failure. */
  async start(): Promise<void> {
    const { endpoint } = this;
    const unix = endpoint.platform !== 'win32';
    await prepareEndpointDir(endpoint);
    this.#lock = await EndpointLock.acquire(endpoint, () =>
      unix ? socketAnswers(endpoint.path, this.clock) : Promise.resolve(false),
    );
    try {
      if (unix) await this.#clearStaleSocket();
      await this.#bind();
      if (this.auth) {
        this.token = randomBytes(TOKEN_BYTES);
        try {
          // We hold the lock: a token file here was left by a broker that is gone.
          await unlink(endpoint.tokenPath).catch(() => undefined);
          this.#tokenId = await writeTokenFile(endpoint.tokenPath, this.token);
        } catch (error) {
          throw new TransportError(
            'ERR_TOKEN_FILE',
            `cannot write the token file: ${message(error)}`,
            {
              cause: error,
            },
          );
        }
      }
      if (!(await this.#lock.verify())) {
        throw new TransportError(
          'ERR_ENDPOINT_IN_USE',
          `the lock of ${endpoint.path} was taken over`,
        );
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async #clearStaleSocket(): Promise<void> {
    const { path } = this.endpoint;
    // A broker from before the lock, or one that lost its lock file, may still answer.
    if (await socketAnswers(path, this.clock)) {
      throw new TransportError('ERR_ENDPOINT_IN_USE', `an agent is already listening on ${path}`);
    }
    const existing = await lstat(path).catch(() => undefined);
    if (existing && !existing.isSocket()) {
      throw new TransportError(
        'ERR_ENDPOINT_INSECURE',
        `${path} exists and is not a socket; refusing to replace it`,
      );
    }
    if (existing) await unlink(path).catch(() => undefined);
  }

  /**
   * Unix: binds a private name in the endpoint directory, restricts it to 0600, then renames it
   * into place. Node (libuv) unlinks the path a server was bound to when it closes; bound to the
   * private name, closing can never delete a socket file that another broker owns by then.
   */
  async #bind(): Promise<void> {
    const { path, platform } = this.endpoint;
    const bound = platform === 'win32' ? path : this.#privateName();
    const server = await listenOn(bound, this.onConnection);
    if (this.#stopped) {
      // stop() ran while a re-bind was in flight: this server must not outlive it.
      await closeServer(server);
      throw new TransportError('ERR_TRANSPORT_CLOSED', 'the broker stopped');
    }
    server.on('error', (error) => this.onServerError(error));
    if (this.#server) this.#retired.push(this.#server);
    this.#server = server;
    if (platform === 'win32') return;
    try {
      await chmod(bound, 0o600);
      if (bound !== path) await rename(bound, path);
    } catch (error) {
      throw new TransportError('ERR_TOKEN_FILE', `cannot secure ${path}: ${message(error)}`, {
        cause: error,
      });
    }
    this.#socketId = await identityOf(path);
  }

  /** A fresh name beside the socket, no longer than the platform allows (else the path itself). */
  #privateName(): string {
    const { path, dir, platform } = this.endpoint;
    const name = join(dir, `.${randomBytes(4).toString('hex')}.sock`);
    return Buffer.byteLength(name) <= maxSocketPathBytes(platform) ? name : path;
  }

  /**
   * Checks that the socket and token files are still ours; puts back what was deleted. Each loss
   * is reported once (until it is repaired).
   */
  check(): Promise<EndpointLoss[]> {
    if (this.#stopped) return Promise.resolve([]);
    this.#checking = this.#check().catch(() => []);
    return this.#checking;
  }

  async #check(): Promise<EndpointLoss[]> {
    const losses: EndpointLoss[] = [];
    const { path, tokenPath, platform } = this.endpoint;
    if (platform !== 'win32' && this.#server && !this.#lost.socket) {
      const now = await identityOf(path);
      if (!sameFile(now, this.#socketId)) {
        losses.push(await this.#repair('socket', now, () => this.#bind()));
      }
    }
    if (this.token && !this.#lost.token) {
      const token = this.token;
      const now = await identityOf(tokenPath);
      if (!(await stillOwn(tokenPath, this.#tokenId))) {
        losses.push(
          await this.#repair('token', now, async () => {
            this.#tokenId = await writeTokenFile(tokenPath, token);
          }),
        );
      }
    }
    return losses;
  }

  async #repair(
    what: 'socket' | 'token',
    now: FileIdentity | undefined,
    recreate: () => Promise<void>,
  ): Promise<EndpointLoss> {
    const path = what === 'socket' ? this.endpoint.path : this.endpoint.tokenPath;
    if (now === undefined) {
      try {
        await recreate();
        return { what, recreated: true };
      } catch (error) {
        this.#lost[what] = true;
        return {
          what,
          recreated: false,
          error: new TransportError(
            'ERR_ENDPOINT_LOST',
            `${path} was deleted and cannot be re-created: ${message(error)}`,
            { cause: error },
          ),
        };
      }
    }
    // Something else sits at the path now: it is not ours to delete.
    this.#lost[what] = true;
    return {
      what,
      recreated: false,
      error: new TransportError(
        'ERR_ENDPOINT_LOST',
        `${path} was replaced by another file; new collectors cannot reach this broker`,
      ),
    };
  }

  /** Stops listening, removes the socket and token if still ours, releases the lock. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#checking;
    const servers = [...this.#retired.splice(0), ...(this.#server ? [this.#server] : [])];
    this.#server = undefined;
    await Promise.all(servers.map(closeServer));
    if (this.endpoint.platform !== 'win32') await removeIfOwn(this.endpoint.path, this.#socketId);
    await removeIfOwn(this.endpoint.tokenPath, this.#tokenId);
    this.#socketId = undefined;
    this.#tokenId = undefined;
    await this.#lock?.release();
    this.#lock = undefined;
  }
}

/**
 * Checks a listener's socket and token file every `everyMs` (0: never) on the clock while
 * `active()`, handing each loss found to `onLoss`; one check at a time.
 */
export class EndpointWatch {
  #timer: unknown;

  constructor(
    private readonly listener: EndpointListener,
    private readonly clock: Clock,
    private readonly everyMs: number,
    private readonly active: () => boolean,
    private readonly onLoss: (loss: EndpointLoss) => void,
  ) {}

  /** Schedules the next check. */
  start(): void {
    if (this.everyMs === 0) return;
    this.#timer = this.clock.setTimeout(() => {
      void this.listener.check().then((losses) => {
        if (!this.active()) return;
        for (const loss of losses) this.onLoss(loss);
        this.start();
      });
    }, this.everyMs);
  }

  /** Cancels the next check. */
  stop(): void {
    this.clock.clearTimeout(this.#timer);
  }
}
