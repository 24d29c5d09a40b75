import { describeValue, integer, isRecord, refuseUnknownKeys } from '../option-helpers.js';
import { MAX_DELAY_MS } from '../options.js';

/** When the journal calls fdatasync(2): after every record, on a timer, or never (the OS decides). */
export type FsyncPolicy = 'always' | 'interval' | 'never';

/** The `journal` option of the coordinator. */
export interface JournalOptions {
  /** Directory of the segment files (created 0700 when missing). */
  readonly dir: string;
  /** Default `'interval'`. */
  readonly fsync?: FsyncPolicy | undefined;
  /** Period of the `interval` policy, ms. Default 100; 1..60 000. */
  readonly fsyncIntervalMs?: number | undefined;
  /** A segment past this is compacted (what is live is written to a new one). Default 64 MiB; 64 KiB..2^40. */
  readonly maxBytes?: number | undefined;
  /** After a write error, try again (a fresh segment) every this, ms. Default 5000; 100..2^31-1. */
  readonly retryMs?: number | undefined;
}

export const JOURNAL_DEFAULTS = {
  fsync: 'interval',
  fsyncIntervalMs: 100,
  maxBytes: 64 * 1024 * 1024,
  retryMs: 5000,
} as const;
/** Smallest `maxBytes`: below it a compaction would run every few records. */
export const MIN_JOURNAL_BYTES = 64 * 1024;
/** A set's written mark is journaled this long after its delivery (the sink's write(2) is async). */
export const WRITTEN_DELAY_MS = 100;

export type ResolvedJournalOptions = Required<{
  [K in keyof JournalOptions]: Exclude<JournalOptions[K], undefined>;
}>;

const KEYS = ['dir', 'fsync', 'fsyncIntervalMs', 'maxBytes', 'retryMs'];
const POLICIES: readonly FsyncPolicy[] = ['always', 'interval', 'never'];
/** Largest `maxBytes` (1 TiB). */
export const MAX_JOURNAL_BYTES = 2 ** 40;

/** Validates `options.journal`; undefined means no journal. */
export function resolveJournalOptions(
  value: JournalOptions | undefined,
): ResolvedJournalOptions | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value))
    throw new TypeError(`options.journal must be an object, got ${describeValue(value)}`);
  refuseUnknownKeys('options.journal', value, KEYS);
  const dir: unknown = value.dir;
  if (typeof dir !== 'string' || dir === '')
    throw new TypeError(
      `options.journal.dir must be a non-empty string, got ${describeValue(dir)}`,
    );
  const fsync: unknown = value.fsync ?? JOURNAL_DEFAULTS.fsync;
  const policy = POLICIES.find((p) => p === fsync);
  if (policy === undefined) {
    throw new RangeError(
      `options.journal.fsync must be one of ${POLICIES.join(', ')}, got ${describeValue(fsync)}`,
    );
  }
  return {
    dir,
    fsync: policy,
    fsyncIntervalMs: integer(
      'options.journal.fsyncIntervalMs',
      value.fsyncIntervalMs,
      JOURNAL_DEFAULTS.fsyncIntervalMs,
      1,
      60_000,
    ),
    maxBytes: integer(
      'options.journal.maxBytes',
      value.maxBytes,
      JOURNAL_DEFAULTS.maxBytes,
      MIN_JOURNAL_BYTES,
      MAX_JOURNAL_BYTES,
    ),
    retryMs: integer(
      'options.journal.retryMs',
      value.retryMs,
      JOURNAL_DEFAULTS.retryMs,
      100,
      MAX_DELAY_MS,
    ),
  };
}
