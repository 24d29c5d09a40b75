import { type FileHandle, open } from 'node:fs/promises';

/** Where aggregated results go, one JSON document per line. */
export interface Sink {
  /** Queues one line (without the newline). Ignored after a failure. */
  write(record: unknown): void;
  /** Flushes what is queued and closes. Never rejects; a failure is reported through `onError`. */
  close(): Promise<void>;
  /** The first write error, if any. */
  readonly error: Error | undefined;
}

/** Default largest number of lines waiting for the disk before the sink gives up. */
export const MAX_QUEUED_LINES = 10_000;

function toJson(record: unknown): string {
  return JSON.stringify(record, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

/**
 * Appends lines to a file. A failed or short write (disk full, file gone read-only) truncates the
 * file back to the last complete line, so no half-written line is ever left, then reports once.
 */
export async function openFileSink(
  path: string,
  onError: (error: Error) => void,
  maxQueuedLines = MAX_QUEUED_LINES,
): Promise<Sink> {
  const handle: FileHandle = await open(path, 'a', 0o644);
  let committed = (await handle.stat()).size;
  const queue: Buffer[] = [];
  let writing: Promise<void> | undefined;
  let error: Error | undefined;
  let failing: Promise<void> | undefined;

  const fail = async (cause: Error): Promise<void> => {
    if (error) return;
    error = cause;
    queue.length = 0;
    await handle.truncate(committed).catch(() => undefined);
    onError(cause);
  };

  const drain = async (): Promise<void> => {
    while (!error) {
      const line = queue.shift();
      if (!line) return;
      try {
        let offset = 0;
        while (offset < line.length) {
          const { bytesWritten } = await handle.write(
            line,
            offset,
            line.length - offset,
            committed + offset,
          );
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
    write(record) {
      if (error) return;
      if (queue.length >= maxQueuedLines) {
        failing = fail(
          new Error(`output backlog of ${maxQueuedLines} lines: ${path} is not keeping up`),
        );
        return;
      }
      queue.push(Buffer.from(`${toJson(record)}\n`));
      if (!writing) {
        writing = drain().finally(() => {
          writing = undefined;
        });
      }
    },
    async close() {
      while (writing) await writing;
      await failing;
      await handle.close().catch(() => undefined);
    },
  };
}

/** Writes lines to stdout; a broken pipe is reported once and later lines are dropped. */
export function stdoutSink(onError: (error: Error) => void): Sink {
  let error: Error | undefined;
  process.stdout.on('error', (cause: Error) => {
    if (error) return;
    error = cause;
    onError(cause);
  });
  return {
    get error() {
      return error;
    },
    write(record) {
      if (!error) process.stdout.write(`${toJson(record)}\n`);
    },
    async close() {
      if (process.stdout.writableLength === 0 || error) return;
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    },
  };
}

/** A sink that drops everything (no output requested). */
export const nullSink: Sink = { error: undefined, write() {}, close: async () => undefined };
