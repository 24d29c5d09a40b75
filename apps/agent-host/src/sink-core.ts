/** The sink's contract (outcomes, counters, options) and the bookkeeping every sink shares. */
import { encodeLine } from './line-encoding.js';

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

export interface Resolved {
  maxQueuedLines: number;
  maxLineBytes: number;
  closeTimeoutMs: number;
}

export function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export function resolve(options: SinkOptions | undefined): Resolved {
  const maxLineBytes = positiveInt('maxLineBytes', options?.maxLineBytes, MAX_LINE_BYTES);
  if (maxLineBytes < 256)
    throw new RangeError(`maxLineBytes must be at least 256, got ${maxLineBytes}`);
  return {
    maxQueuedLines: positiveInt('maxQueuedLines', options?.maxQueuedLines, MAX_QUEUED_LINES),
    maxLineBytes,
    closeTimeoutMs: positiveInt('closeTimeoutMs', options?.closeTimeoutMs, CLOSE_TIMEOUT_MS),
  };
}

/** Shared bookkeeping: counters, encoding, the backlog check. */
export function core(o: Resolved, backlog: () => number, describe: string) {
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

export function timeout(ms: number): { promise: Promise<'timeout'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((done) => {
    timer = setTimeout(() => done('timeout'), ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
