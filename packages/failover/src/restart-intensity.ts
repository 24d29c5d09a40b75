import { backoffDelay, type ResolvedBackoffOptions } from './backoff.js';

/** The Supervisor's restart rules, resolved. */
export interface IntensityRules {
  readonly backoff: ResolvedBackoffOptions;
  readonly maxRestarts: number;
  readonly windowMs: number;
  /** 0: a give-up is final. */
  readonly coolDownMs: number;
  readonly maxCoolDownMs: number;
  readonly random: () => number;
}

/** What to do after a crash. */
export type RestartDecision =
  | { readonly kind: 'restart'; readonly attempt: number; readonly delayMs: number }
  | {
      readonly kind: 'give-up';
      readonly restarts: number;
      readonly giveUps: number;
      /** Cool-down before the retry; undefined when retrying is disabled. */
      readonly retryInMs: number | undefined;
    };

/**
 * One collector's restart book: the restarts inside the intensity window, the consecutive failures
 * driving the backoff, and the consecutive give-ups driving the doubling cool-down. Pure arithmetic
 * (time comes in as arguments); internal to the Supervisor.
 */
export class RestartIntensity {
  readonly #rules: IntensityRules;
  #restartTimes: number[] = [];
  #consecutiveFailures = 0;
  #giveUps = 0;

  constructor(rules: IntensityRules) {
    this.#rules = rules;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  get giveUps(): number {
    return this.#giveUps;
  }

  /** A crash at `now`; `stable` when the child had run (ready) for `backoff.resetAfterMs`. */
  crashed(now: number, stable: boolean): RestartDecision {
    const rules = this.#rules;
    if (stable) {
      this.#consecutiveFailures = 0;
      this.#giveUps = 0;
    }
    this.#consecutiveFailures++;
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < rules.windowMs);
    if (this.#restartTimes.length >= rules.maxRestarts) {
      this.#giveUps++;
      const retryInMs =
        rules.coolDownMs === 0
          ? undefined
          : Math.min(rules.maxCoolDownMs, rules.coolDownMs * 2 ** Math.min(30, this.#giveUps - 1));
      return {
        kind: 'give-up',
        restarts: this.#restartTimes.length,
        giveUps: this.#giveUps,
        retryInMs,
      };
    }
    this.#restartTimes.push(now);
    const attempt = this.#consecutiveFailures;
    return {
      kind: 'restart',
      attempt,
      delayMs: backoffDelay(attempt, rules.backoff, rules.random),
    };
  }

  /** The cool-down elapsed: a fresh window and backoff, as systemd after StartLimitIntervalSec. */
  retry(): void {
    this.#restartTimes = [];
    this.#consecutiveFailures = 0;
  }
}
