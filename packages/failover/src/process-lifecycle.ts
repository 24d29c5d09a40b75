import type { EventEmitter } from 'node:events';
import type { ChildLauncher } from './child-launcher.js';
import type { Clock } from './clock.js';
import { FailoverError } from './errors.js';
import type { TerminateSignals } from './platform.js';
import type { IntensityRules } from './restart-intensity.js';
import type { Supervisor } from './supervisor.js';
import type { Slot, TimerKey } from './supervisor-slot.js';
import type {
  CollectorProcessState,
  CollectorStateReason,
  SetPriorityFunction,
  SupervisedChild,
  SupervisorEvents,
} from './supervisor-types.js';

/** Lateness of the ready timer that counts as a stall of the agent's loop, and the extra wait. */
const STALL_GRACE_MS = 1000;

/** What the lifecycle needs from its {@link Supervisor}. */
export interface LifecycleOwner {
  readonly events: EventEmitter<SupervisorEvents>;
  /** Runs a listener call under the supervisor's callback policy. */
  notify(event: string, fn: () => void): void;
  /** False once the supervisor is closing. */
  isOpen(): boolean;
  /** True while `slot` is the supervisor's slot for its id (not stopped-and-replaced). */
  isCurrent(slot: Slot): boolean;
}

/** The supervisor's fixed settings the lifecycle runs on. */
export interface LifecycleConfig {
  readonly clock: Clock;
  readonly signals: TerminateSignals;
  readonly launcher: ChildLauncher;
  readonly setPriority: SetPriorityFunction;
  readonly rules: IntensityRules;
  readonly resetAfterMs: number;
  readonly readyTimeoutMs: number;
  readonly stopGraceMs: number;
}

/**
 * The state machine of one supervised collector process, for every slot of a {@link Supervisor}:
 * spawn, readiness timeout (with the agent-stall grace), exit, restart with backoff, give-up and
 * cool-down, stop with a grace before the forced signal. The supervisor owns the slots.
 */
export class ProcessLifecycle {
  readonly #owner: LifecycleOwner;
  readonly #clock: Clock;
  readonly #signals: TerminateSignals;
  readonly #launcher: ChildLauncher;
  readonly #setPriority: SetPriorityFunction;
  readonly #rules: IntensityRules;
  readonly #resetAfterMs: number;
  readonly #readyTimeoutMs: number;
  readonly #stopGraceMs: number;

  /** The signal that kills at once (SIGKILL; on Windows, TerminateProcess). */
  get forceSignal(): NodeJS.Signals {
    return this.#signals.force;
  }

  constructor(owner: LifecycleOwner, config: LifecycleConfig) {
    this.#owner = owner;
    this.#clock = config.clock;
    this.#signals = config.signals;
    this.#launcher = config.launcher;
    this.#setPriority = config.setPriority;
    this.#rules = config.rules;
    this.#resetAfterMs = config.resetAfterMs;
    this.#readyTimeoutMs = config.readyTimeoutMs;
    this.#stopGraceMs = config.stopGraceMs;
  }

  /** The collector's Hello: `starting -> running` (see {@link Supervisor.markReady}). */
  ready(slot: Slot, pid: number | undefined): boolean {
    if (slot.state !== 'starting' || slot.child === undefined) return false;
    // The start timeout is already killing this child: a late Hello does not make it ready.
    if (slot.startTimedOut) return false;
    if (pid !== undefined && pid !== slot.pid) return false;
    this.clearTimer(slot, 'readyTimer');
    const now = this.#clock.now();
    slot.readyAt = now;
    this.setState(slot, 'running', 'ready');
    this.#owner.notify('ready', () =>
      this.#owner.events.emit('ready', {
        id: slot.spec.id,
        pid: slot.pid,
        startupMs: now - (slot.startedAt ?? now),
      }),
    );
    return true;
  }

  /** Kills a live child with the forced signal (see {@link Supervisor.kill}). */
  kill(slot: Slot, reason: string | undefined): boolean {
    if (slot.child === undefined || (slot.state !== 'starting' && slot.state !== 'running')) {
      return false;
    }
    slot.killedFor = reason ?? slot.killedFor ?? 'killed';
    return this.signal(slot, this.#signals.force);
  }

  /** Moves `slot` to `to` and emits `collector-state-change` (nothing when already there). */
  setState(
    slot: Slot,
    to: CollectorProcessState,
    reason: CollectorStateReason,
    from: CollectorProcessState | undefined = slot.state,
  ): void {
    if (from === to) return;
    slot.state = to;
    this.#owner.notify('collector-state-change', () =>
      this.#owner.events.emit('collector-state-change', { id: slot.spec.id, from, to, reason }),
    );
  }

  /** Spawns a new incarnation of `slot` (state `starting`) and arms its ready timer. */
  spawn(slot: Slot, from: CollectorProcessState | undefined, reason: CollectorStateReason): void {
    const { spec } = slot;
    const generation = ++slot.generation;
    slot.startTimedOut = false;
    slot.killedFor = undefined;
    slot.readyAt = undefined;
    slot.retryAt = undefined;
    slot.startedAt = this.#clock.now();
    this.setState(slot, 'starting', reason, from);
    // A listener may have stopped this slot (or closed us): then spawn nothing.
    if (
      !this.#owner.isOpen() ||
      slot.state !== 'starting' ||
      slot.generation !== generation ||
      !this.#owner.isCurrent(slot)
    ) {
      return;
    }
    let child: SupervisedChild;
    try {
      child = this.#launcher.launch(spec);
    } catch (cause) {
      this.#spawnFailed(slot, cause);
      this.#onGone(slot, generation, null, null);
      return;
    }
    slot.child = child;
    slot.pid = child.pid;
    if (child.pid !== undefined) this.#launcher.started(child.pid);
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
      this.#owner.notify('child-error', () =>
        this.#owner.events.emit('child-error', { id: spec.id, pid: child.pid, error }),
      );
    });
    if (child.pid !== undefined) {
      this.#applyNiceness(slot, child.pid);
      const pid = child.pid;
      this.#owner.notify('spawn', () =>
        this.#owner.events.emit('spawn', {
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
      this.signal(slot, this.#signals.force);
      this.#owner.notify('start-timeout', () =>
        this.#owner.events.emit('start-timeout', { id: slot.spec.id, pid: slot.pid, error }),
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
      this.#owner.notify('priority-error', () =>
        this.#owner.events.emit('priority-error', { id: slot.spec.id, pid, niceness, error }),
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
    this.#owner.notify('spawn-error', () =>
      this.#owner.events.emit('spawn-error', { id: slot.spec.id, error }),
    );
  }

  /** Sends `signal` to the slot's child; a throwing `kill` is reported as `child-error`. */
  signal(slot: Slot, signal: NodeJS.Signals): boolean {
    const child = slot.child;
    if (child === undefined) return false;
    try {
      return child.kill(signal);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      this.#owner.notify('child-error', () =>
        this.#owner.events.emit('child-error', { id: slot.spec.id, pid: slot.pid, error }),
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
    this.clearTimer(slot, 'readyTimer');
    this.clearTimer(slot, 'killTimer');
    slot.child = undefined;
    if (pid !== undefined) this.#launcher.gone(pid);
    slot.lastExit = { code, signal, at: now, killedFor };
    this.#owner.notify('exit', () =>
      this.#owner.events.emit('exit', { id: slot.spec.id, pid, code, signal, expected, killedFor }),
    );
    // A listener may have stopped, replaced or closed us meanwhile.
    if (!this.#owner.isCurrent(slot) || slot.generation !== generation) return;
    if (slot.state === 'stopped') return;
    if (expected || !this.#owner.isOpen()) {
      this.#finishStop(slot);
      return;
    }
    const abnormal = slot.startTimedOut || code !== 0 || signal !== null;
    if (slot.policy === 'temporary' || (slot.policy === 'transient' && !abnormal)) {
      this.setState(slot, 'stopped', 'policy');
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
    this.setState(slot, 'restarting', 'exited');
    this.#owner.notify('restart-scheduled', () =>
      this.#owner.events.emit('restart-scheduled', { id: slot.spec.id, delayMs, attempt }),
    );
    if (slot.state !== 'restarting' || slot.restartTimer !== undefined) return;
    slot.restartTimer = this.#clock.setTimeout(() => {
      slot.restartTimer = undefined;
      if (slot.state !== 'restarting' || !this.#owner.isCurrent(slot)) return;
      slot.restarts++;
      this.spawn(slot, 'restarting', 'restart-due');
    }, delayMs);
  }

  #giveUp(slot: Slot, restarts: number, giveUps: number, retryInMs: number | undefined): void {
    slot.retryAt = retryInMs === undefined ? undefined : this.#clock.now() + retryInMs;
    this.setState(slot, 'given-up', 'intensity-reached');
    this.#owner.notify('gave-up', () =>
      this.#owner.events.emit('gave-up', {
        id: slot.spec.id,
        restarts,
        windowMs: this.#rules.windowMs,
        giveUps,
        retryInMs,
      }),
    );
    if (retryInMs === undefined || slot.state !== 'given-up' || !this.#owner.isOpen()) return;
    if (!this.#owner.isCurrent(slot)) return;
    slot.coolDownTimer = this.#clock.setTimeout(() => {
      slot.coolDownTimer = undefined;
      if (slot.state !== 'given-up' || !this.#owner.isCurrent(slot)) return;
      if (!this.#owner.isOpen()) return;
      slot.intensity.retry();
      slot.restarts++;
      this.#owner.notify('give-up-retry', () =>
        this.#owner.events.emit('give-up-retry', {
          id: slot.spec.id,
          giveUps,
          coolDownMs: retryInMs,
        }),
      );
      if (slot.state !== 'given-up' || !this.#owner.isCurrent(slot)) return;
      this.spawn(slot, 'given-up', 'cool-down-elapsed');
    }, retryInMs);
  }

  /** Stops `slot` for good; resolves once it is `stopped`. */
  stop(slot: Slot, reason: CollectorStateReason): Promise<void> {
    switch (slot.state) {
      case 'stopped':
        return Promise.resolve();
      case 'given-up':
        this.clearTimer(slot, 'coolDownTimer');
        slot.retryAt = undefined;
        this.setState(slot, 'stopped', reason);
        return Promise.resolve();
      case 'restarting':
        this.clearTimer(slot, 'restartTimer');
        this.setState(slot, 'stopped', reason);
        return Promise.resolve();
      case 'stopping':
        return new Promise((resolve) => slot.stopWaiters.push(resolve));
      case 'starting':
      case 'running': {
        const child = slot.child;
        if (child === undefined) {
          this.setState(slot, 'stopped', reason);
          return Promise.resolve();
        }
        const done = new Promise<void>((resolve) => slot.stopWaiters.push(resolve));
        this.clearTimer(slot, 'readyTimer');
        this.setState(slot, 'stopping', reason);
        const { graceful, force } = this.#signals;
        if (graceful === null || this.#stopGraceMs === 0) {
          this.signal(slot, force);
        } else {
          this.signal(slot, graceful);
          slot.killTimer = this.#clock.setTimeout(() => {
            slot.killTimer = undefined;
            if (slot.state === 'stopping') this.signal(slot, force);
          }, this.#stopGraceMs);
        }
        return done;
      }
    }
  }

  #finishStop(slot: Slot): void {
    this.setState(slot, 'stopped', 'exited');
    const waiters = slot.stopWaiters;
    slot.stopWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Cancels one of the slot's timers. */
  clearTimer(slot: Slot, key: TimerKey): void {
    const handle = slot[key];
    if (handle !== undefined) this.#clock.clearTimeout(handle);
    slot[key] = undefined;
  }
}
