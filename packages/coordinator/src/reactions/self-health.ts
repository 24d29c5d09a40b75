import type { Heartbeat } from '@daemoneye/proto';

/** Health a collector says of itself. */
export type SelfHealth = 'healthy' | 'degraded';

/**
 * Seam for self-reported health: protocol v1's Heartbeat gains `state` (healthy / degraded) and
 * `message`. Until `@daemoneye/proto` has them this reads them when present and says `healthy`
 * otherwise; the coordinator then passes `health` to the balancer's metrics (when it takes it).
 */
export function selfHealth(beat: Heartbeat): { health: SelfHealth; message: string } {
  const fields: Record<string, unknown> = { ...beat };
  const state = fields.state;
  const message = typeof fields.message === 'string' ? fields.message.slice(0, 512) : '';
  const degraded = state === 'degraded' || state === 2 || state === 'HEALTH_STATE_DEGRADED';
  return { health: degraded ? 'degraded' : 'healthy', message };
}
