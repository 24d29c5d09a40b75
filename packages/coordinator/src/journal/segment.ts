import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  frameRecord,
  type JournalRecord,
  MAX_RECORD_BYTES,
  RECORD_HEADER_BYTES,
  type Scan,
  scanRecords,
} from './records.js';

const SEGMENT = /^journal-(\d{1,12})\.seg$/;

function segmentName(seq: number): string {
  return `journal-${String(seq).padStart(8, '0')}.seg`;
}

/** What opening a segment found. */
export interface OpenReport extends Scan {
  /** Bytes cut from the end (a torn or corrupt tail). */
  readonly cutBytes: number;
  readonly path: string;
}

/**
 * The journal's files: one live append-only segment `journal-<seq>.seg` in `dir`. A compaction
 * writes the next segment beside it (a `.tmp` renamed into place after an fsync), then removes the
 * old one; opening keeps the highest complete segment and removes what a crash left behind.
 * Every call is synchronous and throws the fs error as it is (the journal turns it into a status).
 */
export class SegmentFile {
  readonly dir: string;
  readonly #maxRecordBytes: number;
  #seq = 0;
  #fd: number | undefined;
  #bytes = 0;
  #dirty = false;

  /** `maxRecordBytes` (payload) is lowered by tests only; a replay refuses longer records. */
  constructor(dir: string, maxRecordBytes = MAX_RECORD_BYTES) {
    this.dir = dir;
    this.#maxRecordBytes = maxRecordBytes;
  }

  /** Bytes in the live segment. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True when bytes were written since the last sync. */
  get dirty(): boolean {
    return this.#dirty;
  }

  get path(): string {
    return join(this.dir, segmentName(this.#seq));
  }

  /** Creates `dir` (0700) when missing, reads the live segment, cuts a torn tail, opens it for append. */
  open(): OpenReport {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const names = readdirSync(this.dir);
    const seqs = names
      .map((n) => SEGMENT.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    this.#seq = seqs.at(-1) ?? 1;
    // Older segments were superseded by a compaction that crashed before removing them.
    for (const seq of seqs.slice(0, -1)) rmSync(join(this.dir, segmentName(seq)), { force: true });
    for (const n of names) if (n.endsWith('.tmp')) rmSync(join(this.dir, n), { force: true });
    const path = this.path;
    let bytes: Buffer = Buffer.alloc(0);
    try {
      bytes = readFileSync(path);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    const scan = scanRecords(bytes);
    // Cut the torn tail so new records follow the last whole one.
    if (scan.validBytes < bytes.length)
      this.#writeWhole(path, [bytes.subarray(0, scan.validBytes)]);
    this.#fd = openSync(path, 'a', 0o600);
    this.#bytes = scan.validBytes;
    return { ...scan, cutBytes: bytes.length - scan.validBytes, path };
  }

  /** Appends one framed record with one write(2); returns its size, 0 when it is too large to replay. */
  append(record: JournalRecord): number {
    const frame = frameRecord(record);
    if (frame.length - RECORD_HEADER_BYTES > this.#maxRecordBytes) return 0;
    if (this.#fd === undefined) throw new Error('journal segment is not open');
    let off = 0;
    while (off < frame.length) off += writeSync(this.#fd, frame, off, frame.length - off);
    this.#bytes += frame.length;
    this.#dirty = true;
    return frame.length;
  }

  /** fdatasync(2) of the live segment when something was written since the last one. */
  sync(): void {
    if (this.#fd === undefined || !this.#dirty) return;
    fdatasyncSync(this.#fd);
    this.#dirty = false;
  }

  /**
   * fdatasync(2) off the event loop (the `interval` policy); `done` gets the error, if any, only
   * when the segment it synced is still the live one (a compaction closed and synced the old one).
   */
  syncInBackground(done: (error: Error | null) => void): void {
    const fd = this.#fd;
    if (fd === undefined || !this.#dirty) {
      done(null);
      return;
    }
    this.#dirty = false;
    fdatasync(fd, (error) => done(error !== null && this.#fd === fd ? error : null));
  }

  /**
   * Writes `records` as the next segment (tmp, fsync, rename, directory fsync), switches to it and
   * removes the old one. On a throw the old segment stays live.
   */
  rewrite(records: Iterable<JournalRecord>): number {
    const frames: Buffer[] = [];
    for (const r of records) frames.push(frameRecord(r));
    const next = join(this.dir, segmentName(this.#seq + 1));
    this.#writeWhole(next, frames);
    const old = this.path;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = openSync(next, 'a', 0o600);
    this.#seq++;
    this.#bytes = frames.reduce((n, f) => n + f.length, 0);
    this.#dirty = false;
    rmSync(old, { force: true });
    return this.#bytes;
  }

  /** Syncs and closes; idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    try {
      this.sync();
    } finally {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
  }

  #writeWhole(path: string, chunks: readonly Uint8Array[]): void {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      for (const c of chunks) {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    syncDir(this.dir);
  }
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && Reflect.get(error, 'code') === 'ENOENT';
}

/** fsync of a directory makes a rename durable on POSIX; Windows cannot open a directory for it. */
function syncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Size of a file, 0 when missing (for tests and status). */
export function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
