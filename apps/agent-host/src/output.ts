import { constants as fsConstants, open as openFd } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';

/**
 * What became of one record handed to {@link Sink.write}:
 * - `written`: queued whole;
 * - `truncated`: longer than `maxLineBytes`, queued cut down with a `truncated` count of what was cut;
 * - `unserialisable`: `JSON.stringify` failed (cycle, too big to build); an `error` line was queued
 *   instead and the caller should fail the record's tasks with `reason`;
 * - `dropped`: the sink has failed (see {@link Sink.error}); nothing was queued.
 */
export type WriteOutcome =
  | { status: 'written'; bytes: number }
  | { status: 'truncated'; bytes: number; originalBytes: number }
  | { status: 'unserialisable'; reason: string }
  | { status: 'dropped'; reason: string };

/** Counters of a sink; they only grow. */
export interface SinkStats {
  /** Lines queued (whole, truncated or error lines). */
  lines: number;
  /** Lines written cut down because they were over `maxLineBytes`. */
  truncated: number;
  /** Bytes cut from truncated lines (original size minus written size). */
  truncatedBytes: number;
  /** Records that could not be serialised and became an `error` line. */
  unserialisable: number;
  /** Records not written because the sink had failed. */
  dropped: number;
}

/** Where aggregated results go, one JSON document per line. */
export interface Sink {
  /** Queues one line (without the newline) and says what became of it. Dropped after a failure. */
  write(record: unknown): WriteOutcome;
  /** Flushes what is queued (bounded by `closeTimeoutMs`) and closes. Never rejects. */
  close(): Promise<void>;
  /** The first write error, if any. */
  readonly error: Error | undefined;
  /** Counters; see {@link SinkStats}. */
  readonly stats: Readonly<SinkStats>;
}

/** Default largest number of lines waiting for the output before the sink gives up. */
export const MAX_QUEUED_LINES = 10_000;
/** Default largest line, in bytes including the newline; longer lines are written truncated. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Default longest `close()` waits for queued lines to drain before giving them up (reported). */
export const CLOSE_TIMEOUT_MS = 5_000;
/** Default pause between attempts to open a FIFO that has no reader yet. */
export const FIFO_POLL_MS = 100;

export interface SinkOptions {
  /** Lines waiting for the output before the sink fails with a backlog error. Default 10,000. */
  maxQueuedLines?: number | undefined;
  /** Largest line in bytes (newline included); longer ones are cut. Default 16 MiB. */
  maxLineBytes?: number | undefined;
  /** Longest `close()` waits for the backlog to drain. Default 5,000 ms. */
  closeTimeoutMs?: number | undefined;
}

export interface OpenOutputOptions extends SinkOptions {
  /** Called once when the output is a FIFO with no reader yet, before waiting for one. */
  onWaiting?: (what: string) => void;
  /** Aborts a wait for a FIFO reader (the open then rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Pause between attempts to open a FIFO with no reader. Default 100 ms. */
  fifoPollMs?: number;
}

interface Resolved {
  maxQueuedLines: number;
  maxLineBytes: number;
  closeTimeoutMs: number;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function resolve(options: SinkOptions | undefined): Resolved {
  const maxLineBytes = positiveInt('maxLineBytes', options?.maxLineBytes, MAX_LINE_BYTES);
  if (maxLineBytes < 256)
    throw new RangeError(`maxLineBytes must be at least 256, got ${maxLineBytes}`);
  return {
    maxQueuedLines: positiveInt('maxQueuedLines', options?.maxQueuedLines, MAX_QUEUED_LINES),
    maxLineBytes,
    closeTimeoutMs: positiveInt('closeTimeoutMs', options?.closeTimeoutMs, CLOSE_TIMEOUT_MS),
  };
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** The record's small top-level scalars (what identifies it), for cut-down and error lines. */
function header(record: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isRecord(record)) return out;
  for (const [key, value] of Object.entries(record)) {
    if (typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else if (typeof value === 'string' && value.length <= 1024) out[key] = value;
  }
  return out;
}

/**
 * Serialises one record to a line (newline included) of at most `maxLineBytes` bytes.
 * A record with a `results` array keeps its other fields and the leading results that fit; any
 * other record keeps its small scalar fields. Both carry `truncated: { originalBytes, ... }`.
 * Exported for tests.
 */
export function encodeLine(
  record: unknown,
  maxLineBytes: number,
):
  | { status: 'written' | 'truncated'; line: Buffer; originalBytes: number }
  | { status: 'unserialisable'; line: Buffer; reason: string } {
  let text: string | undefined;
  let failure: unknown;
  try {
    text = toJson(record);
  } catch (cause) {
    failure = cause;
  }
  if (text !== undefined) {
    const bytes = Buffer.byteLength(text) + 1;
    if (bytes <= maxLineBytes)
      return { status: 'written', line: Buffer.from(`${text}\n`), originalBytes: bytes };
  }
  try {
    return cut(record, maxLineBytes, text === undefined ? undefined : Buffer.byteLength(text) + 1);
  } catch (cause) {
    failure ??= cause;
  }
  const reason = `cannot serialise output line: ${message(failure)}`;
  const error = toJson({ ...header(record), type: 'error', error: 'unserialisable', reason });
  const line = Buffer.from(`${error.slice(0, maxLineBytes - 1)}\n`);
  return { status: 'unserialisable', line, reason };
}

function cut(
  record: unknown,
  maxLineBytes: number,
  knownBytes: number | undefined,
): { status: 'truncated'; line: Buffer; originalBytes: number } {
  const results = isRecord(record) && Array.isArray(record.results) ? record.results : undefined;
  if (!isRecord(record) || results === undefined) {
    if (knownBytes === undefined) throw new Error('record is not serialisable');
    const line = toJson({
      ...header(record),
      truncated: { originalBytes: knownBytes, cutBytes: -1 },
    });
    const bytes = Buffer.byteLength(line) + 1;
    const final = toJson({
      ...header(record),
      truncated: { originalBytes: knownBytes, cutBytes: knownBytes - bytes },
    });
    return { status: 'truncated', line: Buffer.from(`${final}\n`), originalBytes: knownBytes };
  }
  const items = results.map((item) => toJson(item) ?? 'null');
  const itemBytes = items.map((item) => Buffer.byteLength(item));
  const rest = { ...record, results: '\u0000' };
  const restText = toJson(rest);
  // `[` `]` plus one comma per item after the first, and the placeholder `"\u0000"` removed.
  const originalBytes =
    knownBytes ??
    Buffer.byteLength(restText) -
      8 +
      2 +
      itemBytes.reduce((a, b) => a + b, 0) +
      Math.max(0, items.length - 1) +
      1;
  const marker = (kept: number): string =>
    toJson({ originalBytes, keptResults: kept, cutResults: items.length - kept, cutBytes: 0 });
  // Room for the fixed part with a worst-case marker (digits of the counts can only shrink).
  const fixed =
    Buffer.byteLength(restText) - 8 + 2 + Buffer.byteLength(`,"truncated":${marker(0)}`) + 24 + 1;
  let room = maxLineBytes - fixed;
  let kept = 0;
  while (kept < items.length) {
    const need = (itemBytes[kept] ?? 0) + (kept > 0 ? 1 : 0);
    if (need > room) break;
    room -= need;
    kept++;
  }
  const build = (cutBytes: number): string => {
    const marked = toJson({
      ...rest,
      truncated: { originalBytes, keptResults: kept, cutResults: items.length - kept, cutBytes },
    });
    return marked.replace('"\\u0000"', `[${items.slice(0, kept).join(',')}]`);
  };
  const draft = Buffer.byteLength(build(0)) + 1;
  // The count's own digits change the length: settle it (two rounds suffice).
  let text = build(originalBytes - draft);
  text = build(originalBytes - Buffer.byteLength(text) - 1);
  if (Buffer.byteLength(text) + 1 > maxLineBytes) {
    // The record's other fields alone are too big: fall back to its identifying scalars.
    text = toJson({
      ...header(record),
      truncated: { originalBytes, keptResults: 0, cutResults: items.length },
    });
  }
  return { status: 'truncated', line: Buffer.from(`${text}\n`), originalBytes };
}

/** Shared bookkeeping: counters, encoding, the backlog check. */
function core(o: Resolved, backlog: () => number, describe: string) {
  const stats: SinkStats = {
    lines: 0,
    truncated: 0,
    truncatedBytes: 0,
    unserialisable: 0,
    dropped: 0,
  };
  return {
    stats,
    encode(
      record: unknown,
      error: Error | undefined,
      fail: (cause: Error) => void,
    ): { outcome: WriteOutcome; line?: Buffer } {
      if (error) {
        stats.dropped++;
        return { outcome: { status: 'dropped', reason: error.message } };
      }
      if (backlog() >= o.maxQueuedLines) {
        const cause = new Error(
          `output backlog of ${o.maxQueuedLines} lines: ${describe} is not keeping up`,
        );
        fail(cause);
        stats.dropped++;
        return { outcome: { status: 'dropped', reason: cause.message } };
      }
      const encoded = encodeLine(record, o.maxLineBytes);
      stats.lines++;
      if (encoded.status === 'unserialisable') {
        stats.unserialisable++;
        return {
          outcome: { status: 'unserialisable', reason: encoded.reason },
          line: encoded.line,
        };
      }
      if (encoded.status === 'truncated') {
        stats.truncated++;
        stats.truncatedBytes += encoded.originalBytes - encoded.line.length;
        return {
          outcome: {
            status: 'truncated',
            bytes: encoded.line.length,
            originalBytes: encoded.originalBytes,
          },
          line: encoded.line,
        };
      }
      return { outcome: { status: 'written', bytes: encoded.line.length }, line: encoded.line };
    },
  };
}

function timeout(ms: number): { promise: Promise<'timeout'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((done) => {
    timer = setTimeout(() => done('timeout'), ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

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
