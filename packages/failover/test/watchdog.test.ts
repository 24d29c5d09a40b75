import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { until } from '@daemoneye/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { type ResourceLimitExceeded, ResourceWatchdog } from '../src/index.js';

const HOG = fileURLToPath(new URL('./fixtures/hog.mjs', import.meta.url));
const MIB = 1024 * 1024;
const children: ChildProcess[] = [];
let watchdog: ResourceWatchdog | undefined;

afterEach(async () => {
  watchdog?.close();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

async function startHog(mib: number): Promise<number> {
  const child = spawn(process.execPath, [HOG, String(mib)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  const [line] = await once(child.stdout ?? child, 'data');
  expect(String(line)).toContain('ready');
  if (child.pid === undefined) throw new Error('no pid');
  return child.pid;
}

/** Set by scripts/windows-lane.sh: win32 under Wine, which differs from Windows in places. */
const underWine = process.platform === 'win32' && process.env.DAEMONEYE_WINE === '1';

// The default sampler: /proc on Linux, PowerShell's Get-Process on win32. Not under Wine: its
// powershell.exe is a stub that prints nothing and exits 0 (checked), so nothing is ever sampled.
describe.runIf(process.platform === 'linux' || (process.platform === 'win32' && !underWine))(
  'ResourceWatchdog on real processes (the OS view)',
  () => {
    it('reports a process that allocates past maxRssBytes as over-memory, not one below it', async () => {
      const hog = await startHog(160);
      const lean = await startHog(0);
      watchdog = new ResourceWatchdog({ intervalMs: 100, consecutiveSamples: 3 });
      const reports: ResourceLimitExceeded[] = [];
      watchdog.on('over-limit', (e) => reports.push(e));
      watchdog.watch('hog', hog, { maxRssBytes: 128 * MIB });
      watchdog.watch('lean', lean, { maxRssBytes: 128 * MIB });
      const report = await until(() => reports[0], { what: 'an over-memory report' });
      expect(report).toMatchObject({ id: 'hog', pid: hog, reason: 'over-memory', samples: 3 });
      expect(report.observed).toBeGreaterThan(160 * MIB);
      // The lean process was sampled as often and never went over.
      expect(watchdog.get('lean')?.samples).toBeGreaterThanOrEqual(3);
      expect(watchdog.get('lean')?.overMemorySamples).toBe(0);
      expect(reports.map((r) => r.id)).toEqual(['hog']);
    });
  },
);
