import type { LoadBalancer } from '@daemoneye/balancer';
import type { HealthTracker } from '@daemoneye/failover';
import { HealthState, type Heartbeat } from '@daemoneye/proto';

/** Health a collector says of itself. */
export type SelfHealth = 'healthy' | 'degraded';

/** Longest self-reported message read, in UTF-16 units (the HealthTracker cuts it further). */
const MAX_MESSAGE_LENGTH = 512;

/**
 * Self-reported health from a Heartbeat's `state` and `message` (protocol v1; an older collector
 * that sends neither is healthy). Degraded means less work, never a restart.
 */
export function selfHealth(beat: Heartbeat): { health: SelfHealth; message: string } {
  const degraded = beat.state === HealthState.HEALTH_STATE_DEGRADED;
  const message = typeof beat.message === 'string' ? beat.message.slice(0, MAX_MESSAGE_LENGTH) : '';
  return { health: degraded ? 'degraded' : 'healthy', message };
}

/**
 * One heartbeat of an admitted collector: to the HealthTracker (liveness and the self-reported
 * state, which never fails it) and to the balancer (load, and `health`: a degraded collector's
 * score is scaled down by `degradedFactor`, so it gets less work).
 */
export function applyHeartbeat(
  id: string,
  beat: Heartbeat,
  to: { readonly health: HealthTracker; readonly balancer: LoadBalancer },
): void {
  const self = selfHealth(beat);
  to.health.heartbeat(id, { state: self.health, message: self.message });
  to.balancer.updateMetrics(id, {
    activeTasks: beat.activeTasks,
    queueDepth: beat.queueDepth,
    cpu: beat.cpu,
    memoryBytes: beat.memoryBytes,
    health: self.health,
  });
}

/** What status shows: the HealthTracker's view of the collector's own report. */
export function reportedHealth(
  health: HealthTracker,
  id: string,
): { health: SelfHealth; message: string } {
  const h = health.get(id);
  return {
    health: h?.reportedState === 'degraded' ? 'degraded' : 'healthy',
    message: h?.reportedMessage ?? '',
  };
}
