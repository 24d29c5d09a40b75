/** Why the coordinator refused a connection that passed the broker's handshake. */
export type RefusalReason =
  | 'unknown-collector'
  | 'wrong-kind'
  | 'pid-mismatch'
  | 'control-id-taken'
  | 'invalid-task-kinds';

/** Every {@link RefusalReason}, in a stable order. */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'unknown-collector',
  'wrong-kind',
  'pid-mismatch',
  'control-id-taken',
  'invalid-task-kinds',
];

/** The Reject code a client sees (`RejectedError.rejectCode`) for each {@link RefusalReason}. */
export const REFUSAL_CODES: Readonly<Record<RefusalReason, string>> = {
  'unknown-collector': 'ERR_UNKNOWN_COLLECTOR',
  'wrong-kind': 'ERR_WRONG_KIND',
  'pid-mismatch': 'ERR_PID_MISMATCH',
  'control-id-taken': 'ERR_CONTROL_ID_TAKEN',
  'invalid-task-kinds': 'ERR_INVALID_TASK_KINDS',
};

/** What the handshake said (the broker's `HelloInfo`). */
export interface Candidate {
  readonly collectorId: string;
  readonly kind: string;
  readonly pid: number;
  readonly taskKinds: readonly string[];
}

/** What the coordinator expects of one id. */
export interface Expectation {
  readonly kind: string;
  /** Pid of the process the Supervisor started for this id now, if any. */
  readonly pid: number | undefined;
}

/** The verdict: a collector, a control client (status / stop), or a refusal with a reason. */
export type Admission =
  | { readonly accept: 'collector' }
  | { readonly accept: 'control' }
  | { readonly reject: RefusalReason; readonly message: string };

const TASK_KIND = /^[a-z0-9_-]{1,64}$/;

/**
 * Decides admission. Pure; the coordinator calls it from the broker's `authorize(hello)` hook, so
 * a refused client gets a Reject with the reason's code ({@link REFUSAL_CODES}) in the handshake
 * and is never admitted.
 */
export function admit(
  candidate: Candidate,
  expected: Expectation | undefined,
  controlKind: string,
): Admission {
  const id = candidate.collectorId;
  if (candidate.kind === controlKind) {
    // Control clients are welcome, but never under a collector's id (that would lock it out).
    return expected === undefined
      ? { accept: 'control' }
      : {
          reject: 'control-id-taken',
          message: `${id} is a collector id, not for a control client`,
        };
  }
  if (expected === undefined) {
    return {
      reject: 'unknown-collector',
      message: `unexpected collector ${id} (kind ${candidate.kind})`,
    };
  }
  if (expected.kind !== candidate.kind) {
    return {
      reject: 'wrong-kind',
      message: `unexpected collector ${id} (kind ${candidate.kind}, expected ${expected.kind})`,
    };
  }
  // Only the process the Supervisor started may speak for this id.
  if (expected.pid === undefined || expected.pid !== candidate.pid) {
    return {
      reject: 'pid-mismatch',
      message: `${id} said it is pid ${candidate.pid}, but the coordinator started pid ${String(expected.pid)}`,
    };
  }
  const bad = candidate.taskKinds.find((k) => !TASK_KIND.test(k));
  if (bad !== undefined || candidate.taskKinds.length === 0) {
    return {
      reject: 'invalid-task-kinds',
      message: `${id} declared unusable task kinds (each 1..64 of [a-z0-9_-], at least one)`,
    };
  }
  return { accept: 'collector' };
}

/** A refusal as the `collector-refused` event carries it. */
export interface Refusal {
  readonly collectorId: string;
  readonly kind: string;
  readonly pid: number;
  readonly reason: RefusalReason;
  readonly message: string;
}

/**
 * The broker's `authorize` answer for a Hello: `{ accept: true }`, or a Reject with the reason's
 * code ({@link REFUSAL_CODES}) and the refusal to count and emit.
 */
export function handshakeVerdict(
  hello: Candidate,
  expected: Expectation | undefined,
  controlKind: string,
): {
  admission: { accept: true } | { accept: false; code: string; message: string };
  refusal: Refusal | undefined;
} {
  const verdict = admit(hello, expected, controlKind);
  if (!('reject' in verdict)) return { admission: { accept: true }, refusal: undefined };
  return {
    admission: { accept: false, code: REFUSAL_CODES[verdict.reject], message: verdict.message },
    refusal: {
      collectorId: hello.collectorId,
      kind: hello.kind,
      pid: hello.pid,
      reason: verdict.reject,
      message: verdict.message,
    },
  };
}
