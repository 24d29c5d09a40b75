import { HealthTracker } from '@daemoneye/failover';
import { type Admission, Broker, type HelloInfo } from '@daemoneye/ipc-transport';
import { definedOnly } from './host.js';
import type { ResolvedOptions } from './options.js';
import type { CoordinatorEvents } from './types.js';

type Emit = <K extends keyof CoordinatorEvents>(event: K, ...args: CoordinatorEvents[K]) => void;

/** The broker, with the coordinator's admission as its `authorize` hook (a Reject in the handshake). */
export function createBrokerFor(
  o: ResolvedOptions,
  authorize: (hello: HelloInfo) => Admission,
): Broker {
  return new Broker({
    ...definedOnly(o.transport),
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    authorize,
    clock: o.clock,
  });
}

/** The HealthTracker: staleness, phi, the agent's own loop stalls held, self-reported health. */
export function createHealthFor(
  o: ResolvedOptions,
  callbackError: (where: string, cause: unknown) => void,
  emit: Emit,
): HealthTracker {
  const health = new HealthTracker({
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    staleAfterIntervals: o.staleAfterIntervals,
    suspectAfterIntervals: Math.min(1.5, o.staleAfterIntervals),
    ...(o.failover.phi === undefined ? {} : { phi: o.failover.phi }),
    // The agent's own loop stalls hold the verdicts (no collector is blamed for them).
    stallThresholdMs: o.loopLagToleranceMs,
    clock: o.clock,
    onCallbackError: (error) => callbackError('health tracker', error),
  });
  health.on('reported-health-change', (e) =>
    emit('collector-health', { id: e.id, from: e.from, to: e.to, message: e.message ?? '' }),
  );
  health.on('stall', (stall) =>
    emit('loop-stall', {
      lagMs: Math.round(stall.lagMs),
      holdMs: Math.max(0, Math.round(stall.holdUntil - stall.at)),
    }),
  );
  return health;
}
