import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type ResourceLimitExceeded,
  type ResourceSample,
  ResourceWatchdog,
  type ResourceWatchdogOptions,
} from './index.js';

function setup(options: ResourceWatchdogOptions = {}) {
  const clock = new FakeClock();
  const samples = new Map<number, ResourceSample | Error | undefined>();
  const watchdog = new ResourceWatchdog({
    clock,
    intervalMs: 1000,
    consecutiveSamples: 3,
    sampler: async (pid) => {
      const s = samples.get(pid);
      if (s instanceof Error) throw s;
      return s;
    },
    ...options,
  });
  const reports: ResourceLimitExceeded[] = [];
  watchdog.on('over-limit', (e) => reports.push(e));
  const tick = async () => {
    clock.advance(1000);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { clock, samples, watchdog, reports, tick };
}

describe('ResourceWatchdog', () => {
  it('reports over-memory after N samples in a row over maxRssBytes, then counts again', async () => {
    const { samples, watchdog, reports, tick } = setup();
    watchdog.watch('c1', 42, { maxRssBytes: 100 });
    samples.set(42, { rssBytes: 200, cpuTimeMs: 0 });
    await tick();
    await tick();
    expect(reports).toEqual([]);
    samples.set(42, { rssBytes: 50, cpuTimeMs: 0 }); // back under: the streak restarts
    await tick();
    samples.set(42, { rssBytes: 200, cpuTimeMs: 0 });
    await tick();
    await tick();
    expect(reports).toEqual([]);
    await tick();
    expect(reports).toEqual([
      { id: 'c1', pid: 42, reason: 'over-memory', observed: 200, limit: 100, samples: 3 },
    ]);
    expect(watchdog.get('c1')).toMatchObject({ overMemorySamples: 0, samples: 6, rssBytes: 200 });
    expect(watchdog.stats()).toMatchObject({ overMemory: 1, samples: 6 });
  });

  it('reports over-cpu from the OS’s cumulative CPU time over the clock', async () => {
    const { samples, watchdog, reports, tick } = setup();
    watchdog.watch('c1', 42, { maxCpu: 0.5 });
    let cpu = 0;
    for (let i = 0; i < 3; i++) {
      cpu += 300; // 0.3 of a core
      samples.set(42, { rssBytes: 1, cpuTimeMs: cpu });
      await tick();
    }
    expect(reports).toEqual([]);
    expect(watchdog.get('c1')?.cpu).toBeCloseTo(0.3);
    for (let i = 0; i < 3; i++) {
      cpu += 900; // 0.9 of a core
      samples.set(42, { rssBytes: 1, cpuTimeMs: cpu });
      await tick();
    }
    expect(reports.map((r) => `${r.reason}:${r.observed.toFixed(1)}`)).toEqual(['over-cpu:0.9']);
  });

  it('forgets a pid that is gone, reports sampler errors and keeps sampling', async () => {
    const { samples, watchdog, tick } = setup();
    const events: string[] = [];
    watchdog.on('pid-gone', (e) => events.push(`gone ${e.id}`));
    watchdog.on('sample-error', (e) => events.push(`error ${e.id} ${e.error.code}`));
    watchdog.watch('a', 1, { maxRssBytes: 10 });
    watchdog.watch('b', 2, { maxRssBytes: 10 });
    samples.set(2, new Error('EPERM'));
    await tick();
    expect(events).toEqual(['gone a', 'error b ERR_FAILOVER_SAMPLE_FAILED']);
    expect(watchdog.get('a')).toBeUndefined();
    samples.set(2, { rssBytes: 1, cpuTimeMs: 0 });
    await tick();
    expect(watchdog.get('b')?.samples).toBe(1);
    expect(watchdog.stats()).toMatchObject({ watched: 1, sampleErrors: 1 });
  });

  it('watch() replaces the pid of a restarted collector; unwatch and close stop the timer', async () => {
    const { clock, samples, watchdog, reports, tick } = setup({ consecutiveSamples: 1 });
    samples.set(1, { rssBytes: 500, cpuTimeMs: 0 });
    samples.set(2, { rssBytes: 5, cpuTimeMs: 0 });
    watchdog.watch('c', 1, { maxRssBytes: 100 });
    watchdog.watch('c', 2, { maxRssBytes: 100 });
    await tick();
    expect(reports).toEqual([]);
    expect(watchdog.unwatch('c')).toBe(true);
    expect(clock.timerCount).toBe(0);
    watchdog.watch('c', 1, { maxRssBytes: 100 });
    watchdog.close();
    expect(clock.timerCount).toBe(0);
    await tick();
    expect(reports).toEqual([]);
  });

  it('with intervalMs 0 samples only on sampleNow(), one round at a time', async () => {
    const { clock, samples, watchdog, reports } = setup({ intervalMs: 0, consecutiveSamples: 1 });
    samples.set(7, { rssBytes: 500, cpuTimeMs: 0 });
    watchdog.watch('c', 7, { maxRssBytes: 100 });
    expect(clock.timerCount).toBe(0);
    const a = watchdog.sampleNow();
    expect(watchdog.sampleNow()).toBe(a);
    await a;
    expect(reports).toHaveLength(1);
  });

  it('validates limits', () => {
    const { watchdog } = setup();
    expect(() => watchdog.watch('c', 0, {})).toThrow(/pid must be a positive integer/);
    expect(() => watchdog.watch('c', 1, { maxCpu: 0 })).toThrow(
      /limits\.maxCpu must be a number in \(0, 1024\], got 0/,
    );
    // @ts-expect-error misspelt on purpose
    expect(() => watchdog.watch('c', 1, { maxRss: 1 })).toThrow(
      /limits\.maxRss is not a known option \(did you mean maxRssBytes\?\)/,
    );
  });
});
