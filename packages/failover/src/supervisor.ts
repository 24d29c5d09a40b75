import { spawn as nodeSpawn, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import {
  type BackoffOptions,
  backoffDelay,
  type ResolvedBackoffOptions,
  resolveBackoffOptions,
} from './backoff.js';
import { type Clock, realClock } from './clock.js';
import { FailoverError } from './errors.js';
import { type TerminateSignals, terminateSignals } from './platform.js';
import { checkClock, checkFunction, checkId, checkNumber, checkObject } from './validate.js';

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
 * does not restart; `failed` when the restart intensity was exceeded (gave up).
 */
export type CollectorProcessState =
  | 'starting'
  | 'running'
  | 'restarting'
  | 'stopping'
  | 'stopped'
  | 'failed';

/** What to run for one collector. */
export interface CollectorSpec {
  /** Collector id, e.g. `procmond-1`. */
  readonly id: string;
  /** Executable, e.g. `process.execPath`. */
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

/** Snapshot of one supervised collector. */
export interface CollectorProcessInfo {
  readonly id: string;
  readonly state: CollectorProcessState;
  readonly pid: number | undefined;
  /** Restarts performed since {@link Supervisor.start}. */
  readonly restarts: number;
  /** Spawns that failed or were not ready in time. */
  readonly failedStarts: number;
  /** Consecutive failures driving the backoff (reset after a stable run). */
  readonly consecutiveFailures: number;
  readonly startedAt: number | undefined;
  readonly readyAt: number | undefined;
  readonly lastExit: ProcessExit | undefined;
}

/** How a child ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/** Typed events of {@link Supervisor}. */
export type SupervisorEvents = {
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
    },
  ];
  ready: [event: { id: string; pid: number | undefined; startupMs: number }];
  /** The child was not ready within `readyTimeoutMs`: it is killed and a failed start counted. */
  'start-timeout': [event: { id: string; pid: number | undefined; error: FailoverError }];
  /** The child could not be spawned (`ERR_SPAWN_FAILED`, cause kept); counted as a failed start. */
  'spawn-error': [event: { id: string; error: FailoverError }];
  /** An error of a running child (e.g. a failed kill); the child is not considered gone. */
  'child-error': [event: { id: string; pid: number | undefined; error: Error }];
  'restart-scheduled': [event: { id: string; delayMs: number; attempt: number }];
  /** Restart intensity exceeded: the collector is left `failed`. */
  'gave-up': [event: { id: string; restarts: number; windowMs: number }];
  'state-change': [
    event: { id: string; from: CollectorProcessState | undefined; to: CollectorProcessState },
  ];
};

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Default restart policy of specs that set none. Default `'permanent'`. */
  restart?: RestartPolicy;
  /** Restart backoff (100 ms x2 up to 30 s, ±20 % jitter, reset after 30 s ready). */
  backoff?: BackoffOptions;
  /** Restarts allowed within `restartWindowMs` before giving up. Default 5; range [0, 1000]. */
  maxRestarts?: number;
  /** Window of the restart intensity, in ms. Default 60 000; range [1, 86 400 000]. */
  restartWindowMs?: number;
  /** Time a child has to become ready (`markReady`), in ms; 0 disables. Default 30 000; range [0, 3 600 000]. */
  readyTimeoutMs?: number;
  /** Time between the graceful and the forced stop signal, in ms. Default 5 000; range [0, 600 000]. */
  stopGraceMs?: number;
  /** `stdio` of the children (see `child_process.spawn`). Default `'ignore'`. */
  stdio?: StdioOptions;
  /** Time source. Default: real time (timers not unref'd: restarts are work the app waits for). */
  clock?: Clock;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
  /** Platform whose stop signals are used. Default `process.platform`. */
  platform?: NodeJS.Platform;
  /** Spawn function. Default `child_process.spawn`. */
  spawn?: SpawnFunction;
}

const DEFAULTS = {
  restart: 'permanent',
  maxRestarts: 5,
  restartWindowMs: 60_000,
  readyTimeoutMs: 30_000,
  stopGraceMs: 5_000,
  stdio: 'ignore',
} as const;

const POLICIES: readonly string[] = ['permanent', 'transient', 'temporary'];

function isPolicy(value: unknown): value is RestartPolicy {
  return typeof value === 'string' && POLICIES.includes(value);
}

const defaultSpawn: SpawnFunction = (command, args, options) => nodeSpawn(command, args, options);

interface Slot {
  readonly spec: CollectorSpec;
  readonly policy: RestartPolicy;
  state: CollectorProcessState;
  child: SupervisedChild | undefined;
  pid: number | undefined;
  generation: number;
  restarts: number;
  failedStarts: number;
  consecutiveFailures: number;
  restartTimes: number[];
  startedAt: number | undefined;
  readyAt: number | undefined;
  startTimedOut: boolean;
  lastExit: ProcessExit | undefined;
  readyTimer: unknown;
  restartTimer: unknown;
  killTimer: unknown;
  stopWaiters: Array<() => void>;
}

/**
 * Spawns collector processes and keeps them running: restart policies, exponential backoff with
 * jitter, a restart-intensity limit, readiness timeout, SIGTERM-then-SIGKILL stop. Never installs
 * signal handlers and never prints; everything is reported as events.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #policy: RestartPolicy;
  readonly #backoff: ResolvedBackoffOptions;
  readonly #maxRestarts: number;
  readonly #windowMs: number;
  readonly #readyTimeoutMs: number;
  readonly #stopGraceMs: number;
  readonly #stdio: StdioOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #signals: TerminateSignals;
  readonly #spawn: SpawnFunction;
  readonly #slots = new Map<string, Slot>();
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(options: SupervisorOptions = {}) {
    super();
    checkObject('options', options);
    const o = { ...DEFAULTS, ...options };
    if (!isPolicy(o.restart)) {
      throw new TypeError(
        `restart must be one of ${POLICIES.join(', ')}, got ${String(o.restart)}`,
      );
    }
    this.#policy = o.restart;
    this.#backoff = resolveBackoffOptions(o.backoff, 'backoff');
    this.#maxRestarts = checkNumber('maxRestarts', o.maxRestarts, 0, 1000, true);
    this.#windowMs = checkNumber('restartWindowMs', o.restartWindowMs, 1, 86_400_000);
    this.#readyTimeoutMs = checkNumber('readyTimeoutMs', o.readyTimeoutMs, 0, 3_600_000);
    this.#stopGraceMs = checkNumber('stopGraceMs', o.stopGraceMs, 0, 600_000);
    this.#stdio = o.stdio;
    this.#clock = o.clock === undefined ? realClock(false) : checkClock('clock', o.clock);
    if (o.random !== undefined) checkFunction('random', o.random);
    this.#random = o.random ?? Math.random;
    if (o.platform !== undefined && typeof o.platform !== 'string') {
      throw new TypeError('platform must be a string such as "linux" or "win32"');
    }
    this.#signals = terminateSignals(o.platform ?? process.platform);
    if (o.spawn !== undefined) checkFunction('spawn', o.spawn);
    this.#spawn = o.spawn ?? defaultSpawn;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Starts supervising a collector and spawns it now. Throws `ERR_SUPERVISOR_CLOSED` after close,
   * `ERR_DUPLICATE_COLLECTOR` if the id is supervised and not `stopped`/`failed` (a stopped or
   * failed one is replaced, with fresh counters), and TypeError for a bad spec.
   */
  start(spec: CollectorSpec): void {
    checkObject('spec', spec);
    checkId('spec.id', spec.id);
    checkId('spec.command', spec.command);
    if (
      spec.args !== undefined &&
      (!Array.isArray(spec.args) || spec.args.some((a) => typeof a !== 'string'))
    ) {
      throw new TypeError('spec.args must be an array of strings');
    }
    if (spec.env !== undefined) checkObject('spec.env', spec.env);
    if (spec.cwd !== undefined) checkId('spec.cwd', spec.cwd);
    const policy = spec.restart ?? this.#policy;
    if (!isPolicy(policy)) {
      throw new TypeError(
        `spec.restart must be one of ${POLICIES.join(', ')}, got ${String(policy)}`,
      );
    }
    if (this.#closed) {
      throw new FailoverError(
        'ERR_SUPERVISOR_CLOSED',
        `cannot start ${spec.id}: supervisor is closed`,
      );
    }
    const existing = this.#slots.get(spec.id);
    if (existing !== undefined && existing.state !== 'stopped' && existing.state !== 'failed') {
      throw new FailoverError(
        'ERR_DUPLICATE_COLLECTOR',
        `collector ${spec.id} is already supervised (${existing.state})`,
      );
    }
    const slot: Slot = {
      spec: { ...spec },
      policy,
      state: 'stopped',
      child: undefined,
      pid: undefined,
      generation: 0,
      restarts: 0,
      failedStarts: 0,
      consecutiveFailures: 0,
      restartTimes: [],
      startedAt: undefined,
      readyAt: undefined,
      startTimedOut: false,
      lastExit: undefined,
      readyTimer: undefined,
      restartTimer: undefined,
      killTimer: undefined,
      stopWaiters: [],
    };
    this.#slots.set(spec.id, slot);
    this.#spawnChild(slot);
  }

  /**
   * The collector's Hello arrived: `starting -> running`. With `pid`, a Hello from another
   * incarnation is ignored. Returns false when not `starting` (or pid mismatch); throws
   * `ERR_UNKNOWN_COLLECTOR` for an id never started.
   */
  markReady(id: string, pid?: number): boolean {
    const slot = this.#require(id);
    if (slot.state !== 'starting' || slot.child === undefined) return false;
    // The start timeout is already killing this child: a late Hello does not make it ready.
    if (slot.startTimedOut) return false;
    if (pid !== undefined && pid !== slot.pid) return false;
    this.#clearTimer(slot, 'readyTimer');
    const now = this.#clock.now();
    slot.readyAt = now;
    this.#setState(slot, 'running');
    this.emit('ready', { id, pid: slot.pid, startupMs: now - (slot.startedAt ?? now) });
    return true;
  }

  /**
   * Kills the child at once with the forced signal (a hung collector); its exit is handled like a
   * crash (restart policy, backoff, intensity). False when there is no live child. Throws
   * `ERR_UNKNOWN_COLLECTOR`.
   */
  kill(id: string): boolean {
    const slot = this.#require(id);
    if (slot.child === undefined || (slot.state !== 'starting' && slot.state !== 'running')) {
      return false;
    }
    return this.#signal(slot, this.#signals.force);
  }

  /**
   * Stops a collector for good: graceful signal, forced one after `stopGraceMs`; resolves once the
   * child exited (state `stopped`). Rejects `ERR_UNKNOWN_COLLECTOR`.
   */
  stop(id: string): Promise<void> {
    const slot = this.#slots.get(id);
    if (slot === undefined) {
      return Promise.reject(
        new FailoverError('ERR_UNKNOWN_COLLECTOR', `collector ${id} is not supervised`),
      );
    }
    return this.#stopSlot(slot);
  }

  /** Snapshot of one collector, or undefined. */
  info(id: string): CollectorProcessInfo | undefined {
    const slot = this.#slots.get(id);
    return slot === undefined ? undefined : this.#info(slot);
  }

  /** Snapshots of every supervised collector. */
  list(): CollectorProcessInfo[] {
    return [...this.#slots.values()].map((slot) => this.#info(slot));
  }

  /** True if `id` was ever started on this supervisor. */
  has(id: string): boolean {
    return this.#slots.has(id);
  }

  /**
   * Stops every collector and cancels pending restarts; resolves when no child is left running.
   * Idempotent (returns the same promise); `start` throws `ERR_SUPERVISOR_CLOSED` afterwards.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // Closed before any slot is stopped: a state-change listener cannot start a new child now.
      this.#closed = true;
      const stops = [...this.#slots.values()].map((slot) => this.#stopSlot(slot));
      this.#closing = Promise.all(stops).then(() => undefined);
    }
    return this.#closing;
  }

  #require(id: string): Slot {
    const slot = this.#slots.get(id);
    if (slot === undefined) {
      throw new FailoverError('ERR_UNKNOWN_COLLECTOR', `collector ${id} is not supervised`);
    }
    return slot;
  }

  #info(slot: Slot): CollectorProcessInfo {
    return {
      id: slot.spec.id,
      state: slot.state,
      pid: slot.child === undefined ? undefined : slot.pid,
      restarts: slot.restarts,
      failedStarts: slot.failedStarts,
      consecutiveFailures: slot.consecutiveFailures,
      startedAt: slot.startedAt,
      readyAt: slot.readyAt,
      lastExit: slot.lastExit,
    };
  }

  #setState(slot: Slot, to: CollectorProcessState): void {
    const from = slot.state;
    if (from === to) return;
    slot.state = to;
    this.emit('state-change', { id: slot.spec.id, from, to });
  }

  #env(spec: CollectorSpec): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = spec.inheritEnv === false ? {} : { ...process.env };
    for (const [key, value] of Object.entries(spec.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    return env;
  }

  #spawnChild(slot: Slot): void {
    const { spec } = slot;
    const generation = ++slot.generation;
    slot.startTimedOut = false;
    slot.readyAt = undefined;
    slot.startedAt = this.#clock.now();
    this.#setState(slot, 'starting');
    // A state-change listener may have stopped this slot (or closed us): then spawn nothing.
    if (
      this.#closed ||
      slot.state !== 'starting' ||
      slot.generation !== generation ||
      this.#slots.get(spec.id) !== slot
    ) {
      return;
    }
    const options: SpawnOptions = {
      env: this.#env(spec),
      stdio: this.#stdio,
      windowsHide: true,
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    };
    let child: SupervisedChild;
    try {
      child = this.#spawn(spec.command, spec.args ?? [], options);
    } catch (cause) {
      this.#spawnFailed(slot, cause);
      this.#onGone(slot, generation, null, null);
      return;
    }
    slot.child = child;
    slot.pid = child.pid;
    let gone = false;
    child.on('exit', (code, signal) => {
      if (gone) return;
      gone = true;
      this.#onGone(slot, generation, code, signal);
    });
    child.on('error', (error) => {
      if (gone) return;
      if (child.pid === undefined) {
        // The process never started (ENOENT, EACCES...): no 'exit' is guaranteed to follow.
        gone = true;
        this.#spawnFailed(slot, error);
        this.#onGone(slot, generation, null, null);
        return;
      }
      this.emit('child-error', { id: spec.id, pid: child.pid, error });
    });
    if (child.pid !== undefined) {
      this.emit('spawn', {
        id: spec.id,
        pid: child.pid,
        restarts: slot.restarts,
        stdout: child.stdout,
        stderr: child.stderr,
      });
    }
    if (this.#readyTimeoutMs > 0 && slot.generation === generation && slot.state === 'starting') {
      slot.readyTimer = this.#clock.setTimeout(() => {
        slot.readyTimer = undefined;
        if (slot.generation !== generation || slot.state !== 'starting') return;
        slot.failedStarts++;
        slot.startTimedOut = true;
        const error = new FailoverError(
          'ERR_START_TIMEOUT',
          `collector ${spec.id} was not ready within ${this.#readyTimeoutMs} ms`,
        );
        this.emit('start-timeout', { id: spec.id, pid: slot.pid, error });
        this.#signal(slot, this.#signals.force);
      }, this.#readyTimeoutMs);
    }
  }

  #spawnFailed(slot: Slot, cause: unknown): void {
    slot.failedStarts++;
    slot.startTimedOut = true;
    const detail = cause instanceof Error ? cause.message : String(cause);
    const error = new FailoverError(
      'ERR_SPAWN_FAILED',
      `cannot spawn collector ${slot.spec.id}: ${detail}`,
      { cause },
    );
    this.emit('spawn-error', { id: slot.spec.id, error });
  }

  #signal(slot: Slot, signal: NodeJS.Signals): boolean {
    const child = slot.child;
    if (child === undefined) return false;
    try {
      return child.kill(signal);
    } catch (error) {
      this.emit('child-error', {
        id: slot.spec.id,
        pid: slot.pid,
        error: error instanceof Error ? error : new Error(String(error)),
      });
      return false;
    }
  }

  #onGone(
    slot: Slot,
    generation: number,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (slot.generation !== generation) return;
    const now = this.#clock.now();
    const pid = slot.pid;
    const expected = slot.state === 'stopping';
    this.#clearTimer(slot, 'readyTimer');
    this.#clearTimer(slot, 'killTimer');
    slot.child = undefined;
    slot.lastExit = { code, signal, at: now };
    this.emit('exit', { id: slot.spec.id, pid, code, signal, expected });
    // A listener may have stopped, replaced or closed us meanwhile.
    if (this.#slots.get(slot.spec.id) !== slot || slot.generation !== generation) return;
    if (slot.state === 'stopped') return;
    if (expected || this.#closing !== undefined) {
      this.#finishStop(slot);
      return;
    }
    const abnormal = slot.startTimedOut || code !== 0 || signal !== null;
    if (slot.policy === 'temporary' || (slot.policy === 'transient' && !abnormal)) {
      this.#setState(slot, 'stopped');
      return;
    }
    // Stable = ready for resetAfterMs (or, with readiness timeout disabled, running that long).
    const stableSince = slot.readyAt ?? (this.#readyTimeoutMs === 0 ? slot.startedAt : undefined);
    if (stableSince !== undefined && now - stableSince >= this.#backoff.resetAfterMs) {
      slot.consecutiveFailures = 0;
    }
    slot.consecutiveFailures++;
    slot.restartTimes = slot.restartTimes.filter((t) => now - t < this.#windowMs);
    if (slot.restartTimes.length >= this.#maxRestarts) {
      this.#setState(slot, 'failed');
      this.emit('gave-up', {
        id: slot.spec.id,
        restarts: slot.restartTimes.length,
        windowMs: this.#windowMs,
      });
      return;
    }
    slot.restartTimes.push(now);
    const attempt = slot.consecutiveFailures;
    const delayMs = backoffDelay(attempt, this.#backoff, this.#random);
    this.#setState(slot, 'restarting');
    this.emit('restart-scheduled', { id: slot.spec.id, delayMs, attempt });
    if (slot.state !== 'restarting' || slot.restartTimer !== undefined) return;
    slot.restartTimer = this.#clock.setTimeout(() => {
      slot.restartTimer = undefined;
      if (slot.state !== 'restarting' || this.#slots.get(slot.spec.id) !== slot) return;
      slot.restarts++;
      this.#spawnChild(slot);
    }, delayMs);
  }

  #stopSlot(slot: Slot): Promise<void> {
    switch (slot.state) {
      case 'stopped':
      case 'failed':
        return Promise.resolve();
      case 'restarting':
        this.#clearTimer(slot, 'restartTimer');
        this.#setState(slot, 'stopped');
        return Promise.resolve();
      case 'stopping':
        return new Promise((resolve) => slot.stopWaiters.push(resolve));
      case 'starting':
      case 'running': {
        const child = slot.child;
        if (child === undefined) {
          this.#setState(slot, 'stopped');
          return Promise.resolve();
        }
        const done = new Promise<void>((resolve) => slot.stopWaiters.push(resolve));
        this.#clearTimer(slot, 'readyTimer');
        this.#setState(slot, 'stopping');
        const { graceful, force } = this.#signals;
        if (graceful === null || this.#stopGraceMs === 0) {
          this.#signal(slot, force);
        } else {
          this.#signal(slot, graceful);
          slot.killTimer = this.#clock.setTimeout(() => {
            slot.killTimer = undefined;
            if (slot.state === 'stopping') this.#signal(slot, force);
          }, this.#stopGraceMs);
        }
        return done;
      }
    }
  }

  #finishStop(slot: Slot): void {
    this.#setState(slot, 'stopped');
    const waiters = slot.stopWaiters;
    slot.stopWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #clearTimer(slot: Slot, key: 'readyTimer' | 'restartTimer' | 'killTimer'): void {
    const handle = slot[key];
    if (handle !== undefined) this.#clock.clearTimeout(handle);
    slot[key] = undefined;
  }
}
