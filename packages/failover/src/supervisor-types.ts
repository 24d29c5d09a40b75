import type { SpawnOptions, StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { BackoffOptions } from './backoff.js';
import type { CallbackErrorHandler } from './callbacks.js';
import type { Clock } from './clock.js';
import type { FailoverError } from './errors.js';

// The Supervisor's public types: specs, states, events and options.

/** When a collector that exited is restarted (Erlang/OTP semantics). */
export type RestartPolicy =
  /** Always restarted. */
  | 'permanent'
  /** Restarted only after an abnormal exit (non-zero code, a signal, or a failed start). */
  | 'transient'
  /** Never restarted. */
  | 'temporary';

/**
 * Lifecycle of a supervised collector process:
 * `starting` (spawned, waiting for {@link Supervisor.markReady}) -> `running` -> on exit
 * `restarting` (backoff) -> `starting` ...; `stopping` -> `stopped` on request or when the policy
 * does not restart; `given-up` when the restart intensity was reached: retried after a cool-down
 * (`given-up` -> `starting`) unless `giveUpCoolDownMs` is 0.
 */
export type CollectorProcessState =
  | 'starting'
  | 'running'
  | 'restarting'
  | 'stopping'
  | 'stopped'
  | 'given-up';

/** Why a collector's process state changed. */
export type CollectorStateReason =
  | 'started'
  | 'ready'
  | 'exited'
  | 'restart-due'
  | 'policy'
  | 'intensity-reached'
  | 'cool-down-elapsed'
  | 'stop-requested'
  | 'closed';

/** Lifecycle of the supervisor itself. */
export type SupervisorState = 'open' | 'closing' | 'closed';

/** What to run for one collector. */
export interface CollectorSpec {
  /** Collector id, e.g. `procmond-1`. */
  readonly id: string;
  /** Executable, e.g. `process.execPath` or a native collector's path. */
  readonly command: string;
  /** Arguments. Default `[]`. */
  readonly args?: readonly string[];
  /** Environment variables; `undefined` values remove inherited ones. Default `{}`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Merge `env` over the agent's `process.env` (true) or pass `env` alone (false). Default true. */
  readonly inheritEnv?: boolean;
  /** Working directory. Default: the agent's. */
  readonly cwd?: string;
  /** Restart policy. Default: the supervisor's `restart` option. */
  readonly restart?: RestartPolicy;
  /** Niceness (-20..19) set on the child after spawn, `null` to leave it. Default: the supervisor's. */
  readonly niceness?: number | null;
}

/** The part of a `ChildProcess` the supervisor uses (a fake can be injected for tests). */
export interface SupervisedChild {
  readonly pid?: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
  on(
    event: 'exit',
    listener: (code: number | null, signal: NodeJS.Signals | null) => void,
  ): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Spawns one child; default `child_process.spawn`. */
export type SpawnFunction = (
  command: string,
  args: readonly string[],
  options: SpawnOptions,
) => SupervisedChild;

/** Sets a process's niceness; default `os.setPriority`. */
export type SetPriorityFunction = (pid: number, niceness: number) => void;

/** Snapshot of one supervised collector. */
export interface CollectorProcessInfo {
  readonly id: string;
  readonly state: CollectorProcessState;
  readonly pid: number | undefined;
  /** Restarts performed since {@link Supervisor.start} (retries after a give-up included). */
  readonly restarts: number;
  /** Spawns that failed or were not ready in time. */
  readonly failedStarts: number;
  /** Consecutive failures driving the backoff (reset after a stable run). */
  readonly consecutiveFailures: number;
  /** Consecutive give-ups driving the cool-down (reset after a stable run). */
  readonly giveUps: number;
  /** Clock ms at which a `given-up` collector is retried; undefined when none is planned. */
  readonly retryAt: number | undefined;
  readonly startedAt: number | undefined;
  readonly readyAt: number | undefined;
  readonly lastExit: ProcessExit | undefined;
}

/** How a child ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
  /** The reason given to {@link Supervisor.kill}, when the supervisor was asked to kill it. */
  readonly killedFor: string | undefined;
}

/** Payload of `collector-state-change`. `from` is undefined for a first start. */
export interface CollectorStateChange {
  readonly id: string;
  readonly from: CollectorProcessState | undefined;
  readonly to: CollectorProcessState;
  readonly reason: CollectorStateReason;
}

/** Typed events of {@link Supervisor}. */
export type SupervisorEvents = {
  /** The supervisor's own lifecycle: `open -> closing -> closed`. */
  'state-change': [event: { from: SupervisorState; to: SupervisorState; reason: 'close' }];
  /** A collector's process state changed. */
  'collector-state-change': [event: CollectorStateChange];
  /** A child started; pipe its streams here when `stdio` is `'pipe'`. */
  spawn: [
    event: {
      id: string;
      pid: number;
      restarts: number;
      stdout: Readable | null;
      stderr: Readable | null;
    },
  ];
  /** A child exited (emitted at once, before any restart decision). `expected` when stopping. */
  exit: [
    event: {
      id: string;
      pid: number | undefined;
      code: number | null;
      signal: NodeJS.Signals | null;
      expected: boolean;
      killedFor: string | undefined;
    },
  ];
  ready: [event: { id: string; pid: number | undefined; startupMs: number }];
  /** The child was not ready within `readyTimeoutMs`: it is killed and a failed start counted. */
  'start-timeout': [event: { id: string; pid: number | undefined; error: FailoverError }];
  /** The child could not be spawned (`ERR_FAILOVER_SPAWN_FAILED`, cause kept); a failed start. */
  'spawn-error': [event: { id: string; error: FailoverError }];
  /** An error of a running child (e.g. a failed kill); the child is not considered gone. */
  'child-error': [event: { id: string; pid: number | undefined; error: Error }];
  /** `setPriority` failed (`ERR_FAILOVER_SET_PRIORITY_FAILED`); the child runs at its inherited priority. */
  'priority-error': [event: { id: string; pid: number; niceness: number; error: FailoverError }];
  'restart-scheduled': [event: { id: string; delayMs: number; attempt: number }];
  /**
   * Restart intensity reached: the collector is `given-up`. `retryInMs` is the cool-down before it
   * is tried again, undefined when retrying is disabled (`giveUpCoolDownMs: 0`).
   */
  'gave-up': [
    event: {
      id: string;
      restarts: number;
      windowMs: number;
      giveUps: number;
      retryInMs: number | undefined;
    },
  ];
  /** The cool-down after a give-up elapsed: the collector is spawned again with fresh intensity. */
  'give-up-retry': [event: { id: string; giveUps: number; coolDownMs: number }];
};

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Default restart policy of specs that set none. Default `'permanent'`. */
  restart?: RestartPolicy | undefined;
  /** Restart backoff (100 ms x2 up to 30 s, ±20 % jitter, reset after 30 s ready). */
  backoff?: BackoffOptions | undefined;
  /** Restarts allowed within `restartWindowMs` before giving up. Default 5; integer [0, 1000]. */
  maxRestarts?: number | undefined;
  /** Window of the restart intensity, in ms. Default 60 000; integer [1, 2^31-1]. */
  restartWindowMs?: number | undefined;
  /**
   * Cool-down after a give-up before the collector is tried again, in ms; doubles with each
   * consecutive give-up up to `maxGiveUpCoolDownMs` and resets after a stable run (as `backoff`).
   * 0 disables retrying: a given-up collector stays `given-up` (the app decides, e.g. exits).
   * Default 60 000; integer [0, 2^31-1].
   */
  giveUpCoolDownMs?: number | undefined;
  /** Cap of the doubling cool-down, in ms. Default 600 000; integer [giveUpCoolDownMs, 2^31-1]. */
  maxGiveUpCoolDownMs?: number | undefined;
  /** Time a child has to become ready (`markReady`), in ms; 0 disables. Default 30 000. */
  readyTimeoutMs?: number | undefined;
  /** Time between the graceful and the forced stop signal, in ms. Default 5 000. */
  stopGraceMs?: number | undefined;
  /**
   * Niceness (-20..19) set on every child right after spawn (`os.setPriority`), unless its spec
   * says otherwise; `null` leaves the inherited priority. Default `max(10, the agent's own)`:
   * collectors yield the CPU to the agent, which halved the K=16 aggregation p99 (README).
   */
  niceness?: number | null | undefined;
  /** `stdio` of the children (see `child_process.spawn`). Default `'ignore'`. */
  stdio?: StdioOptions | undefined;
  /** Time source. Default `systemClock` (children keep the process alive, not the timers). */
  clock?: Clock | undefined;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: (() => number) | undefined;
  /** Platform whose stop signals are used. Default `process.platform`. */
  platform?: NodeJS.Platform | undefined;
  /** Spawn function. Default `child_process.spawn`. */
  spawn?: SpawnFunction | undefined;
  /** Priority setter. Default `os.setPriority`. For tests. */
  setPriority?: SetPriorityFunction | undefined;
  /** Receives `ERR_FAILOVER_CALLBACK_FAILED` when a listener throws. Default: re-thrown on a microtask. */
  onCallbackError?: CallbackErrorHandler | undefined;
}
