import type { TaskResult } from '@daemoneye/proto';
import type { Clock } from '../clock.js';
import { CoordinatorError } from '../errors.js';
import type { AggregatedResult } from '../types.js';
import { type ResolvedJournalOptions, WRITTEN_DELAY_MS } from './options.js';
import type { JournalRecord } from './records.js';
import { type OpenReport, SegmentFile } from './segment.js';
import { LiveState } from './state.js';
import type { JournalStatus } from './status.js';

/**
 * The opt-in journal: every record is applied to the live state and written to the segment with
 * one write(2), so a crash of the process loses nothing written; the fsync policy decides what an
 * OS crash may lose. Write errors never throw out of it: they become `state: 'unjournaled'`, a
 * counter and one error through `onError`, and a retry every `retryMs`.
 */
export class Journal {
  readonly state = new LiveState();
  readonly #o: ResolvedJournalOptions;
  readonly #clock: Clock;
  readonly #onError: (error: CoordinatorError) => void;
  readonly #file: SegmentFile;
  #opened = false;
  #status: 'ok' | 'unjournaled' | 'closed' = 'ok';
  #records = 0;
  #syncs = 0;
  #compactions = 0;
  #unjournaled = 0;
  #oversized = 0;
  #lastError: string | null = null;
  #threshold: number;
  #syncTimer: unknown;
  #retryTimer: unknown;
  #writtenTimer: unknown;
  #pendingWritten: string[] = [];
  #openReport: OpenReport | undefined;

  constructor(o: ResolvedJournalOptions, clock: Clock, onError: (error: CoordinatorError) => void) {
    this.#o = o;
    this.#clock = clock;
    this.#onError = onError;
    this.#file = new SegmentFile(o.dir);
    this.#threshold = o.maxBytes;
  }

  /** Reads the segment into the live state (cutting a torn tail); a failure is reported, not thrown. */
  open(): OpenReport | undefined {
    try {
      this.#openReport = this.#file.open();
      this.#opened = true;
      this.#replay(this.#openReport.records);
      if (this.#file.bytes > this.#threshold) this.#compact();
      return this.#openReport;
    } catch (error) {
      this.#fail(error);
      return undefined;
    }
  }

  /** Applies replayed records; one this version cannot apply ends the replay, reported. */
  #replay(records: readonly JournalRecord[]): void {
    for (const [i, r] of records.entries()) {
      try {
        this.state.apply(r);
      } catch (cause) {
        this.#onError(
          new CoordinatorError(
            'ERR_COORDINATOR_JOURNAL_RECOVERY',
            `journal ${this.#o.dir}: record ${i} (${String(r.type)}) cannot be replayed; the ${records.length - i} from it on are ignored`,
            { cause },
          ),
        );
        return;
      }
    }
  }

  /** Applies and writes one record. */
  record(record: JournalRecord): void {
    if (this.#status === 'closed') return;
    this.state.apply(record);
    if (this.#status !== 'ok') {
      this.#unjournaled++;
      return;
    }
    try {
      if (this.#file.append(record) === 0) {
        // Longer than a replay accepts: not written, and said so.
        this.#unjournaled++;
        this.#oversized++;
        return;
      }
      this.#records++;
      if (this.#o.fsync === 'always') this.#sync();
      else if (this.#o.fsync === 'interval') this.#scheduleSync();
      if (this.#file.bytes > this.#threshold) this.#compact();
    } catch (error) {
      this.#unjournaled++;
      this.#fail(error);
    }
  }

  /** A batch of a collector's results for an open set (others are not journaled). */
  batch(collectorId: string, result: TaskResult): void {
    if (!this.state.isOpen(result.correlationId)) return;
    this.record({
      type: 'batch',
      collectorId,
      correlationId: result.correlationId,
      taskId: result.taskId,
      final: result.final,
      error: result.error,
      results: result.results,
    });
  }

  /** The set's outcome without its items: those are in its batches, kept until it is written. */
  setCompleted(result: AggregatedResult): void {
    this.record({ type: 'set-completed', result: { ...result, results: [] } });
  }

  /** The set was delivered to the in-process subscribers; its mark is journaled a little later. */
  written(correlationId: string): void {
    if (!this.state.unwritten.has(correlationId)) return;
    this.#pendingWritten.push(correlationId);
    this.#writtenTimer ??= this.#clock.setTimeout(() => {
      this.#writtenTimer = undefined;
      this.#flushWritten();
    }, WRITTEN_DELAY_MS);
  }

  #flushWritten(): void {
    const ids = this.#pendingWritten;
    this.#pendingWritten = [];
    for (const correlationId of ids) this.record({ type: 'set-written', correlationId });
  }

  status(): JournalStatus {
    const r = this.#openReport;
    return {
      state: this.#status,
      dir: this.#o.dir,
      fsync: this.#o.fsync,
      segmentBytes: this.#file.bytes,
      maxBytes: this.#o.maxBytes,
      records: this.#records,
      syncs: this.#syncs,
      compactions: this.#compactions,
      unjournaled: this.#unjournaled,
      oversized: this.#oversized,
      lastError: this.#lastError,
      live: {
        sets: this.state.sets.size,
        unwritten: this.state.unwritten.size,
        tasks: this.state.tasks.size,
      },
      opened: {
        records: r?.records.length ?? 0,
        cutBytes: r?.cutBytes ?? 0,
        stoppedAt: r?.stoppedAt ?? null,
      },
    };
  }

  /** Journals the pending written marks, syncs and closes the segment. Idempotent. */
  close(): void {
    if (this.#status === 'closed') return;
    for (const t of [this.#syncTimer, this.#retryTimer, this.#writtenTimer])
      this.#clock.clearTimeout(t);
    this.#writtenTimer = undefined;
    this.#flushWritten();
    try {
      this.#file.close();
    } catch (error) {
      this.#fail(error);
    }
    this.#status = 'closed';
  }

  #sync(): void {
    this.#file.sync();
    this.#syncs++;
  }

  #scheduleSync(): void {
    if (this.#syncTimer !== undefined) return;
    this.#syncTimer = this.#clock.setTimeout(() => {
      this.#syncTimer = undefined;
      if (this.#status !== 'ok' || !this.#file.dirty) return;
      this.#syncs++;
      // Off the event loop: the flows go on while the disk syncs.
      this.#file.syncInBackground((error) => {
        if (error !== null) this.#fail(error);
      });
    }, this.#o.fsyncIntervalMs);
  }

  #compact(): void {
    const bytes = this.#file.rewrite(this.state.snapshot());
    this.#compactions++;
    // What is live may itself be large: compact again only once it doubled.
    this.#threshold = Math.max(this.#o.maxBytes, bytes * 2);
  }

  #fail(cause: unknown): void {
    const wasOk = this.#status === 'ok';
    this.#status = 'unjournaled';
    const code =
      typeof cause === 'object' && cause !== null ? Reflect.get(cause, 'code') : undefined;
    const message = cause instanceof Error ? cause.message : String(cause);
    // Node's fs messages start with their code already.
    this.#lastError =
      typeof code === 'string' && !message.startsWith(code) ? `${code}: ${message}` : message;
    if (wasOk) {
      this.#onError(
        new CoordinatorError(
          'ERR_COORDINATOR_JOURNAL_UNWRITABLE',
          `journal ${this.#o.dir} cannot be written (${this.#lastError}); what follows is not journaled until a retry works`,
          { cause },
        ),
      );
    }
    this.#retryTimer ??= this.#clock.setTimeout(() => this.#retry(), this.#o.retryMs);
  }

  /** A fresh segment with everything live (what went unjournaled meanwhile included). */
  #retry(): void {
    this.#retryTimer = undefined;
    if (this.#status !== 'unjournaled') return;
    try {
      if (!this.#opened) {
        const report = this.#file.open();
        this.#opened = true;
        this.#replay(report.records);
      }
      this.#compact();
      this.#status = 'ok';
      this.#lastError = null;
    } catch (error) {
      this.#fail(error);
    }
  }
}
