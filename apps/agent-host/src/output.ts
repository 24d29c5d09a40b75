import { constants as fsConstants, open as openFd } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import {
  core,
  FIFO_POLL_MS,
  type OpenOutputOptions,
  positiveInt,
  resolve,
  type Sink,
  type SinkOptions,
  timeout,
} from './sink-core.js';

export { encodeLine } from './line-encoding.js';
export {
  CLOSE_TIMEOUT_MS,
  FIFO_POLL_MS,
  MAX_LINE_BYTES,
  MAX_QUEUED_LINES,
  type OpenOutputOptions,
  type Sink,
  type SinkOptions,
  type SinkStats,
  type WriteOutcome,
} from './sink-core.js';

/**
 * Appends lines to a regular file (or a character device such as `/dev/null`) with plain
 * (non-positional) appends. A failed or short write (disk full, file gone read-only) truncates the
 * file back to the last complete line, so no half-written line is ever left, then reports once.
 */
export async function openFileSink(
  path: string,
  onError: (error: Error) => void,
  options?: SinkOptions | number,
): Promise<Sink> {
  const o = resolve(typeof options === 'number' ? { maxQueuedLines: options } : options);
  const handle: FileHandle = await open(path, 'a', 0o644);
  const info = await handle.stat();
  let committed = info.size;
  const truncatable = info.isFile();
  const queue: Buffer[] = [];
  let writing: Promise<void> | undefined;
  let error: Error | undefined;
  let failing: Promise<void> | undefined;

  const fail = async (cause: Error): Promise<void> => {
    if (error) return;
    error = cause;
    queue.length = 0;
    if (truncatable) await handle.truncate(committed).catch(() => undefined);
    onError(cause);
  };
  const shared = core(o, () => queue.length, path);

  const drain = async (): Promise<void> => {
    while (!error) {
      const line = queue.shift();
      if (!line) return;
      try {
        let offset = 0;
        while (offset < line.length) {
          // position null: write(2) at the (append) offset, never pwrite (no ESPIPE on a pipe).
          const { bytesWritten } = await handle.write(line, offset, line.length - offset, null);
          if (bytesWritten <= 0) throw new Error('short write');
          offset += bytesWritten;
        }
        committed += line.length;
      } catch (cause) {
        await fail(cause instanceof Error ? cause : new Error(String(cause)));
      }
    }
  };

  return {
    get error() {
      return error;
    },
    stats: shared.stats,
    write(record) {
      const { outcome, line } = shared.encode(record, error, (cause) => {
        failing = fail(cause);
      });
      if (!line) return outcome;
      queue.push(line);
      writing ??= drain().finally(() => {
        writing = undefined;
      });
      return outcome;
    },
    async close() {
      const limit = timeout(o.closeTimeoutMs);
      const flushed = (async () => {
        while (writing) await writing;
        await failing;
      })();
      const result = await Promise.race([flushed, limit.promise]);
      limit.cancel();
      if (result === 'timeout') {
        await fail(
          new Error(
            `output ${path} did not drain within ${o.closeTimeoutMs} ms; ${queue.length} lines lost`,
          ),
        );
      }
      await handle.close().catch(() => undefined);
    },
  };
}

/**
 * Writes lines to a stream (stdout, or a pipe/FIFO wrapped in a socket). The backlog is bounded
 * like a file's (lines not yet accepted by the OS), a stream error is reported once, and `close()`
 * waits at most `closeTimeoutMs` for the backlog, then reports what was lost.
 */
export function streamSink(
  stream: Writable,
  describe: string,
  onError: (error: Error) => void,
  options?: SinkOptions,
  end = false,
): Sink {
  const o = resolve(options);
  let error: Error | undefined;
  let pending = 0;
  const fail = (cause: Error): void => {
    if (error) return;
    error = cause;
    onError(cause);
  };
  stream.on('error', (cause: Error) => fail(cause));
  const shared = core(o, () => pending, describe);
  return {
    get error() {
      return error;
    },
    stats: shared.stats,
    write(record) {
      const { outcome, line } = shared.encode(record, error, fail);
      if (!line) return outcome;
      pending++;
      stream.write(line, () => {
        pending--;
      });
      return outcome;
    },
    async close() {
      const flushed = new Promise<void>((done) => {
        if (pending === 0 || error) {
          done();
          return;
        }
        stream.write('', () => done());
      });
      const limit = timeout(o.closeTimeoutMs);
      const result = await Promise.race([flushed, limit.promise]);
      limit.cancel();
      if (result === 'timeout') {
        fail(
          new Error(
            `output ${describe} did not drain within ${o.closeTimeoutMs} ms; ${pending} lines lost`,
          ),
        );
      }
      if (end) stream.destroy();
    },
  };
}

/** Writes lines to stdout (same backlog limit as a file, bounded close); a broken pipe is reported once. */
export function stdoutSink(onError: (error: Error) => void, options?: SinkOptions): Sink {
  return streamSink(process.stdout, 'stdout', onError, options);
}

const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((done, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      done();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Opens an output path: a FIFO is opened without blocking (retried every `fifoPollMs` while it has
 * no reader, after one `onWaiting` call; `signal` aborts the wait) and written as a stream; anything
 * else goes to {@link openFileSink}.
 */
export async function openOutput(
  path: string,
  onError: (error: Error) => void,
  options: OpenOutputOptions = {},
): Promise<Sink> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFIFO() || process.platform === 'win32') return openFileSink(path, onError, options);
  const poll = positiveInt('fifoPollMs', options.fifoPollMs, FIFO_POLL_MS);
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const fd = await new Promise<number>((done, reject) =>
        openFd(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK, (cause, opened) =>
          cause ? reject(cause) : done(opened),
        ),
      );
      // A pipe handle (like stdout's when it is a pipe): non-blocking stream writes, never pwrite.
      const socket = new Socket({ fd, readable: false, writable: true });
      return streamSink(socket, path, onError, options, true);
    } catch (cause) {
      if (!(cause instanceof Error && 'code' in cause && cause.code === 'ENXIO')) throw cause;
    }
    if (!told) {
      told = true;
      options.onWaiting?.(`output ${path} is a FIFO with no reader; waiting for one`);
    }
    await sleep(poll, options.signal);
  }
}

/** A sink that drops everything (no output requested). */
export const nullSink: Sink = {
  error: undefined,
  stats: { lines: 0, truncated: 0, truncatedBytes: 0, unserialisable: 0, dropped: 0 },
  write: () => ({ status: 'written', bytes: 0 }),
  close: async () => undefined,
};
