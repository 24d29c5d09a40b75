import { spawn as nodeSpawn, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { getPriority, setPriority as osSetPriority } from 'node:os';
import { resolveBackoffOptions } from './backoff.js';
import { type CallbackErrorHandler, guard, isCallbackErrorHandler } from './callbacks.js';
import { type Clock, systemClock } from './clock.js';
import { FailoverError } from './errors.js';
import {
  clockOption,
  delayOption,
  enumOption,
  functionOption,
  idArgument,
  isFunction,
  numberOption,
  objectArgument,
  readOptions,
} from './options.js';
import { OrphanGuard } from './orphan-guard.js';
import { type TerminateSignals, terminateSignals } from './platform.js';
import { type IntensityRules, RestartIntensity } from './restart-intensity.js';
import type {
  CollectorProcessInfo,
  CollectorProcessState,
  CollectorSpec,
  CollectorStateReason,
  ProcessExit,
  RestartPolicy,
  SetPriorityFunction,
  SpawnFunction,
  SupervisedChild,
  SupervisorEvents,
  SupervisorOptions,
  SupervisorState,
} from './supervisor-types.js';

export type * from './supervisor-types.js';

const DEFAULTS = {
  restart: 'permanent',
  maxRestarts: 5,
  restartWindowMs: 60_000,
  giveUpCoolDownMs: 60_000,
  maxGiveUpCoolDownMs: 600_000,
  readyTimeoutMs: 30_000,
  stopGraceMs: 5_000,
  stdio: 'ignore',
} as const;

const OPTION_KEYS = [
  'restart',
  'backoff',
  'maxRestarts',
  'restartWindowMs',
  'giveUpCoolDownMs',
  'maxGiveUpCoolDownMs',
  'readyTimeoutMs',
  'stopGraceMs',
  'niceness',
  'stdio',
  'clock',
  'random',
  'platform',
  'spawn',
  'setPriority',
  'onCallbackError',
] as const;

const SPEC_KEYS = ['id', 'command', 'args', 'env', 'inheritEnv', 'cwd', 'restart', 'niceness'];
const POLICIES: readonly RestartPolicy[] = ['permanent', 'transient', 'temporary'];
const NICENESS = { min: -20, max: 19, integer: true } as const;
/** Lateness of the ready timer that counts as a stall of the agent's loop, and the extra wait. */
const STALL_GRACE_MS = 1000;

function isStdio(value: unknown): value is StdioOptions {
  return typeof value === 'string' || Array.isArray(value);
}

/** Lower than the agent (10), but never asking for more than it has (that needs privileges). */
function defaultNiceness(): number {
  try {
    return Math.max(10, getPriority());
  } catch {
    return 10;
  }
}

// Any string: an unknown platform gets the POSIX signals.
function isPlatform(value: unknown): value is NodeJS.Platform {
  return typeof value === 'string';
}

const defaultSpawn: SpawnFunction = (command, args, options) => nodeSpawn(command, args, options);

interface Slot {
  readonly spec: CollectorSpec;
  readonly policy: RestartPolicy;
  readonly niceness: number | undefined;
  state: CollectorProcessState;
  child: SupervisedChild | undefined;
  pid: number | undefined;
  generation: number;
  restarts: number;
  failedStarts: number;
  readonly intensity: RestartIntensity;
  retryAt: number | undefined;
  startedAt: number | undefined;
  readyAt: number | undefined;
  startTimedOut: boolean;
  killedFor: string | undefined;
  lastExit: ProcessExit | undefined;
  readyTimer: unknown;
  restartTimer: unknown;
  killTimer: unknown;
  coolDownTimer: unknown;
  stopWaiters: Array<() => void>;
}

type TimerKey = 'readyTimer' | 'restartTimer' | 'killTimer' | 'coolDownTimer';

/**
 * Spawns collector processes and keeps them running: restart policies, exponential backoff with
 * jitter, a restart-intensity limit followed by a doubling cool-down (as systemd after
 * `StartLimitIntervalSec`), readiness timeout, priority, SIGTERM-then-SIGKILL stop. Never installs
 * signal handlers and never prints; everything is reported as events.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #policy: RestartPolicy;
  readonly #rules: IntensityRules;
  readonly #resetAfterMs: number;
  readonly #readyTimeoutMs: number;
  readonly #stopGraceMs: number;
  readonly #niceness: number | undefined;
  readonly #stdio: StdioOptions;
  readonly #clock: Clock;
  readonly #signals: TerminateSignals;
  readonly #spawn: SpawnFunction;
  /** Kills collectors left behind if this process dies (POSIX, default spawn only). */
  readonly #guard: OrphanGuard | undefined;
  readonly #setPriority: SetPriorityFunction;
  readonly #onCallbackError: CallbackErrorHandler | undefined;
  readonly #slots = new Map<string, Slot>();
  #state: SupervisorState = 'open';
  #closing: Promise<void> | undefined;

  constructor(options?: SupervisorOptions) {
    super();
    const o = readOptions('options', options, OPTION_KEYS);
    const d = DEFAULTS;
    this.#policy = enumOption('options.restart', o.restart, POLICIES, d.restart);
    const backoff = resolveBackoffOptions(o.backoff, 'options.backoff');
    const coolDownMs = delayOption(
      'options.giveUpCoolDownMs',
      o.giveUpCoolDownMs,
      d.giveUpCoolDownMs,
    );
    this.#rules = {
      backoff,
      maxRestarts: numberOption('options.maxRestarts', o.maxRestarts, d.maxRestarts, {
        min: 0,
        max: 1000,
        integer: true,
      }),
      windowMs: delayOption('options.restartWindowMs', o.restartWindowMs, d.restartWindowMs, 1),
      coolDownMs,
      maxCoolDownMs: delayOption(
        'options.maxGiveUpCoolDownMs',
        o.maxGiveUpCoolDownMs,
        Math.max(d.maxGiveUpCoolDownMs, coolDownMs),
        coolDownMs,
      ),
      random: functionOption('options.random', o.random, isFunction<() => number>) ?? Math.random,
    };
    this.#resetAfterMs = backoff.resetAfterMs;
    this.#readyTimeoutMs = delayOption(
      'options.readyTimeoutMs',
      o.readyTimeoutMs,
      d.readyTimeoutMs,
    );
    this.#stopGraceMs = delayOption('options.stopGraceMs', o.stopGraceMs, d.stopGraceMs);
    this.#niceness =
      o.niceness === null
        ? undefined
        : numberOption('options.niceness', o.niceness, defaultNiceness(), NICENESS);
    if (o.stdio !== undefined && !isStdio(o.stdio)) {
      throw new TypeError(`options.stdio must be a string or an array, got ${typeof o.stdio}`);
    }
    this.#stdio = o.stdio ?? d.stdio;
    this.#clock = clockOption('options.clock', o.clock, systemClock);
    if (o.platform !== undefined && !isPlatform(o.platform)) {
      throw new TypeError(
        `options.platform must be a string such as "linux", got ${typeof o.platform}`,
      );
    }
    this.#signals = terminateSignals(o.platform ?? process.platform);
    this.#spawn =
      functionOption('options.spawn', o.spawn, isFunction<SpawnFunction>) ?? defaultSpawn;
    this.#guard =
      this.#spawn === defaultSpawn && process.platform !== 'win32' ? new OrphanGuard() : undefined;
    this.#setPriority =
      functionOption('options.setPriority', o.setPriority, isFunction<SetPriorityFunction>) ??
      osSetPriority;
    this.#onCallbackError = functionOption(
      'options.onCallbackError',
      o.onCallbackError,
      isCallbackErrorHandler,
    );
  }

  /** The supervisor's lifecycle state: `open` until {@link close}, then `closing`, `closed`. */
  get state(): SupervisorState {
    return this.#state;
  }

  /**
   * Starts supervising a collector and spawns it now. Throws `ERR_FAILOVER_CLOSED` after close,
   * `ERR_FAILOVER_DUPLICATE_COLLECTOR` if the id is supervised and not `stopped`/`given-up` (such
   * a one is replaced, with fresh counters), and TypeError/RangeError for a bad spec.
   */
  start(spec: CollectorSpec): void {
    const s = readOptions('spec', objectArgument('spec', spec), SPEC_KEYS);
    idArgument('spec.id', s.id);
    idArgument('spec.command', s.command);
    if (
      s.args !== undefined &&
      (!Array.isArray(s.args) || s.args.some((a: unknown) => typeof a !== 'string'))
    ) {
      throw new TypeError('spec.args must be an array of strings, got an invalid array');
    }
    if (s.env !== undefined) objectArgument('spec.env', s.env);
    if (s.cwd !== undefined) idArgument('spec.cwd', s.cwd);
    const policy = enumOption('spec.restart', spec.restart, POLICIES, this.#policy);
    let niceness: number | undefined;
    if (spec.niceness === undefined) niceness = this.#niceness;
    else if (spec.niceness !== null) {
      niceness = numberOption('spec.niceness', spec.niceness, 0, NICENESS);
    }
    if (this.#state !== 'open') {
      throw new FailoverError(
        'ERR_FAILOVER_CLOSED',
        `cannot start ${spec.id}: supervisor is closed`,
      );
    }
    const existing = this.#slots.get(spec.id);
    if (existing !== undefined && existing.state !== 'stopped' && existing.state !== 'given-up') {
      throw new FailoverError(
        'ERR_FAILOVER_DUPLICATE_COLLECTOR',
        `collector ${spec.id} is already supervised (${existing.state})`,
      );
    }
    if (existing !== undefined) this.#clearTimer(existing, 'coolDownTimer');
    const slot: Slot = {
      spec: { ...spec },
      policy,
      niceness,
      state: 'stopped',
      child: undefined,
      pid: undefined,
      generation: 0,
      restarts: 0,
      failedStarts: 0,
      intensity: new RestartIntensity(this.#rules),
      retryAt: undefined,
      startedAt: undefined,
      readyAt: undefined,
      startTimedOut: false,
      killedFor: undefined,
      lastExit: undefined,
      readyTimer: undefined,
      restartTimer: undefined,
      killTimer: undefined,
      coolDownTimer: undefined,
      stopWaiters: [],
    };
    this.#slots.set(spec.id, slot);
    this.#spawnChild(slot, existing?.state, 'started');
  }

  /**
   * The collector's Hello arrived: `starting -> running`. With `pid`, a Hello from another
   * incarnation is ignored. Returns false when not `starting` (or pid mismatch); throws
   * `ERR_FAILOVER_UNKNOWN_COLLECTOR` for an id never started.
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
    this.#setState(slot, 'running', 'ready');
    this.#emit('ready', () =>
      this.emit('ready', { id, pid: slot.pid, startupMs: now - (slot.startedAt ?? now) }),
    );
    return true;
  }

  /**
   * Kills the child at once with the forced signal (a hung collector, one over its limits); its
   * exit is handled like a crash (restart policy, backoff, intensity) and carries `reason` as
   * `killedFor`. False when there is no live child. Throws `ERR_FAILOVER_UNKNOWN_COLLECTOR`.
   */
  kill(id: string, reason?: string): boolean {
    const slot = this.#require(id);
    if (slot.child === undefined || (slot.state !== 'starting' && slot.state !== 'running')) {
      return false;
    }
    slot.killedFor = reason ?? slot.killedFor ?? 'killed';
    return this.#signal(slot, this.#signals.force);
  }

  /**
   * Stops a collector for good: graceful signal, forced one after `stopGraceMs`; resolves once the
   * child exited (state `stopped`). Rejects `ERR_FAILOVER_UNKNOWN_COLLECTOR`. Aborting `signal`
   * sends the forced signal at once and rejects `ERR_FAILOVER_ABORTED` (the stop itself goes on).
   */
  stop(id: string, options?: { signal?: AbortSignal | undefined }): Promise<void> {
    const slot = this.#slots.get(id);
    if (slot === undefined) {
      return Promise.reject(
        new FailoverError('ERR_FAILOVER_UNKNOWN_COLLECTOR', `collector ${id} is not supervised`),
      );
    }
    const signal = options?.signal;
    if (signal === undefined) return this.#stopSlot(slot, 'stop-requested');
    if (signal.aborted) return Promise.reject(this.#aborted(id, signal));
    const done = this.#stopSlot(slot, 'stop-requested');
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        if (slot.state === 'stopping') this.#signal(slot, this.#signals.force);
        reject(this.#aborted(id, signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void done.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
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
   * Stops every collector and cancels pending restarts and cool-downs; resolves when no child is
   * left running. Idempotent: returns the same promise; `start` throws `ERR_FAILOVER_CLOSED` after.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // Closing before any slot is stopped: a listener cannot start a new child now.
      this.#setOwnState('closing');
      const stops = [...this.#slots.values()].map((slot) => this.#stopSlot(slot, 'closed'));
      this.#closing = Promise.all(stops).then(() => {
        this.#guard?.close();
        this.#setOwnState('closed');
      });
    }
    return this.#closing;
  }

  #aborted(id: string, signal: AbortSignal): FailoverError {
    return new FailoverError('ERR_FAILOVER_ABORTED', `stop of ${id} aborted`, {
      cause: signal.reason,
    });
  }

  #emit(event: string, fn: () => void): void {
    guard(this.#onCallbackError, `a Supervisor '${event}' listener`, fn);
  }

  #setOwnState(to: SupervisorState): void {
    const from = this.#state;
    this.#state = to;
    this.#emit('state-change', () => this.emit('state-change', { from, to, reason: 'close' }));
  }

  #require(id: string): Slot {
    const slot = this.#slots.get(id);
    if (slot === undefined) {
      throw new FailoverError(
        'ERR_FAILOVER_UNKNOWN_COLLECTOR',
        `collector ${id} is not supervised`,
      );
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
      consecutiveFailures: slot.intensity.consecutiveFailures,
      giveUps: slot.intensity.giveUps,
      retryAt: slot.retryAt,
      startedAt: slot.startedAt,
      readyAt: slot.readyAt,
      lastExit: slot.lastExit,
    };
  }

  #setState(
    slot: Slot,
    to: CollectorProcessState,
    reason: CollectorStateReason,
    from: CollectorProcessState | undefined = slot.state,
  ): void {
    if (from === to) return;
    slot.state = to;
    this.#emit('collector-state-change', () =>
      this.emit('collector-state-change', { id: slot.spec.id, from, to, reason }),
    );
  }

  #env(spec: CollectorSpec): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = spec.inheritEnv === false ? {} : { ...process.env };
    for (const [key, value] of Object.entries(spec.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    return env;
  }

  #spawnChild(
    slot: Slot,
    from: CollectorProcessState | undefined,
    reason: CollectorStateReason,
  ): void {
    const { spec } = slot;
    const generation = ++slot.generation;
    slot.startTimedOut = false;
    slot.killedFor = undefined;
    slot.readyAt = undefined;
    slot.retryAt = undefined;
    slot.startedAt = this.#clock.now();
    this.#setState(slot, 'starting', reason, from);
    // A listener may have stopped this slot (or closed us): then spawn nothing.
    if (
      this.#state !== 'open' ||
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
      // Its own process group (and session) on POSIX: the terminal's Ctrl-C reaches only the
      // agent, and the orphan guard can kill the collector with what it started.
      ...(this.#guard === undefined ? {} : { detached: true }),
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
    if (child.pid !== undefined) this.#guard?.add(child.pid);
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
      this.#emit('child-error', () =>
        this.emit('child-error', { id: spec.id, pid: child.pid, error }),
      );
    });
    if (child.pid !== undefined) {
      this.#applyNiceness(slot, child.pid);
      const pid = child.pid;
      this.#emit('spawn', () =>
        this.emit('spawn', {
          id: spec.id,
          pid,
          restarts: slot.restarts,
          stdout: child.stdout,
          stderr: child.stderr,
        }),
      );
    }
    if (this.#readyTimeoutMs > 0 && slot.generation === generation && slot.state === 'starting') {
      this.#armReadyTimer(slot, generation, this.#readyTimeoutMs, true);
    }
  }

  // A ready timer that fires more than STALL_GRACE_MS late means the agent's own loop stalled: the
  // Hello may sit unread in the socket, so the verdict waits one more grace (once).
  #armReadyTimer(slot: Slot, generation: number, delayMs: number, mayExtend: boolean): void {
    const due = this.#clock.now() + delayMs;
    slot.readyTimer = this.#clock.setTimeout(() => {
      slot.readyTimer = undefined;
      if (slot.generation !== generation || slot.state !== 'starting') return;
      if (mayExtend && this.#clock.now() - due > STALL_GRACE_MS) {
        this.#armReadyTimer(slot, generation, STALL_GRACE_MS, false);
        return;
      }
      slot.failedStarts++;
      slot.startTimedOut = true;
      slot.killedFor = 'start-timeout';
      const error = new FailoverError(
        'ERR_FAILOVER_START_TIMEOUT',
        `collector ${slot.spec.id} was not ready within ${this.#readyTimeoutMs} ms`,
      );
      this.#signal(slot, this.#signals.force);
      this.#emit('start-timeout', () =>
        this.emit('start-timeout', { id: slot.spec.id, pid: slot.pid, error }),
      );
    }, delayMs);
  }

  #applyNiceness(slot: Slot, pid: number): void {
    const niceness = slot.niceness;
    if (niceness === undefined) return;
    try {
      this.#setPriority(pid, niceness);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      const error = new FailoverError(
        'ERR_FAILOVER_SET_PRIORITY_FAILED',
        `cannot set niceness ${niceness} on collector ${slot.spec.id} (pid ${pid}): ${detail}`,
        { cause },
      );
      this.#emit('priority-error', () =>
        this.emit('priority-error', { id: slot.spec.id, pid, niceness, error }),
      );
    }
  }

  #spawnFailed(slot: Slot, cause: unknown): void {
    slot.failedStarts++;
    slot.startTimedOut = true;
    const detail = cause instanceof Error ? cause.message : String(cause);
    const error = new FailoverError(
      'ERR_FAILOVER_SPAWN_FAILED',
      `cannot spawn collector ${slot.spec.id}: ${detail}`,
      { cause },
    );
    this.#emit('spawn-error', () => this.emit('spawn-error', { id: slot.spec.id, error }));
  }

  #signal(slot: Slot, signal: NodeJS.Signals): boolean {
    const child = slot.child;
    if (child === undefined) return false;
    try {
      return child.kill(signal);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      this.#emit('child-error', () =>
        this.emit('child-error', { id: slot.spec.id, pid: slot.pid, error }),
      );
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
    const killedFor = slot.killedFor;
    this.#clearTimer(slot, 'readyTimer');
    this.#clearTimer(slot, 'killTimer');
    slot.child = undefined;
    if (pid !== undefined) this.#guard?.remove(pid);
    slot.lastExit = { code, signal, at: now, killedFor };
    this.#emit('exit', () =>
      this.emit('exit', { id: slot.spec.id, pid, code, signal, expected, killedFor }),
    );
    // A listener may have stopped, replaced or closed us meanwhile.
    if (this.#slots.get(slot.spec.id) !== slot || slot.generation !== generation) return;
    if (slot.state === 'stopped') return;
    if (expected || this.#state !== 'open') {
      this.#finishStop(slot);
      return;
    }
    const abnormal = slot.startTimedOut || code !== 0 || signal !== null;
    if (slot.policy === 'temporary' || (slot.policy === 'transient' && !abnormal)) {
      this.#setState(slot, 'stopped', 'policy');
      return;
    }
    // Stable = ready for resetAfterMs (or, with readiness timeout disabled, running that long).
    const stableSince = slot.readyAt ?? (this.#readyTimeoutMs === 0 ? slot.startedAt : undefined);
    const stable = stableSince !== undefined && now - stableSince >= this.#resetAfterMs;
    const decision = slot.intensity.crashed(now, stable);
    if (decision.kind === 'give-up') {
      this.#giveUp(slot, decision.restarts, decision.giveUps, decision.retryInMs);
      return;
    }
    const { attempt, delayMs } = decision;
    this.#setState(slot, 'restarting', 'exited');
    this.#emit('restart-scheduled', () =>
      this.emit('restart-scheduled', { id: slot.spec.id, delayMs, attempt }),
    );
    if (slot.state !== 'restarting' || slot.restartTimer !== undefined) return;
    slot.restartTimer = this.#clock.setTimeout(() => {
      slot.restartTimer = undefined;
      if (slot.state !== 'restarting' || this.#slots.get(slot.spec.id) !== slot) return;
      slot.restarts++;
      this.#spawnChild(slot, 'restarting', 'restart-due');
    }, delayMs);
  }

  #giveUp(slot: Slot, restarts: number, giveUps: number, retryInMs: number | undefined): void {
    slot.retryAt = retryInMs === undefined ? undefined : this.#clock.now() + retryInMs;
    this.#setState(slot, 'given-up', 'intensity-reached');
    this.#emit('gave-up', () =>
      this.emit('gave-up', {
        id: slot.spec.id,
        restarts,
        windowMs: this.#rules.windowMs,
        giveUps,
        retryInMs,
      }),
    );
    if (retryInMs === undefined || slot.state !== 'given-up' || this.#state !== 'open') return;
    if (this.#slots.get(slot.spec.id) !== slot) return;
    slot.coolDownTimer = this.#clock.setTimeout(() => {
      slot.coolDownTimer = undefined;
      if (slot.state !== 'given-up' || this.#slots.get(slot.spec.id) !== slot) return;
      if (this.#state !== 'open') return;
      slot.intensity.retry();
      slot.restarts++;
      this.#emit('give-up-retry', () =>
        this.emit('give-up-retry', {
          id: slot.spec.id,
          giveUps,
          coolDownMs: retryInMs,
        }),
      );
      if (slot.state !== 'given-up' || this.#slots.get(slot.spec.id) !== slot) return;
      this.#spawnChild(slot, 'given-up', 'cool-down-elapsed');
    }, retryInMs);
  }

  #stopSlot(slot: Slot, reason: CollectorStateReason): Promise<void> {
    switch (slot.state) {
      case 'stopped':
        return Promise.resolve();
      case 'given-up':
        this.#clearTimer(slot, 'coolDownTimer');
        slot.retryAt = undefined;
        this.#setState(slot, 'stopped', reason);
        return Promise.resolve();
      case 'restarting':
        this.#clearTimer(slot, 'restartTimer');
        this.#setState(slot, 'stopped', reason);
        return Promise.resolve();
      case 'stopping':
        return new Promise((resolve) => slot.stopWaiters.push(resolve));
      case 'starting':
      case 'running': {
        const child = slot.child;
        if (child === undefined) {
          this.#setState(slot, 'stopped', reason);
          return Promise.resolve();
        }
        const done = new Promise<void>((resolve) => slot.stopWaiters.push(resolve));
        this.#clearTimer(slot, 'readyTimer');
        this.#setState(slot, 'stopping', reason);
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
    this.#setState(slot, 'stopped', 'exited');
    const waiters = slot.stopWaiters;
    slot.stopWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #clearTimer(slot: Slot, key: TimerKey): void {
    const handle = slot[key];
    if (handle !== undefined) this.#clock.clearTimeout(handle);
    slot[key] = undefined;
  }
}
