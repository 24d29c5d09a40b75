import { EventEmitter } from 'node:events';
import { type CallbackErrorHandler, guard } from './callbacks.js';
import { ChildLauncher } from './child-launcher.js';
import { FailoverError } from './errors.js';
import { terminateSignals } from './platform.js';
import { ProcessLifecycle } from './process-lifecycle.js';
import type { IntensityRules } from './restart-intensity.js';
import { resolveSpec, resolveSupervisorOptions } from './supervisor-options.js';
import { createSlot, type Slot, slotInfo } from './supervisor-slot.js';
import type {
  CollectorProcessInfo,
  CollectorSpec,
  RestartPolicy,
  SupervisorEvents,
  SupervisorOptions,
  SupervisorState,
} from './supervisor-types.js';

export type * from './supervisor-types.js';

/**
 * Spawns collector processes and keeps them running: restart policies, exponential backoff with
 * jitter, a restart-intensity limit followed by a doubling cool-down (as systemd after
 * `StartLimitIntervalSec`), readiness timeout, priority, SIGTERM-then-SIGKILL stop. Never installs
 * signal handlers and never prints; everything is reported as events.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #policy: RestartPolicy;
  readonly #rules: IntensityRules;
  readonly #niceness: number | undefined;
  readonly #onCallbackError: CallbackErrorHandler | undefined;
  readonly #lifecycle: ProcessLifecycle;
  readonly #launcher: ChildLauncher;
  readonly #slots = new Map<string, Slot>();
  #state: SupervisorState = 'open';
  #closing: Promise<void> | undefined;

  constructor(options?: SupervisorOptions) {
    super();
    const o = resolveSupervisorOptions(options);
    this.#policy = o.policy;
    this.#rules = o.rules;
    this.#niceness = o.niceness;
    this.#onCallbackError = o.onCallbackError;
    this.#launcher = new ChildLauncher(o.spawn, o.stdio);
    const owner = {
      events: this,
      notify: (event: string, fn: () => void): void => this.#emit(event, fn),
      isOpen: (): boolean => this.#state === 'open',
      isCurrent: (slot: Slot): boolean => this.#slots.get(slot.spec.id) === slot,
    };
    this.#lifecycle = new ProcessLifecycle(owner, {
      clock: o.clock,
      signals: terminateSignals(o.platform),
      launcher: this.#launcher,
      setPriority: o.setPriority,
      rules: o.rules,
      resetAfterMs: o.resetAfterMs,
      readyTimeoutMs: o.readyTimeoutMs,
      stopGraceMs: o.stopGraceMs,
    });
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
    const { policy, niceness } = resolveSpec(spec, {
      policy: this.#policy,
      niceness: this.#niceness,
    });
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
    if (existing !== undefined) this.#lifecycle.clearTimer(existing, 'coolDownTimer');
    const slot = createSlot(spec, policy, niceness, this.#rules);
    this.#slots.set(spec.id, slot);
    this.#lifecycle.spawn(slot, existing?.state, 'started');
  }

  /**
   * The collector's Hello arrived: `starting -> running`. With `pid`, a Hello from another
   * incarnation is ignored. Returns false when not `starting` (or pid mismatch); throws
   * `ERR_FAILOVER_UNKNOWN_COLLECTOR` for an id never started.
   */
  markReady(id: string, pid?: number): boolean {
    return this.#lifecycle.ready(this.#require(id), pid);
  }

  /**
   * Kills the child at once with the forced signal (a hung collector, one over its limits); its
   * exit is handled like a crash (restart policy, backoff, intensity) and carries `reason` as
   * `killedFor`. False when there is no live child. Throws `ERR_FAILOVER_UNKNOWN_COLLECTOR`.
   */
  kill(id: string, reason?: string): boolean {
    return this.#lifecycle.kill(this.#require(id), reason);
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
    if (signal === undefined) return this.#lifecycle.stop(slot, 'stop-requested');
    if (signal.aborted) return Promise.reject(this.#aborted(id, signal));
    const done = this.#lifecycle.stop(slot, 'stop-requested');
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        if (slot.state === 'stopping') this.#lifecycle.signal(slot, this.#lifecycle.forceSignal);
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
    return slot === undefined ? undefined : slotInfo(slot);
  }

  /** Snapshots of every supervised collector. */
  list(): CollectorProcessInfo[] {
    return [...this.#slots.values()].map(slotInfo);
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
      const stops = [...this.#slots.values()].map((slot) => this.#lifecycle.stop(slot, 'closed'));
      this.#closing = Promise.all(stops).then(() => {
        this.#launcher.close();
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
}
