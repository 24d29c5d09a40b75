/** A collector was ejected after `consecutiveFailures` failed tasks in a row. */
export interface EjectedEvent {
  readonly type: 'ejected';
  readonly id: string;
  /** Clock time of the ejection (ms). */
  readonly at: number;
  /** Clock time at which the collector is eligible again (ms). */
  readonly untilMs: number;
  /** How many times it has been ejected (after decay); the multiplier of `baseEjectionMs`. */
  readonly ejectionCount: number;
}

/** A collector reached the failure threshold but `maxEjectionPercent` were already ejected. */
export interface EjectionSkippedEvent {
  readonly type: 'ejection-skipped';
  readonly id: string;
  readonly at: number;
  /** Collectors ejected at that moment. */
  readonly ejected: number;
  /** Most collectors that may be ejected at once. */
  readonly maxEjected: number;
}

/** An ejection ran out (or the collector restarted); the collector is eligible again. */
export interface EjectionEndedEvent {
  readonly type: 'ejection-ended';
  readonly id: string;
  readonly at: number;
}

/** Everything passed to the `onEvent` option. */
export type BalancerEvent = EjectedEvent | EjectionSkippedEvent | EjectionEndedEvent;
