import { type IntensityRules, RestartIntensity } from './restart-intensity.js';
import type {
  CollectorProcessInfo,
  CollectorProcessState,
  CollectorSpec,
  ProcessExit,
  RestartPolicy,
  SupervisedChild,
} from './supervisor-types.js';

/** Everything the supervisor knows about one supervised collector. */
export interface Slot {
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

export type TimerKey = 'readyTimer' | 'restartTimer' | 'killTimer' | 'coolDownTimer';

/** A fresh, `stopped` slot with zeroed counters. */
export function createSlot(
  spec: CollectorSpec,
  policy: RestartPolicy,
  niceness: number | undefined,
  rules: IntensityRules,
): Slot {
  return {
    spec: { ...spec },
    policy,
    niceness,
    state: 'stopped',
    child: undefined,
    pid: undefined,
    generation: 0,
    restarts: 0,
    failedStarts: 0,
    intensity: new RestartIntensity(rules),
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
}

/** The public snapshot of a slot. */
export function slotInfo(slot: Slot): CollectorProcessInfo {
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
