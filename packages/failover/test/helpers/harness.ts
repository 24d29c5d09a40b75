import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TempDir, tempDir } from '@daemoneye/test-utils';

export const FIXTURE = fileURLToPath(new URL('../fixtures/collector.mjs', import.meta.url));

type HarnessEvents = {
  hello: [event: { id: string; pid: number }];
  heartbeat: [id: string];
  done: [event: { id: string; taskId: string }];
  disconnect: [id: string];
};

/**
 * Plays the agent's IPC side for integration tests: a real Unix socket (named pipe on Windows)
 * in a fresh temp dir, a line protocol (`hello <id> <pid>`, `hb <id>`, `done <taskId>`, `task <id>`).
 */
export class Harness extends EventEmitter<HarnessEvents> {
  readonly dir: string;
  readonly socketPath: string;
  readonly #temp: TempDir;
  readonly #server: net.Server;
  readonly #connections = new Map<string, net.Socket>();
  readonly #sockets = new Set<net.Socket>();

  private constructor(temp: TempDir) {
    super();
    this.#temp = temp;
    const dir = temp.dir;
    this.dir = dir;
    this.socketPath =
      process.platform === 'win32'
        ? `\\\\.\\pipe\\failover-test-${process.pid}-${Math.random().toString(16).slice(2)}`
        : join(dir, 'c.sock');
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  static async create(): Promise<Harness> {
    const harness = new Harness(await tempDir('failover-'));
    harness.#server.listen(harness.socketPath);
    await once(harness.#server, 'listening');
    return harness;
  }

  /** Collector spec running the fixture. */
  spec(id: string, mode = 'normal') {
    return {
      id,
      command: process.execPath,
      args: [FIXTURE, this.socketPath, id, mode, '100'],
    };
  }

  /** Sends a task line to the collector's current connection; false if it has none. */
  send(id: string, taskId: string): boolean {
    const socket = this.#connections.get(id);
    if (socket === undefined || socket.destroyed) return false;
    socket.write(`task ${taskId}\n`);
    return true;
  }

  connected(id: string): boolean {
    return this.#connections.has(id);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#temp.cleanup();
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    let id: string | undefined;
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const [verb = '', a = '', b = ''] = buffer.slice(0, newline).split(' ');
        buffer = buffer.slice(newline + 1);
        if (verb === 'hello') {
          id = a;
          this.#connections.set(a, socket);
          this.emit('hello', { id: a, pid: Number(b) });
        } else if (verb === 'hb' && id !== undefined) {
          this.emit('heartbeat', id);
        } else if (verb === 'done' && id !== undefined) {
          this.emit('done', { id, taskId: a });
        }
        newline = buffer.indexOf('\n');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      // A late close of an old incarnation must not fail the new one.
      if (id !== undefined && this.#connections.get(id) === socket) {
        this.#connections.delete(id);
        this.emit('disconnect', id);
      }
    });
  }
}

/** Resolves with the first `event` payload that passes `match`; rejects after `timeoutMs`. */
export function waitFor<E extends Record<keyof E, [unknown]>, K extends keyof E & string>(
  emitter: EventEmitter<E>,
  event: K,
  match: (payload: E[K][0]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<E[K][0]> {
  // Node's typed overloads do not resolve for a generic event map: use the untyped prototype.
  const { on, off } = EventEmitter.prototype;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off.call(emitter, event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${event}`));
    }, timeoutMs);
    function listener(payload: E[K][0]): void {
      if (!match(payload)) return;
      clearTimeout(timer);
      off.call(emitter, event, listener);
      resolve(payload);
    }
    on.call(emitter, event, listener);
  });
}

/** True if a process with that pid exists (signal 0 probe); ESRCH means gone. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ESRCH') return false;
    throw error;
  }
}
