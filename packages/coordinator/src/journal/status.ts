import type { FsyncPolicy } from './options.js';

/** Journal part of the coordinator's status. */
export interface JournalStatus {
  /** `ok`; `unjournaled`: the last write failed, records are not journaled until a retry works. */
  readonly state: 'ok' | 'unjournaled' | 'closed';
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly segmentBytes: number;
  readonly maxBytes: number;
  readonly records: number;
  readonly syncs: number;
  readonly compactions: number;
  /** Records that could not be journaled (the agent cannot guarantee what they describe). */
  readonly unjournaled: number;
  /** Of those, records over the 256 MiB a replay accepts (a huge batch), never written. */
  readonly oversized: number;
  readonly lastError: string | null;
  /** What the journal held of open work: sets open, sets not confirmed written, tasks not ended. */
  readonly live: { readonly sets: number; readonly unwritten: number; readonly tasks: number };
  /** What opening found: records replayed, bytes cut from a torn/corrupt tail and why. */
  readonly opened: {
    readonly records: number;
    readonly cutBytes: number;
    readonly stoppedAt: string | null;
  };
}
