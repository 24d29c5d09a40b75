import { LoadBalancer } from '@daemoneye/balancer';
import { HealthTracker } from '@daemoneye/failover';
import { HealthState, type Heartbeat } from '@daemoneye/proto';
import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import { applyHeartbeat, reportedHealth } from './reactions/self-health.js';

const beat = (state: HealthState, message = ''): Heartbeat => ({
  activeTasks: 0,
  queueDepth: 0,
  cpu: 0.1,
  memoryBytes: 1000n,
  state,
  message,
});

describe('self-reported health (heartbeat state/message)', () => {
  it('a degraded collector gets less work, is never failed for it, and status shows it', () => {
    const clock = new FakeClock(0);
    const health = new HealthTracker({ heartbeatIntervalMs: 1000, clock });
    const balancer = new LoadBalancer({ clock, random: () => 0.5 });
    const failed: string[] = [];
    health.on('failed', (f) => failed.push(f.id));
    for (const id of ['a', 'b']) {
      health.register(id);
      balancer.register(id, { taskKinds: ['enumerate'] });
    }
    const to = { health, balancer };
    for (let i = 0; i < 10; i++) {
      applyHeartbeat('a', beat(HealthState.HEALTH_STATE_DEGRADED, 'disk slow'), to);
      applyHeartbeat('b', beat(HealthState.HEALTH_STATE_HEALTHY), to);
      clock.advance(1000);
    }
    expect(failed).toEqual([]);
    expect(health.isAlive('a')).toBe(true);
    expect(reportedHealth(health, 'a')).toEqual({ health: 'degraded', message: 'disk slow' });
    expect(reportedHealth(health, 'b')).toEqual({ health: 'healthy', message: '' });
    expect(balancer.snapshot().collectors.find((c) => c.id === 'a')?.health).toBe('degraded');
    const picks = { a: 0, b: 0 };
    for (let i = 0; i < 50; i++) {
      const id = balancer.trySelect({ taskKind: 'enumerate' });
      if (id === 'a' || id === 'b') picks[id]++;
    }
    expect(picks.b).toBeGreaterThan(picks.a);
    // Healthy again: the report clears.
    applyHeartbeat('a', beat(HealthState.HEALTH_STATE_HEALTHY), to);
    expect(reportedHealth(health, 'a').health).toBe('healthy');
    expect(balancer.snapshot().collectors.find((c) => c.id === 'a')?.health).toBe('healthy');
    health.close();
  });
});
