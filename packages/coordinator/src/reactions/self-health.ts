import { HealthState, type Heartbeat } from '@daemoneye/proto';

/** Health a collector says of itself. */
export type SelfHealth = 'healthy' | 'degraded';

/** Longest self-reported message kept, in UTF-16 units; the rest is cut. */
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
